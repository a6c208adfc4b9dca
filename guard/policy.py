"""The effective policy: built-in defaults, the system policy, then a user policy that may only tighten.

The guard loads its policy once, from its own environment, before any package
code runs; nothing a context sets is ever read here. The system file (from
`REZ_GUARD_POLICY`, else /etc/rez-guard/policy.toml) may set anything. The user
file under the config folder may only make the policy stricter: a setting that
would loosen it is ignored, logged, and listed in `Policy.notes`.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping
from dataclasses import field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from guard.errors import ConfigError
from guard.fastclass import dataclass
from guard.findings import Severity
from guard.paths import SYSTEM_POLICY_FILE, GuardPaths
from guard.policy_file import PolicyFile, read_policy_file
from guard.rules.catalog import (
    ALLOWED_PREFIXES,
    CODE_VARIABLES,
    COMMON_COMMANDS,
    PATH_VARIABLES,
    RULES,
    RULES_BY_ID,
)

logger = logging.getLogger(__name__)


class NonInteractive(enum.StrEnum):
    """The guard's decision rule when there is no terminal to prompt on."""

    DENY = "deny"
    TRUSTED_ONLY = "trusted-only"
    APPROVE_BELOW = "approve-below"


# From the most to the least strict; a user policy may only move left.
_NON_INTERACTIVE_ORDER: Final = (NonInteractive.DENY, NonInteractive.TRUSTED_ONLY, NonInteractive.APPROVE_BELOW)
_EXIT_POLICY_ORDER: Final = ("terminate", "report")
DEFAULT_REDACT: Final = ("*TOKEN*", "*PASSWORD*", "*PASSWD*", "*SECRET*", "*_KEY", "*CREDENTIALS*")


def _no_overrides() -> Mapping[str, Severity]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Policy:
    """The effective policy; `Policy()` is the built-in default policy.

    `severities` holds only the overrides of rule defaults; use `severity()`.
    `trusted_repositories` is None when no policy lists repositories: then every
    repository except rez's local packages path is trusted. Local packages are
    trusted only when `trust_local_packages` is set and, if a list is given,
    their repository is in it. `protected_paths` are the guard's own folders and
    policy file, which startup commands must not touch.
    """

    severities: Mapping[str, Severity] = field(default_factory=_no_overrides, hash=False)
    allowed_prefixes: tuple[str, ...] = ALLOWED_PREFIXES
    trusted_repositories: tuple[str, ...] | None = None
    trust_local_packages: bool = False
    trusted_owners: tuple[str, ...] = ()
    path_variables: tuple[str, ...] = PATH_VARIABLES
    code_variables: tuple[str, ...] = CODE_VARIABLES
    common_commands: tuple[str, ...] = COMMON_COMMANDS
    non_interactive: NonInteractive = NonInteractive.TRUSTED_ONLY
    non_interactive_max_severity: Severity = Severity.INFO
    allow_yes: bool = True
    audit_required: bool = False
    log_values: bool = False
    redact: tuple[str, ...] = DEFAULT_REDACT
    audit_sinks: tuple[str, ...] = ()
    monitor_backend: str = "auto"
    monitor_exit_policy: str = "report"
    protected_paths: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def severity(self, rule_id: str) -> Severity:
        """Return the effective severity of a rule: its override, else its default."""
        override = self.severities.get(rule_id)
        if override is not None:
            return override
        return RULES_BY_ID[rule_id].default

    def to_dict(self) -> dict[str, Any]:
        """Return the policy as JSON-compatible data, with every rule's effective severity."""
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "severities":
                value = {rule.id: self.severity(rule.id).label for rule in RULES}
            elif isinstance(value, Severity):
                value = value.label
            elif isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            data[item.name] = value
        return data


def load_policy(paths: GuardPaths) -> Policy:
    """Load the effective policy: defaults, then the system file, then the user file.

    A missing system file is fine unless `REZ_GUARD_POLICY` named it. Raises
    ConfigError (with file:line for invalid settings) when a file cannot be used.
    """
    policy = Policy(protected_paths=_protected_paths(paths))
    sources: list[str] = []

    system_file = _read_if_present(paths.system_policy, required=paths.system_policy != SYSTEM_POLICY_FILE)
    if system_file is not None:
        policy = apply_system_file(policy, system_file)
        sources.append(str(system_file.path))

    user_file = _read_if_present(paths.user_policy, required=False)
    if user_file is not None:
        policy = apply_user_file(policy, user_file)
        sources.append(str(user_file.path))

    for note in policy.notes:
        logger.warning("%s", note)
    return replace(policy, sources=tuple(sources))


def apply_system_file(policy: Policy, policy_file: PolicyFile) -> Policy:
    """Return `policy` with every setting of a system policy file applied as is."""
    severities = dict(policy.severities)
    severities.update(policy_file.severities)
    changes: dict[str, Any] = dict(policy_file.settings)
    changes["severities"] = MappingProxyType(severities)
    if "non_interactive" in changes:
        changes["non_interactive"] = NonInteractive(changes["non_interactive"])
    return replace(policy, **changes)


def apply_user_file(policy: Policy, policy_file: PolicyFile) -> Policy:
    """Return `policy` tightened by a user policy file; looser settings become notes."""
    merger = _UserMerge(policy, policy_file)
    merger.merge_severities()
    for name, value in policy_file.settings.items():
        merger.merge_setting(name, value)
    severities = MappingProxyType(merger.severities)
    return replace(policy, **merger.changes, severities=severities, notes=policy.notes + tuple(merger.notes))


class _UserMerge:
    """Tightens a policy with the settings of a user file, one setting at a time."""

    def __init__(self, policy: Policy, policy_file: PolicyFile) -> None:
        self.policy = policy
        self.file = policy_file
        self.severities: dict[str, Severity] = dict(policy.severities)
        self.changes: dict[str, Any] = {}
        self.notes: list[str] = []

    def note(self, name: str, message: str) -> None:
        self.notes.append(f"{self.file.path}:{self.file.line_of(name)}: {message}")

    def merge_severities(self) -> None:
        for rule_id, severity in self.file.severities.items():
            current = self.policy.severity(rule_id)
            if severity >= current:
                self.severities[rule_id] = severity
                continue
            self.note(
                rule_id,
                f"ignored severity {severity.label!r} for rule {rule_id!r}: the system policy sets "
                f"{current.label!r} and a user policy may only raise it",
            )

    def merge_setting(self, name: str, value: Any) -> None:
        current = getattr(self.policy, name)
        merged, ignored = _tighten(name, current, value)
        self.changes[name] = merged
        if ignored is not None:
            self.note(name, f"ignored {ignored} in {name!r}: a user policy may only tighten the system policy")


def _tighten(name: str, current: Any, requested: Any) -> tuple[Any, str | None]:
    """Return the stricter merge of a system value and a user value, and what was ignored."""
    if name == "allowed_prefixes":
        kept = tuple(prefix for prefix in requested if any(_is_within(prefix, base) for base in current))
        return kept, _dropped(requested, kept)
    if name in ("trusted_repositories", "trusted_owners"):
        if current is None:
            return requested, None
        kept = tuple(item for item in requested if item in current)
        return kept, _dropped(requested, kept)
    if name in ("path_variables", "code_variables", "common_commands", "redact", "audit_sinks"):
        return tuple(dict.fromkeys((*current, *requested))), None
    if name in ("trust_local_packages", "allow_yes"):
        return current and requested, ("true" if requested and not current else None)
    if name in ("audit_required", "log_values"):
        return current or requested, ("false" if current and not requested else None)
    if name == "non_interactive":
        return _stricter_by_order(_NON_INTERACTIVE_ORDER, current, NonInteractive(requested))
    if name == "non_interactive_max_severity":
        return (requested, None) if requested <= current else (current, repr(requested.label))
    if name == "monitor_exit_policy":
        return _stricter_by_order(_EXIT_POLICY_ORDER, current, requested)
    if name == "monitor_backend":
        # The backend is no strictness setting; a user may choose one only when the system did not.
        if current == "auto" or requested == current:
            return requested, None
        return current, repr(requested)
    raise AssertionError(f"no merge rule for policy setting {name!r}")


def _stricter_by_order(order: tuple[Any, ...], current: Any, requested: Any) -> tuple[Any, str | None]:
    if order.index(requested) <= order.index(current):
        return requested, None
    return current, repr(str(requested))


def _dropped(requested: tuple[str, ...], kept: tuple[str, ...]) -> str | None:
    dropped = [item for item in requested if item not in kept]
    return ", ".join(repr(item) for item in dropped) if dropped else None


def _is_within(path: str, prefix: str) -> bool:
    if prefix == os.sep:
        return path.startswith(os.sep)
    return path == prefix or path.startswith(prefix.rstrip(os.sep) + os.sep)


def _read_if_present(path: Path, required: bool) -> PolicyFile | None:
    if not path.exists():
        if required:
            raise ConfigError(
                f"policy file {path} named by REZ_GUARD_POLICY is missing; create it or unset REZ_GUARD_POLICY"
            )
        logger.debug("no policy file at %s", path)
        return None
    return read_policy_file(path)


def _protected_paths(paths: GuardPaths) -> tuple[str, ...]:
    protected = [str(folder) for folder in paths.protected_dirs]
    protected.append(str(paths.system_policy))
    return tuple(protected)
