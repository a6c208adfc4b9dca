"""The rules that read each file-system fact once, against the copies that read it for every entry.

`tests/reference/rules_before.py` keeps the plan view and the path, guard and
startup rules as they were before `FileFacts` and the search-order tree. Both
must return the same findings, in the same order, on the test packages, the
corpus, and generated plans over a folder tree of links, shared folders and
commands.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rez.resolved_context import ResolvedContext

from guard.assess import assess
from guard.launch import with_sourced_files
from guard.plan import Action, Op, Phase, ResolvedVariant, Segment, StartupPlan
from guard.policy import Policy
from guard.record import RecordingSettings, record_plan
from guard.rules import filesystem
from guard.rules.filesystem import FileFacts
from tests.corpus import CORPUS, corpus_id
from tests.policy.conftest import HERE, NOBODY_UID, RecordPlan
from tests.reference.rules_before import assess_before

EXAMPLES = int(os.environ.get("RULES_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PACKAGES = sorted(path.name for path in (HERE / "packages").iterdir() if path.is_dir())
KEYS = ("PATH", "PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "MANPATH", "ROOT_A")
VARIANTS = ("a-1.0[]", "b-2.0[]")


def assert_same_findings(plan: StartupPlan, policy: Policy) -> None:
    new = assess(plan, policy)
    old = assess_before(plan, policy)
    assert [finding.rule for finding in new] == [finding.rule for finding in old]
    assert new == old


def _tree(base: Path) -> dict[str, str]:
    """Make folders of every kind the path rules tell apart; return their paths by name."""
    folders = {
        "root_a": base / "pkgs" / "a" / "1.0",
        "root_b": base / "pkgs" / "b" / "2.0",
        "bin_a": base / "pkgs" / "a" / "1.0" / "bin",
        "lib_a": base / "pkgs" / "a" / "1.0" / "lib",
        "shared": base / "shared",
        "shared_bin": base / "shared" / "bin",
        "sticky": base / "sticky",
        "sticky_bin": base / "sticky" / "bin",
        "foreign": base / "foreign",
        "guard_bin": base / "guardbin",
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)

    for folder, names in ((folders["bin_a"], ("ls", "python3.11", "a")), (folders["shared_bin"], ("ssh",)),
                          (folders["guard_bin"], ("rez-guard", "sudo"))):
        for name in names:
            program = folder / name
            program.write_text("#!/bin/sh\n", encoding="utf-8")
            program.chmod(0o755)

    (folders["bin_a"] / "cat").write_text("not executable\n", encoding="utf-8")
    (folders["root_a"] / "setup.sh").write_text("true\n", encoding="utf-8")
    folders["shared"].chmod(0o777)
    folders["sticky"].chmod(0o1777)
    if os.geteuid() == 0:
        os.chown(folders["foreign"], NOBODY_UID, NOBODY_UID)

    links = {"link_bin": (base / "linkbin", folders["bin_a"]), "link_root": (base / "linkroot", folders["root_a"]),
             "dangling": (base / "dangling", base / "missing"), "loop": (base / "loop", base / "loop")}
    for source, target in links.values():
        source.symlink_to(target)

    paths = {name: str(folder) for name, folder in folders.items()}
    paths.update({name: str(source) for name, (source, _) in links.items()})
    paths["missing"] = str(base / "missing" / "bin")
    paths["usr_bin"] = "/usr/bin"
    paths["bin"] = "/bin"
    return paths


def _plan_strategy(paths: dict[str, str]) -> st.SearchStrategy[tuple[StartupPlan, Policy]]:
    entry = st.one_of(
        st.sampled_from(sorted(paths.values())),
        st.sampled_from(["", ".", "./bin", "rel/bin", "~/bin", "$ROOT_A/bin", "${ROOT_A}/lib", "$UNSET_NAME/bin",
                         "$(pwd)", "`pwd`", "$PATH", "${PATH}", "$LD_LIBRARY_PATH", paths["root_a"] + "/../b/2.0",
                         paths["loop"] + "/x", paths["link_bin"] + "/"]),
    )
    value = st.lists(entry, min_size=1, max_size=4).map(":".join)

    @st.composite
    def action(draw: st.DrawFn) -> Action:
        op = draw(st.sampled_from([Op.SETENV, Op.PREPENDENV, Op.PREPENDENV, Op.APPENDENV, Op.APPENDENV,
                                   Op.UNSETENV, Op.SOURCE, Op.ALIAS]))
        variant = draw(st.sampled_from((*VARIANTS, None)))
        phase = Phase.REZ if variant is None else Phase.COMMANDS
        if op is Op.SOURCE:
            target = draw(st.sampled_from([paths["root_a"] + "/setup.sh", paths["shared"] + "/setup.sh", "$ROOT_A/x"]))
            return Action(op=op, phase=phase, variant=variant, value=(Segment(target),))
        if op is Op.ALIAS:
            return Action(op=op, phase=phase, variant=variant, key="ls", value=(Segment("ls -l"),))
        key = draw(st.sampled_from(KEYS))
        if op is Op.UNSETENV:
            return Action(op=op, phase=phase, variant=variant, key=key)
        return Action(op=op, phase=phase, variant=variant, key=key, value=(Segment(draw(value)),))

    @st.composite
    def plan_and_policy(draw: st.DrawFn) -> tuple[StartupPlan, Policy]:
        roots = [draw(st.sampled_from([paths["root_a"], paths["link_root"], paths["root_b"], "/", ""]))
                 for _ in VARIANTS]
        variants = tuple(ResolvedVariant(qualified_name=name, name=name.split("-")[0], version="1.0",
                                         uri=f"memory:{name}", root=root, repository="memory", is_local=False)
                         for name, root in zip(VARIANTS, roots))
        planned = tuple(draw(st.lists(action(), max_size=10)))
        environ = {"ROOT_A": paths["root_a"], "PATH": "/usr/bin:/bin"}
        plan = StartupPlan(shell="bash", request=("gen",), variants=variants, actions=planned, environ=environ)
        policy = draw(st.sampled_from([
            Policy(),
            Policy(allowed_prefixes=("/usr", paths["shared"], paths["link_bin"]), trusted_owners=("nobody",)),
        ]))
        return plan, policy

    return plan_and_policy()


@pytest.mark.parametrize("package", PACKAGES)
def test_findings_match_copy_on_test_packages(package: str, record_plan: RecordPlan) -> None:
    plan = record_plan([package])
    assert_same_findings(plan, Policy())
    assert_same_findings(plan, Policy(allowed_prefixes=(), trusted_owners=("nobody",)))


@pytest.mark.parametrize(("repository", "request_"), CORPUS, ids=[corpus_id(*item) for item in CORPUS])
def test_findings_match_copy_on_corpus(repository: Path, request_: tuple[str, ...], guard_home: Path) -> None:
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(guard_home)}
    context = ResolvedContext(list(request_), package_paths=[str(repository)])
    assert context.success, context.failure_description
    recording = RecordingSettings(shell="bash", rxt_file="/tmp/session/context.rxt",
                                  context_file="/tmp/session/context.sh", interactive=False, parent_environ=environ)
    plan = with_sourced_files(record_plan(context, recording, time.time), environ)
    assert_same_findings(plan, Policy())


def test_findings_match_copy_on_generated_plans(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "tree")

    @SETTINGS
    @given(case=_plan_strategy(paths))
    def assessed_alike(case: tuple[StartupPlan, Policy]) -> None:
        assert_same_findings(*case)

    assessed_alike()


def test_findings_match_copy_on_many_appends(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "tree")
    planned = [Action(op=Op.SETENV, phase=Phase.COMMANDS, variant=VARIANTS[0], key="PATH",
                      value=(Segment(paths["bin_a"]),))]
    for index in range(300):
        # Prepends never name an allowed prefix, which would end the search for shadowed commands.
        op = Op.PREPENDENV if index % 5 == 0 else Op.APPENDENV
        names = ("shared_bin", "missing", "guard_bin", "link_bin", "foreign", "usr_bin")[:4 if op is Op.PREPENDENV else 6]
        name = names[index % len(names)]
        planned.append(Action(op=op, phase=Phase.COMMANDS, variant=VARIANTS[index % 2], key="PATH",
                              value=(Segment(f"{paths[name]}/t{index}" if index % 4 else paths[name]),)))
    variants = tuple(ResolvedVariant(qualified_name=name, name=name.split("-")[0], version="1.0", uri=f"memory:{name}",
                                     root=paths["root_a"], repository="memory", is_local=False) for name in VARIANTS)
    plan = StartupPlan(shell="bash", request=("gen",), variants=variants, actions=tuple(planned))
    assert_same_findings(plan, Policy())
    rules = {finding.rule for finding in assess(plan, Policy())}
    assert {"path.writable-dir", "path.missing-dir", "path.shadows-command", "guard.command"} <= rules


def test_comparison_detects_a_changed_finding(tmp_path: Path) -> None:
    # The comparison is not vacuous: a plan whose entry names another folder gets other findings.
    paths = _tree(tmp_path / "tree")
    action = Action(op=Op.APPENDENV, phase=Phase.COMMANDS, variant=VARIANTS[0], key="PATH",
                    value=(Segment(paths["shared_bin"]),))
    plan = StartupPlan(shell="bash", request=("gen",), variants=(), actions=(action,))
    moved = dataclasses.replace(plan, actions=(dataclasses.replace(action, value=(Segment(paths["missing"]),)),))
    assert assess(plan, Policy()) != assess_before(moved, Policy())


def test_file_facts_match_module_functions(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "tree")
    facts = FileFacts()
    names = ("ls", "cat", "ssh", "rez-guard", "sudo", "python3.11")
    candidates = [*paths.values(), *(f"{path}/x" for path in paths.values()), paths["root_a"] + "/../b/2.0",
                  paths["link_bin"] + "/", "//" + paths["bin_a"].lstrip("/"), "relative/bin", "/", ""]
    for path in candidates * 2:
        assert facts.real_path(path) == os.path.realpath(path), path
        assert facts.is_dir(path) == os.path.isdir(path), path
        assert facts.owner_uid(path) == filesystem.owner_uid(path), path
        assert facts.writable_by_others(path) == filesystem.writable_by_others(path), path
        assert facts.executables_in(path, names) == filesystem.executables_in(path, names), path
