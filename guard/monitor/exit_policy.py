"""Handling processes still running in the tree when monitoring stops."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Iterable

from guard.fastclass import dataclass
from guard.monitor.model import ExitPolicy, Leftover, LeftoverAction
from guard.monitor.procfs import ProcessSource
from guard.monitor.recorder import LiveProcess

logger = logging.getLogger(__name__)

# How long to wait for processes to disappear after SIGKILL, in seconds. SIGKILL
# cannot be caught, so only a process stuck in the kernel (state D) takes longer.
KILL_WAIT = 5.0

# Longest single wait between two liveness checks, in seconds.
_CHECK_PERIOD = 0.05

WaitStep = Callable[[float], None]


@dataclass(slots=True)
class _Target:
    process: LiveProcess
    start_key: int
    action: LeftoverAction
    # A pidfd (Linux 5.3 and later) pins the process, so a signal sent through it
    # cannot reach a new process that reused the pid.
    pidfd: int | None = None


def find_leftovers(processes: Iterable[LiveProcess], source: ProcessSource) -> list[_Target]:
    """Return the processes that are still running, each with its current start key."""
    targets = []
    for process in processes:
        pidfd = _open_pidfd(process.pid)
        stat = source.stat(process.pid)
        alive = stat is not None and not stat.zombie
        # A different start key means the pid now belongs to a process outside the tree.
        if stat is None or not alive or (process.start_key is not None and stat.start_key != process.start_key):
            if pidfd is not None:
                os.close(pidfd)
            continue
        targets.append(_Target(process, stat.start_key, LeftoverAction.LEFT, pidfd))
    return targets


def _open_pidfd(pid: int) -> int | None:
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        return pidfd_open(pid)
    except OSError:
        return None


def apply_exit_policy(
    processes: Iterable[LiveProcess],
    policy: ExitPolicy,
    grace_period: float,
    source: ProcessSource,
    wait_step: WaitStep,
    late_processes: Callable[[], Iterable[LiveProcess]] = lambda: (),
) -> tuple[Leftover, ...]:
    """Apply `policy` to the still running processes among `processes`; return what was done.

    `wait_step(seconds)` lets the backend keep observing (and reaping) for up to
    that long while the monitor waits for processes to exit. Under the
    terminate policy, `late_processes()` returns the tree's live processes
    again before SIGKILL, so processes started during the grace period are
    killed too.
    """
    targets = find_leftovers(processes, source)
    try:
        if policy is ExitPolicy.TERMINATE:
            _terminate(targets, grace_period, source, wait_step, late_processes)
        else:
            _leave(targets, policy)
    finally:
        for target in targets:
            if target.pidfd is not None:
                os.close(target.pidfd)
    return tuple(_leftover(target) for target in targets)


def _leave(targets: list[_Target], policy: ExitPolicy) -> None:
    if targets:
        action = LeftoverAction.REPORTED if policy is ExitPolicy.REPORT else LeftoverAction.LEFT
        for target in targets:
            target.action = action
        pids = ", ".join(str(target.process.pid) for target in targets)
        if policy is ExitPolicy.REPORT:
            logger.warning("%d processes still running after the shell, left running: %s", len(targets), pids)
        else:
            logger.info("%d processes still running after the shell, left running: %s", len(targets), pids)


def _terminate(
    targets: list[_Target],
    grace_period: float,
    source: ProcessSource,
    wait_step: WaitStep,
    late_processes: Callable[[], Iterable[LiveProcess]],
) -> None:
    for target in targets:
        _signal(target, signal.SIGTERM, LeftoverAction.TERMINATED)
    _wait_until_gone(targets, time.monotonic() + grace_period, source, wait_step)

    known = {target.process.pid for target in targets}
    targets.extend(target for target in find_leftovers(late_processes(), source) if target.process.pid not in known)
    for target in targets:
        if _alive(target, source):
            _signal(target, signal.SIGKILL, LeftoverAction.KILLED)
    _wait_until_gone(targets, time.monotonic() + KILL_WAIT, source, wait_step)

    for target in targets:
        if _alive(target, source):
            logger.warning("process %d is still running after SIGKILL", target.process.pid)
            target.action = LeftoverAction.SURVIVED


def _signal(target: _Target, signum: signal.Signals, action: LeftoverAction) -> None:
    pid = target.process.pid
    try:
        if target.pidfd is not None:
            signal.pidfd_send_signal(target.pidfd, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        if target.action is LeftoverAction.LEFT:
            target.action = LeftoverAction.EXITED
        return
    except PermissionError:
        logger.warning("cannot send %s to process %d: permission denied", signum.name, pid)
        target.action = LeftoverAction.SURVIVED
        return
    logger.debug("sent %s to process %d", signum.name, pid)
    target.action = action


def _wait_until_gone(targets: list[_Target], deadline: float, source: ProcessSource, wait_step: WaitStep) -> None:
    while any(_alive(target, source) for target in targets):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        wait_step(min(remaining, _CHECK_PERIOD))


def _alive(target: _Target, source: ProcessSource) -> bool:
    stat = source.stat(target.process.pid)
    return stat is not None and not stat.zombie and stat.start_key == target.start_key


def _leftover(target: _Target) -> Leftover:
    process = target.process
    info = process.info
    return Leftover(
        pid=process.pid,
        ppid=process.ppid,
        start_time=process.start_time,
        exe=None if info is None else info.exe,
        argv=None if info is None else info.argv,
        action=target.action,
    )
