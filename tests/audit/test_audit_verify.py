"""verify: edits, deletions, reordering and truncation are found and named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_helpers import emit_session, read_lines, write_lines
from guard.audit import AuditOptions, AuditSession, open_audit_log, verify_logs
from guard.audit.files import log_files
from guard.audit.verify import ProblemKind


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A log with two whole sessions (12 records)."""
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as audit_log:
        emit_session(AuditSession(audit_log))
        emit_session(AuditSession(audit_log))
    return path


def kinds(path: Path | list[Path]) -> list[ProblemKind]:
    paths = path if isinstance(path, list) else [path]
    return [problem.kind for problem in verify_logs(paths).problems]


def test_intact_log_verifies(log: Path) -> None:
    report = verify_logs([log])
    assert report.ok
    assert report.problems == ()
    assert report.records == 12


def test_edited_record_breaks_next_link(log: Path) -> None:
    lines = read_lines(log)
    lines[3] = lines[3].replace(b'"pid":5000', b'"pid":5999')
    write_lines(log, lines)

    report = verify_logs([log])
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.kind is ProblemKind.BROKEN_LINK
    assert report.first_break.line == 5
    assert f"{log}:4" in report.first_break.message


def test_edit_into_invalid_json_is_broken_link(log: Path) -> None:
    lines = read_lines(log)
    lines[2] = lines[2][:40] + b"\n"
    write_lines(log, lines)

    report = verify_logs([log])
    assert report.first_break is not None
    assert report.first_break.kind is ProblemKind.BROKEN_LINK
    assert report.first_break.line == 4
    assert "not a valid record" in report.first_break.message


def test_deleted_record_breaks_chain(log: Path) -> None:
    lines = read_lines(log)
    del lines[6]
    write_lines(log, lines)

    report = verify_logs([log])
    assert report.first_break is not None
    assert report.first_break.kind is ProblemKind.BROKEN_LINK
    assert report.first_break.line == 7


def test_deleted_first_record_is_reported(log: Path) -> None:
    lines = read_lines(log)
    write_lines(log, lines[1:])

    assert kinds(log) == [ProblemKind.EARLIER_FILE_MISSING, ProblemKind.HEAD_MISMATCH]
    # The first record of a log that never rotated must start the chain.
    assert json.loads(lines[0])["prev"] == "0" * 64


def test_swapped_records_are_reordered(log: Path) -> None:
    lines = read_lines(log)
    lines[4], lines[5] = lines[5], lines[4]
    write_lines(log, lines)

    report = verify_logs([log])
    assert report.first_break is not None
    assert report.first_break.kind is ProblemKind.REORDERED
    assert report.first_break.line == 5
    assert f"{log}:6" in report.first_break.message


def test_removed_tail_records_are_missing_at_end(log: Path) -> None:
    lines = read_lines(log)
    write_lines(log, lines[:-2])

    report = verify_logs([log])
    assert [problem.kind for problem in report.problems] == [ProblemKind.MISSING_AT_END]
    assert not report.ok


def test_edited_last_record_is_missing_at_end(log: Path) -> None:
    lines = read_lines(log)
    lines[-1] = lines[-1].replace(b'"exit_value":0', b'"exit_value":1')
    write_lines(log, lines)

    assert kinds(log) == [ProblemKind.MISSING_AT_END]


def test_tail_cut_by_replacing_file_is_found(log: Path) -> None:
    lines = read_lines(log)
    replacement = log.with_name("copy")
    replacement.write_bytes(b"".join(lines[:-3]))
    os.replace(replacement, log)

    assert kinds(log) == [ProblemKind.MISSING_AT_END]


def test_cut_last_record_is_missing_at_end(log: Path) -> None:
    data = log.read_bytes()
    with open(log, "r+b") as stream:
        stream.truncate(len(data) - 30)

    report = verify_logs([log])
    assert not report.ok
    assert [problem.kind for problem in report.problems] == [ProblemKind.TRUNCATED_LINE, ProblemKind.MISSING_AT_END]


def test_partial_line_after_head_is_truncated_not_tampering(log: Path) -> None:
    # A writer killed mid-write leaves part of a record after the last whole one.
    with open(log, "ab") as stream:
        stream.write(b'{"schema":1,"event":"alert","session":"0f')

    report = verify_logs([log])
    assert report.ok
    assert [problem.kind for problem in report.problems] == [ProblemKind.TRUNCATED_LINE]
    assert report.problems[0].line == 13


def test_next_writer_continues_after_partial_line(log: Path) -> None:
    data = log.read_bytes()
    # A writer killed mid-write left the first 50 bytes of a record, past the head.
    with open(log, "ab") as stream:
        stream.write(data.splitlines()[0][:50])

    with open_audit_log(AuditOptions(path=log)) as audit_log:
        emit_session(AuditSession(audit_log))

    report = verify_logs([log])
    assert report.ok
    assert [problem.kind for problem in report.problems] == [ProblemKind.TRUNCATED_LINE]
    assert report.problems[0].line == 13
    assert report.records == 18


def test_writer_records_tail_removed_before_it(log: Path) -> None:
    lines = read_lines(log)
    write_lines(log, lines[:-2])

    with open_audit_log(AuditOptions(path=log)) as audit_log:
        emit_session(AuditSession(audit_log))

    report = verify_logs([log])
    assert [problem.kind for problem in report.problems] == [ProblemKind.LOG_CHANGED]
    assert report.problems[0].line == 11
    assert json.loads(read_lines(log)[10])["event"] == "log.changed"


def test_rotation_carries_chain_across_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path, max_bytes=4096)) as audit_log:
        for _ in range(6):
            emit_session(AuditSession(audit_log))

    paths = log_files(path)
    assert len(paths) >= 3
    report = verify_logs(paths)
    assert report.problems == ()
    assert report.records == 36
    assert kinds(paths[-1]) == [ProblemKind.EARLIER_FILE_MISSING]


def test_rotated_files_out_of_order_are_reordered(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path, max_bytes=4096)) as audit_log:
        for _ in range(6):
            emit_session(AuditSession(audit_log))

    paths = log_files(path)
    assert ProblemKind.REORDERED in kinds([paths[1], paths[0], *paths[2:]])


def test_deleted_rotated_file_breaks_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path, max_bytes=4096)) as audit_log:
        for _ in range(6):
            emit_session(AuditSession(audit_log))

    paths = log_files(path)
    report = verify_logs([paths[0], *paths[2:]])
    assert report.first_break is not None
    assert report.first_break.path == paths[2]
    assert report.first_break.line == 1


def test_external_rename_rotation_keeps_chain(log: Path) -> None:
    rotated = log.with_name("audit.jsonl.1")
    os.rename(log, rotated)

    with open_audit_log(AuditOptions(path=log)) as audit_log:
        emit_session(AuditSession(audit_log))

    assert verify_logs([rotated, log]).problems == ()


def test_unreadable_head_file_is_reported(log: Path) -> None:
    log.with_name("audit.jsonl.head").write_text("not json\n")

    assert ProblemKind.HEAD_INVALID in kinds(log)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(st.text(min_size=0, max_size=40), min_size=3, max_size=12),
    data=st.data(),
)
def test_any_single_line_edit_is_found(tmp_path: Path, messages: list[str], data: st.DataObject) -> None:
    path = tmp_path / f"audit-{len(list(tmp_path.iterdir()))}.jsonl"
    with open_audit_log(AuditOptions(path=path)) as audit_log:
        session = AuditSession(audit_log)
        for message in messages:
            session.emit("alert", message=message, paths=[])
    lines = read_lines(path)
    index = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
    record = json.loads(lines[index])
    record["message"] = record["message"] + data.draw(st.text(min_size=1, max_size=5))
    lines[index] = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    write_lines(path, lines)

    assert not verify_logs([path]).ok
