"""Turning what a backend observes into `ProcessEvent` records.

Each backend reports forks, execs and exits as it observes them, and the `Recorder`
keeps one entry per live process, decides when a start can be announced, and
hands records to the guard's `emit` callback. A finished process is emitted and
dropped, so memory follows the number of live processes, not the session length.
A recorder is used by one thread only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from guard.fastclass import dataclass
from guard.monitor.model import EventKind, MonitorNotice, MonitorRecord, ProcessEvent
from guard.monitor.procfs import ProcessInfo, ProcessSource, ProcStat

logger = logging.getLogger(__name__)

# A fork is announced once the child runs a new program. A child that has not
# called exec this long after the fork is taken to be a subshell and announced
# with the program it inherited.
EXEC_WAIT = 0.1

# Log only the first emit failures in full; count the rest.
_LOGGED_EMIT_ERRORS = 5

Emit = Callable[[MonitorRecord], None]


@dataclass(slots=True)
class LiveProcess:
    """The recorder's state of one live process of the tree."""

    pid: int
    ppid: int | None
    start_time: float | None
    start_key: int | None
    info: ProcessInfo | None
    announced: bool
    first_seen: float  # time.monotonic() when the recorder learned about it
    sampled: bool


class Recorder:
    """Holds the live processes of the tree and emits their records."""

    def __init__(self, emit: Emit, source: ProcessSource, *, sampled: bool) -> None:
        self._emit = emit
        self._source = source
        self._sampled = sampled
        self.live: dict[int, LiveProcess] = {}
        # Processes not announced yet, oldest first (dicts keep insertion order).
        self._unannounced: dict[int, LiveProcess] = {}
        self.processes_seen = 0
        self.events_emitted = 0
        self.emit_errors = 0
        self.lost_notices = 0

    def forked(self, pid: int, ppid: int | None, start_time: float | None) -> None:
        """Record a new process that has not run a program of its own yet."""
        if pid in self.live:
            return
        self._add(
            LiveProcess(
                pid=pid,
                ppid=ppid,
                start_time=start_time,
                start_key=None,
                info=None,
                announced=False,
                first_seen=time.monotonic(),
                sampled=self._sampled,
            )
        )

    def seen(self, stat: ProcStat, info: ProcessInfo, *, execed: bool, sampled: bool | None = None) -> None:
        """Record a process found in /proc; announce it now when `execed` is True."""
        process = self.live.get(stat.pid)
        if process is None:
            process = LiveProcess(
                pid=stat.pid,
                ppid=stat.ppid,
                start_time=stat.start_time,
                start_key=stat.start_key,
                info=info,
                announced=False,
                first_seen=time.monotonic(),
                sampled=self._sampled if sampled is None else sampled,
            )
            self._add(process)
        else:
            process.info = info
            process.start_key = stat.start_key
        if execed:
            self._announce(process)

    def execed(self, pid: int, info: ProcessInfo) -> None:
        """Record that a live process now runs the program described by `info`."""
        process = self.live.get(pid)
        if process is None:
            return
        if not process.announced:
            process.info = info
            self._announce(process)
            return
        if process.info is not None and (process.info.argv, process.info.exe) == (info.argv, info.exe):
            return
        process.info = info
        self._send(self._event(EventKind.PROCESS_EXEC, process))

    def exited(
        self,
        pid: int,
        exit_status: int | None,
        signal: int | None,
        *,
        when: float | None = None,
        sampled: bool | None = None,
    ) -> None:
        """Emit the exit of a live process (and its start, if not announced yet) and drop it."""
        process = self.live.pop(pid, None)
        if process is None:
            return
        self._unannounced.pop(pid, None)
        if sampled is not None:
            process.sampled = sampled
        if not process.announced:
            if process.info is None:
                process.info = self._inherited_info(process)
            self._announce(process)
        end = time.time() if when is None else when
        lifetime = None if process.start_time is None else max(0.0, end - process.start_time)
        self._send(
            self._event(
                EventKind.PROCESS_EXIT,
                process,
                exit_status=exit_status,
                signal=signal,
                lifetime=lifetime,
            )
        )

    def forget(self, pid: int) -> None:
        """Drop a process without any record, because it never belonged to the tree."""
        self.live.pop(pid, None)
        self._unannounced.pop(pid, None)

    def announce_due(self, *, everything: bool = False) -> float | None:
        """Announce forks that waited `EXEC_WAIT` for an exec; return seconds to the next due one.

        With `everything`, announce every process not announced yet, as it is now.
        """
        now = time.monotonic()
        for process in list(self._unannounced.values()):
            due = process.first_seen + EXEC_WAIT
            if due > now and not everything:
                return due - now
            if process.info is None or process.info.argv is None:
                info = self._source.info(process.pid)
                process.info = info if info.argv is not None else self._inherited_info(process) or info
            self._announce(process)
        return None

    def lost(self, message: str, count: int | None = None) -> None:
        """Emit a notice that the backend missed events."""
        self.lost_notices += 1
        self._send(MonitorNotice(kind=EventKind.EVENTS_LOST, message=message, lost=count))

    def _inherited_info(self, process: LiveProcess) -> ProcessInfo | None:
        # Before exec a child runs its parent's program, and a chain of
        # subshells runs the program of the nearest ancestor that called exec.
        ancestor = process
        for _ in range(len(self.live)):
            if ancestor.ppid is None or ancestor.ppid not in self.live:
                return None
            ancestor = self.live[ancestor.ppid]
            if ancestor.info is not None:
                return ancestor.info
        return None

    def _add(self, process: LiveProcess) -> None:
        self.live[process.pid] = process
        self._unannounced[process.pid] = process
        self.processes_seen += 1

    def _announce(self, process: LiveProcess) -> None:
        if process.announced:
            return
        process.announced = True
        self._unannounced.pop(process.pid, None)
        self._send(self._event(EventKind.PROCESS_START, process))

    @staticmethod
    def _event(
        kind: EventKind,
        process: LiveProcess,
        *,
        exit_status: int | None = None,
        signal: int | None = None,
        lifetime: float | None = None,
    ) -> ProcessEvent:
        info = process.info
        return ProcessEvent(
            kind=kind,
            pid=process.pid,
            ppid=process.ppid,
            start_time=process.start_time,
            exe=None if info is None else info.exe,
            argv=None if info is None else info.argv,
            cwd=None if info is None else info.cwd,
            uid=None if info is None else info.uid,
            exit_status=exit_status,
            signal=signal,
            lifetime=lifetime,
            sampled=process.sampled,
        )

    def _send(self, record: MonitorRecord) -> None:
        # The callback belongs to the guard; a failure there must not stop monitoring.
        try:
            self._emit(record)
        except Exception:
            self.emit_errors += 1
            if self.emit_errors <= _LOGGED_EMIT_ERRORS:
                logger.exception("emit callback failed on a %s record", record.kind)
            elif self.emit_errors == _LOGGED_EMIT_ERRORS + 1:
                logger.error("emit callback keeps failing; counting further failures without logging them")
            return
        self.events_emitted += 1
