"""Fixtures for monitor tests: isolated folders, monitored shells and cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from guard.monitor import Backend, ExitPolicy, MonitorOptions, MonitorRecord, prepare
from tests.monitor.support import GUARD_PROCESS, WORKTREE, GuardRun, ProcessJanitor, Session


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point HOME and the XDG folders at the test's temporary folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable, folder in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        monkeypatch.setenv(variable, str(home / folder))


@pytest.fixture
def janitor() -> Iterator[ProcessJanitor]:
    """Kill and reap the test's leftover processes at teardown."""
    cleaner = ProcessJanitor()
    yield cleaner
    cleaner.cleanup()


@pytest.fixture
def start_session(janitor: ProcessJanitor) -> Iterator[Callable[..., Session]]:
    """Start `bash -c SCRIPT` under a monitor in this process; stop and clean up at teardown."""
    sessions: list[Session] = []

    def start(
        backend: Backend,
        script: str,
        *,
        policy: ExitPolicy = ExitPolicy.REPORT,
        interval: float = 0.01,
        grace_period: float = 0.5,
    ) -> Session:
        options = MonitorOptions(backend=backend, exit_policy=policy, interval=interval, grace_period=grace_period)
        prepared = prepare(options)
        records: list[MonitorRecord] = []
        shell = prepared.spawn(["bash", "-c", script])
        janitor.add(shell.pid)
        monitor = prepared.start(shell.pid, records.append)
        session = Session(prepared=prepared, shell=shell, monitor=monitor, records=records)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.shell.kill()
        session.monitor.stop()
        session.shell.wait()
        janitor.add_records(session.records)


@pytest.fixture
def run_guard(tmp_path: Path, janitor: ProcessJanitor) -> Iterator[Callable[..., GuardRun]]:
    """Start tests/monitor/guard_process.py (a child subreaper); kill what it left at teardown."""
    runs: list[GuardRun] = []

    def run(
        backend: Backend,
        script: str,
        *,
        policy: ExitPolicy = ExitPolicy.REPORT,
        interval: float = 0.01,
        grace_period: float = 0.5,
    ) -> GuardRun:
        records_path = tmp_path / f"records-{len(runs)}.jsonl"
        env = dict(os.environ, PYTHONPATH=str(WORKTREE))
        command = [
            sys.executable,
            str(GUARD_PROCESS),
            str(records_path),
            backend.value,
            policy.value,
            str(interval),
            str(grace_period),
            script,
        ]
        process = subprocess.Popen(command, env=env, cwd=tmp_path, text=True)
        janitor.add(process.pid)
        guard = GuardRun(process, records_path)
        runs.append(guard)
        return guard

    yield run
    for guard in runs:
        if guard.process.poll() is None:
            guard.process.send_signal(signal.SIGKILL)
        guard.process.wait()
        for record in guard.records():
            pid, start_time = record.get("pid"), record.get("start_time")
            if isinstance(pid, int):
                janitor.add(pid, start_time if isinstance(start_time, float) else None)
