"""Run rendered context scripts in real shells and read their environment back.

The property tests build small startup plans and render them with the guard's
renderer. This module runs the script in the target shell the way rez's startup
script sources it, then reads the environment with `env -0`, as the check after
launch does.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from guard.envdiff import diff_environ
from guard.plan import Action, Op, Phase, ResolvedVariant, Segment, StartupPlan
from guard.preview import PreviewOptions, render_preview
from guard.verify import parse_environ
from shells.analysis import PlanAnalysis, analyze_plan

CSH_FAMILY = ("tcsh", "csh")
ENV_PROGRAM = shutil.which("env") or "/usr/bin/env"
VARIANT = "fidelity-1.0[]"


@dataclass(frozen=True)
class ShellRun:
    """What one run of a context script left behind: the environment, or None, and stderr."""

    environ: dict[str, str] | None
    stderr: str


def action(op: Op, key: str | None = None, text: str = "", literal: bool = False) -> Action:
    """Return an action as a package's commands() records it."""
    value = (Segment(text, literal),) if op not in (Op.UNSETENV, Op.SAFEREFENV) else ()
    return Action(op=op, phase=Phase.COMMANDS, variant=VARIANT, key=key, value=value)


def plan_of(shell: str, actions: Sequence[Action]) -> StartupPlan:
    """Return a startup plan of one package with these actions."""
    variant = ResolvedVariant(qualified_name=VARIANT, name="fidelity", version="1.0", uri="memory:fidelity",
                              root="/nonexistent/fidelity/1.0", repository="memory", is_local=False)
    return StartupPlan(shell=shell, request=("fidelity",), variants=(variant,), actions=tuple(actions))


def preview_of(plan: StartupPlan, analysis: PlanAnalysis, environ: Mapping[str, str]) -> str:
    """Return the preview text the user approves."""
    return render_preview(plan, diff_environ(plan, environ), (), PreviewOptions(show_rez=True), analysis)


def analyze(plan: StartupPlan, environ: Mapping[str, str]) -> PlanAnalysis:
    """Return the plan's analysis for its shell."""
    return analyze_plan(plan, environ)


def run_script(shell: str, script: str, environ: Mapping[str, str], folder: Path,
               interactive: bool = False) -> ShellRun:
    """Source `script` in `shell` started with `environ` and return the environment it leaves."""
    folder.mkdir(parents=True, exist_ok=True)
    extension = "csh" if shell in CSH_FAMILY else "sh"
    context = folder / f"context.{extension}"
    context.write_text(script, encoding="utf-8")
    output = folder / "environ.out"
    output.unlink(missing_ok=True)
    source = "source" if shell in CSH_FAMILY else "."
    driver = folder / f"driver.{extension}"
    driver.write_text(f"{source} '{context}'\n{ENV_PROGRAM} -0 > '{output}'\n", encoding="utf-8")
    # The shell is found on the test's PATH: the environment given to it may hold any PATH.
    command = [shutil.which(shell) or shell]
    if shell in CSH_FAMILY or shell == "zsh":
        command.append("-f")
    stdin = subprocess.DEVNULL
    if interactive:
        # An interactive csh substitutes `!` history references on the lines it reads, also in
        # a sourced file. Reading the driver from standard input with -i makes it interactive.
        command.append("-i")
        with driver.open("rb") as handle:
            result = subprocess.run(command, stdin=handle, capture_output=True, env=dict(environ),
                                    cwd=folder, timeout=60)
    else:
        result = subprocess.run([*command, str(driver)], stdin=stdin, capture_output=True,
                                env=dict(environ), cwd=folder, timeout=60)
    stderr = result.stderr.decode("utf-8", "replace")
    if not output.exists():
        return ShellRun(None, stderr)
    return ShellRun(parse_environ(output.read_bytes()), stderr)
