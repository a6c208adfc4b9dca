"""Assess a plan: turn its actions into findings."""

from __future__ import annotations

from guard.findings import Finding, Severity
from guard.plan import Op, StartupPlan
from guard.policy import Policy

_LOADER_VARIABLES = frozenset({"LD_PRELOAD", "LD_AUDIT", "DYLD_INSERT_LIBRARIES"})


def assess(plan: StartupPlan, policy: Policy) -> tuple[Finding, ...]:
    """Return the findings for the plan. TODO: the full rule set."""
    findings = []
    for index, action in enumerate(plan.actions):
        if action.variant is None:
            continue
        if action.key in _LOADER_VARIABLES:
            findings.append(Finding("loader.preload", Severity.HIGH,
                                    f"{action.key} injects a library into every program", index, action.variant))
        if action.key == "PATH" and action.op is Op.PREPENDENV and action.text.startswith("/tmp"):
            findings.append(Finding("path.world_writable", Severity.HIGH,
                                    f"PATH gets {action.text}, a folder anyone can write", index, action.variant))
        if "$(" in action.expandable_text or "`" in action.expandable_text:
            findings.append(Finding("value.command_substitution", Severity.HIGH,
                                    "the shell runs the command inside this value", index, action.variant))
    return tuple(findings)
