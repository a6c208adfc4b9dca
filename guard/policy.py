"""The policy: rule severities and what happens without a terminal."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from guard.findings import Severity
from guard.paths import GuardPaths


class NonInteractive(enum.StrEnum):
    """What a launch without a terminal and without a remembered approval gets."""

    DENY = "deny"
    TRUSTED_ONLY = "trusted-only"
    APPROVE_BELOW = "approve-below"


@dataclass(frozen=True)
class Policy:
    """The effective policy after merging the system and user files."""

    severities: dict[str, Severity] = field(default_factory=dict)
    non_interactive: NonInteractive = NonInteractive.DENY
    non_interactive_max_severity: Severity = Severity.INFO
    allow_yes: bool = True
    audit_required: bool = False
    log_values: bool = False
    redact: tuple[str, ...] = ("token", "password", "passwd", "secret", "key", "credential")
    audit_sinks: tuple[str, ...] = ()
    monitor_backend: str = "auto"
    monitor_exit_policy: str = "report"

    def to_dict(self) -> dict[str, Any]:
        return {"non_interactive": self.non_interactive.value, "allow_yes": self.allow_yes}


def load_policy(paths: GuardPaths) -> Policy:
    """Return the default policy; the TOML files are not read yet."""
    return Policy()
