"""Decide: approve once, approve and remember, or deny, and who decided.

Pure: the inputs are the findings, the trust store's state, the policy and
whether a terminal is there to ask. `decide_without_prompt` returns None when
the user has to be asked; the CLI asks and the answer becomes a `Decision`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from guard.fastclass import dataclass
from guard.findings import Finding, Severity
from guard.policy import NonInteractive, Policy
from guard.trust import TrustState


class Verdict(enum.StrEnum):
    """The outcome of a decision."""

    APPROVE_ONCE = "approve_once"
    APPROVE_REMEMBER = "approve_remember"
    DENY = "deny"


class DecidedBy(enum.StrEnum):
    """The party that made the decision: the user, the trust store, --yes or the policy."""

    USER = "user"
    TRUST_STORE = "trust_store"
    YES_FLAG = "yes_flag"
    POLICY = "policy"
    NO_TERMINAL = "no_terminal"


class PromptAborted(Exception):
    """The approval prompt ended without an answer (Ctrl-C or end of input): a denial not to remember."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict, who made it, and a one-line reason."""

    verdict: Verdict
    decided_by: DecidedBy
    reason: str

    @property
    def approved(self) -> bool:
        return self.verdict is not Verdict.DENY


def highest_severity(findings: Iterable[Finding]) -> Severity | None:
    """Return the most serious severity among the findings, or None when there are none."""
    return max((finding.severity for finding in findings), default=None)


def needs_typed_approval(findings: Iterable[Finding]) -> bool:
    """True when a finding is `high`: one key press is then not enough to approve."""
    return highest_severity(findings) == Severity.HIGH


def decide_without_prompt(
    findings: tuple[Finding, ...],
    trust_state: TrustState,
    policy: Policy,
    *,
    yes: bool,
    interactive: bool,
) -> Decision | None:
    """Return the decision that needs no question, or None when the user must be asked."""
    blocking = [finding for finding in findings if finding.severity >= Severity.BLOCK]
    if blocking:
        rules = ", ".join(sorted({finding.rule for finding in blocking}))
        return Decision(Verdict.DENY, DecidedBy.POLICY, f"blocked by policy rule {rules}")
    if trust_state is TrustState.TRUSTED:
        return Decision(Verdict.APPROVE_ONCE, DecidedBy.TRUST_STORE, "approved earlier")
    if trust_state is TrustState.DENIED:
        return Decision(Verdict.DENY, DecidedBy.TRUST_STORE,
                        "denied earlier; run `rez-guard trust list` and `rez-guard trust forget ID` to be asked again")
    if yes:
        if not policy.allow_yes:
            return Decision(Verdict.DENY, DecidedBy.POLICY, "--yes is not allowed by policy; approve from a terminal")
        return Decision(Verdict.APPROVE_ONCE, DecidedBy.YES_FLAG, "approved with --yes")
    if interactive:
        return None
    return _decide_without_terminal(findings, policy)


def _decide_without_terminal(findings: tuple[Finding, ...], policy: Policy) -> Decision:
    how = "approve it from a terminal, or pass --yes to approve this launch once"
    if policy.non_interactive is NonInteractive.APPROVE_BELOW:
        worst = highest_severity(findings)
        if worst is None or worst <= policy.non_interactive_max_severity:
            return Decision(Verdict.APPROVE_ONCE, DecidedBy.POLICY,
                            f"no finding above {policy.non_interactive_max_severity.label}")
        return Decision(Verdict.DENY, DecidedBy.NO_TERMINAL,
                        f"no terminal and a {worst.label} finding; {how}")
    return Decision(Verdict.DENY, DecidedBy.NO_TERMINAL, f"not approved before and no terminal to ask; {how}")
