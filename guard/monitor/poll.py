"""The poll backend: look at the tree every `interval` seconds.

Works wherever psutil works and needs no privilege, but it only finds processes
alive at one of its polls: a process that starts and exits between two polls is
missed, and its records are marked `sampled`. On Linux each poll walks only the
tree (see `TreeWalker`), not every process on the system.

A new process whose argv and executable equal its parent's has probably not
called exec yet, so its argv is read again at the next polls until it changes,
and it is announced as it is after `EXEC_WAIT` otherwise. A later exec is
noticed when the process's name (comm) changes.
"""

from __future__ import annotations

import logging
import queue
import time

from guard.monitor.base import Monitor
from guard.monitor.model import Backend, MonitorOptions
from guard.monitor.procfs import UNKNOWN_INFO, ProcessInfo, ProcessSource, ProcStat, decode_wait_status
from guard.monitor.recorder import Emit
from guard.monitor.tree import TreeWalker

logger = logging.getLogger(__name__)


class PollMonitor(Monitor):
    """Monitors the tree by walking /proc (or psutil) at a fixed interval."""

    def __init__(self, root_pid: int, options: MonitorOptions, emit: Emit, source: ProcessSource) -> None:
        super().__init__(Backend.POLL, root_pid, options, emit, source, sampled=True)
        self.walker = TreeWalker(source, root_pid)
        # Names (comm) of live processes, to notice an exec between polls.
        self._names: dict[int, str] = {}
        # Zombies already reported but not reaped yet: pid -> start key.
        self._reported_zombies: dict[int, int] = {}
        self._excluded: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.start_thread()

    def exclude_child(self, pid: int) -> None:
        # Taken up at the start of the next poll, before anything is reaped.
        self._excluded.put(pid)

    def _run(self) -> None:
        # Polls start at fixed times, so the gap between two polls stays at the
        # interval however long a poll takes (unless a poll takes longer).
        interval = self.options.interval
        next_poll = time.monotonic()
        while True:
            self.poll_once()
            next_poll += interval
            now = time.monotonic()
            if next_poll < now:
                next_poll = now  # fell behind: poll again at once, then resume the schedule
            if self._stop_requested.wait(next_poll - now):
                break
        self.poll_once()
        self.recorder.announce_due(everything=True)

    def _wait_step(self, seconds: float) -> None:
        time.sleep(seconds)
        self.poll_once()

    def _settle(self) -> None:
        self.poll_once()

    def poll_once(self) -> None:
        """Compare the tree in /proc with the live processes and emit the differences."""
        recorder = self.recorder
        self._take_exclusions()
        known = {pid: process.start_key for pid, process in recorder.live.items() if process.start_key is not None}
        found = self.walker.walk(known)
        now = time.time()

        for pid, process in list(recorder.live.items()):
            stat = found.get(pid)
            if stat is None or stat.start_key != process.start_key:
                # It exited and was reaped between two polls: the status is unknown.
                recorder.exited(pid, None, None, when=now)
                self._names.pop(pid, None)

        for pid, stat in found.items():
            if stat.zombie:
                self._report_zombie(stat, now)
            elif pid in recorder.live:
                self._check_exec(stat)
            else:
                self._add(stat)

        for pid in list(self._reported_zombies):
            if pid not in found:
                del self._reported_zombies[pid]
        recorder.announce_due()

    def _take_exclusions(self) -> None:
        while True:
            try:
                pid = self._excluded.get_nowait()
            except queue.Empty:
                return
            stat = self.source.stat(pid)
            if stat is not None and stat.ppid == self.walker.guard_pid:
                self.walker.add_foreign(stat)
            self.recorder.forget(pid)
            self._names.pop(pid, None)

    def _add(self, stat: ProcStat) -> None:
        info = self.source.info(stat.pid)
        self._names[stat.pid] = stat.comm
        self.recorder.seen(stat, info, execed=self._has_own_program(stat.ppid, info))

    def _check_exec(self, stat: ProcStat) -> None:
        process = self.recorder.live[stat.pid]
        if not process.announced:
            info = self.source.info(stat.pid)
            if self._has_own_program(stat.ppid, info):
                self._names[stat.pid] = stat.comm
                self.recorder.execed(stat.pid, info)
        elif self._names.get(stat.pid) != stat.comm:
            info = self.source.info(stat.pid)
            if info.argv is not None:  # otherwise exec is still setting up; look again next poll
                self._names[stat.pid] = stat.comm
                self.recorder.execed(stat.pid, info)

    def _has_own_program(self, ppid: int, info: ProcessInfo) -> bool:
        # argv reads empty while execve() replaces the program, so it is not settled yet.
        if info.argv is None:
            return False
        parent = self.recorder.live.get(ppid)
        if parent is None:
            # An adopted orphan has no parent left to compare with; a subshell's
            # orphan still runs the shell's program until it calls exec.
            parent = self.recorder.live.get(self.root_pid)
            if parent is None:
                return True
        if parent.info is None or parent.info.argv is None:
            return False  # cannot compare yet; wait for a later poll or EXEC_WAIT
        return (info.argv, info.exe) != (parent.info.argv, parent.info.exe)

    def _report_zombie(self, stat: ProcStat, now: float) -> None:
        if self._reported_zombies.get(stat.pid) == stat.start_key:
            return
        if stat.pid not in self.recorder.live:
            # Exited before any poll saw it running: its program is unknown.
            self.recorder.seen(stat, UNKNOWN_INFO, execed=False)
        status = self.reaper.reap(stat)
        if status is None:
            status = stat.exit_code
            self._reported_zombies[stat.pid] = stat.start_key
        exit_status, signal = (None, None) if status is None else decode_wait_status(status)
        self.recorder.exited(stat.pid, exit_status, signal, when=now)
        self._names.pop(stat.pid, None)
