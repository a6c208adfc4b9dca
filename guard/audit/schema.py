"""The audit record schema: the fields of each event, and a validator.

docs/audit.md documents the same tables in prose; a test compares the two, so a
field added here must be added there. Field names follow sudo's JSON event log
where they mean the same thing (submituser, submithost, submitcwd, runargv, uuid,
server_time, exit_value, signal, run_time).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from guard.fastclass import dataclass

SCHEMA_VERSION: Final = 1

# The hash of the record before the first one of a chain: 64 zeros.
GENESIS_HASH: Final = "0" * 64

_HASH_PATTERN = re.compile(r"[0-9a-f]{64}")


class FieldType(enum.Enum):
    """The JSON type of a record field."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    STRING_LIST = "list of string"
    OBJECT = "object"
    OBJECT_LIST = "list of object"
    STRING_MAP = "map of string to string or null"


@dataclass(frozen=True, slots=True, bulk=True)
class FieldSpec:
    """One field of a record: its name, JSON type and whether it must be present.

    `nullable` allows JSON null. `choices` lists the allowed values of a string.
    `fields` describes the members of an object, or of each object in a list.
    """

    name: str
    type: FieldType
    required: bool = True
    nullable: bool = False
    choices: tuple[str, ...] = ()
    fields: tuple[FieldSpec, ...] = ()

    @property
    def type_name(self) -> str:
        """The type as docs/audit.md writes it, such as "string or null"."""
        if self.nullable:
            return f"{self.type.value} or null"
        return self.type.value


class Mode(enum.StrEnum):
    """The launch mode: an interactive shell, a command, a preview only, or the context's output."""

    INTERACTIVE = "interactive"
    COMMAND = "command"
    PREVIEW = "preview"
    OUTPUT = "output"


class DecisionKind(enum.StrEnum):
    """The outcome recorded in a `decision` record."""

    APPROVE_ONCE = "approve_once"
    APPROVE_REMEMBER = "approve_remember"
    DENY = "deny"


class DecidedBy(enum.StrEnum):
    """The source of a decision: the user, the trust store, the --yes flag, the policy, or no terminal."""

    USER = "user"
    TRUST_STORE = "trust_store"
    YES_FLAG = "yes_flag"
    POLICY = "policy"
    NO_TERMINAL = "no_terminal"


def _choices(values: type[enum.StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in values)


# Added by AuditSession (and `prev` by AuditLog) to every record.
COMMON_FIELDS: Final = (
    FieldSpec("schema", FieldType.INTEGER),
    FieldSpec("event", FieldType.STRING),
    FieldSpec("session", FieldType.STRING),
    FieldSpec("seq", FieldType.INTEGER),
    FieldSpec("uuid", FieldType.STRING),
    FieldSpec("server_time", FieldType.STRING),
    FieldSpec("submituser", FieldType.STRING),
    FieldSpec("submithost", FieldType.STRING),
    FieldSpec("guard_pid", FieldType.INTEGER),
    FieldSpec("prev", FieldType.STRING),
)

_PROCESS_FIELDS = (
    FieldSpec("pid", FieldType.INTEGER),
    FieldSpec("ppid", FieldType.INTEGER, nullable=True),
    FieldSpec("start_time", FieldType.NUMBER, nullable=True),
    FieldSpec("exe", FieldType.STRING, nullable=True),
    FieldSpec("argv", FieldType.STRING_LIST, nullable=True),
    FieldSpec("cwd", FieldType.STRING, nullable=True),
    FieldSpec("uid", FieldType.INTEGER, nullable=True),
)

# Exit fields of a process. A process.start record may leave them out.
_EXIT_FIELDS = (
    FieldSpec("exit_status", FieldType.INTEGER, nullable=True),
    FieldSpec("signal", FieldType.STRING, nullable=True),
    FieldSpec("lifetime", FieldType.NUMBER, nullable=True),
)

_SANDBOX_LAYER_FIELDS = (
    FieldSpec("active", FieldType.STRING_LIST),
    FieldSpec(
        "layers",
        FieldType.OBJECT_LIST,
        fields=(
            FieldSpec("layer", FieldType.STRING),
            FieldSpec("active", FieldType.BOOLEAN),
            FieldSpec("detail", FieldType.STRING),
        ),
    ),
)

EVENT_FIELDS: Final[Mapping[str, tuple[FieldSpec, ...]]] = {
    "session.start": (
        FieldSpec("submitcwd", FieldType.STRING),
        FieldSpec("runargv", FieldType.STRING_LIST),
        FieldSpec("request", FieldType.STRING_LIST),
        FieldSpec("shell", FieldType.STRING),
        FieldSpec("package_paths", FieldType.STRING_LIST),
        FieldSpec("rxt_file", FieldType.STRING, nullable=True),
        FieldSpec("mode", FieldType.STRING, choices=_choices(Mode)),
        FieldSpec("command", FieldType.STRING, nullable=True),
        FieldSpec("isolated", FieldType.BOOLEAN, required=False),
        FieldSpec("route", FieldType.STRING, required=False),
        FieldSpec("caller", FieldType.STRING, required=False, nullable=True),
    ),
    "decision": (
        FieldSpec("decision", FieldType.STRING, choices=_choices(DecisionKind)),
        FieldSpec("decided_by", FieldType.STRING, choices=_choices(DecidedBy)),
        FieldSpec("reason", FieldType.STRING),
        FieldSpec("fingerprint", FieldType.STRING),
        FieldSpec("resolved", FieldType.STRING_LIST),
        FieldSpec(
            "variants",
            FieldType.OBJECT_LIST,
            fields=(
                FieldSpec("qualified_name", FieldType.STRING),
                FieldSpec("uri", FieldType.STRING),
                FieldSpec("root", FieldType.STRING),
                FieldSpec("repository", FieldType.STRING),
            ),
        ),
        FieldSpec(
            "findings",
            FieldType.OBJECT_LIST,
            fields=(
                FieldSpec("rule", FieldType.STRING),
                FieldSpec("severity", FieldType.STRING),
                FieldSpec("message", FieldType.STRING),
            ),
        ),
        FieldSpec(
            "env_diff",
            FieldType.OBJECT,
            fields=(
                FieldSpec("added", FieldType.STRING_LIST),
                FieldSpec("changed", FieldType.STRING_LIST),
                FieldSpec("removed", FieldType.STRING_LIST),
            ),
        ),
        FieldSpec("env_values", FieldType.STRING_MAP, required=False),
    ),
    "process.start": _PROCESS_FIELDS
    + tuple(FieldSpec(spec.name, spec.type, required=False, nullable=True) for spec in _EXIT_FIELDS)
    + (FieldSpec("sampled", FieldType.BOOLEAN),),
    "process.exec": _PROCESS_FIELDS
    + tuple(FieldSpec(spec.name, spec.type, required=False, nullable=True) for spec in _EXIT_FIELDS)
    + (FieldSpec("sampled", FieldType.BOOLEAN),),
    "process.exit": _PROCESS_FIELDS + _EXIT_FIELDS + (FieldSpec("sampled", FieldType.BOOLEAN),),
    "monitor.start": (
        FieldSpec("backend", FieldType.STRING),
        FieldSpec("reason", FieldType.STRING),
        FieldSpec("exit_policy", FieldType.STRING),
        FieldSpec("interval", FieldType.NUMBER),
    ),
    "monitor.events_lost": (
        FieldSpec("message", FieldType.STRING),
        FieldSpec("lost", FieldType.INTEGER, nullable=True),
    ),
    "monitor.stop": (
        FieldSpec("backend", FieldType.STRING),
        FieldSpec("exit_policy", FieldType.STRING),
        FieldSpec("processes_seen", FieldType.INTEGER),
        FieldSpec("events_emitted", FieldType.INTEGER),
        FieldSpec("lost_notices", FieldType.INTEGER),
        FieldSpec("emit_errors", FieldType.INTEGER),
        FieldSpec(
            "leftovers",
            FieldType.OBJECT_LIST,
            fields=(
                FieldSpec("pid", FieldType.INTEGER),
                FieldSpec("ppid", FieldType.INTEGER, nullable=True),
                FieldSpec("start_time", FieldType.NUMBER, nullable=True),
                FieldSpec("exe", FieldType.STRING, nullable=True),
                FieldSpec("argv", FieldType.STRING_LIST, nullable=True),
                FieldSpec("action", FieldType.STRING),
            ),
        ),
        FieldSpec("error", FieldType.STRING, nullable=True),
    ),
    "sandbox": _SANDBOX_LAYER_FIELDS + (
        FieldSpec(
            "denied",
            FieldType.OBJECT_LIST,
            fields=(
                FieldSpec("operation", FieldType.STRING),
                FieldSpec("target", FieldType.STRING),
                FieldSpec("layer", FieldType.STRING),
                FieldSpec("source", FieldType.STRING, nullable=True),
                FieldSpec("system_call", FieldType.STRING),
                FieldSpec("count", FieldType.INTEGER),
                FieldSpec("against_guard", FieldType.BOOLEAN),
            ),
        ),
        FieldSpec("denied_dropped", FieldType.INTEGER),
        FieldSpec("protected_changes", FieldType.STRING_LIST),
        FieldSpec("output_truncated", FieldType.BOOLEAN),
    ),
    "drift": (
        FieldSpec("variables", FieldType.STRING_LIST),
        FieldSpec("detail", FieldType.STRING),
    ),
    "session.end": (
        FieldSpec("exit_value", FieldType.INTEGER, nullable=True),
        FieldSpec("signal", FieldType.STRING, nullable=True),
        FieldSpec("run_time", FieldType.NUMBER),
        FieldSpec("process_count", FieldType.INTEGER),
    ),
    "error": (
        FieldSpec("error", FieldType.STRING),
        FieldSpec("message", FieldType.STRING),
        FieldSpec("exit_code", FieldType.INTEGER),
    ),
    "alert": (
        FieldSpec("message", FieldType.STRING),
        FieldSpec("paths", FieldType.STRING_LIST),
    ),
    # Written by the log itself when the record of the last append no longer ends
    # at the offset the head file records, because the file was changed outside the guard.
    "log.changed": (
        FieldSpec("path", FieldType.STRING),
        FieldSpec("head_size", FieldType.INTEGER),
        FieldSpec("head_hash", FieldType.STRING),
        FieldSpec("size", FieldType.INTEGER),
    ),
}

COMMON_FIELD_NAMES: Final = frozenset(spec.name for spec in COMMON_FIELDS)

# Per event: the names a record must have and the names it may have, besides the common ones.
_REQUIRED_NAMES: Final = {
    event: frozenset(spec.name for spec in specs if spec.required) for event, specs in EVENT_FIELDS.items()
}
_ALLOWED_NAMES: Final = {event: frozenset(spec.name for spec in specs) for event, specs in EVENT_FIELDS.items()}


def check_field_names(record: Mapping[str, Any]) -> list[str]:
    """Check only which fields an unwritten record has (no `prev` yet, no types).

    A fast subset of `validate_record` for every append: returns the unknown
    event, or the missing and unexpected field names.
    """
    event = record.get("event")
    required = _REQUIRED_NAMES.get(event) if isinstance(event, str) else None
    if required is None:
        return [f"event: unknown event {event!r}"]
    names = record.keys() - COMMON_FIELD_NAMES
    problems = [f"{name}: missing" for name in sorted(required - names)]
    problems.extend(f"{name}: unexpected field" for name in sorted(names - _ALLOWED_NAMES[event]))
    return problems


def validate_record(record: Any) -> list[str]:
    """Check one audit record, as read back from the log, against the schema.

    Returns the problems found, each naming the field; an empty list means the
    record is valid. Fields that the schema does not list are problems too, so
    what is written cannot drift from what docs/audit.md describes.
    """
    if not isinstance(record, Mapping):
        return [f"record is a {type(record).__name__}, expected a JSON object"]

    problems = _check_fields(record, COMMON_FIELDS, path="", allow_extra=True)
    event = record.get("event")
    event_fields = EVENT_FIELDS.get(event) if isinstance(event, str) else None
    if event_fields is None:
        problems.append(f"event: unknown event {event!r}; expected one of {', '.join(EVENT_FIELDS)}")
        return problems

    event_record = {key: value for key, value in record.items() if key not in COMMON_FIELD_NAMES}
    problems.extend(_check_fields(event_record, event_fields, path="", allow_extra=False))
    problems.extend(_check_common_values(record))
    return problems


def _check_common_values(record: Mapping[str, Any]) -> list[str]:
    problems = []
    schema = record.get("schema")
    if isinstance(schema, int) and schema != SCHEMA_VERSION:
        problems.append(f"schema: version {schema} is not {SCHEMA_VERSION}")
    seq = record.get("seq")
    if isinstance(seq, int) and seq < 0:
        problems.append(f"seq: {seq} is negative")
    prev = record.get("prev")
    if isinstance(prev, str) and not _HASH_PATTERN.fullmatch(prev):
        problems.append("prev: not a lowercase hex SHA-256 digest")
    server_time = record.get("server_time")
    if isinstance(server_time, str) and not _is_utc_timestamp(server_time):
        problems.append(f"server_time: {server_time!r} is not an RFC 3339 UTC time ending in Z")
    for name in ("session", "uuid", "event", "submituser", "submithost"):
        if record.get(name) == "":
            problems.append(f"{name}: empty string")
    return problems


def _is_utc_timestamp(text: str) -> bool:
    if not text.endswith("Z"):
        return False
    try:
        datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError:
        return False
    return True


def _check_fields(
    data: Mapping[str, Any], specs: Sequence[FieldSpec], path: str, allow_extra: bool
) -> list[str]:
    problems = []
    for spec in specs:
        name = f"{path}{spec.name}"
        if spec.name not in data:
            if spec.required:
                problems.append(f"{name}: missing")
            continue
        problems.extend(_check_value(data[spec.name], spec, name))
    if not allow_extra:
        known = {spec.name for spec in specs}
        for key in data:
            if key not in known:
                problems.append(f"{path}{key}: unexpected field")
    return problems


def _check_value(value: Any, spec: FieldSpec, name: str) -> list[str]:
    if value is None:
        return [] if spec.nullable else [f"{name}: null, expected {spec.type.value}"]

    match spec.type:
        case FieldType.STRING:
            if not isinstance(value, str):
                return [_type_problem(name, value, spec)]
            if spec.choices and value not in spec.choices:
                return [f"{name}: {value!r} is not one of {', '.join(spec.choices)}"]
            return []
        case FieldType.INTEGER:
            ok = isinstance(value, int) and not isinstance(value, bool)
            return [] if ok else [_type_problem(name, value, spec)]
        case FieldType.NUMBER:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return [] if ok else [_type_problem(name, value, spec)]
        case FieldType.BOOLEAN:
            return [] if isinstance(value, bool) else [_type_problem(name, value, spec)]
        case FieldType.STRING_LIST:
            if not isinstance(value, list):
                return [_type_problem(name, value, spec)]
            return [f"{name}[{i}]: not a string" for i, item in enumerate(value) if not isinstance(item, str)]
        case FieldType.STRING_MAP:
            if not isinstance(value, Mapping):
                return [_type_problem(name, value, spec)]
            return [
                f"{name}.{key}: not a string or null"
                for key, item in value.items()
                if item is not None and not isinstance(item, str)
            ]
        case FieldType.OBJECT:
            if not isinstance(value, Mapping):
                return [_type_problem(name, value, spec)]
            return _check_fields(value, spec.fields, path=f"{name}.", allow_extra=False)
        case FieldType.OBJECT_LIST:
            if not isinstance(value, list):
                return [_type_problem(name, value, spec)]
            problems = []
            for index, item in enumerate(value):
                if not isinstance(item, Mapping):
                    problems.append(f"{name}[{index}]: not an object")
                    continue
                problems.extend(_check_fields(item, spec.fields, path=f"{name}[{index}].", allow_extra=False))
            return problems
    raise AssertionError(f"unhandled field type {spec.type}")


def _type_problem(name: str, value: Any, spec: FieldSpec) -> str:
    return f"{name}: {type(value).__name__} {value!r:.40}, expected {spec.type_name}"
