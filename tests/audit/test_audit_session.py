"""AuditSession: stamps, sequence numbers, redaction and thread safety."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest

from audit_helpers import emit_session, event_fields
from guard.audit import AuditOptions, AuditSession, open_audit_log, redact_values, validate_record, verify_logs


def records_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_session_stamps_every_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as log:
        session = AuditSession(log, session_id="fixed-session", clock=lambda: 1714564800.5)
        emit_session(session)

    records = records_of(path)
    assert [record["seq"] for record in records] == list(range(6))
    for record in records:
        assert validate_record(record) == []
        assert record["session"] == "fixed-session"
        assert record["server_time"] == "2024-05-01T12:00:00.500000Z"
        assert record["guard_pid"] == os.getpid()
        assert record["schema"] == 1
    assert len({record["uuid"] for record in records}) == 6


def test_session_id_defaults_to_uuid(tmp_path: Path) -> None:
    with open_audit_log(AuditOptions(path=tmp_path / "audit.jsonl")) as log:
        first, second = AuditSession(log), AuditSession(log)

    assert len(first.session_id) == 36
    assert first.session_id != second.session_id


def test_env_values_dropped_by_default(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as log:
        AuditSession(log).emit("decision", **event_fields()["decision"], env_values={"PATH": "/bin"})

    assert "env_values" not in records_of(path)[0]


def test_env_values_redacted_when_logged(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    values = {"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "abc", "GITHUB_TOKEN": "t0k", "OLD": None}
    with open_audit_log(AuditOptions(path=path, log_values=True)) as log:
        AuditSession(log).emit("decision", **event_fields()["decision"], env_values=values)

    record = records_of(path)[0]
    assert validate_record(record) == []
    assert record["env_values"] == {
        "PATH": "/bin",
        "AWS_SECRET_ACCESS_KEY": "[redacted]",
        "GITHUB_TOKEN": "[redacted]",
        "OLD": None,
    }


def test_redaction_ignores_case() -> None:
    redacted = redact_values({"ApiKey": "1", "db_Password": "2", "HOME": "3"}, ("key", "PASSWORD"))

    assert redacted == {"ApiKey": "[redacted]", "db_Password": "[redacted]", "HOME": "3"}


def test_common_field_clash_is_rejected(tmp_path: Path) -> None:
    with open_audit_log(AuditOptions(path=tmp_path / "audit.jsonl")) as log:
        with pytest.raises(ValueError, match="seq"):
            AuditSession(log).emit("drift", variables=[], detail="", seq=3)


def test_invalid_record_written_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as log:
        with caplog.at_level(logging.WARNING, logger="guard.audit.session"):
            AuditSession(log).emit("drift", variables=["PATH"], colour="red")

    assert "detail: missing; colour: unexpected field" in caplog.text
    assert records_of(path)[0]["colour"] == "red"


def test_threads_share_one_session(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as log:
        session = AuditSession(log)

        def write_many() -> None:
            for _ in range(200):
                session.emit("drift", variables=["PATH"], detail="threaded")

        threads = [threading.Thread(target=write_many) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert [record["seq"] for record in records_of(path)] == list(range(800))
    assert verify_logs([path]).problems == ()


def test_paths_and_enums_are_written_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fields = {**event_fields()["session.start"], "submitcwd": tmp_path, "package_paths": [tmp_path / "packages"]}
    with open_audit_log(AuditOptions(path=path)) as log:
        AuditSession(log).emit("session.start", **fields)

    record = records_of(path)[0]
    assert record["submitcwd"] == str(tmp_path)
    assert validate_record(record) == []


def test_undecodable_argv_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    word = os.fsdecode(b"caf\xe9")
    fields = {**event_fields()["session.start"], "runargv": ["rez-guard", word]}
    with open_audit_log(AuditOptions(path=path)) as log:
        AuditSession(log).emit("session.start", **fields)

    assert records_of(path)[0]["runargv"] == ["rez-guard", word]
    assert verify_logs([path]).problems == ()


def test_redact_accepts_policy_patterns() -> None:
    values = {"STUDIO_API_KEY": "k", "KEYBOARD": "us", "MY_TOKEN_FILE": "t", "PATH": "/bin"}
    redacted = redact_values(values, ("*_KEY", "*TOKEN*"))
    assert redacted["STUDIO_API_KEY"] != "k"
    assert redacted["KEYBOARD"] == "us"
    assert redacted["MY_TOKEN_FILE"] != "t"
    assert redacted["PATH"] == "/bin"
