"""Exit policies applied to processes left running after the shell."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from guard.monitor import Backend, EventKind, ExitPolicy, LeftoverAction
from tests.monitor.support import BACKENDS, Session, make_fifo, release, wait_for


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _session_with_leftover(
    start_session: Callable[..., Session], tmp_path: Path, backend: Backend, policy: ExitPolicy, command: str
) -> tuple[Session, int]:
    gate = make_fifo(tmp_path, "gate")
    session = start_session(backend, f"{command} & read line < {gate}", policy=policy, grace_period=0.3)
    # A start record, or an exec record when sh was seen before it ran sleep.
    assert wait_for(lambda: session.events(argv=["sleep", "30"]))
    leftover = session.events(argv=["sleep", "30"])[0]
    release(gate)
    session.finish()
    return session, leftover.pid


@pytest.mark.parametrize("backend", BACKENDS)
def test_terminate_policy_sends_sigterm(
    backend: Backend, start_session: Callable[..., Session], tmp_path: Path
) -> None:
    session, pid = _session_with_leftover(start_session, tmp_path, backend, ExitPolicy.TERMINATE, "sleep 30")

    assert session.summary is not None
    assert [(leftover.pid, leftover.action) for leftover in session.summary.leftovers] == [
        (pid, LeftoverAction.TERMINATED)
    ]
    assert not _running(pid)


@pytest.mark.parametrize("backend", BACKENDS)
def test_terminate_policy_escalates_to_sigkill(
    backend: Backend, start_session: Callable[..., Session], tmp_path: Path
) -> None:
    # An ignored signal stays ignored across exec, so sleep ignores SIGTERM.
    session, pid = _session_with_leftover(
        start_session, tmp_path, backend, ExitPolicy.TERMINATE, "sh -c 'trap \"\" TERM; exec sleep 30'"
    )

    assert session.summary is not None
    assert [(leftover.pid, leftover.action) for leftover in session.summary.leftovers] == [
        (pid, LeftoverAction.KILLED)
    ]
    assert not _running(pid)
    if backend is not Backend.POLL:
        exits = [event for event in session.events(EventKind.PROCESS_EXIT) if event.pid == pid]
        assert exits[0].signal == signal.SIGKILL


@pytest.mark.parametrize("backend", BACKENDS)
def test_leave_policy_leaves_process_running(
    backend: Backend, start_session: Callable[..., Session], tmp_path: Path
) -> None:
    session, pid = _session_with_leftover(start_session, tmp_path, backend, ExitPolicy.LEAVE, "sleep 30")

    assert session.summary is not None
    assert [leftover.action for leftover in session.summary.leftovers] == [LeftoverAction.LEFT]
    assert _running(pid)


@pytest.mark.parametrize("backend", BACKENDS)
def test_report_policy_warns_and_leaves_process(
    backend: Backend, start_session: Callable[..., Session], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="guard.monitor.exit_policy"):
        session, pid = _session_with_leftover(start_session, tmp_path, backend, ExitPolicy.REPORT, "sleep 30")

    assert session.summary is not None
    assert [leftover.action for leftover in session.summary.leftovers] == [LeftoverAction.REPORTED]
    assert _running(pid)
    assert str(pid) in caplog.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_terminate_policy_stops_running_shell(
    backend: Backend, start_session: Callable[..., Session], tmp_path: Path
) -> None:
    gate = make_fifo(tmp_path, "gate")
    session = start_session(backend, f"read line < {gate}", policy=ExitPolicy.TERMINATE)
    session.wait_event(EventKind.PROCESS_START, ["bash", "-c", f"read line < {gate}"])

    # As when the guard itself is told to stop: the monitor stops first.
    summary = session.monitor.stop()

    assert [(leftover.pid, leftover.action) for leftover in summary.leftovers] == [
        (session.shell.pid, LeftoverAction.TERMINATED)
    ]
    assert session.shell.wait() == -signal.SIGTERM
