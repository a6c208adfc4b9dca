"""Behaviour every backend shares, on real shells in the pytest process."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from guard.monitor import Backend, EventKind, ExitPolicy, MonitorOptions, MonitorRecord, ProcessEvent, prepare
from tests.monitor.support import BACKENDS, ProcessJanitor, Session, make_fifo, release, wait_for


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_reports_start_and_exit(backend: Backend, start_session: Callable[..., Session], tmp_path: Path) -> None:
    gate = make_fifo(tmp_path, "gate")
    session = start_session(backend, f"sleep 30 & read line < {gate}; kill $!; wait $!; exit 4")

    start = session.wait_event(EventKind.PROCESS_START, ["sleep", "30"])
    release(gate)
    summary = session.finish()

    assert start.exe is not None and start.exe.endswith("/sleep")
    assert start.ppid == session.shell.pid
    assert start.cwd == str(Path.cwd())
    assert start.start_time is not None
    root_starts = session.events(EventKind.PROCESS_START, ["bash", "-c", session.events()[0].argv[2]])
    assert [event.pid for event in root_starts] == [session.shell.pid]
    assert session.returncode == 4
    assert summary.processes_seen >= 2
    assert summary.leftovers == ()
    assert wait_for(lambda: session.events(EventKind.PROCESS_EXIT, ["sleep", "30"]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_reports_exec_of_running_process(
    backend: Backend, start_session: Callable[..., Session], tmp_path: Path
) -> None:
    gate = make_fifo(tmp_path, "gate")
    session = start_session(backend, f"read line < {gate}; exec sleep 30")
    session.wait_event(EventKind.PROCESS_START, ["bash", "-c", f"read line < {gate}; exec sleep 30"])

    release(gate)
    execed = session.wait_event(EventKind.PROCESS_EXEC, ["sleep", "30"])

    assert execed.pid == session.shell.pid
    session.shell.kill()
    session.finish()
    exits = session.events(EventKind.PROCESS_EXIT)
    assert [event.pid for event in exits] == [session.shell.pid]


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_keeps_only_live_processes(
    backend: Backend, start_session: Callable[..., Session], tmp_path: Path
) -> None:
    gate = make_fifo(tmp_path, "gate")
    done = tmp_path / "done"
    session = start_session(backend, f"for i in $(seq 20); do /bin/true; done; touch {done}; read line < {gate}")
    assert wait_for(done.exists)

    # Only the shell is alive now; every finished process must have been dropped.
    assert wait_for(lambda: session.monitor.live_count == 1)
    release(gate)
    session.finish()
    assert session.monitor.live_count == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_records_are_json(backend: Backend, start_session: Callable[..., Session], tmp_path: Path) -> None:
    session = start_session(backend, f"cd {tmp_path} && sleep 0.2")
    summary = session.finish()

    for record in session.records:
        assert json.loads(json.dumps(record.to_dict())) == record.to_dict()
    json.dumps(summary.to_dict())
    assert all(isinstance(record, ProcessEvent) for record in session.records)
    assert {record.sampled for record in session.records if isinstance(record, ProcessEvent)} == {
        backend is Backend.POLL
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_emit_failure_does_not_stop_monitor(backend: Backend, janitor: ProcessJanitor, tmp_path: Path) -> None:
    gate = make_fifo(tmp_path, "gate")
    seen: list[MonitorRecord] = []

    def failing_emit(record: MonitorRecord) -> None:
        seen.append(record)
        raise RuntimeError("audit log is full")

    prepared = prepare(MonitorOptions(backend=backend, interval=0.01))
    shell = prepared.spawn(["bash", "-c", f"sleep 30 & read line < {gate}; kill $!"])
    janitor.add(shell.pid)
    monitor = prepared.start(shell.pid, failing_emit)
    assert wait_for(lambda: any(record.argv == ("sleep", "30") for record in seen if isinstance(record, ProcessEvent)))
    release(gate)
    shell.wait()
    summary = monitor.stop()
    janitor.add_records(seen)

    assert summary.emit_errors == len(seen)
    assert summary.events_emitted == 0
    assert summary.error is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_stop_twice_returns_same_summary(backend: Backend, start_session: Callable[..., Session]) -> None:
    session = start_session(backend, "exit 0")
    first = session.finish()

    assert session.monitor.stop() is first


def test_off_backend_emits_nothing(start_session: Callable[..., Session]) -> None:
    session = start_session(Backend.OFF, "/bin/true; exit 3")
    summary = session.finish()

    assert session.records == []
    assert session.returncode == 3
    assert summary.backend is Backend.OFF
    assert summary.processes_seen == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_leftover_listed_with_program(
    backend: Backend, start_session: Callable[..., Session], tmp_path: Path
) -> None:
    gate = make_fifo(tmp_path, "gate")
    session = start_session(backend, f"sleep 30 & read line < {gate}", policy=ExitPolicy.LEAVE)
    sleeper = session.wait_event(EventKind.PROCESS_START, ["sleep", "30"])
    release(gate)
    summary = session.finish()

    assert [leftover.pid for leftover in summary.leftovers] == [sleeper.pid]
    assert summary.leftovers[0].argv == ("sleep", "30")


@pytest.mark.parametrize("backend", BACKENDS)
def test_guard_child_started_later_keeps_status(
    backend: Backend, start_session: Callable[..., Session], tmp_path: Path
) -> None:
    gate = make_fifo(tmp_path, "gate")
    session = start_session(backend, f"read line < {gate}")
    session.wait_event(EventKind.PROCESS_START, ["bash", "-c", f"read line < {gate}"])

    other = subprocess.Popen(["sh", "-c", "exit 9"])
    session.monitor.exclude_child(other.pid)
    # Give a wrong reap the chance to happen while the child is a zombie.
    assert wait_for(lambda: Path(f"/proc/{other.pid}/stat").read_text().split(") ")[1].startswith("Z"))
    time.sleep(0.3)
    returncode = other.wait()
    release(gate)
    session.finish()

    assert returncode == 9
    if backend is not Backend.POLL:  # a poll may see the child before exclude_child()
        assert other.pid not in {event.pid for event in session.events()}
