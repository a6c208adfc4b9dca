"""The ptrace backend on real process trees."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from guard.monitor import Backend, EventKind, ExitPolicy, MonitorError, MonitorOptions, prepare
from tests.monitor.support import ProcessJanitor, Session, make_fifo, release, wait_for


def test_ptrace_sees_every_short_process_with_argv(start_session: Callable[..., Session]) -> None:
    session = start_session(Backend.PTRACE, "for i in $(seq 100); do /bin/true $i; done")
    session.finish()

    # Each process is stopped at exec while its argv is read, so none is missed.
    for number in range(1, 101):
        starts = session.events(EventKind.PROCESS_START, ["/bin/true", str(number)])
        exits = session.events(EventKind.PROCESS_EXIT, ["/bin/true", str(number)])
        assert len(starts) == 1, number
        assert len(exits) == 1, number
        assert exits[0].exit_status == 0


def test_ptrace_shell_exit_status_passes_through(start_session: Callable[..., Session]) -> None:
    exited = start_session(Backend.PTRACE, "exit 7")
    killed = start_session(Backend.PTRACE, "kill -TERM $$")

    exited.finish()
    killed.finish()

    assert exited.returncode == 7
    assert killed.returncode == -signal.SIGTERM
    assert exited.shell.poll() == 7


def test_ptrace_delivers_signals_to_tracees(start_session: Callable[..., Session], tmp_path: Path) -> None:
    result = tmp_path / "result"
    session = start_session(Backend.PTRACE, f"trap 'echo caught > {result}; exit 0' USR1; kill -USR1 $$; sleep 30")
    session.finish()

    assert result.read_text() == "caught\n"
    assert session.returncode == 0


def test_ptrace_keeps_job_control(start_session: Callable[..., Session], tmp_path: Path) -> None:
    result = tmp_path / "result"
    # The stopped process must stay stopped until SIGCONT, then run to its end.
    # A tracee held in group-stop shows state "t" (tracing stop), not "T".
    script = (
        "sleep 0.2 & pid=$!; kill -STOP $pid; "
        'until grep -q "^State:.*stop" /proc/$pid/status; do sleep 0.01; done; '
        f"kill -CONT $pid; wait $pid; echo $? > {result}"
    )
    session = start_session(Backend.PTRACE, script)
    session.finish()

    assert result.read_text() == "0\n"


def test_ptrace_leave_policy_detaches_leftovers(start_session: Callable[..., Session], tmp_path: Path) -> None:
    gate = make_fifo(tmp_path, "gate")
    session = start_session(Backend.PTRACE, f"sleep 30 & read line < {gate}", policy=ExitPolicy.LEAVE)
    sleeper = session.wait_event(EventKind.PROCESS_START, ["sleep", "30"])
    release(gate)
    session.finish()

    def tracer_pid() -> int:
        with open(f"/proc/{sleeper.pid}/status") as status:
            return int(status.read().split("TracerPid:")[1].split()[0])

    assert wait_for(lambda: tracer_pid() == 0)


def test_ptrace_counts_processes_not_threads(start_session: Callable[..., Session], tmp_path: Path) -> None:
    program = tmp_path / "threads.py"
    program.write_text(
        "import threading\n"
        "workers = [threading.Thread(target=sum, args=([1, 2],)) for _ in range(4)]\n"
        "for worker in workers:\n"
        "    worker.start()\n"
        "for worker in workers:\n"
        "    worker.join()\n"
    )
    session = start_session(Backend.PTRACE, f"{sys.executable} {program}")
    summary = session.finish()

    assert session.returncode == 0
    assert summary.processes_seen == 1  # bash runs the last command in place with exec


def test_ptrace_spawn_missing_program_raises(janitor: ProcessJanitor) -> None:
    prepared = prepare(MonitorOptions(backend=Backend.PTRACE))

    with pytest.raises(FileNotFoundError):
        prepared.spawn(["/nonexistent/program"])


def test_ptrace_start_needs_spawned_shell() -> None:
    prepared = prepare(MonitorOptions(backend=Backend.PTRACE))

    with pytest.raises(MonitorError, match="spawn"):
        prepared.start(1, lambda record: None)
