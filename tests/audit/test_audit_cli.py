"""`rez-guard audit verify`, `show` and `tail`, through click and as a real process."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import pytest
from click.testing import CliRunner

from audit_helpers import emit_session, event_fields, read_lines, write_lines
from guard.audit import AuditOptions, AuditSession, open_audit_log
from guard.cli.audit import audit
from guard.paths import GuardPaths

REPO_ROOT = Path(__file__).resolve().parents[2]
# Bound on waiting for `tail -f` output, so a hung follower fails the test instead of hanging it.
EXPECT_LIMIT_SECONDS = 30


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A log with a whole session, an error session and a denied session."""
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as audit_log:
        emit_session(AuditSession(audit_log, session_id="aaaa1111-session"), process_events=2)
        failed = AuditSession(audit_log, session_id="bbbb2222-session")
        failed.emit("session.start", **event_fields()["session.start"])
        failed.emit("error", **event_fields()["error"])
        denied = AuditSession(audit_log, session_id="cccc3333-session")
        denied.emit("session.start", **event_fields()["session.start"])
        denied.emit("decision", **{**event_fields()["decision"], "decision": "deny", "decided_by": "no_terminal"})
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(audit, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_verify_intact_log_exits_zero(log: Path) -> None:
    code, out, _ = run("verify", "--schema", "--log", str(log))

    assert code == 0
    assert out == "chain intact: 10 records in 1 file\n"


def test_verify_edit_exits_one_naming_record(log: Path) -> None:
    lines = read_lines(log)
    lines[1] = lines[1].replace(b"approve_once", b"approve_remember")
    write_lines(log, lines)

    code, out, _ = run("verify", str(log))

    assert code == 1
    assert out.splitlines()[0].startswith(f"{log}:3: broken_link: does not link to the record before it ({log}:2)")
    assert out.splitlines()[-1].startswith(f"chain broken: first bad record at {log}:3")


def test_verify_truncated_line_exits_zero(log: Path) -> None:
    with open(log, "ab") as stream:
        stream.write(b'{"schema":1,"ev')

    code, out, _ = run("verify", "--log", str(log))

    assert code == 0
    assert f"{log}:11: truncated_line:" in out


def test_verify_defaults_to_xdg_log(isolated_home: Path) -> None:
    path = GuardPaths.from_environ(os.environ).audit_log
    with open_audit_log(AuditOptions(path=path)) as audit_log:
        emit_session(AuditSession(audit_log))

    code, out, _ = run("verify")

    assert path.is_relative_to(isolated_home.parent)
    assert code == 0
    assert out.startswith("chain intact: 6 records")


def test_verify_missing_log_is_config_error(tmp_path: Path) -> None:
    code, _, err = run("verify", "--log", str(tmp_path / "none.jsonl"))

    assert code == 6
    assert "audit log not found" in err


def test_show_prints_one_line_per_record(log: Path) -> None:
    code, out, _ = run("show", "--log", str(log))

    lines = out.splitlines()
    assert code == 0
    assert len(lines) == 10
    assert " aaaa1111   0 session.start  " in lines[0]
    assert "approve_once by user: 2 variants, 1 findings, env +1 ~1 -0" in lines[1]
    assert "exit 0 after 12.5 s, 1 processes" in lines[5]


def test_show_filters_by_session_prefix(log: Path) -> None:
    code, out, _ = run("show", "--log", str(log), "--session", "bbbb")

    assert code == 0
    assert [line.split()[1] for line in out.splitlines()] == ["bbbb2222", "bbbb2222"]
    assert "ResolveFailed: package not found: mya (exit 3)" in out


def test_show_filters_by_event_family(log: Path) -> None:
    code, out, _ = run("show", "--log", str(log), "--event", "process", "--json")

    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert code == 0
    assert events == ["process.start", "process.exit"]


def test_show_filters_by_since(log: Path) -> None:
    _, recent, _ = run("show", "--log", str(log), "--since", "1h")
    _, future, _ = run("show", "--log", str(log), "--since", "2999-01-01")

    assert len(recent.splitlines()) == 10
    assert future == ""


def test_show_rejects_invalid_since(log: Path) -> None:
    code, _, err = run("show", "--log", str(log), "--since", "yesterday")

    assert code == 2
    assert "--since: invalid time 'yesterday'" in err


def test_show_summary_per_session(log: Path) -> None:
    code, out, _ = run("show", "--log", str(log), "--summary")

    blocks = out.split("\n\n")
    assert code == 0
    assert len(blocks) == 3
    assert "resolved  maya-2024.1 python-3.11.4" in blocks[0]
    assert "decision  approve_once by user" in blocks[0]
    assert "processes 1" in blocks[0]
    assert "exit      value 0, after 12.5 s" in blocks[0]
    assert "error     ResolveFailed: package not found: mya" in blocks[1]
    assert "decision  deny by no_terminal" in blocks[2]
    assert "no session.end record" in blocks[2]


def test_show_summary_selects_by_event(log: Path) -> None:
    code, out, _ = run("show", "--log", str(log), "--summary", "--event", "error", "--json")

    summaries = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [summary["session"] for summary in summaries] == ["bbbb2222-session"]
    assert summaries[0]["request"] == ["maya-2024", "python-3.11"]


def test_show_skips_partial_line(log: Path) -> None:
    with open(log, "ab") as stream:
        stream.write(b'{"schema":1,"ev')

    code, out, _ = run("show", "--log", str(log))

    assert code == 0
    assert len(out.splitlines()) == 10


def test_show_reads_rotated_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path, max_bytes=2048)) as audit_log:
        for _ in range(4):
            emit_session(AuditSession(audit_log))

    code, out, _ = run("show", "--log", str(path))

    assert code == 0
    assert len(out.splitlines()) == 24


def test_tail_prints_last_records(log: Path) -> None:
    code, out, _ = run("tail", "--log", str(log), "-n", "3")

    lines = out.splitlines()
    assert code == 0
    assert len(lines) == 3
    assert " cccc3333   1 decision " in lines[-1]


def test_tail_missing_log_is_config_error(tmp_path: Path) -> None:
    code, _, err = run("tail", "--log", str(tmp_path / "none.jsonl"))

    assert code == 6
    assert "audit log not found" in err


def test_tail_follow_prints_new_records_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as audit_log:
        AuditSession(audit_log, session_id="before00").emit("drift", **event_fields()["drift"])

    code = "from guard.cli.audit import audit; audit()"
    child = pexpect.spawn(
        sys.executable,
        ["-c", code, "tail", "-f", "-n", "1", "--log", str(path)],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=EXPECT_LIMIT_SECONDS,
        encoding="utf-8",
    )
    try:
        child.expect(r"before00 +0 drift")
        with open_audit_log(AuditOptions(path=path, max_bytes=1)) as audit_log:
            session = AuditSession(audit_log, session_id="after000")
            session.emit("drift", **event_fields()["drift"])
            child.expect(r"after000 +0 drift")
            # This append rotates the log first, so the follower must move to the new file.
            session.emit("alert", **event_fields()["alert"])
            child.expect(r"after000 +1 alert")
    finally:
        child.terminate(force=True)
        child.close()
