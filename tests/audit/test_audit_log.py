"""AuditLog: opening, failing closed or open, and the file it writes."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from audit_helpers import emit_session, event_fields
from guard.audit import AuditOptions, AuditSession, AuditWriteError, SinkSpec, open_audit_log, verify_logs
from guard.audit.chain import line_hash
from guard.errors import ConfigError


def closed_tcp_port() -> int:
    """Return a loopback TCP port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_log_created_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "rez-guard" / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as log:
        emit_session(AuditSession(log))

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_required_unwritable_log_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    with pytest.raises(ConfigError, match="opening audit log .* failed"):
        open_audit_log(AuditOptions(path=blocker / "audit.jsonl", required=True))


def test_optional_unwritable_log_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    with caplog.at_level(logging.WARNING, logger="guard.audit.log"):
        with open_audit_log(AuditOptions(path=blocker / "audit.jsonl")) as log:
            emit_session(AuditSession(log))

    assert "opening audit log" in caplog.text
    assert caplog.text.count("writing audit log") == 1


def test_required_unreachable_sink_raises(tmp_path: Path) -> None:
    sink = SinkSpec.parse(f"tcp://127.0.0.1:{closed_tcp_port()}")

    with pytest.raises(ConfigError, match="connecting to audit sink tcp://127.0.0.1:[0-9]+ failed"):
        open_audit_log(AuditOptions(path=tmp_path / "audit.jsonl", sinks=(sink,), required=True))


def test_required_missing_unix_socket_raises(tmp_path: Path) -> None:
    sink = SinkSpec.parse(f"unix://{tmp_path / 'no-such.sock'}")

    with pytest.raises(ConfigError, match="connecting to audit sink unix://.* failed"):
        open_audit_log(AuditOptions(path=tmp_path / "audit.jsonl", sinks=(sink,), required=True))


def test_optional_unreachable_sink_keeps_records(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "audit.jsonl"
    sink = SinkSpec.parse(f"tcp://127.0.0.1:{closed_tcp_port()}")

    with caplog.at_level(logging.WARNING):
        with open_audit_log(AuditOptions(path=path, sinks=(sink,))) as log:
            count = emit_session(AuditSession(log))

    assert "connecting to audit sink" in caplog.text
    assert verify_logs([path]).records == count
    # One warning for the outage and one count when the log closes, not one per record.
    assert caplog.text.count("failed (") == 1
    assert f"{count} records were not sent" in caplog.text


def test_required_sink_lost_later_raises(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        sink = SinkSpec.parse(f"tcp://127.0.0.1:{server.getsockname()[1]}")
        log = open_audit_log(AuditOptions(path=tmp_path / "audit.jsonl", sinks=(sink,), required=True))
        connection, _ = server.accept()
        connection.close()
    session = AuditSession(log)

    with pytest.raises(AuditWriteError, match="sending an audit record"):
        for _ in range(50):
            session.emit("drift", **event_fields()["drift"])
    log.close()


def test_fsync_option_writes_same_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path, fsync=True)) as log:
        count = emit_session(AuditSession(log))

    report = verify_logs([path])
    assert report.problems == ()
    assert report.records == count


def test_two_logs_in_one_process_share_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as first, open_audit_log(AuditOptions(path=path)) as second:
        for _ in range(3):
            emit_session(AuditSession(first))
            emit_session(AuditSession(second))

    assert verify_logs([path]).problems == ()


def test_removed_log_is_recreated_and_linked(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as log:
        emit_session(AuditSession(log))
        last_line = path.read_bytes().splitlines()[-1]
        path.unlink()
        emit_session(AuditSession(log))

    first = json.loads(path.read_bytes().splitlines()[0])
    assert first["prev"] == line_hash(last_line)


def test_shared_file_mode_ignores_umask(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    old_umask = os.umask(0o077)
    try:
        with open_audit_log(AuditOptions(path=path, file_mode=0o660)) as log:
            emit_session(AuditSession(log))
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    assert stat.S_IMODE(path.with_name("audit.jsonl.head").stat().st_mode) == 0o660


def test_invalid_max_bytes_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_bytes"):
        AuditOptions(path=tmp_path / "audit.jsonl", max_bytes=-1)


def test_child_processes_do_not_inherit_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path)) as log:
        emit_session(AuditSession(log))
        # close_fds=False passes every inheritable descriptor, as a launched shell would get them.
        listing = subprocess.run(
            ["ls", "-l", "/proc/self/fd/"], close_fds=False, capture_output=True, text=True, check=True
        ).stdout

    assert str(path) not in listing
    assert "audit.jsonl.head" not in listing
