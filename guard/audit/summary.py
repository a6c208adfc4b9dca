"""Per-session summaries: what was requested, decided, run and how it ended."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import field
from typing import Any

from guard.fastclass import dataclass


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """The facts of one session, gathered from its records.

    Fields stay None when the session wrote no record with them, for example
    `exit_value` of a session whose guard is still running or was killed.
    """

    session: str
    records: int
    submituser: str | None = None
    submithost: str | None = None
    started: str | None = None
    ended: str | None = None
    mode: str | None = None
    shell: str | None = None
    request: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    decision: str | None = None
    decided_by: str | None = None
    fingerprint: str | None = None
    findings: int = 0
    processes_seen: int = 0
    process_count: int | None = None
    drift: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    exit_value: int | None = None
    signal: str | None = None
    run_time: float | None = None
    complete: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-compatible data."""
        return dataclasses.asdict(self)


def _strings(value: Any) -> tuple[str, ...]:
    # Tolerate records that break the schema: `show` must still list them.
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


@dataclass(slots=True)
class _Builder:
    session: str
    values: dict[str, Any] = field(default_factory=dict)
    records: int = 0
    processes_seen: int = 0
    drift: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        self.records += 1
        values = self.values
        values.setdefault("submituser", record.get("submituser"))
        values.setdefault("submithost", record.get("submithost"))
        values.setdefault("started", record.get("server_time"))
        values["ended"] = record.get("server_time")

        match record.get("event"):
            case "session.start":
                values.update(mode=record.get("mode"), shell=record.get("shell"))
                values["request"] = _strings(record.get("request"))
            case "decision":
                for name in ("decision", "decided_by", "fingerprint"):
                    values[name] = record.get(name)
                values["resolved"] = _strings(record.get("resolved"))
                values["findings"] = len(_strings(record.get("findings")))
            case "process.start":
                self.processes_seen += 1
            case "drift":
                self.drift.extend(_strings(record.get("variables")))
            case "error":
                self.errors.append(f"{record.get('error')}: {record.get('message')}")
            case "alert":
                self.alerts.append(str(record.get("message")))
            case "session.end":
                for name in ("exit_value", "signal", "run_time", "process_count"):
                    values[name] = record.get(name)
                values["complete"] = True

    def build(self) -> SessionSummary:
        return SessionSummary(
            session=self.session,
            records=self.records,
            processes_seen=self.processes_seen,
            drift=tuple(self.drift),
            errors=tuple(self.errors),
            alerts=tuple(self.alerts),
            **self.values,
        )


def summarize_sessions(records: Iterable[dict[str, Any]]) -> list[SessionSummary]:
    """Group records by session and summarize each, in the order sessions first appear."""
    builders: dict[str, _Builder] = {}
    for record in records:
        session = str(record.get("session", ""))
        builder = builders.get(session)
        if builder is None:
            builder = builders[session] = _Builder(session)
        builder.add(record)
    return [builder.build() for builder in builders.values()]
