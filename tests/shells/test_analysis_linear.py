"""The plan analysis, which grows pended values piece by piece, against the copy that joins them each time.

`tests/reference/analysis_before.py` keeps the analysis that joined the whole
value and split it again after every prepend and append. Both must return equal
`PlanAnalysis` values (scans with their templates, expected values, origins,
problems) on recorded contexts and on generated plans, for every shell.
"""

from __future__ import annotations

import dataclasses
import os
import string
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rez.config import config as rez_config
from rez.resolved_context import ResolvedContext

from guard.plan import Action, Op, Phase, ResolvedVariant, Segment, StartupPlan
from guard.record import RecordingSettings, record_plan
from shells.analysis import analyze_plan
from shells.pended import PendedTemplate, PendedValue
from shells.values import join_templates
from tests.conftest import SHELLS
from tests.corpus import CORPUS, corpus_id
from tests.reference.analysis_before import analyze_plan_before, join_templates_before

EXAMPLES = int(os.environ.get("ANALYSIS_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
VARIANTS = ("gen-1.0[]", "other-2.0[]")
KEYS = ("PATH", "MYPATH", "OTHER", "LD_LIBRARY_PATH")
FRAGMENTS = [
    "/opt/a", "/opt/b/bin", "rel", "./x", ".", "", ":", "::", ";", ";;", "$PATH", "${PATH}", "$MYPATH", "${MYPATH}",
    "$OTHER", "${OTHER}", "$UNSET_NAME", "${UNSET_NAME:-d}", "$(echo hi)", "`id`", "~/bin", "~", "$HOME",
    "${", "$(", "}", "`", "\\", "\\$", "$", "!", "%", "\n", "'", '"', "$PATH:h", "${PATH:h}", "$path", "$1",
]
ALPHABET = string.ascii_letters + string.digits + "_/"

texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet=ALPHABET, min_size=1, max_size=5)),
                 max_size=5).map("".join)
segments = st.lists(st.builds(Segment, texts, st.booleans()), min_size=1, max_size=3).map(tuple)


@st.composite
def actions(draw: st.DrawFn) -> Action:
    op = draw(st.sampled_from([Op.SETENV, Op.RESETENV, Op.PREPENDENV, Op.PREPENDENV, Op.APPENDENV, Op.APPENDENV,
                               Op.APPENDENV, Op.UNSETENV, Op.SAFEREFENV, Op.SOURCE, Op.COMMAND, Op.ALIAS, Op.INFO]))
    variant = draw(st.sampled_from((*VARIANTS, None)))
    phase = Phase.REZ if variant is None else Phase.COMMANDS
    if op in (Op.UNSETENV, Op.SAFEREFENV):
        return Action(op=op, phase=phase, variant=variant, key=draw(st.sampled_from(KEYS)))
    if op is Op.COMMAND:
        return Action(op=op, phase=phase, variant=variant, argv=("true",))
    if op is Op.ALIAS:
        return Action(op=op, phase=phase, variant=variant, key="al", value=draw(segments))
    key = None if op in (Op.SOURCE, Op.INFO) else draw(st.sampled_from(KEYS))
    return Action(op=op, phase=phase, variant=variant, key=key, value=draw(segments))


environs = st.fixed_dictionaries({}, optional={
    "PATH": st.sampled_from(["/usr/bin:/bin", "", "/usr/bin::.", "a:b"]),
    "MYPATH": st.sampled_from(["/m", "x;y", ""]),
    "OTHER": st.sampled_from(["/o", "$PATH", "o:p"]),
    "HOME": st.just("/home/user"),
})


def plan_of(shell: str, planned: list[Action]) -> StartupPlan:
    variants = tuple(ResolvedVariant(qualified_name=name, name=name.split("-")[0], version="1.0", uri=f"memory:{name}",
                                     root=f"/nonexistent/{name}", repository="memory", is_local=False)
                     for name in VARIANTS)
    return StartupPlan(shell=shell, request=("gen",), variants=variants, actions=tuple(planned))


def pended_scans(plan: StartupPlan, environ: dict[str, str]) -> int:
    analysis = analyze_plan(plan, environ)
    return sum(isinstance(scan.template, PendedTemplate) for scan in analysis.scans.values())


def assert_same_analysis(plan: StartupPlan, environ: dict[str, str]) -> None:
    new = analyze_plan(plan, environ)
    old = analyze_plan_before(plan, environ)
    assert new.to_dict() == old.to_dict()
    assert new.expected == old.expected
    assert new.path_entries == old.path_entries
    assert new.dropped_entries == old.dropped_entries
    assert new.problems == old.problems
    assert new.removed == old.removed
    assert set(new.scans) == set(old.scans)
    for index, scan in old.scans.items():
        assert new.scans[index] == scan, (index, plan.actions[index])
        assert tuple(new.scans[index].template) == scan.template, index
    assert new == old


@pytest.fixture
def separators() -> Iterator[None]:
    """Give MYPATH a two-character separator, which pended values cannot count entries by."""
    rez_config.override("env_var_separators", {"MYPATH": ";;", "OTHER": ";"})
    yield
    rez_config.remove_override("env_var_separators")


def _recorded(repository: Path, request: tuple[str, ...], environ: dict[str, str]) -> StartupPlan:
    context = ResolvedContext(list(request), package_paths=[str(repository)])
    assert context.success, context.failure_description
    recording = RecordingSettings(shell="bash", rxt_file="/tmp/session/context.rxt",
                                  context_file="/tmp/session/context.sh", interactive=False, parent_environ=environ)
    return record_plan(context, recording, time.time)


def test_join_templates_matches_copy() -> None:
    pieces = st.one_of(st.none(), st.sampled_from(["", "a", "bc", ":"]))

    @SETTINGS
    @given(parts=st.lists(st.lists(pieces, max_size=5).map(tuple), max_size=6))
    def joined_alike(parts: list[tuple[str | None, ...]]) -> None:
        assert join_templates(parts) == join_templates_before(parts)

    joined_alike()


@pytest.mark.parametrize(("repository", "request_"), CORPUS, ids=[corpus_id(*item) for item in CORPUS])
@pytest.mark.parametrize("shell", SHELLS)
def test_analysis_matches_copy_on_corpus(repository: Path, request_: tuple[str, ...], shell: str,
                                         isolated_home: Path) -> None:
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(isolated_home), "LD_LIBRARY_PATH": "/usr/lib"}
    plan = dataclasses.replace(_recorded(repository, request_, environ), shell=shell)
    assert_same_analysis(plan, environ)


@pytest.mark.parametrize("shell", SHELLS)
def test_analysis_matches_copy_on_many_pends(shell: str) -> None:
    planned = [Action(op=Op.SETENV, phase=Phase.COMMANDS, variant=VARIANTS[0], key="PATH",
                      value=(Segment("/start"),))]
    for index in range(300):
        op = Op.PREPENDENV if index % 7 == 0 else Op.APPENDENV
        text = "rel" if index % 50 == 0 else f"/opt/t{index:04d}/bin"
        planned.append(Action(op=op, phase=Phase.COMMANDS, variant=VARIANTS[index % 2], key="PATH",
                              value=(Segment(text, index % 3 == 0),)))
    plan = plan_of(shell, planned)
    environ = {"PATH": "/usr/bin:/bin"}
    assert_same_analysis(plan, environ)
    # The pends took the piece-by-piece way, so the comparison above covered it.
    assert pended_scans(plan, environ) == 300


@pytest.mark.parametrize("shell", SHELLS)
def test_analysis_matches_copy_on_generated_plans(shell: str, separators: None) -> None:
    @SETTINGS
    @given(planned=st.lists(actions(), max_size=12), environ=environs)
    def analysed_alike(planned: list[Action], environ: dict[str, str]) -> None:
        assert_same_analysis(plan_of(shell, planned), environ)

    analysed_alike()


def test_comparison_detects_a_changed_origin() -> None:
    # The comparison is not vacuous: one different variant on one append changes the analysis.
    planned = [Action(op=Op.APPENDENV, phase=Phase.COMMANDS, variant=VARIANTS[0], key="PATH", value=(Segment("rel"),))]
    changed = [dataclasses.replace(planned[0], variant=VARIANTS[1])]
    environ = {"PATH": "/usr/bin"}
    assert analyze_plan(plan_of("bash", planned), environ) != analyze_plan_before(plan_of("bash", changed), environ)


def test_pended_template_compares_as_its_tuple() -> None:
    value = PendedValue(("/a",), ":")
    before = value.snapshot()
    value.extend((), (":/b",))
    after = value.snapshot()
    value.extend(("/c:",), ())
    assert before == ("/a",)
    assert after == ("/a:/b",)
    assert value.template() == ("/c:/a:/b",)
    assert value.entries == 3
    assert after != ("/a",)
    assert hash(after) == hash(("/a:/b",))
    assert repr(after) == repr(("/a:/b",))


def test_pended_value_counts_unknown_text() -> None:
    value = PendedValue(("/a",), ":")
    value.extend((), (":", None))
    assert value.entries is None
    assert value.template() == ("/a:", None)


def test_pended_value_rejects_long_separator() -> None:
    with pytest.raises(ValueError, match="is not one character"):
        PendedValue(("/a",), ";;")
