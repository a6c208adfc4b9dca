"""Turn what the sandbox denied or detected into findings for the assessment.

An operation against the guard itself (its folders, its process, its
descriptors) becomes a `sandbox.guard-tamper` finding; any other becomes
`sandbox.<operation>`, for example `sandbox.network`. Every rule defaults to
`high`, so a denied operation never changes a decision by itself; the policy can
raise a rule to `block`. The variant is the one the child named as running at
the time, which package code could forge (see `guard.sandbox.attribution`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from guard.fastclass import dataclass
from guard.findings import Finding, Severity
from guard.plan import ResolvedVariant
from guard.sandbox.report import DeniedOperation, Layer, Operation, SandboxSummary

RULE_PREFIX = "sandbox."
GUARD_TAMPER_RULE = RULE_PREFIX + "guard-tamper"

_DESCRIPTIONS = {
    Operation.EXEC: "package code tried to run a program",
    Operation.FORK: "package code tried to start a process",
    Operation.NETWORK: "package code tried to open a network socket",
    Operation.WRITE: "package code tried to write outside the allowed folders",
    Operation.CHANGE_METADATA: "package code tried to change file metadata",
    Operation.INHERITED_DESCRIPTOR: "package code tried to write through a descriptor inherited from the guard",
    Operation.SIGNAL: "package code tried to signal another process",
    Operation.PTRACE: "package code tried to trace or read another process",
    Operation.TERMINAL_INPUT: "package code tried to inject terminal input",
    Operation.SYSTEM_CALL: "package code tried a denied system call",
    Operation.LEFTOVER_PROCESS: "package code left a process running; the guard killed it",
}


@dataclass(frozen=True, slots=True)
class SandboxRule:
    """A sandbox rule's id, default severity and one-line meaning, for the policy's rule catalog."""

    id: str
    default: Severity
    summary: str


SANDBOX_RULES: tuple[SandboxRule, ...] = (
    # Blocking by default: a remembered approval or --yes must not let such a package through.
    SandboxRule(GUARD_TAMPER_RULE, Severity.BLOCK,
                "package code tried to change the guard's folders, descriptors or process while it ran"),
    *(SandboxRule(RULE_PREFIX + operation.value, Severity.HIGH, description)
      for operation, description in _DESCRIPTIONS.items()),
)
_DEFAULTS = {rule.id: rule.default for rule in SANDBOX_RULES}


@dataclass(frozen=True, slots=True)
class SandboxOutcome:
    """The sandbox's part of a session: the layers for the preview and the findings to assess."""

    summary: SandboxSummary
    findings: tuple[Finding, ...] = ()


def rule_id(denied: DeniedOperation) -> str:
    """Return the policy rule id of a denied operation."""
    if denied.against_guard:
        return GUARD_TAMPER_RULE
    return RULE_PREFIX + denied.operation.value


def default_severity(rule: str) -> Severity:
    """Return the default severity of a sandbox rule."""
    return _DEFAULTS[rule]


def _attribute(source: str | None, variants: Sequence[ResolvedVariant]) -> tuple[str | None, str | None]:
    """Return (variant, file) for a source: a variant name, or a package.py file inside a variant."""
    if source is None:
        return None, None
    for variant in variants:
        if source == variant.qualified_name:
            return variant.qualified_name, None
    folder = os.path.dirname(source)
    for variant in variants:
        root = variant.root.rstrip("/")
        if folder and (root == folder or root.startswith(folder + "/")):
            return variant.qualified_name, source
    return None, source


def _message(denied: DeniedOperation, file: str | None) -> str:
    verb = "found by" if denied.layer is Layer.SUBREAPER else "denied by"
    text = f"{_DESCRIPTIONS[denied.operation]}: {denied.target} ({verb} {denied.layer.value}"
    if denied.count > 1:
        text += f", {denied.count} times"
    text += ")"
    if file is not None:
        text += f" while {file} was loading"
    elif denied.source is None:
        text += "; the package is unknown"
    return text


def denial_findings(
    denied: Iterable[DeniedOperation],
    severity: Callable[[str], Severity],
    variants: Sequence[ResolvedVariant],
) -> tuple[Finding, ...]:
    """Return one finding per denied or detected operation, with `severity(rule_id)` as its severity."""
    findings = []
    for operation in denied:
        rule = rule_id(operation)
        variant, file = _attribute(operation.source, variants)
        findings.append(Finding(rule, severity(rule), _message(operation, file), action_index=None, variant=variant))
    return tuple(findings)


def describe_denials(denied: Sequence[DeniedOperation]) -> str:
    """Return a short phrase naming the first denied operation and how many there were, for error messages."""
    if not denied:
        return ""
    first = denied[0]
    more = f" and {len(denied) - 1} more" if len(denied) > 1 else ""
    return f"the sandbox denied {first.operation.value} {first.target}{more}"
