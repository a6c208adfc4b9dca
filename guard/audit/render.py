"""Readable text for audit records and session summaries (the CLI prints it)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from guard.audit.schema import COMMON_FIELD_NAMES
from guard.audit.summary import SessionSummary

SHORT_ID_LENGTH = 8


def render_record(record: dict[str, Any]) -> str:
    """Render one record as one line: time, short session id, seq, event and its main fields."""
    event = str(record.get("event", "?"))
    describe = _DESCRIBERS.get(event, _describe_other)
    return " ".join(
        (
            str(record.get("server_time", "-")),
            str(record.get("session", "-"))[:SHORT_ID_LENGTH],
            f"{record.get('seq', '-'):>3}",
            f"{event:<14}",
            _one_line(describe(record)),
        )
    ).rstrip()


def render_summary(summary: SessionSummary) -> str:
    """Render a session summary as a short block of aligned lines."""
    submitter = f"{summary.submituser or '?'}@{summary.submithost or '?'}"
    lines = [f"session {summary.session}  {submitter}  {summary.started or '?'} .. {summary.ended or '?'}"]
    lines.append(_row("request", f"{_words(summary.request)}  (shell {summary.shell or '?'}, mode {summary.mode or '?'})"))
    if summary.resolved:
        lines.append(_row("resolved", " ".join(summary.resolved)))
    if summary.decision is not None:
        fingerprint = (summary.fingerprint or "")[:12]
        text = f"{summary.decision} by {summary.decided_by}, {summary.findings} findings, fingerprint {fingerprint}"
        lines.append(_row("decision", text))
    processes = summary.process_count if summary.process_count is not None else summary.processes_seen
    lines.append(_row("processes", str(processes)))
    if summary.drift:
        lines.append(_row("drift", " ".join(summary.drift)))
    for error in summary.errors:
        lines.append(_row("error", error))
    for alert in summary.alerts:
        lines.append(_row("alert", alert))
    lines.append(_row("exit", _exit_text(summary)))
    return "\n".join(lines)


def _row(label: str, text: str) -> str:
    return f"  {label:<10}{_one_line(text)}"


def _exit_text(summary: SessionSummary) -> str:
    if not summary.complete:
        return "no session.end record (still running, or the guard was killed)"
    parts = [f"value {summary.exit_value}"]
    if summary.signal:
        parts.append(f"signal {summary.signal}")
    if summary.run_time is not None:
        parts.append(f"after {summary.run_time:.1f} s")
    return ", ".join(parts)


def _one_line(text: str) -> str:
    # A value with a newline must not start what looks like another record.
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _words(value: Any) -> str:
    if isinstance(value, list | tuple):
        return shlex.join(str(item) for item in value)
    return str(value)


def _describe_session_start(record: dict[str, Any]) -> str:
    text = f"{record.get('submituser')}@{record.get('submithost')} mode={record.get('mode')} shell={record.get('shell')}"
    text += f" request: {_words(record.get('request', []))}"
    if record.get("rxt_file"):
        text += f" rxt={record.get('rxt_file')}"
    if record.get("command"):
        text += f" command: {record.get('command')}"
    return text


def _describe_decision(record: dict[str, Any]) -> str:
    diff = record.get("env_diff")
    diff = diff if isinstance(diff, dict) else {}
    counts = " ".join(
        f"{sign}{_count(diff.get(name))}" for sign, name in (("+", "added"), ("~", "changed"), ("-", "removed"))
    )
    fingerprint = str(record.get("fingerprint", ""))[:12]
    return (
        f"{record.get('decision')} by {record.get('decided_by')}: {_count(record.get('resolved'))} variants, "
        f"{_count(record.get('findings'))} findings, env {counts}, fingerprint {fingerprint}"
    )


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _describe_process(record: dict[str, Any]) -> str:
    text = f"pid {record.get('pid')} ppid {record.get('ppid')}"
    if record.get("event") == "process.exit":
        text += f" exit {record.get('exit_status')}"
        if record.get("signal"):
            text += f" signal {record.get('signal')}"
        if isinstance(record.get("lifetime"), int | float):
            text += f" after {record['lifetime']:.1f} s"
    argv = record.get("argv")
    text += f": {_words(argv)}" if argv else f": {record.get('exe')}"
    return text


def _describe_drift(record: dict[str, Any]) -> str:
    return f"{_words(record.get('variables', []))}: {record.get('detail')}"


def _describe_session_end(record: dict[str, Any]) -> str:
    text = f"exit {record.get('exit_value')}"
    if record.get("signal"):
        text += f" signal {record.get('signal')}"
    run_time = record.get("run_time")
    if isinstance(run_time, int | float):
        text += f" after {run_time:.1f} s"
    return f"{text}, {record.get('process_count')} processes"


def _describe_error(record: dict[str, Any]) -> str:
    return f"{record.get('error')}: {record.get('message')} (exit {record.get('exit_code')})"


def _describe_alert(record: dict[str, Any]) -> str:
    return f"{record.get('message')}: {_words(record.get('paths', []))}"


def _describe_log_changed(record: dict[str, Any]) -> str:
    return (
        f"{record.get('path')} ({record.get('size')} bytes) no longer ends its record "
        f"{str(record.get('head_hash'))[:12]} at byte {record.get('head_size')}: it was changed outside the guard"
    )


def _describe_other(record: dict[str, Any]) -> str:
    extra = {key: value for key, value in record.items() if key not in COMMON_FIELD_NAMES}
    return json.dumps(extra, ensure_ascii=False, separators=(",", ":"))


_DESCRIBERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "session.start": _describe_session_start,
    "decision": _describe_decision,
    "process.start": _describe_process,
    "process.exit": _describe_process,
    "drift": _describe_drift,
    "session.end": _describe_session_end,
    "error": _describe_error,
    "alert": _describe_alert,
    "log.changed": _describe_log_changed,
}
