"""Render an approved plan into the shell's startup script.

Nothing is evaluated again: each recorded action is replayed, in order, on a
fresh instance of rez's shell plugin, which writes the same line rez-env would.
Two things differ from rez-env, both so the shell gets the value the preview
showed. Where rez would change a value silently (a `%` in zsh, a literal `!` in
an interactive csh), the guard's plugin writes it intact. Where the shell cannot
carry a value at all (a newline in csh, a `$` csh cannot expand, a command
substitution that never ends), the launch stops before the shell starts.

One difference is for speed: `render_script` joins each run of consecutive
appends (or prepends) to one variable into one line where that cannot change
the value (`guard/coalesce.py`). `replay_plan` keeps rez's script byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from rez.shells import Shell

from guard.coalesce import join_pend_runs
from guard.errors import LaunchFailed
from guard.plan import Action, Op, StartupPlan
from shells import adapter_for
from shells.analysis import PlanAnalysis, analyze_plan
from shells.cache import launch_values
from shells.rez_script import action_value

logger = logging.getLogger(__name__)


def _replay(shell: Shell, action: Action) -> None:
    op = action.op
    if op in (Op.SETENV, Op.PREPENDENV, Op.APPENDENV):
        # rez's Unix shells have no prependenv or appendenv: its executor joins the
        # value with a reference to the variable and calls setenv.
        shell.setenv(action.key, action_value(shell, action))
    elif op is Op.UNSETENV:
        shell.unsetenv(action.key)
    elif op is Op.RESETENV:
        # rez 3.4's Unix shells mean resetenv as setenv, but write a None line that makes
        # rez-env itself fail; the guard writes the setenv they mean.
        shell.setenv(action.key, action_value(shell, action))
    elif op is Op.ALIAS:
        shell.alias(action.key, action.text)
    elif op is Op.SOURCE:
        shell.source(action_value(shell, action))
    elif op is Op.COMMAND:
        # rez passes commands on unformatted and its shells reject an EscapedString here.
        shell.command(list(action.argv) if action.argv is not None else action.text)
    elif op is Op.INFO:
        shell.info(action_value(shell, action))
    elif op is Op.ERROR:
        shell.error(action_value(shell, action))
    elif op is Op.COMMENT:
        shell.comment(action.text)
    elif op is Op.SHEBANG:
        shell.shebang()
    elif op is Op.SAFEREFENV:
        shell._saferefenv(action.key)


def replay_plan(plan: StartupPlan) -> str:
    """Return the context script made only from the plan's recorded actions, without any check."""
    shell = adapter_for(plan.shell).render_plugin()
    for action in plan.actions:
        _replay(shell, action)
    return shell.get_output()


def render_script(plan: StartupPlan, analysis: PlanAnalysis | None = None,
                  environ: Mapping[str, str] | None = None, session_folder: Path | None = None) -> str:
    """Return the context script for the plan's shell, or raise LaunchFailed if the shell cannot carry it.

    `analysis` is the plan's analysis for its shell; without one it is made from
    `environ`, the environment the shell starts with. The session folder and rez's
    timestamps are masked when a passed syntax check is remembered, so the next
    launch of the context skips the check.
    """
    if analysis is None:
        analysis = analyze_plan(plan, environ or {})
    if analysis.problems:
        problem = analysis.problems[0]
        logger.debug("%d values cannot be carried by %s", len(analysis.problems), plan.shell)
        raise LaunchFailed(problem.message())
    # One line per run of appends or prepends to a variable, where joining them keeps the value
    # the shell ends with, rather than one line per action as rez writes them.
    adapter = adapter_for(plan.shell)
    actions = join_pend_runs(plan.actions, adapter.render_plugin(), adapter.max_joined_length)
    plan = replace(plan, actions=tuple(actions))
    script = replay_plan(plan)
    error = adapter.check_syntax(script, launch_values(plan.environ, session_folder))
    if error is not None:
        first_line = error.splitlines()[0]
        raise LaunchFailed(f"{plan.shell} cannot parse the context script ({first_line}); "
                           "change the package or launch with another --shell")
    return script
