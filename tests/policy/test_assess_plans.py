"""Assessment details on hand-built plans: ordering, references, shells, policy settings."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from guard.assess import assess
from guard.findings import Finding, Severity
from guard.plan import Action, Op, Phase, ResolvedVariant, Segment, SourcedFile, StartupPlan
from guard.policy import Policy

NOBODY_UID = 65534


def variant(root: Path, name: str = "pkg", repository: str | None = None, is_local: bool = False) -> ResolvedVariant:
    return ResolvedVariant(
        qualified_name=f"{name}-1.0[]",
        name=name,
        version="1.0",
        uri=str(root / "package.py"),
        root=str(root),
        repository=repository or f"filesystem@{root.parent.parent}",
        is_local=is_local,
    )


def act(op: Op, key: str | None = None, *segments: str | tuple[str, bool], name: str = "pkg",
        phase: Phase = Phase.COMMANDS) -> Action:
    value = tuple(Segment(*item) if isinstance(item, tuple) else Segment(item) for item in segments)
    return Action(op, phase, f"{name}-1.0[]" if phase is not Phase.REZ else None, key=key, value=value)


def plan_of(root: Path, *actions: Action, shell: str = "bash", environ: dict[str, str] | None = None,
            sourced: tuple[SourcedFile, ...] = (), variants: tuple[ResolvedVariant, ...] | None = None) -> StartupPlan:
    return StartupPlan(
        shell=shell,
        request=("pkg",),
        variants=variants if variants is not None else (variant(root),),
        actions=actions,
        environ=environ or {},
        sourced=sourced,
    )


def rules(findings: tuple[Finding, ...]) -> list[str]:
    return [finding.rule for finding in findings]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    package_root = tmp_path / "repo" / "pkg" / "1.0"
    (package_root / "bin").mkdir(parents=True)
    return package_root


def executable(path: Path) -> None:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)


def test_self_reference_not_flagged(root: Path):
    plan = plan_of(root, act(Op.SETENV, "PATH", f"{root}/bin:$PATH"))

    assert assess(plan, Policy()) == ()


def test_appended_folder_not_shadowing(root: Path):
    executable(root / "bin" / "ssh")
    plan = plan_of(root, act(Op.SETENV, "PATH", "/usr/bin"), act(Op.APPENDENV, "PATH", f"{root}/bin"))

    assert "path.shadows-command" not in rules(assess(plan, Policy()))


def test_prepended_before_reference_shadows(root: Path):
    executable(root / "bin" / "git")
    plan = plan_of(root, act(Op.SETENV, "PATH", f"{root}/bin:${{PATH}}"))

    findings = assess(plan, Policy())

    assert rules(findings) == ["path.shadows-command"]
    assert "git" in findings[0].message


def test_folder_after_system_folder_not_shadowing(root: Path):
    executable(root / "bin" / "ls")
    plan = plan_of(root, act(Op.SETENV, "PATH", f"/usr/bin:{root}/bin"))

    assert "path.shadows-command" not in rules(assess(plan, Policy()))


def test_policy_common_commands_extend(root: Path):
    executable(root / "bin" / "maya")
    plan = plan_of(root, act(Op.PREPENDENV, "PATH", f"{root}/bin"))
    policy = Policy(common_commands=("maya",))

    assert rules(assess(plan, policy)) == ["path.shadows-command"]
    assert rules(assess(plan, Policy())) == []


def test_literal_segment_not_expanded(root: Path):
    plan = plan_of(root, act(Op.SETENV, "GREETING", ("$(id) and `id` and $HOME", True)))

    assert assess(plan, Policy()) == ()


def test_info_with_substitution_flagged(root: Path):
    plan = plan_of(root, act(Op.INFO, None, "hello $(whoami)"))

    assert rules(assess(plan, Policy())) == ["value.command-substitution"]


def test_csh_history_flagged_only_in_csh(root: Path):
    action = act(Op.SETENV, "BANG", "wow!")

    assert rules(assess(plan_of(root, action, shell="tcsh"), Policy())) == ["value.expansion"]
    assert assess(plan_of(root, action, shell="bash"), Policy()) == ()


def test_context_variable_reference_not_flagged(root: Path):
    plan = plan_of(
        root,
        act(Op.SETENV, "PKG_ROOT", str(root)),
        act(Op.SETENV, "PKG_DATA", "${PKG_ROOT}/data"),
        environ={"PKG_ROOT": str(root), "PKG_DATA": f"{root}/data"},
    )

    assert assess(plan, Policy()) == ()


def test_context_reference_resolves_path_entry(root: Path):
    plan = plan_of(
        root,
        act(Op.SETENV, "PKG_ROOT", str(root)),
        act(Op.PREPENDENV, "PATH", "$PKG_ROOT/missing"),
        environ={"PKG_ROOT": str(root)},
    )

    findings = assess(plan, Policy())

    assert rules(findings) == ["path.missing-dir"]
    assert f"{root}/missing" in findings[0].message


def test_rez_phase_guard_variables_ignored(root: Path):
    plan = plan_of(root, act(Op.SETENV, "REZ_GUARD_SESSION", "abc", phase=Phase.REZ))

    assert assess(plan, Policy()) == ()


def test_unset_home_blocked(root: Path):
    plan = plan_of(root, act(Op.UNSETENV, "HOME"))

    findings = assess(plan, Policy())

    assert rules(findings) == ["guard.variable"]
    assert findings[0].severity is Severity.BLOCK


def test_severity_override_applied(root: Path):
    plan = plan_of(root, Action(Op.COMMAND, Phase.COMMANDS, "pkg-1.0[]", argv=("echo", "hi")))
    policy = Policy(severities=MappingProxyType({"command.run": Severity.BLOCK}))

    findings = assess(plan, policy)

    assert findings[0].severity is Severity.BLOCK
    assert "'echo hi'" in findings[0].message


def test_findings_ordered(root: Path):
    plan = plan_of(
        root,
        act(Op.ALIAS, "hello", "echo hi"),
        act(Op.SETENV, "PATH", ".:$(id)"),
        variants=(variant(root, is_local=True),),
    )

    findings = assess(plan, Policy())

    assert [(finding.action_index, finding.rule) for finding in findings] == [
        (None, "repo.untrusted"),
        (0, "alias.defined"),
        (1, "path.dot-entry"),
        (1, "value.command-substitution"),
        (1, "path.outside-roots"),
    ]


def test_trusted_repository_matching(root: Path):
    release = variant(root, repository="filesystem@/studio/release/")
    plan = plan_of(root, variants=(release,))

    assert assess(plan, Policy(trusted_repositories=("/studio/release",))) == ()
    assert assess(plan, Policy(trusted_repositories=("filesystem@/studio/release",))) == ()
    assert rules(assess(plan, Policy(trusted_repositories=("/studio/other",)))) == ["repo.untrusted"]


def test_local_packages_need_trust_local(root: Path):
    local = variant(root, repository="filesystem@/home/me/packages", is_local=True)
    plan = plan_of(root, variants=(local,))

    assert rules(assess(plan, Policy())) == ["repo.untrusted"]
    assert assess(plan, Policy(trust_local_packages=True)) == ()
    listed = Policy(trust_local_packages=True, trusted_repositories=("/studio/release",))
    assert rules(assess(plan, listed)) == ["repo.untrusted"]


def test_allowed_prefix_exempts_outside_root(root: Path, tmp_path: Path):
    site = tmp_path / "site" / "bin"
    site.mkdir(parents=True)
    plan = plan_of(root, act(Op.APPENDENV, "PATH", str(site)))

    assert rules(assess(plan, Policy())) == ["path.outside-roots"]
    assert assess(plan, Policy(allowed_prefixes=(str(tmp_path / "site"),))) == ()


def test_link_out_of_root_is_outside(root: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "linked").symlink_to(elsewhere)
    plan = plan_of(root, act(Op.PREPENDENV, "PATH", f"{root}/linked"))

    assert rules(assess(plan, Policy())) == ["path.outside-roots"]


def test_group_writable_parent_flagged(root: Path):
    root.parent.chmod(0o775)
    plan = plan_of(root, act(Op.PREPENDENV, "PATH", f"{root}/bin"))

    findings = assess(plan, Policy())

    assert rules(findings) == ["path.writable-dir"]
    assert "writable by its group" in findings[0].message


def test_sticky_parent_not_flagged(root: Path):
    root.parent.chmod(0o1777)
    plan = plan_of(root, act(Op.PREPENDENV, "PATH", f"{root}/bin"))

    assert assess(plan, Policy()) == ()


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder owned by another user needs root")
def test_trusted_owner_accepted(root: Path):
    os.chown(root / "bin", NOBODY_UID, NOBODY_UID)
    plan = plan_of(root, act(Op.PREPENDENV, "PATH", f"{root}/bin"))

    assert rules(assess(plan, Policy())) == ["path.foreign-owner"]
    assert assess(plan, Policy(trusted_owners=(str(NOBODY_UID),))) == ()


def test_source_snapshot_matched_by_action(root: Path):
    script = root / "setup.sh"
    script.write_text("export A=1\n")
    digest = hashlib.sha256(script.read_bytes()).hexdigest()
    snapshot = SourcedFile(0, str(script), script.stat().st_size, digest)
    plan = plan_of(root, act(Op.SOURCE, None, str(script)), sourced=(snapshot,))

    assert rules(assess(plan, Policy())) == ["source.file"]
    assert rules(assess(replace(plan, sourced=()), Policy())) == ["source.unreadable", "source.file"]


def test_command_mentioning_trust_store_blocked(root: Path, tmp_path: Path):
    data_dir = tmp_path / "data" / "guard-data"
    plan = plan_of(root, act(Op.COMMAND, None, f"cp forged.json {data_dir}/trust.json"))
    policy = Policy(protected_paths=(str(data_dir),))

    findings = assess(plan, policy)

    assert rules(findings) == ["guard.tamper", "command.run"]
    assert findings[0].severity is Severity.BLOCK


def test_library_path_in_own_root_allowed(root: Path):
    (root / "lib").mkdir()
    other = variant(root.parent.parent / "other" / "1.0", name="other")
    plan = plan_of(
        root,
        act(Op.PREPENDENV, "LD_LIBRARY_PATH", f"{root}/lib"),
        act(Op.PREPENDENV, "LD_LIBRARY_PATH", f"{root}/lib", name="other"),
        variants=(variant(root), other),
    )

    findings = assess(plan, Policy())

    assert [(finding.rule, finding.variant) for finding in findings] == [("loader.library-path", "other-1.0[]")]
