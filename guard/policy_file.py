"""Reading and validating one policy file, with the line of every setting.

A `PolicyFile` holds only the settings a file states, already checked and
converted, so the policy module can merge a system file and a user file.
`tomllib` reports no positions for values, so the line of each key is found
by scanning the text for its table header and `key =` line.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, Final

from guard.audit.syslog import SinkSpec
from guard.errors import ConfigError
from guard.fastclass import dataclass
from guard.findings import Severity
from guard.rules.catalog import RULES_BY_ID

logger = logging.getLogger(__name__)

NON_INTERACTIVE_MODES: Final = ("deny", "trusted-only", "approve-below")
EXIT_POLICIES: Final = ("report", "terminate")

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BACKEND_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")
_DECODE_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)\s*\Z")
_TABLE_HEADER = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?\Z")
_KEY_LINE = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One invalid setting in a policy file, with the line it is on."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class PolicyFileError(ConfigError):
    """A policy file is not valid TOML or contains invalid settings."""

    def __init__(self, problems: tuple[PolicyProblem, ...]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}; fix the policy file and run `rez-guard policy check`")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """The settings one policy file states, keyed by `Policy` field name.

    `severities` maps rule ids to the severity the file sets. `lines` gives the
    line of each setting, keyed by field name or by rule id.
    """

    path: Path
    settings: Mapping[str, Any] = field(default_factory=dict)
    severities: Mapping[str, Severity] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        """Return the line of a setting or rule id, or 1 when it is not known."""
        return self.lines.get(name, 1)


# One table of the file: the TOML key, the Policy field it sets, and its converter.
# A converter returns the checked value or raises ValueError with a message.
Converter = Callable[[Any], Any]


def _string_list(check: Callable[[str], str] | None = None) -> Converter:
    def convert(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError("expected a list of strings")
        items = tuple(value) if check is None else tuple(check(item) for item in value)
        return tuple(dict.fromkeys(items))

    return convert


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _choice(choices: tuple[str, ...]) -> Converter:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"invalid value {value!r}; use one of {', '.join(choices)}")
        return value

    return convert


def _severity(value: Any) -> Severity:
    if not isinstance(value, str):
        raise ValueError("expected a severity name such as \"warn\"")
    return Severity.parse(value)


def _absolute_path(item: str) -> str:
    if not os.path.isabs(item):
        raise ValueError(f"invalid path prefix {item!r}; use an absolute path")
    return os.path.normpath(item)


def _variable_name(item: str) -> str:
    if not _VARIABLE_NAME.match(item):
        raise ValueError(f"invalid variable name {item!r}")
    return item


def _command_name(item: str) -> str:
    if not item or "/" in item or item.strip() != item:
        raise ValueError(f"invalid command name {item!r}; use a bare name such as \"ssh\"")
    return item


def _non_empty(item: str) -> str:
    if not item.strip():
        raise ValueError("invalid empty string")
    return item


def _sink_url(item: str) -> str:
    # The audit module owns the sink syntax; a policy file is checked with the same parser.
    try:
        SinkSpec.parse(item)
    except ConfigError as error:
        raise ValueError(error.message) from None
    return item


def _backend(value: Any) -> str:
    if not isinstance(value, str) or not _BACKEND_NAME.match(value):
        raise ValueError(f"invalid monitor backend {value!r}; use a name such as \"auto\"")
    return value


# table -> key -> (Policy field, converter)
SCHEMA: Final[dict[str, dict[str, tuple[str, Converter]]]] = {
    "paths": {
        "allowed_prefixes": ("allowed_prefixes", _string_list(_absolute_path)),
        "variables": ("path_variables", _string_list(_variable_name)),
        "trusted_owners": ("trusted_owners", _string_list(_non_empty)),
    },
    "repositories": {
        "trusted": ("trusted_repositories", _string_list(_non_empty)),
        "trust_local": ("trust_local_packages", _boolean),
    },
    "environment": {
        "code_variables": ("code_variables", _string_list(_variable_name)),
    },
    "commands": {
        "common": ("common_commands", _string_list(_command_name)),
    },
    "approval": {
        "allow_yes": ("allow_yes", _boolean),
        "non_interactive": ("non_interactive", _choice(NON_INTERACTIVE_MODES)),
        "non_interactive_max_severity": ("non_interactive_max_severity", _severity),
    },
    "audit": {
        "required": ("audit_required", _boolean),
        "log_values": ("log_values", _boolean),
        "redact": ("redact", _string_list(_non_empty)),
        "sinks": ("audit_sinks", _string_list(_sink_url)),
    },
    "monitor": {
        "backend": ("monitor_backend", _backend),
        "exit_policy": ("monitor_exit_policy", _choice(EXIT_POLICIES)),
    },
}


def read_policy_file(path: Path) -> PolicyFile:
    """Read and validate the policy file at `path`.

    Raises PolicyFileError listing every problem with its line, or ConfigError
    when the file cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read policy file {path}: {error.strerror}; fix its permissions") from error
    except UnicodeDecodeError as error:
        raise PolicyFileError((PolicyProblem(path, 1, f"invalid UTF-8 text: {error.reason}"),)) from error
    return parse_policy_text(text, path)


def parse_policy_text(text: str, path: Path) -> PolicyFile:
    """Validate policy text as if read from `path`; raise PolicyFileError on any problem."""
    # Imported here because a launch without a policy file never parses TOML; a launch
    # with one reads it before the recording child is forked.
    import tomllib

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message, line = _split_decode_error(str(error))
        raise PolicyFileError((PolicyProblem(path, line, f"invalid TOML: {message}"),)) from error

    lines = _locate_keys(text)
    problems: list[PolicyProblem] = []
    settings: dict[str, Any] = {}
    severities: dict[str, Severity] = {}
    found_lines: dict[str, int] = {}

    for table, content in document.items():
        table_line = lines.get((table, None), lines.get(("", table), 1))
        if table != "rules" and table not in SCHEMA:
            known = ", ".join(["rules", *SCHEMA])
            problems.append(PolicyProblem(path, table_line, f"unknown table [{table}]; use one of {known}"))
            continue
        if not isinstance(content, dict):
            problems.append(PolicyProblem(path, table_line, f"invalid setting {table!r}: expected a [{table}] table"))
            continue
        if table == "rules":
            _read_rules(path, content, lines, problems, severities, found_lines)
            continue
        schema = SCHEMA[table]
        for key, value in content.items():
            line = lines.get((table, key), table_line)
            if key not in schema:
                known = ", ".join(schema)
                problems.append(PolicyProblem(path, line, f"unknown key {key!r} in [{table}]; use one of {known}"))
                continue
            field_name, convert = schema[key]
            try:
                settings[field_name] = convert(value)
            except ValueError as error:
                problems.append(PolicyProblem(path, line, f"[{table}] {key}: {error}"))
                continue
            found_lines[field_name] = line

    if problems:
        raise PolicyFileError(tuple(problems))
    return PolicyFile(path=path, settings=settings, severities=severities, lines=found_lines)


def _read_rules(
    path: Path,
    content: Mapping[str, Any],
    lines: Mapping[tuple[str, str | None], int],
    problems: list[PolicyProblem],
    severities: dict[str, Severity],
    found_lines: dict[str, int],
) -> None:
    table_line = lines.get(("rules", None), 1)
    for rule_id, value in _flatten_rule_keys(content):
        line = lines.get(("rules", rule_id), table_line)
        if rule_id not in RULES_BY_ID:
            problems.append(PolicyProblem(path, line, f"unknown rule {rule_id!r}; run `rez-guard policy show` to list rules"))
            continue
        try:
            severities[rule_id] = _severity(value)
        except ValueError as error:
            problems.append(PolicyProblem(path, line, f"rule {rule_id!r}: {error}"))
            continue
        found_lines[rule_id] = line


def _flatten_rule_keys(content: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    # An unquoted `path.dot-entry = "info"` is a dotted key, which tomllib turns into
    # nested tables; a quoted "path.dot-entry" is one key. Both name the same rule.
    flat: list[tuple[str, Any]] = []
    for key, value in content.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.extend(_flatten_rule_keys(value, f"{name}."))
        else:
            flat.append((name, value))
    return flat


def _split_decode_error(message: str) -> tuple[str, int]:
    match = _DECODE_POSITION.search(message)
    if match is None:
        return message, 1
    return message[: match.start()], int(match.group(1))


def _locate_keys(text: str) -> dict[tuple[str, str | None], int]:
    """Map (table, key) and (table, None) for headers to 1-based line numbers.

    Top-level dotted keys such as `audit.required = true` map to ("audit", "required").
    NOTE: lines inside multi-line strings and arrays are scanned too, so a line
    there that looks like `key =` can shadow a later real key of the same name.
    """
    located: dict[tuple[str, str | None], int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE_HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            table = _unquote(header.group(1))
            located.setdefault((table, None), number)
            continue
        key_match = _KEY_LINE.match(line)
        if key_match is None:
            continue
        raw_key = key_match.group(1)
        if raw_key[0] in "\"'":
            key_table, key = table, _unquote(raw_key)
        elif table or "." not in raw_key:
            key_table, key = table, raw_key
        else:
            key_table, key = raw_key.split(".", 1)
            located.setdefault((key_table, None), number)
        located.setdefault((key_table, key), number)
    return located


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text
