"""Helpers for the audit tests: valid records of every event, and log file edits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guard.audit import AuditSession

FINGERPRINT = "ab" * 32


def event_fields() -> dict[str, dict[str, Any]]:
    """Return valid fields for each event the launch pipeline emits."""
    process = {
        "pid": 4321,
        "ppid": 4320,
        "start_time": 1714564800.25,
        "exe": "/bin/bash",
        "argv": ["bash", "--rcfile", "/tmp/rc"],
        "cwd": "/work",
        "uid": 1000,
        "sampled": False,
    }
    return {
        "session.start": {
            "submitcwd": "/work",
            "runargv": ["rez-guard", "env", "maya-2024", "python-3.11"],
            "request": ["maya-2024", "python-3.11"],
            "shell": "bash",
            "package_paths": ["/studio/packages", "/home/me/packages"],
            "rxt_file": None,
            "mode": "interactive",
            "command": None,
        },
        "decision": {
            "decision": "approve_once",
            "decided_by": "user",
            "reason": "answered at the prompt",
            "fingerprint": FINGERPRINT,
            "resolved": ["maya-2024.1", "python-3.11.4"],
            "variants": [
                {
                    "qualified_name": "maya-2024.1",
                    "uri": "/studio/packages/maya/2024.1/package.py",
                    "root": "/studio/packages/maya/2024.1",
                    "repository": "filesystem@/studio/packages",
                }
            ],
            "findings": [{"rule": "path-outside-root", "severity": "warning", "message": "PATH gets /tmp/bin"}],
            "env_diff": {"added": ["MAYA_LOCATION"], "changed": ["PATH"], "removed": []},
        },
        "process.start": dict(process),
        "process.exit": {**process, "exit_status": 0, "signal": None, "lifetime": 1.5},
        "drift": {"variables": ["PATH"], "detail": "PATH differs from the approved value"},
        "session.end": {"exit_value": 0, "signal": None, "run_time": 12.5, "process_count": 1},
        "error": {"error": "ResolveFailed", "message": "package not found: mya", "exit_code": 3},
        "alert": {"message": "package code changed the trust store", "paths": ["/home/me/.local/share/x"]},
    }


def emit_session(session: AuditSession, process_events: int = 2) -> int:
    """Write a whole session: start, decision, process events, drift, end. Return the record count."""
    fields = event_fields()
    session.emit("session.start", **fields["session.start"])
    session.emit("decision", **fields["decision"])
    for index in range(process_events):
        event = "process.start" if index % 2 == 0 else "process.exit"
        session.emit(event, **{**fields[event], "pid": 5000 + index // 2})
    session.emit("drift", **fields["drift"])
    session.emit("session.end", **fields["session.end"])
    return process_events + 4


def read_lines(path: Path) -> list[bytes]:
    """Return the lines of a file with their newlines."""
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    """Replace a file's content with the lines, keeping its inode as an editor in place would."""
    with open(path, "r+b") as stream:
        stream.write(b"".join(lines))
        stream.truncate()
