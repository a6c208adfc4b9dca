"""Many guard processes appending to one log, and a writer killed mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from audit_helpers import emit_session
from guard.audit import AuditOptions, AuditSession, open_audit_log, validate_record, verify_logs
from guard.audit.files import log_files
from guard.audit.verify import ProblemKind

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SESSION_RECORDS = 20  # what audit_writer.py writes in mode "session"
# Bounds on waiting for child processes, so a hung child fails the test instead of hanging it.
WAIT_LIMIT_SECONDS = 120


def start_writers(tmp_path: Path, log: Path, count: int, mode: str, children: list, max_bytes: int = 0) -> Path:
    """Start `count` writer processes, wait until all have opened the log, and return the go file."""
    go_file = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    ready_files = [tmp_path / f"ready-{index}" for index in range(count)]
    started = []
    for ready_file in ready_files:
        argv = [sys.executable, str(HERE / "audit_writer.py"), str(log), str(ready_file), str(go_file), mode]
        started.append(subprocess.Popen([*argv, str(max_bytes)], env=env))
    children.extend(started)

    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not all(ready.exists() for ready in ready_files):
        assert all(child.poll() is None for child in started), "a writer exited before it was ready"
        assert time.monotonic() < deadline, "writers did not start in time"
        time.sleep(0.05)
    return go_file


def check_sessions(paths: list[Path], sessions: int) -> None:
    """Check that every session wrote all its records, in seq order, each valid."""
    seqs: dict[str, list[int]] = defaultdict(list)
    for path in paths:
        for line in path.read_bytes().splitlines():
            record = json.loads(line)
            assert validate_record(record) == []
            seqs[record["session"]].append(record["seq"])
    assert len(seqs) == sessions
    for session_seqs in seqs.values():
        assert session_seqs == list(range(SESSION_RECORDS))


def test_fifty_concurrent_sessions_keep_chain(tmp_path: Path, children: list) -> None:
    log = tmp_path / "shared" / "audit.jsonl"
    go_file = start_writers(tmp_path, log, 50, "session", children)
    go_file.touch()
    for child in children:
        assert child.wait(timeout=WAIT_LIMIT_SECONDS) == 0

    report = verify_logs([log], check_schema=True)
    assert report.problems == ()
    assert report.records == 50 * SESSION_RECORDS
    assert log.read_bytes().endswith(b"\n")
    check_sessions([log], sessions=50)


def test_concurrent_rotation_keeps_chain_across_files(tmp_path: Path, children: list) -> None:
    log = tmp_path / "audit.jsonl"
    go_file = start_writers(tmp_path, log, 10, "session", children, max_bytes=16 * 1024)
    go_file.touch()
    for child in children:
        assert child.wait(timeout=WAIT_LIMIT_SECONDS) == 0

    paths = log_files(log)
    assert len(paths) > 3
    report = verify_logs(paths)
    assert report.problems == ()
    assert report.records == 10 * SESSION_RECORDS
    check_sessions(paths, sessions=10)


def test_sigkill_leaves_at_most_one_partial_line(tmp_path: Path, children: list) -> None:
    log = tmp_path / "audit.jsonl"
    partial_rounds = 0
    # A kill lands mid-write only some of the time, so try several rounds. Every
    # round must leave a log that verifies and that the next writer continues.
    for round_number in range(6):
        round_folder = tmp_path / f"round-{round_number}"
        round_folder.mkdir()
        go_file = start_writers(round_folder, log, 1, "flood", children)
        writer = children[-1]
        size_before = log.stat().st_size
        go_file.touch()
        deadline = time.monotonic() + WAIT_LIMIT_SECONDS
        while log.stat().st_size < size_before + 6 * 1024 * 1024:
            assert time.monotonic() < deadline, "the flood writer wrote nothing"
            time.sleep(0.001)
        writer.send_signal(signal.SIGKILL)
        writer.wait()

        # Everything this writer wrote is whole records, except perhaps the last line.
        lines = log.read_bytes()[size_before:].split(b"\n")
        trailing = lines.pop()
        assert all(isinstance(json.loads(line), dict) for line in lines)
        if trailing:
            partial_rounds += 1
        report = verify_logs([log])
        assert report.ok, [str(problem) for problem in report.problems]

        with open_audit_log(AuditOptions(path=log)) as next_log:
            emit_session(AuditSession(next_log))
        report = verify_logs([log])
        assert report.ok, [str(problem) for problem in report.problems]
        assert log.read_bytes().endswith(b"\n")

    truncated = [problem for problem in report.problems if problem.kind is ProblemKind.TRUNCATED_LINE]
    assert len(truncated) == partial_rounds
    print(f"{partial_rounds} of 6 kills left a partial line")
