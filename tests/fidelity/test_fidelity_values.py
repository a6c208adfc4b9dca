"""Property tests: every value ends as exactly one of three outcomes, in every shell.

For any string without NUL used as a setenv, prependenv or appendenv value or
as a sourced file's path, exactly one of these holds:

- exact: the shell's environment contains the value byte for byte;
- shown: the preview lists what the shell expands or runs inside it, and the
  result matches what the analysis predicted from that;
- stopped: rendering raises LaunchFailed naming the variable, the shell and why.

Values whose expansions run code are never launched here: the property checks
that the preview lists them and leaves running them to the named cases.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guard.errors import LaunchFailed
from guard.plan import Action, Op
from guard.preview import printable
from guard.render import render_script
from shells.analysis import PlanAnalysis
from shells.values import template_matches, template_text
from tests.conftest import SHELLS, require_shell
from tests.fidelity.harness import CSH_FAMILY, action, analyze, plan_of, preview_of, run_script

# `>` is left out, so a scanner bug can never turn random text into a redirection
# that writes a file. The named cases cover redirections.
SPECIAL_CHARACTERS = list("${}()[]`\\\"'!~:.%#*?^&|;=+-@, \t\n/<") + ["é", "\u00a0", "\u200b", "\U0001f98a", "\r"]
FRAGMENTS = [
    "$HOME", "${HOME}", "$FIDELITY_WORD", "${FIDELITY_SPACES}", "$FIDELITY_EMPTY", "$UNSET_NAME", "${UNSET_NAME}",
    "$(", ")", "${", "}", "`", "$((1+2))", "$[1+2]", "~/", "~", "!katana", "!!", "!$", "%s", "%%", "$$", "$?", "$#",
    "$1", "$*", "$@", "${#HOME}", "${HOME:-x}", "${HOME:h}", "$HOME:h", "$HOME[1]", "${?HOME}", "$?HOME",
    "$FIDELITY_WORD:t", "$path", "$<", "\\$", "\\!", "\\\\", "\\\"", "'\"'", "\\\n", ":", "::", ".", "./rel",
]
ALPHABET = string.ascii_letters + string.digits + "_"

value_text = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from(SPECIAL_CHARACTERS),
            st.sampled_from(FRAGMENTS),
            st.text(alphabet=ALPHABET, min_size=1, max_size=4),
        ),
        max_size=8,
    ).map("".join),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00>"), max_size=12),
)


@dataclass(frozen=True)
class Case:
    """One value and how the plan uses it."""

    op: Op
    text: str
    literal: bool
    parent_variable: bool


cases = st.builds(
    Case,
    op=st.sampled_from([Op.SETENV, Op.SETENV, Op.PREPENDENV, Op.APPENDENV, Op.SOURCE]),
    text=value_text,
    literal=st.booleans(),
    parent_variable=st.booleans(),
)

FIDELITY_SETTINGS = settings(
    max_examples=int(os.environ.get("FIDELITY_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def start_environ(home: Path) -> dict[str, str]:
    """The environment every shell starts with in these tests."""
    return {
        "PATH": "/nonexistent/fidelity-bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "FIDELITY_WORD": "word",
        "FIDELITY_SPACES": "a b  c",
        "FIDELITY_EMPTY": "",
    }


def _source_file(folder: Path, index: int, text: str, shell: str) -> str:
    # A file whose name carries the value (a path cannot hold `/` in a name), which marks that it ran.
    name = "file" + text.replace("/", "_")[:100]
    directory = folder / f"sourced{index}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if shell in CSH_FAMILY:
        path.write_text(f"setenv SOURCED_{index} yes\n", encoding="utf-8")
    else:
        path.write_text(f"export SOURCED_{index}=yes\n", encoding="utf-8")
    return str(path)


def _actions(shell: str, items: list[Case], folder: Path) -> list[tuple[int, list[Action]]]:
    # Each case becomes the actions rez records for it, with its own variable.
    groups = []
    for index, case in enumerate(items):
        key = f"FIDELITY_{index}"
        if case.op is Op.SETENV:
            group = [action(Op.SETENV, key, case.text, case.literal)]
        elif case.op is Op.SOURCE:
            path = _source_file(folder, index, case.text, shell)
            group = [action(Op.SOURCE, None, path, case.literal)]
        elif case.parent_variable:
            # A parent variable that is unset: rez makes it safe to reference, then pends.
            group = [action(Op.SAFEREFENV, key), action(case.op, key, case.text, case.literal)]
        else:
            group = [action(Op.SETENV, key, "/base"), action(case.op, key, case.text, case.literal)]
        groups.append((index, group))
    return groups


def _launchable(analysis: PlanAnalysis, groups: list[tuple[int, Case, list[Action]]],
                first_indices: list[int]) -> list[tuple[int, Case, list[Action]]]:
    # The cases the shell can run here: no problem, no code run, and a sourced path that names the file.
    kept = []
    for (index, case, group), first in zip(groups, first_indices):
        scan = analysis.scans[first + len(group) - 1]
        if scan.problem is not None or scan.runs_code:
            continue
        if case.op is Op.SOURCE and template_text(scan.template) != group[-1].text:
            # A sourced path that expands names another file, and a missing file ends sh and csh.
            continue
        kept.append((index, case, group))
    return kept


def _first_indices(groups: list[tuple[int, Case, list[Action]]]) -> list[int]:
    firsts = []
    position = 0
    for _, _, group in groups:
        firsts.append(position)
        position += len(group)
    return firsts


def check_values(shell: str, items: list[Case], folder: Path, interactive: bool) -> None:
    home = folder / "home"
    home.mkdir(parents=True, exist_ok=True)
    environ = start_environ(home)
    groups = [(index, case, group) for (index, group), case in zip(_actions(shell, items, folder), items)]
    plan = plan_of(shell, [item for _, _, group in groups for item in group])
    analysis = analyze(plan, environ)
    preview = preview_of(plan, analysis, environ)
    problems = {problem.action_index: problem for problem in analysis.problems}

    for (index, case, group), first in zip(groups, _first_indices(groups)):
        last = first + len(group) - 1
        scan = analysis.scans[last]
        for expansion in scan.expansions:
            assert printable(expansion.describe()) in preview, (case, expansion)
        if scan.problem is not None:
            # Stopped: the message names the variable and the shell, and the preview shows the reason.
            message = problems[last].message()
            assert shell in message
            if case.op is not Op.SOURCE:
                assert f"FIDELITY_{index}" in message
            assert printable(scan.problem) in preview
    if analysis.problems:
        with pytest.raises(LaunchFailed) as raised:
            render_script(plan, analysis)
        assert raised.value.message == analysis.problems[0].message()

    # Leaving cases out changes what later values can refer to, so narrow until nothing else drops.
    launched = groups
    while True:
        run_plan = plan_of(shell, [item for _, _, group in launched for item in group])
        run_analysis = analyze(run_plan, environ)
        narrowed = _launchable(run_analysis, launched, _first_indices(launched))
        if len(narrowed) == len(launched):
            break
        launched = narrowed

    script = render_script(run_plan, run_analysis)
    result = run_script(shell, script, environ, folder / "run", interactive=interactive)
    assert result.environ is not None, result.stderr

    for (index, case, group), first in zip(launched, _first_indices(launched)):
        if case.op is Op.SOURCE:
            assert result.environ.get(f"SOURCED_{index}") == "yes", (case, result.stderr)
            continue
        key = f"FIDELITY_{index}"
        expected = run_analysis.expected[key]
        have = result.environ.get(key)
        assert have is not None, (case, result.stderr)
        # Shown: the result is what the analysis predicted from the expansions the preview lists.
        assert template_matches(expected, have), (case, expected, have, result.stderr)
        if run_analysis.scans[first + len(group) - 1].exact and case.op is Op.SETENV:
            # Exact: byte for byte the value the package wrote.
            assert have == case.text, (case, have)


@pytest.mark.parametrize("shell", SHELLS)
def test_values_end_as_one_outcome(shell: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    require_shell(shell)

    @FIDELITY_SETTINGS
    @given(items=st.lists(cases, min_size=1, max_size=8))
    def property_holds(items: list[Case]) -> None:
        check_values(shell, items, tmp_path_factory.mktemp(shell), interactive=False)

    property_holds()


@pytest.mark.parametrize("shell", CSH_FAMILY)
def test_interactive_csh_values_end_as_one_outcome(shell: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    require_shell(shell)

    @FIDELITY_SETTINGS
    @given(items=st.lists(cases, min_size=1, max_size=8))
    def property_holds(items: list[Case]) -> None:
        check_values(shell, items, tmp_path_factory.mktemp(shell), interactive=True)

    property_holds()
