"""The poll backend on real process trees."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from guard.monitor import Backend, EventKind, MonitorOptions, MonitorRecord
from guard.monitor.poll import PollMonitor
from guard.monitor.psutil_source import PsutilSource
from tests.monitor.support import ProcessJanitor, Session, make_fifo, release, wait_for


def test_poll_with_psutil_source_sees_tree(janitor: ProcessJanitor, tmp_path: Path) -> None:
    gate = make_fifo(tmp_path, "gate")
    records: list[MonitorRecord] = []
    shell = subprocess.Popen(["bash", "-c", f"sleep 30 & read line < {gate}; kill $!"])
    janitor.add(shell.pid)
    monitor = PollMonitor(shell.pid, MonitorOptions(backend=Backend.POLL, interval=0.01), records.append, PsutilSource())
    try:
        assert wait_for(lambda: any(getattr(record, "argv", None) == ("sleep", "30") for record in records))
    finally:
        release(gate)
        shell.wait()
        monitor.stop()
        janitor.add_records(records)

    starts = [record for record in records if record.kind == EventKind.PROCESS_START]
    assert starts[0].pid == shell.pid
    assert starts[1].ppid == shell.pid


def test_poll_announces_subshell_with_inherited_program(
    start_session: Callable[..., Session], tmp_path: Path
) -> None:
    gate = make_fifo(tmp_path, "gate")
    script = f"( read line < {gate} ); exit 0"
    session = start_session(Backend.POLL, script)

    # The subshell never calls exec, so after waiting for one it is announced
    # with the program it inherited from the shell.
    assert wait_for(lambda: len(session.events(EventKind.PROCESS_START, ["bash", "-c", script])) == 2)
    release(gate)
    session.finish()

    subshell = session.events(EventKind.PROCESS_START, ["bash", "-c", script])[1]
    assert subshell.ppid == session.shell.pid


def test_poll_reads_exit_status_of_zombie(start_session: Callable[..., Session], tmp_path: Path) -> None:
    gate = make_fifo(tmp_path, "gate")
    # The parent leaves its child a zombie until the gate opens.
    program = tmp_path / "zombie.py"
    program.write_text(
        "import os, sys\n"
        "if os.fork() == 0:\n"
        "    os._exit(3)\n"
        "open(sys.argv[1]).read()\n"
    )
    session = start_session(Backend.POLL, f"{sys.executable} {program} {gate}; exit 0")

    def child_exit() -> list[object]:
        return [
            event
            for event in session.events(EventKind.PROCESS_EXIT)
            if event.ppid not in (session.shell.pid, os.getpid())
        ]

    assert wait_for(child_exit)
    release(gate)
    session.finish()

    assert [event.exit_status for event in child_exit()] == [3]
