"""Assess a startup plan: run every rule family and collect the findings.

Assessment reads only the plan, the policy and the filesystem (folder
permissions and sourced files); it never runs package code or reads the
guard's environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Final

from guard.findings import Finding
from guard.plan import StartupPlan
from guard.policy import Policy
from guard.rules import aliases, environment, expansion, guard_self, loader, path_hygiene, repositories, startup
from guard.rules.view import PlanView

logger = logging.getLogger(__name__)

RuleFamily = Callable[[PlanView], Iterator[Finding]]

FAMILIES: Final[tuple[RuleFamily, ...]] = (
    guard_self.check,
    loader.check,
    environment.check,
    path_hygiene.check,
    aliases.check,
    startup.check,
    expansion.check,
    repositories.check,
)


def assess(plan: StartupPlan, policy: Policy) -> tuple[Finding, ...]:
    """Return the plan's findings under `policy`: variant findings first, then by action.

    Within one action the most severe finding comes first.
    """
    view = PlanView(plan, policy)
    findings: list[Finding] = []
    for family in FAMILIES:
        findings.extend(family(view))
    findings.sort(key=_order)
    logger.debug("assessed %d actions: %d findings", len(plan.actions), len(findings))
    return tuple(findings)


def _order(finding: Finding) -> tuple[int, int, str, str]:
    index = -1 if finding.action_index is None else finding.action_index
    return (index, -int(finding.severity), finding.rule, finding.message)
