"""The recorder's rules for announcing and dropping processes."""

from __future__ import annotations

import os

import pytest

from guard.monitor import EventKind, MonitorRecord, ProcessEvent
from guard.monitor.procfs import LinuxProcfs, ProcessInfo
from guard.monitor.recorder import Recorder

SHELL = ProcessInfo(exe="/bin/bash", argv=("bash", "-i"), cwd="/", uid=0)
TRUE = ProcessInfo(exe="/bin/true", argv=("/bin/true",), cwd="/", uid=0)


def _recorder(records: list[MonitorRecord]) -> Recorder:
    return Recorder(records.append, LinuxProcfs(), sampled=False)


def _kinds(records: list[MonitorRecord]) -> list[tuple[str, int]]:
    return [(record.kind.value, record.pid) for record in records if isinstance(record, ProcessEvent)]


def test_recorder_announces_fork_at_exec() -> None:
    records: list[MonitorRecord] = []
    recorder = _recorder(records)

    recorder.forked(100, 1, 1000.0)
    assert records == []
    recorder.execed(100, TRUE)

    assert _kinds(records) == [("process.start", 100)]
    assert records[0].argv == ("/bin/true",)


def test_recorder_drops_exited_process() -> None:
    records: list[MonitorRecord] = []
    recorder = _recorder(records)
    recorder.forked(100, 1, 1000.0)
    recorder.execed(100, TRUE)

    recorder.exited(100, 0, None, when=1000.5)

    assert recorder.live == {}
    assert _kinds(records) == [("process.start", 100), ("process.exit", 100)]
    assert records[1].lifetime == pytest.approx(0.5)
    assert records[1].exit_status == 0


def test_recorder_announces_subshell_with_ancestor_program() -> None:
    records: list[MonitorRecord] = []
    recorder = _recorder(records)
    recorder.forked(100, 1, 1000.0)
    recorder.execed(100, SHELL)
    recorder.forked(101, 100, 1000.1)
    recorder.forked(102, 101, 1000.2)

    recorder.exited(102, 0, None)

    assert _kinds(records) == [("process.start", 100), ("process.start", 102), ("process.exit", 102)]
    assert records[1].argv == SHELL.argv


def test_recorder_announces_everything_on_request() -> None:
    records: list[MonitorRecord] = []
    recorder = _recorder(records)
    # This process's own /proc entry gives the program for the announcement.
    recorder.forked(os.getpid(), 1, 1000.0)

    recorder.announce_due(everything=True)

    assert _kinds(records) == [("process.start", os.getpid())]
    assert records[0].argv is not None


def test_recorder_reports_exec_after_start_once() -> None:
    records: list[MonitorRecord] = []
    recorder = _recorder(records)
    recorder.forked(100, 1, 1000.0)
    recorder.execed(100, SHELL)

    recorder.execed(100, SHELL)
    recorder.execed(100, TRUE)

    assert [record.kind for record in records] == [EventKind.PROCESS_START, EventKind.PROCESS_EXEC]
    assert records[1].argv == TRUE.argv


def test_recorder_counts_emit_errors() -> None:
    def failing_emit(record: MonitorRecord) -> None:
        raise OSError("disk full")

    recorder = Recorder(failing_emit, LinuxProcfs(), sampled=False)
    recorder.forked(100, 1, 1000.0)
    recorder.execed(100, TRUE)
    recorder.exited(100, None, 9)

    assert recorder.emit_errors == 2
    assert recorder.events_emitted == 0
    assert recorder.processes_seen == 1


def test_recorder_lost_notice() -> None:
    records: list[MonitorRecord] = []
    recorder = _recorder(records)

    recorder.lost("buffer overflowed", 12)

    assert records[0].kind is EventKind.EVENTS_LOST
    assert records[0].to_dict() == {"kind": "monitor.events_lost", "message": "buffer overflowed", "lost": 12}
    assert recorder.lost_notices == 1
