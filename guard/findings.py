"""Findings: one policy rule matched on one action or variant of a startup plan."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from guard.fastclass import dataclass


class Severity(enum.IntEnum):
    """How much a finding matters, from informative to launch-denying.

    `block` denies the launch whatever the user replies at the prompt, and
    `high` needs a typed confirmation. The order of the values is the order of severity.
    """

    INFO = 1
    WARN = 2
    HIGH = 3
    BLOCK = 4

    @property
    def label(self) -> str:
        """The lower-case name used in policy files, JSON and the preview."""
        return self.name.lower()

    def __str__(self) -> str:
        return self.label

    def __format__(self, format_spec: str) -> str:
        # IntEnum formats as its number; the label reads better in tables and messages.
        return format(self.label, format_spec)

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Return the severity named `text` (case-insensitive), or raise ValueError."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(severity.label for severity in cls)
            raise ValueError(f"invalid severity {text!r}; use one of {names}") from None


@dataclass(frozen=True, slots=True, bulk=True)
class Finding:
    """One rule matched on one action (`action_index` into `plan.actions`) or one variant."""

    rule: str
    severity: Severity
    message: str
    action_index: int | None = None
    variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as JSON-compatible data, with the severity as its label."""
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "message": self.message,
            "action_index": self.action_index,
            "variant": self.variant,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Build a finding from the output of `to_dict`."""
        action_index = data.get("action_index")
        variant = data.get("variant")
        return cls(
            rule=str(data["rule"]),
            severity=Severity.parse(str(data["severity"])),
            message=str(data["message"]),
            action_index=None if action_index is None else int(action_index),
            variant=None if variant is None else str(variant),
        )


def highest_severity(findings: tuple[Finding, ...] | list[Finding]) -> Severity | None:
    """Return the highest severity among `findings`, or None when there are none."""
    return max((finding.severity for finding in findings), default=None)
