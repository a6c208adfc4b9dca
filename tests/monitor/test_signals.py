"""SIGTERM and SIGHUP to the guard while the shell runs."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from guard.monitor import Backend, ExitPolicy, GuardTerminated, termination_signals
from tests.monitor.support import BACKENDS, WAIT_LIMIT, GuardRun, ProcessJanitor, make_fifo, release


def _pid(record: dict[str, object]) -> int:
    pid = record["pid"]
    assert isinstance(pid, int)
    return pid


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_ends_session_and_terminates_tree(
    backend: Backend, run_guard: Callable[..., GuardRun], tmp_path: Path
) -> None:
    gate = make_fifo(tmp_path, "gate")
    guard = run_guard(backend, f"sleep 30 & read line < {gate}", policy=ExitPolicy.TERMINATE)
    sleeper = guard.wait_record("process.start", ["sleep", "30"])

    guard.process.send_signal(signal.SIGTERM)

    assert guard.process.wait(timeout=WAIT_LIMIT) == 128 + signal.SIGTERM
    end = guard.wait_record("session.end")
    assert end["signals"] == [signal.SIGTERM]
    assert end["returncode"] is None
    summary = end["summary"]
    assert isinstance(summary, dict)
    actions = {leftover["pid"]: leftover["action"] for leftover in summary["leftovers"]}
    assert actions == {end["shell_pid"]: "terminated", _pid(sleeper): "terminated"}
    assert _gone(_pid(sleeper))


@pytest.mark.parametrize("backend", BACKENDS)
def test_sighup_with_leave_policy_leaves_tree(
    backend: Backend, run_guard: Callable[..., GuardRun], tmp_path: Path
) -> None:
    gate = make_fifo(tmp_path, "gate")
    guard = run_guard(backend, f"sleep 30 & read line < {gate}", policy=ExitPolicy.LEAVE)
    sleeper = guard.wait_record("process.start", ["sleep", "30"])

    guard.process.send_signal(signal.SIGHUP)

    assert guard.process.wait(timeout=WAIT_LIMIT) == 128 + signal.SIGHUP
    summary = guard.wait_record("session.end")["summary"]
    assert isinstance(summary, dict)
    assert {leftover["action"] for leftover in summary["leftovers"]} == {"left"}
    assert not _gone(_pid(sleeper))


def test_termination_signals_raise_only_while_waiting(janitor: ProcessJanitor, tmp_path: Path) -> None:
    gate = make_fifo(tmp_path, "gate")
    previous = signal.getsignal(signal.SIGTERM)
    shell = subprocess.Popen(["bash", "-c", f"read line < {gate}"])
    janitor.add(shell.pid)

    with termination_signals() as signals:
        os.kill(os.getpid(), signal.SIGHUP)  # recorded: nothing is raised outside wait()
        with pytest.raises(GuardTerminated) as raised:
            signals.wait(shell)
        os.kill(os.getpid(), signal.SIGTERM)
    release(gate)

    assert raised.value.signum == signal.SIGHUP
    assert raised.value.exit_code == 128 + signal.SIGHUP
    assert signals.received == [signal.SIGHUP, signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is previous
    assert shell.wait() == 0


def test_termination_signals_interrupt_wait(janitor: ProcessJanitor) -> None:
    with termination_signals() as signals:
        # The shell sends the signal to this process, which is waiting for it or about to.
        shell = subprocess.Popen(["bash", "-c", f"kill -TERM {os.getpid()}; sleep 30"])
        janitor.add(shell.pid)
        with pytest.raises(GuardTerminated) as raised:
            signals.wait(shell)
    shell.kill()
    shell.wait()

    assert raised.value.signum == signal.SIGTERM
    assert signals.received == [signal.SIGTERM]
