"""Process-tree monitor. TODO: netlink and ptrace backends, exit policy."""

from __future__ import annotations

import ctypes
import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

_PR_SET_CHILD_SUBREAPER = 36


class Backend(enum.StrEnum):
    AUTO = "auto"
    POLL = "poll"
    OFF = "off"


@dataclass(frozen=True)
class MonitorOptions:
    backend: Backend = Backend.AUTO
    interval: float = 0.05


@dataclass(frozen=True)
class ProcessEvent:
    kind: str
    pid: int
    ppid: int | None
    start_time: float | None
    argv: tuple[str, ...] = ()
    sampled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "ppid": self.ppid, "start_time": self.start_time, "exe": None,
                "argv": list(self.argv), "cwd": None, "uid": None, "sampled": self.sampled,
                **({"exit_status": None, "signal": None, "lifetime": None} if self.kind == "process.exit" else {})}


@dataclass(frozen=True)
class MonitorSummary:
    process_count: int = 0
    leftovers: tuple[int, ...] = field(default=())


def become_subreaper() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


class Monitor:
    def __init__(self, root_pid: int, emit: Callable[[ProcessEvent], None], interval: float) -> None:
        self._root = root_pid
        self._emit = emit
        self._interval = interval
        self._stop = threading.Event()
        self._seen: dict[tuple[int, float], ProcessEvent] = {}
        self._count = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _scan(self) -> None:
        try:
            root = psutil.Process(self._root)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            processes = []
        alive = set()
        for process in processes:
            try:
                key = (process.pid, process.create_time())
                if key not in self._seen:
                    event = ProcessEvent("process.start", process.pid, process.ppid(), key[1], tuple(process.cmdline()))
                    self._seen[key] = event
                    self._count += 1
                    self._emit(event)
                alive.add(key)
            except psutil.Error:
                continue
        for key in list(self._seen):
            if key not in alive:
                start = self._seen.pop(key)
                self._emit(ProcessEvent("process.exit", start.pid, start.ppid, start.start_time, start.argv))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._scan()

    def stop(self) -> MonitorSummary:
        self._stop.set()
        self._thread.join()
        self._scan()
        return MonitorSummary(process_count=self._count)


@dataclass(frozen=True)
class PreparedMonitor:
    backend: Backend
    reason: str
    interval: float

    def start(self, root_pid: int, emit: Callable[[ProcessEvent], None]) -> Monitor | None:
        if self.backend is Backend.OFF:
            return None
        return Monitor(root_pid, emit, self.interval)


def prepare(options: MonitorOptions) -> PreparedMonitor:
    if options.backend is Backend.OFF:
        return PreparedMonitor(Backend.OFF, "turned off", options.interval)
    return PreparedMonitor(Backend.POLL, "poll is the only backend", options.interval)
