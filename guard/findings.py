"""Findings: one policy rule matched on one action, with a severity."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Severity(enum.IntEnum):
    """How serious a finding is; `block` denies the launch whatever the answer."""

    INFO = 1
    WARN = 2
    HIGH = 3
    BLOCK = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that matched, on which action (an index into plan.actions) and variant."""

    rule: str
    severity: Severity
    message: str
    action_index: int | None = None
    variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "message": self.message,
            "action_index": self.action_index,
            "variant": self.variant,
        }
