"""Helpers for monitor tests: waiting, FIFO gates, sessions and cleanup.

Tests wait for processes with `wait_for`, which only bounds how long a test may
hang; no test asserts how fast anything happens. Shell scripts hold their
processes on FIFOs that the test opens with `release`, so every step happens
in a known order.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from guard.monitor import (
    Backend,
    Monitor,
    MonitorRecord,
    MonitorSummary,
    PreparedMonitor,
    ProcessEvent,
    ShellProcess,
)
from guard.monitor.netlink import ConnectorUnavailable, open_connector

WAIT_LIMIT = 20.0
GUARD_PROCESS = Path(__file__).with_name("guard_process.py")
WORKTREE = Path(__file__).resolve().parents[2]


def netlink_available() -> bool:
    """True when this process may subscribe to the proc connector."""
    try:
        open_connector().close()
    except ConnectorUnavailable:
        return False
    return True


NETLINK_MISSING = pytest.mark.skipif(not netlink_available(), reason="the proc connector needs CAP_NET_ADMIN")
# Backends a test can run with real process trees; CI runs as root, so all of them.
BACKENDS = [Backend.POLL, pytest.param(Backend.NETLINK, marks=NETLINK_MISSING), Backend.PTRACE]


def wait_for(predicate: Callable[[], object], limit: float = WAIT_LIMIT) -> bool:
    """Poll `predicate` until it is true or `limit` seconds passed; return whether it became true."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def make_fifo(folder: Path, name: str) -> Path:
    """Create a FIFO a shell script can block on with `read line < FIFO`."""
    path = folder / name
    os.mkfifo(path)
    return path


def release(fifo: Path) -> None:
    """Unblock the shell reading `fifo` (waits until it has opened the FIFO)."""
    descriptor: list[int] = []

    def opened() -> bool:
        try:
            descriptor.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError as error:
            if error.errno == errno.ENXIO:  # no reader yet
                return False
            raise
        return True

    assert wait_for(opened), f"no process opened {fifo} for reading"
    os.write(descriptor[0], b"go\n")
    os.close(descriptor[0])


class ProcessJanitor:
    """Kills, by pid, the processes a test started and that are still running."""

    def __init__(self) -> None:
        self._processes: dict[int, float | None] = {}

    def add(self, pid: int, start_time: float | None = None) -> None:
        self._processes.setdefault(pid, start_time)

    def add_records(self, records: list[MonitorRecord]) -> None:
        for record in records:
            if isinstance(record, ProcessEvent):
                self.add(record.pid, record.start_time)

    def cleanup(self) -> None:
        for pid, start_time in self._processes.items():
            if pid == os.getpid():
                continue
            try:
                process = psutil.Process(pid)
                # Only a process that started when the recorded one did is ours.
                if start_time is not None and abs(process.create_time() - start_time) > 1.0:
                    continue
                process.kill()
            except psutil.NoSuchProcess:
                pass
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


@dataclass
class Session:
    """A monitored shell started in the pytest process."""

    prepared: PreparedMonitor
    shell: ShellProcess
    monitor: Monitor
    records: list[MonitorRecord] = field(default_factory=list)
    summary: MonitorSummary | None = None
    returncode: int | None = None

    def events(self, kind: str | None = None, argv: list[str] | None = None) -> list[ProcessEvent]:
        """Return the process records of this kind (and argv), in emit order."""
        return [
            record
            for record in list(self.records)
            if isinstance(record, ProcessEvent)
            and (kind is None or record.kind == kind)
            and (argv is None or record.argv == tuple(argv))
        ]

    def wait_event(self, kind: str, argv: list[str]) -> ProcessEvent:
        """Wait until a record of this kind and argv has been emitted and return it."""
        assert wait_for(lambda: self.events(kind, argv)), f"no {kind} record for {argv}; got {self.records}"
        return self.events(kind, argv)[0]

    def finish(self) -> MonitorSummary:
        """Wait for the shell, then stop the monitor."""
        self.returncode = self.shell.wait(timeout=WAIT_LIMIT)
        self.summary = self.monitor.stop()
        return self.summary


@dataclass
class GuardRun:
    """A guard-like process (guard_process.py) and the records it writes."""

    process: subprocess.Popen[str]
    records_path: Path

    def records(self) -> list[dict[str, object]]:
        """Return the records written so far."""
        if not self.records_path.exists():
            return []
        lines = self.records_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def find(self, kind: str | None, argv: list[str] | None = None) -> list[dict[str, object]]:
        """Return the records of this kind, or of any kind, (and argv)."""
        return [
            record
            for record in self.records()
            if (kind is None or record["kind"] == kind) and (argv is None or record.get("argv") == argv)
        ]

    def wait_record(self, kind: str | None, argv: list[str] | None = None) -> dict[str, object]:
        """Wait until a record of this kind (and argv) is written and return it."""
        assert wait_for(lambda: self.find(kind, argv)), f"no {kind} record for {argv}; got {self.records()}"
        return self.find(kind, argv)[0]
