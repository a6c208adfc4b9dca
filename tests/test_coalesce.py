"""Joined runs of appends and prepends: fewer lines, and the same environment in every shell.

The renderer joins consecutive appends (or prepends) to one variable into one
line. These tests run the joined script and rez's own script (`replay_plan`)
in the real shells and compare the environments they leave, and check the
analysis and the read-back still agree with the joined script.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rez.config import config as rez_config

from guard.coalesce import join_pend_runs
from guard.plan import Action, Op, Phase, Segment, StartupPlan
from guard.render import render_script, replay_plan
from guard.verify import DYNAMIC_VARIABLES, compare_environ
from shells import adapter_for
from shells.analysis import analyze_plan
from tests.conftest import SHELLS, require_shell
from tests.fidelity.guard_env import launch_environ
from tests.fidelity.harness import CSH_FAMILY, action, plan_of, run_script
from tests.guard_run import last_session
from tests.packages import write_package

# The word limit of BSD csh (Debian 20110502), quotes included, as measured for the cap.
CSH_WORD_LIMIT = 8187


def start_environ(home: Path) -> dict[str, str]:
    """The environment the shells start with: the joined variables are all set, so csh can refer to them."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "FIDELITY_WORD": "word",
        "JOIN_A": "a0",
        "JOIN_B": "b0",
    }


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return start_environ(home)


def pend_lines(script: str, key: str) -> list[str]:
    """The lines of a script that set `key` from its own value."""
    return [line for line in script.splitlines() if key in line and "${" + key + "}" in line]


def run_both(shell: str, plan: StartupPlan, environ: dict[str, str], folder: Path,
             interactive: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """Run rez's script and the joined one; return the two environments."""
    rez_run = run_script(shell, replay_plan(plan), environ, folder / "rez", interactive=interactive)
    joined_run = run_script(shell, render_script(plan, environ=environ), environ, folder / "joined",
                            interactive=interactive)
    assert rez_run.environ is not None, rez_run.stderr
    assert joined_run.environ is not None, joined_run.stderr
    return without_dynamic(rez_run.environ), without_dynamic(joined_run.environ)


def without_dynamic(environ: dict[str, str]) -> dict[str, str]:
    """The environment without the variables a shell updates itself, such as PWD (each run has its folder)."""
    return {name: value for name, value in environ.items() if name not in DYNAMIC_VARIABLES}


def appends(key: str, values: Sequence[str], literal: bool = False) -> list[Action]:
    return [action(Op.APPENDENV, key, value, literal) for value in values]


# -- which actions join


def test_join_appends_into_one_action() -> None:
    plugin = adapter_for("bash").render_plugin()
    actions = appends("PATH", ["/a", "/b", "/c"])
    joined = join_pend_runs(actions, plugin, None)
    assert len(joined) == 1
    assert joined[0].op is Op.APPENDENV
    assert joined[0].text == "/a:/b:/c"


def test_join_prepends_in_reverse_order() -> None:
    plugin = adapter_for("bash").render_plugin()
    actions = [action(Op.PREPENDENV, "PATH", "/a"), action(Op.PREPENDENV, "PATH", "/b")]
    joined = join_pend_runs(actions, plugin, None)
    assert len(joined) == 1
    assert joined[0].op is Op.PREPENDENV
    assert joined[0].text == "/b:/a"


@pytest.mark.parametrize("breaker", [
    action(Op.SETENV, "OTHER", "x"),
    action(Op.SETENV, "PATH", "/reset"),
    action(Op.UNSETENV, "PATH"),
    action(Op.APPENDENV, "OTHER", "/x"),
    action(Op.PREPENDENV, "PATH", "/front"),
    action(Op.COMMAND, None, "true"),
    action(Op.SOURCE, None, "/nonexistent/setup.sh"),
    action(Op.ALIAS, "tool", "/bin/true"),
    action(Op.INFO, None, "hello"),
    action(Op.COMMENT, None, "a comment"),
    action(Op.SAFEREFENV, "PATH"),
])
def test_run_broken_by_other_action(breaker: Action) -> None:
    plugin = adapter_for("bash").render_plugin()
    actions = [*appends("PATH", ["/a", "/b"]), breaker, *appends("PATH", ["/c", "/d"])]
    joined = join_pend_runs(actions, plugin, None)
    assert len(joined) == 3
    assert joined[0].text == "/a:/b"
    assert joined[1] == breaker
    assert joined[2].text == "/c:/d"


@pytest.mark.parametrize("text", ["$HOME/bin", "${PATH}", "`id -u`", "$(id -u)", "~/bin", "!tool", "a\\b",
                                  'say "hi"', "line\nbreak", "cr\rhere"])
def test_unsafe_value_not_joined(text: str) -> None:
    plugin = adapter_for("bash").render_plugin()
    actions = [*appends("PATH", ["/a", "/b"]), action(Op.APPENDENV, "PATH", text), *appends("PATH", ["/c", "/d"])]
    joined = join_pend_runs(actions, plugin, None)
    assert [item.text for item in joined] == ["/a:/b", text, "/c:/d"]


def test_literal_value_with_dollar_joins() -> None:
    plugin = adapter_for("bash").render_plugin()
    actions = [action(Op.APPENDENV, "PATH", "/a"), action(Op.APPENDENV, "PATH", "$HOME `x` ~ !", literal=True)]
    joined = join_pend_runs(actions, plugin, None)
    assert len(joined) == 1
    assert joined[0].value == (Segment("/a"), Segment(":"), Segment("$HOME `x` ~ !", literal=True))


def test_joined_action_keeps_first_attribution() -> None:
    plugin = adapter_for("bash").render_plugin()
    first = Action(Op.APPENDENV, Phase.PRE_COMMANDS, "first-1.0", "PATH", (Segment("/a"),))
    second = Action(Op.APPENDENV, Phase.COMMANDS, "second-1.0", "PATH", (Segment("/b"),))
    joined = join_pend_runs([first, second], plugin, None)
    assert len(joined) == 1
    assert joined[0].variant == "first-1.0"
    assert joined[0].phase is Phase.PRE_COMMANDS


@pytest.fixture
def space_separator() -> Iterator[None]:
    rez_config.override("env_var_separators", {"JOIN_FLAGS": " ", "JOIN_ODD": "$"})
    yield
    rez_config.remove_override("env_var_separators")


@pytest.mark.usefixtures("space_separator")
def test_join_uses_rez_separator() -> None:
    plugin = adapter_for("bash").render_plugin()
    joined = join_pend_runs(appends("JOIN_FLAGS", ["-a", "-b"]), plugin, None)
    assert [item.text for item in joined] == ["-a -b"]


@pytest.mark.usefixtures("space_separator")
def test_unsafe_separator_not_joined() -> None:
    plugin = adapter_for("bash").render_plugin()
    actions = appends("JOIN_ODD", ["a", "b"])
    assert join_pend_runs(actions, plugin, None) == actions


def test_replay_plan_keeps_one_line_per_action() -> None:
    plan = plan_of("bash", appends("PATH", [f"/t{index}" for index in range(50)]))
    assert len(pend_lines(replay_plan(plan), "PATH")) == 50
    assert len(pend_lines(render_script(plan), "PATH")) == 1


# -- real shells


@pytest.mark.parametrize("shell", SHELLS)
def test_3000_appends_render_few_lines(shell: str, environ: dict[str, str], tmp_path: Path) -> None:
    require_shell(shell)
    # BSD csh cannot hold a variable past 8,185 characters, so its entries are one character long.
    entries = [str(index % 10) for index in range(3000)] if shell == "csh" else [
        f"/tools/t{index:05d}/bin" for index in range(3000)]
    plan = plan_of(shell, appends("PATH", entries))

    script = render_script(plan, environ=environ)
    lines = pend_lines(script, "PATH")
    if adapter_for(shell).max_joined_length is None:
        assert len(lines) == 1
    else:
        assert len(lines) <= 20
        assert max(len(line) for line in lines) < CSH_WORD_LIMIT
    assert len(pend_lines(replay_plan(plan), "PATH")) == 3000

    rez_environ, joined_environ = run_both(shell, plan, environ, tmp_path)
    assert joined_environ["PATH"] == ":".join(["/usr/bin:/bin", *entries])
    assert joined_environ == rez_environ


@pytest.mark.parametrize("shell", SHELLS)
def test_broken_runs_keep_environment(shell: str, environ: dict[str, str], tmp_path: Path) -> None:
    require_shell(shell)
    actions = [
        *appends("JOIN_A", ["/a1", "/a2"]),
        action(Op.SETENV, "JOIN_COPY", "${JOIN_A}"),
        *appends("JOIN_A", ["/a3", "/a4"]),
        action(Op.PREPENDENV, "JOIN_A", "/front"),
        *appends("JOIN_B", ["/b1"]),
        *appends("JOIN_A", ["/a5", "$FIDELITY_WORD", "/a6"]),
        action(Op.COMMENT, None, "between"),
        *appends("JOIN_A", ["/a7", "/a8"]),
    ]
    plan = plan_of(shell, actions)
    rez_environ, joined_environ = run_both(shell, plan, environ, tmp_path)
    assert joined_environ["JOIN_COPY"] == "a0:/a1:/a2"
    assert joined_environ["JOIN_A"] == "/front:a0:/a1:/a2:/a3:/a4:/a5:word:/a6:/a7:/a8"
    assert joined_environ == rez_environ


@pytest.mark.parametrize("shell", SHELLS)
def test_prepend_order_in_shell(shell: str, environ: dict[str, str], tmp_path: Path) -> None:
    require_shell(shell)
    plan = plan_of(shell, [action(Op.PREPENDENV, "JOIN_A", text) for text in ("/p1", "/p2", "/p3")])
    assert len(pend_lines(render_script(plan, environ=environ), "JOIN_A")) == 1
    rez_environ, joined_environ = run_both(shell, plan, environ, tmp_path)
    assert joined_environ["JOIN_A"] == "/p3:/p2:/p1:a0"
    assert joined_environ == rez_environ


@pytest.mark.parametrize("shell", SHELLS)
def test_expanding_values_stay_apart(shell: str, environ: dict[str, str], tmp_path: Path) -> None:
    require_shell(shell)
    plan = plan_of(shell, [
        action(Op.APPENDENV, "JOIN_A", "/x"),
        action(Op.APPENDENV, "JOIN_A", "$FIDELITY_WORD"),
        action(Op.APPENDENV, "JOIN_A", "`echo tick`"),
        action(Op.APPENDENV, "JOIN_A", "${JOIN_A}"),
        action(Op.APPENDENV, "JOIN_A", "/y"),
    ])
    assert len(pend_lines(render_script(plan, environ=environ), "JOIN_A")) == 5
    rez_environ, joined_environ = run_both(shell, plan, environ, tmp_path)
    assert joined_environ["JOIN_A"] == "a0:/x:word:tick:a0:/x:word:tick:/y"
    assert joined_environ == rez_environ


@pytest.mark.parametrize("shell", CSH_FAMILY)
def test_csh_cap_splits_long_run(shell: str, environ: dict[str, str], tmp_path: Path) -> None:
    require_shell(shell)
    # Quoted one by one, 700 literal values take 9,800 characters in one word, past BSD csh's limit,
    # though the value they make (7,006 characters) fits.
    entries = [f"/lit{index:05d}" for index in range(700)]
    plan = plan_of(shell, [action(Op.SETENV, "JOIN_A", "/start"), *appends("JOIN_A", entries, literal=True)])

    script = render_script(plan, environ=environ)
    lines = pend_lines(script, "JOIN_A")
    assert 2 <= len(lines) <= 4
    assert max(len(line) for line in lines) < CSH_WORD_LIMIT

    rez_environ, joined_environ = run_both(shell, plan, environ, tmp_path)
    assert joined_environ["JOIN_A"] == ":".join(["/start", *entries])
    assert joined_environ == rez_environ


def test_csh_uncapped_join_breaks(environ: dict[str, str], tmp_path: Path) -> None:
    # Without the cap, the same run in one line is a word BSD csh cannot read.
    require_shell("csh")
    entries = [f"/lit{index:05d}" for index in range(700)]
    plan = plan_of("csh", [action(Op.SETENV, "JOIN_A", "/start"), *appends("JOIN_A", entries, literal=True)])
    uncapped = join_pend_runs(plan.actions, adapter_for("csh").render_plugin(), None)
    script = replay_plan(plan_of("csh", uncapped))
    result = run_script("csh", script, environ, tmp_path)
    assert "Word too long" in result.stderr


# -- property: joined and rez's scripts leave the same environment

SAFE_TEXTS = ["/opt/x", "/a b", "", ".", "rel/dir", "%s", "50%", "it's", ":", "é", "{a,b}", "*", "#x"]
# References to the variables themselves come first: joining them would change the value most often.
UNSAFE_TEXTS = ["${JOIN_A}", "${JOIN_B}", "${JOIN_A}/x", "$JOIN_B", "~/bin", "~", "$FIDELITY_WORD",
                "`echo tick`", "!hist", "a\\b", 'q"q', "$HOME"]
KEYS = ["JOIN_A", "JOIN_A", "JOIN_B", "PATH"]

step = st.tuples(
    st.sampled_from([Op.APPENDENV, Op.APPENDENV, Op.APPENDENV, Op.PREPENDENV, Op.PREPENDENV, Op.PREPENDENV,
                     Op.SETENV]),
    st.sampled_from(KEYS),
    st.one_of(st.sampled_from(SAFE_TEXTS), st.sampled_from(UNSAFE_TEXTS)),
    st.booleans(),
)

JOIN_SETTINGS = settings(
    max_examples=int(os.environ.get("JOIN_EXAMPLES", "25")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("shell", SHELLS)
@JOIN_SETTINGS
@given(steps=st.lists(step, min_size=2, max_size=14))
def test_joined_script_same_environment(shell: str, steps: list[tuple[Op, str, str, bool]],
                                        environ: dict[str, str], tmp_path: Path) -> None:
    require_shell(shell)
    plan = plan_of(shell, [action(op, key, text, literal) for op, key, text, literal in steps])
    analysis = analyze_plan(plan, environ)
    # Every value above is one all five shells carry; a problem would mean the list changed.
    assume(not analysis.problems)

    folder = tmp_path / "run"
    # An interactive csh substitutes `!` from its history, which is where joining could go wrong.
    interactive = shell in CSH_FAMILY
    rez_environ, joined_environ = run_both(shell, plan, environ, folder, interactive=interactive)
    assert joined_environ == rez_environ
    assert compare_environ(analysis, environ, joined_environ, adapter_for(shell)) is None


# -- end to end: the read-back after a guarded launch


@pytest.mark.parametrize("shell", SHELLS)
def test_launch_with_joined_runs_no_drift(shell: str, tmp_path: Path) -> None:
    require_shell(shell)
    repository = tmp_path / "repo"
    write_package(repository, "joined", "1.0", """
        def commands():
            for index in range(60):
                env.JOINED_PATH.append("{root}/tools/t%03d" % index)
            env.JOINED_ROOT = "{root}"
            for index in range(3):
                env.JOINED_PATH.prepend("{root}/front%d" % index)
        """)
    result = launch_environ(repository, shell, "joined")
    assert result.returncode == 0, result.stderr
    assert "drift" not in result.stderr
    assert not [record for record in last_session() if record["event"] == "drift"]

    root = result.environ["JOINED_ROOT"]
    entries = result.environ["JOINED_PATH"].split(":")
    assert entries[:3] == [f"{root}/front2", f"{root}/front1", f"{root}/front0"]
    assert entries[-60:] == [f"{root}/tools/t{index:03d}" for index in range(60)]
