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

from guard.fastclass import dataclass
from guard.monitor.procfs import ProcessSource, ProcStat, default_source
from guard.sandbox import libc
from guard.sandbox.report import DeniedOperation, Layer, LayerState, Operation

logger = logging.getLogger(__name__)

# Rounds of "list new descendants, kill them" before giving up on a tree that keeps growing.
_MAX_KILL_ROUNDS = 100
# How long to wait, in total, for killed processes to be re-parented and reaped.
_REAP_SECONDS = 5.0
_REAP_POLL_SECONDS = 0.01

# A pid with the start key of its process (`ProcStat.start_key`): two processes
# that had the same pid one after the other have different keys.
ProcessKey = tuple[int, int]


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


def descendants(source: ProcessSource | None = None) -> set[ProcessKey]:
    """Return the calling process's descendants, zombies included, as (pid, start key) pairs.

    `source` defaults to `default_source()`: /proc on Linux, psutil where /proc has no children files.
    """
    return set(_walk_descendants(source or default_source()))


def _walk_descendants(source: ProcessSource) -> dict[ProcessKey, ProcStat]:
    # On Linux this reads the children lists of the guard's threads and of each
    # descendant (/proc/PID/task/TID/children) instead of scanning every process.
    source.refresh()
    found: dict[ProcessKey, ProcStat] = {}
    pending = source.children(os.getpid())
    while pending:
        pid = pending.pop()
        stat = source.stat(pid)
        if stat is None or (pid, stat.start_key) in found:
            continue
        found[(pid, stat.start_key)] = stat
        if not stat.zombie:
            pending.extend(source.children(pid, stat.threads))
    return found


def kill_leftovers(known: set[ProcessKey], source: ProcessSource | None = None) -> tuple[DeniedOperation, ...]:
    """Kill every descendant not in `known`, reap it, and return one report per process.

    Pass the kind of `source` that listed `known`, because start keys differ between sources.
    """
    source = source or default_source()
    found: dict[ProcessKey, DeniedOperation] = {}
    for _ in range(_MAX_KILL_ROUNDS):
        fresh = {key: stat for key, stat in _walk_descendants(source).items()
                 if key not in known and key not in found}
        if not fresh:
            break
        for key, stat in fresh.items():
            found[key] = _report(stat, source)
            _kill(stat, source)
    else:
        logger.warning("package code kept starting processes after %d rounds of killing them", _MAX_KILL_ROUNDS)
    _reap([pid for pid, _ in found])
    return tuple(found.values())


def _kill(stat: ProcStat, source: ProcessSource) -> None:
    """Send SIGKILL to the process `stat` describes, unless its pid now names another process."""
    try:
        pidfd = os.pidfd_open(stat.pid)
    except ProcessLookupError:
        return
    except (OSError, AttributeError):
        # No pidfd here (Linux before 5.3, or another system): check, then signal by pid.
        if _same_process(stat, source):
            _signal_pid(stat.pid)
        return
    # Checked after pidfd_open, so the descriptor refers to the listed process.
    try:
        if _same_process(stat, source):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it exited after the check
    finally:
        os.close(pidfd)


def _same_process(stat: ProcStat, source: ProcessSource) -> bool:
    current = source.stat(stat.pid)
    return current is not None and current.start_key == stat.start_key


def _signal_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it exited after the check


def _report(stat: ProcStat, source: ProcessSource) -> DeniedOperation:
    # A zombie already exited: package code started it, but it is not left running.
    if stat.zombie:
        return DeniedOperation(Operation.FORK, f"pid {stat.pid} (exited)", Layer.SUBREAPER, system_call="fork")
    return DeniedOperation(Operation.LEFTOVER_PROCESS, _describe(stat, source), Layer.SUBREAPER, system_call="fork")


def _describe(stat: ProcStat, source: ProcessSource) -> str:
    argv = source.info(stat.pid).argv or (stat.comm,)
    return f"pid {stat.pid}: {' '.join(argv)}".strip()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
                if not _exists(pid):
                    pending.discard(pid)
                continue
            if reaped:
                pending.discard(pid)
        if pending:
            time.sleep(_REAP_POLL_SECONDS)
    if pending:
        logger.warning("could not reap killed leftover processes %s", sorted(pending))
