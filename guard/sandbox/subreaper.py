"""Layer 0: find and kill the processes package code left behind.

The guard becomes a child subreaper while the recording child runs, so a process
that package code double-forks is re-parented to the guard instead of to init.
After the child exits, every new descendant of the guard is reported and killed
before the plan is used. Processes that leave the tree some other way, through a
service manager for example, are out of its reach. The seccomp layer denies the
calls that start them.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import time
from dataclasses import dataclass

import psutil

from guard.sandbox import libc
from guard.sandbox.report import DeniedOperation, Layer, LayerState, Operation

logger = logging.getLogger(__name__)

# Rounds of "list new descendants, kill them" before giving up on a tree that keeps growing.
_MAX_KILL_ROUNDS = 100
# How long to wait, in total, for killed processes to be re-parented and reaped.
_REAP_SECONDS = 5.0
_REAP_POLL_SECONDS = 0.01

ProcessKey = tuple[int, float]


@dataclass(frozen=True, slots=True)
class SubreaperState:
    """Whether the guard was a subreaper before the run, to restore it afterwards."""

    layer: LayerState
    previous: int


def become_subreaper() -> SubreaperState:
    """Make the calling process a child subreaper and remember the previous setting."""
    try:
        previous = _current_setting()
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    except OSError as error:
        return SubreaperState(LayerState(Layer.SUBREAPER, False, f"prctl failed: {error.strerror}"), 0)
    return SubreaperState(LayerState(Layer.SUBREAPER, True), previous)


def _current_setting() -> int:
    value = ctypes.c_int(0)
    libc.prctl(libc.PR_GET_CHILD_SUBREAPER, ctypes.addressof(value))
    return value.value


def restore(state: SubreaperState) -> None:
    """Put the subreaper setting back as it was before `become_subreaper`."""
    if state.layer.active and not state.previous:
        libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 0)


def _key(process: psutil.Process) -> ProcessKey:
    return (process.pid, process.create_time())


def descendants() -> set[ProcessKey]:
    """Return the calling process's descendants as (pid, start time) pairs."""
    keys = set()
    for process in psutil.Process().children(recursive=True):
        try:
            keys.add(_key(process))
        except psutil.Error:
            continue
    return keys


def kill_leftovers(known: set[ProcessKey]) -> tuple[DeniedOperation, ...]:
    """Kill every descendant not in `known`, reap it, and return one report per process."""
    found: dict[ProcessKey, DeniedOperation] = {}
    for _ in range(_MAX_KILL_ROUNDS):
        fresh = _new_descendants(known | found.keys())
        if not fresh:
            break
        for key, process in fresh.items():
            found[key] = _report(process)
            try:
                process.send_signal(signal.SIGKILL)
            except psutil.Error:
                continue
    else:
        logger.warning("package code kept starting processes after %d rounds of killing them", _MAX_KILL_ROUNDS)
    _reap([pid for pid, _ in found])
    return tuple(found.values())


def _new_descendants(known: set[ProcessKey]) -> dict[ProcessKey, psutil.Process]:
    fresh = {}
    for process in psutil.Process().children(recursive=True):
        try:
            key = _key(process)
        except psutil.Error:
            continue
        if key not in known:
            fresh[key] = process
    return fresh


def _report(process: psutil.Process) -> DeniedOperation:
    # A zombie already exited: package code started it, but it is not left running.
    try:
        exited = process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        exited = True
    if exited:
        return DeniedOperation(Operation.FORK, f"pid {process.pid} (exited)", Layer.SUBREAPER, system_call="fork")
    return DeniedOperation(Operation.LEFTOVER_PROCESS, _describe(process), Layer.SUBREAPER, system_call="fork")


def _describe(process: psutil.Process) -> str:
    try:
        argv = process.cmdline() or [process.name()]
    except psutil.Error:
        argv = []
    return f"pid {process.pid}: {' '.join(argv)}".strip()


def _reap(pids: list[int]) -> None:
    # Each killed process ends as a zombie of the guard: directly, or once its own
    # parent (also killed) is gone and it is re-parented here. Reap each one.
    pending = set(pids)
    deadline = time.monotonic() + _REAP_SECONDS
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                reaped, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                if not psutil.pid_exists(pid):
                    pending.discard(pid)
                continue
            if reaped:
                pending.discard(pid)
        if pending:
            time.sleep(_REAP_POLL_SECONDS)
    if pending:
        logger.warning("could not reap killed leftover processes %s", sorted(pending))
