"""The record schema: the validator, and docs/audit.md matching it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from audit_helpers import emit_session, event_fields
from guard.audit import AuditOptions, AuditSession, open_audit_log, validate_record
from guard.audit.schema import COMMON_FIELDS, EVENT_FIELDS, FieldSpec, FieldType

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"
COMMON = {
    "schema": 1,
    "event": "drift",
    "session": "3f2a9c1e-8d52-4c7e-9b0e-2f6a1c3d4e5f",
    "seq": 0,
    "uuid": "7b1f0c2e-0d1a-4e55-8c1e-2b9d3f4a5c6d",
    "server_time": "2024-05-01T12:00:00.500000Z",
    "submituser": "alice",
    "submithost": "ws01",
    "guard_pid": 4320,
    "prev": "0" * 64,
}


def drift_record(**changes: object) -> dict:
    return {**COMMON, **event_fields()["drift"], **changes}


def test_every_event_example_is_valid() -> None:
    for event, fields in event_fields().items():
        assert validate_record({**COMMON, "event": event, **fields}) == [], event


def test_session_records_from_log_are_valid(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path, log_values=True)) as log:
        session = AuditSession(log)
        emit_session(session)
        for event in ("error", "alert"):
            session.emit(event, **event_fields()[event])

    for line in path.read_bytes().splitlines():
        assert validate_record(json.loads(line)) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"variables": "PATH"}, "variables: str"),
        ({"variables": ["PATH", 3]}, "variables[1]: not a string"),
        ({"detail": None}, "detail: null"),
        ({"extra": 1}, "extra: unexpected field"),
        ({"seq": -1}, "seq: -1 is negative"),
        ({"seq": True}, "seq: bool"),
        ({"prev": "ABC"}, "prev: not a lowercase hex"),
        ({"server_time": "2024-05-01 12:00:00"}, "server_time:"),
        ({"schema": 2}, "schema: version 2"),
        ({"event": "nope"}, "event: unknown event 'nope'"),
        ({"session": ""}, "session: empty string"),
    ],
)
def test_validator_names_problem(changes: dict, problem: str) -> None:
    problems = validate_record(drift_record(**changes))

    assert any(found.startswith(problem) for found in problems), problems


def test_validator_rejects_missing_field() -> None:
    record = drift_record()
    del record["detail"]

    assert validate_record(record) == ["detail: missing"]


def test_validator_checks_nested_objects() -> None:
    fields = event_fields()["decision"]
    fields["variants"] = [{"qualified_name": "maya-1", "uri": "u", "root": "r"}]
    fields["env_diff"] = {"added": [], "changed": [], "removed": [], "other": []}
    fields["decision"] = "maybe"

    problems = validate_record({**COMMON, "event": "decision", **fields})

    assert "variants[0].repository: missing" in problems
    assert "env_diff.other: unexpected field" in problems
    assert "decision: 'maybe' is not one of approve_once, approve_remember, deny" in problems


def test_validator_rejects_non_object() -> None:
    assert validate_record(["not", "a", "record"]) == ["record is a list, expected a JSON object"]


def flatten(specs: tuple[FieldSpec, ...], prefix: str = "") -> dict[str, tuple[str, str]]:
    """Return {documented name: (type, required)} with nested fields as parent.child or parent[].child."""
    rows = {}
    for spec in specs:
        name = prefix + spec.name
        rows[name] = (spec.type_name, "yes" if spec.required else "no")
        if spec.type is FieldType.OBJECT:
            rows.update(flatten(spec.fields, name + "."))
        elif spec.type is FieldType.OBJECT_LIST:
            rows.update(flatten(spec.fields, name + "[]."))
    return rows


def documented_tables() -> dict[str, dict[str, tuple[str, str]]]:
    """Read the field tables of docs/audit.md, keyed by section title."""
    tables: dict[str, dict[str, tuple[str, str]]] = {}
    section = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"### (.+)", line)
        if heading:
            section = heading.group(1).strip("`")
            continue
        row = re.fullmatch(r"\| `([^`]+)` \| ([^|]+) \| (yes|no) \|.*", line)
        if row and section is not None:
            tables.setdefault(section, {})[row.group(1)] = (row.group(2).strip(), row.group(3))
    return tables


def test_doc_lists_common_fields() -> None:
    assert documented_tables()["Common fields"] == flatten(COMMON_FIELDS)


@pytest.mark.parametrize("event", sorted(EVENT_FIELDS))
def test_doc_lists_event_fields(event: str) -> None:
    assert documented_tables().get(event) == flatten(EVENT_FIELDS[event])


def test_doc_lists_every_choice() -> None:
    text = DOC.read_text(encoding="utf-8")
    for specs in EVENT_FIELDS.values():
        for spec in specs:
            for choice in spec.choices:
                assert f"`{choice}`" in text, choice

