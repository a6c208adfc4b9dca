"""Run the real rez-guard command in a child process, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from guard.audit import validate_record

GUARD = [sys.executable, "-m", "guard"]


def run_guard(*args: str, stdin: int | None = subprocess.DEVNULL, timeout: float = 120,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `rez-guard ARGS` without a terminal and return its result."""
    return subprocess.run([*GUARD, *args], stdin=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env)


def audit_path() -> Path:
    """The audit log of the test's private XDG state folder."""
    return Path(os.environ["XDG_STATE_HOME"]) / "rez-guard" / "audit.jsonl"


def audit_records() -> list[dict[str, Any]]:
    """All records of the test's audit log, in order, each checked against the documented schema."""
    path = audit_path()
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for record in records:
        problems = validate_record(record)
        assert not problems, f"{record['event']} record does not match docs/audit.md: {problems}"
    return records


def records_of(session: str) -> list[dict[str, Any]]:
    """The records of one session."""
    return [record for record in audit_records() if record["session"] == session]


def last_session() -> list[dict[str, Any]]:
    """The records of the newest session in the audit log."""
    records = audit_records()
    assert records, "the audit log is empty"
    return records_of(records[-1]["session"])


def event_record(records: list[dict[str, Any]], event: str) -> dict[str, Any]:
    """The first record of `event` among a session's records."""
    matches = [record for record in records if record["event"] == event]
    assert matches, f"no {event} record in {[record['event'] for record in records]}"
    return matches[0]
