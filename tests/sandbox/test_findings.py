"""Denied operations turned into findings for the preview and the decision."""

from __future__ import annotations

from guard.findings import Severity
from guard.plan import ResolvedVariant
from guard.sandbox.findings import SANDBOX_RULES, default_severity, denial_findings
from guard.sandbox.report import DeniedOperation, Layer, Operation

VARIANT = ResolvedVariant(
    qualified_name="tool-1.0.0[]", name="tool", version="1.0.0", uri="/repo/tool/1.0.0/package.py",
    root="/repo/tool/1.0.0", repository="filesystem@/repo", is_local=False)


def test_finding_rule_and_default_severity():
    denied = DeniedOperation(Operation.EXEC, "/usr/bin/id", Layer.SECCOMP, "tool-1.0.0[]", "execve")

    (finding,) = denial_findings([denied], default_severity, [VARIANT])

    assert finding.rule == "sandbox.exec"
    assert finding.severity is Severity.HIGH
    assert finding.variant == "tool-1.0.0[]"
    assert "/usr/bin/id" in finding.message
    assert "denied by seccomp" in finding.message


def test_finding_severity_from_policy():
    denied = DeniedOperation(Operation.NETWORK, "AF_INET stream socket", Layer.SECCOMP, None, "socket")

    policy = {"sandbox.network": Severity.BLOCK}

    (finding,) = denial_findings([denied], lambda rule: policy.get(rule, default_severity(rule)), [VARIANT])

    assert finding.severity is Severity.BLOCK
    assert finding.variant is None
    assert "the package is unknown" in finding.message


def test_finding_attributes_package_file_to_variant():
    denied = DeniedOperation(Operation.WRITE, "/x/trust.json", Layer.SECCOMP, "/repo/tool/1.0.0/package.py", "openat")

    (finding,) = denial_findings([denied], default_severity, [VARIANT])

    assert finding.variant == "tool-1.0.0[]"
    assert "/repo/tool/1.0.0/package.py was loading" in finding.message


def test_finding_counts_repeats():
    denied = DeniedOperation(Operation.FORK, "a new process", Layer.SECCOMP, None, "clone", count=3)

    (finding,) = denial_findings([denied], default_severity, [])

    assert "3 times" in finding.message


def test_leftover_finding_says_found():
    denied = DeniedOperation(Operation.LEFTOVER_PROCESS, "pid 42: sleep 600", Layer.SUBREAPER)

    (finding,) = denial_findings([denied], default_severity, [])

    assert finding.rule == "sandbox.leftover-process"
    assert "found by subreaper" in finding.message


def test_attempt_against_guard_has_own_rule():
    denied = DeniedOperation(Operation.WRITE, "/home/u/.local/share/rez-guard/trust.json", Layer.SECCOMP,
                             "tool-1.0.0[]", "openat", against_guard=True)

    (finding,) = denial_findings([denied], default_severity, [VARIANT])

    assert finding.rule == "sandbox.guard-tamper"
    assert finding.severity is Severity.BLOCK


def test_every_operation_has_rule():
    ids = {rule.id for rule in SANDBOX_RULES}

    assert {f"sandbox.{operation.value}" for operation in Operation} <= ids
    assert "sandbox.guard-tamper" in ids
    assert all(rule.summary for rule in SANDBOX_RULES)
