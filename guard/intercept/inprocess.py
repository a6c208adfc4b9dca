"""A guarded launch inside rez's own process: the route of suite tools, rez-build, rez-test and execute_shell.

By the time rez calls a shell plugin's `spawn_shell`, it has resolved the
context and run the packages' Python in this process, so nothing here is
isolated: package code could already have changed this process, including
rez-guard's own modules and `os.environ`. The preview and the audit record say
so (`isolated: false` in the audit record, `isolation: none` in the preview). What the guard still does is the rest of the pipeline:
show the recorded plan, decide (prompt, trust store, policy), render the
approved plan into the context file, start the shell, monitor it and audit.

`spawn_shell` must return the shell's process at once (callers may read its
pipes or not wait at all), so a thread waits for the shell, stops the monitor
and writes the `session.end` record.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import field, replace
from pathlib import Path
from typing import Any

from guard.cli.env import load_collaborators
from guard.decide import Decision, DecidedBy, Verdict
from guard.errors import GuardError
from guard.fastclass import dataclass
from guard.intercept.errors import InterceptError, LaunchVetoed
from guard.intercept.plain import create_plain_shell
from guard.intercept.site import LaunchSite
from guard.intercept.versions import check_rez_version
from guard.launch import check_sourced_unchanged
from guard.monitor import Monitor, prepare
from guard.watch import audit_emitter, monitor_options, record_monitor_start, record_monitor_stop
from guard.plan import Action, Op, Phase, Segment, StartupPlan
from guard.record import build_plan
from guard.render import render_script
from guard.request import LaunchRequest
from guard.session import (
    Assessment,
    Collaborators,
    LaunchUI,
    assess_plan,
    decide_launch,
    record_failure,
    record_shell_end,
)

logger = logging.getLogger(__name__)

ISOLATION = "none"
ROUTE = "shell-plugin"


@dataclass(frozen=True)
class SpawnArguments:
    """The arguments rez passed to `spawn_shell`, kept to start the approved shell with them."""

    shell: str
    context_file: str
    tmpdir: str
    rcfile: str | None = None
    norc: bool = False
    stdin: Any = False
    command: str | None = None
    env: Mapping[str, str] | None = None
    quiet: bool = False
    pre_command: str | list[str] | None = None
    add_rez: bool = True
    package_commands_sourced_first: bool | None = None
    popen_args: Mapping[str, Any] = field(default_factory=dict)


class IsolationNoticeUI:
    """A LaunchUI that puts the `isolation: none` notice above everything it shows about the plan."""

    def __init__(self, ui: LaunchUI, notice: str) -> None:
        self._ui = ui
        self._notice = notice

    def show(self, text: str) -> None:
        self._ui.show(f"{self._notice}\n{text}" if text else self._notice)

    def output(self, text: str) -> None:
        self._ui.output(text)

    def ask(self, preview: str, details: str, typed: bool) -> Verdict:
        return self._ui.ask(f"{self._notice}\n{preview}", f"{self._notice}\n{details}", typed)


# rez's suite tools are scripts run by this forwarding program, with the tool's path as the first argument.
_SUITE_FORWARDER = "_rez_fwd"


def caller_name(argv: Sequence[str]) -> str:
    """Return the program that called rez, as the user would name it (rez-build, a suite tool, a script)."""
    if not argv or not argv[0]:
        return "python"
    program = Path(argv[0]).name
    if program == _SUITE_FORWARDER and len(argv) > 1:
        return f"suite tool {Path(argv[1]).name}"
    return program


def isolation_notice(caller: str) -> str:
    """Return the preview's first line for a launch that rez-guard could not isolate."""
    return (f"rez-guard: isolation: none ({caller} already ran the packages' Python in its own process "
            "before rez-guard saw the plan)")


def opaque_plan(shell: str, context_file: str) -> StartupPlan:
    """Return the plan of a context file that rez-guard did not see being written: one `source` of it."""
    source = Action(op=Op.SOURCE, phase=Phase.REZ, value=(Segment(context_file, literal=True),))
    return StartupPlan(shell=shell, request=(), variants=(), actions=(source,))


def recorded_plan(spawn: SpawnArguments, actions: Sequence[Action], site: LaunchSite) -> StartupPlan:
    """Return the plan of this launch: the recorded actions, or the context file when rez did not call."""
    if site.context is None:
        return opaque_plan(spawn.shell, spawn.context_file)
    return build_plan(site.context, spawn.shell, actions, site.environ)


def launch_request(plan: StartupPlan, spawn: SpawnArguments, argv: Sequence[str]) -> LaunchRequest:
    """Describe this launch as a LaunchRequest, for the assessment and the audit log."""
    pre_command = spawn.pre_command
    if isinstance(pre_command, list):
        pre_command = " ".join(pre_command)
    return LaunchRequest(
        packages=plan.request,
        shell=spawn.shell,
        rcfile=spawn.rcfile,
        norc=spawn.norc,
        command=spawn.command,
        stdin=bool(spawn.stdin),
        quiet=spawn.quiet,
        pre_command=pre_command,
        runargv=tuple(argv),
    )


def has_terminal(spawn: SpawnArguments) -> bool:
    """True when the prompt can be answered: stdin is a terminal and the shell will not read it."""
    if spawn.stdin or spawn.popen_args.get("stdin") is not None:
        return False
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:
        return False


def veto_message(decision: Decision, assessment: Assessment, shell: str) -> str:
    """Return the one-line reason for a denied launch, saying how to approve it."""
    denied = f"rez-guard denied this {shell} shell (fingerprint {assessment.fingerprint[:12]})"
    if decision.decided_by is DecidedBy.NO_TERMINAL:
        approval_hint = ("to approve it, run the same command once from a terminal and answer 'remember', "
                         "or set a non-interactive rule in the rez-guard policy")
        return f"{denied}: not approved before and no terminal to ask; {approval_hint}"
    if decision.decided_by is DecidedBy.USER:
        return f"{denied}: denied at the prompt; run the command again to be asked again"
    return f"{denied}: {decision.reason}"


def _collaborators(spawn: SpawnArguments, request: LaunchRequest, notice: str) -> Collaborators:
    parts = load_collaborators(request)
    environ = dict(os.environ) if spawn.env is None else {str(k): str(v) for k, v in spawn.env.items()}
    return replace(parts, ui=IsolationNoticeUI(parts.ui, notice), interactive=has_terminal(spawn),
                   parent_environ=environ)


def launch_in_process(spawn: SpawnArguments, actions: Sequence[Action], site: LaunchSite) -> subprocess.Popen:
    """Run the guard's stages on a plan recorded in this process; return the started shell.

    Raises LaunchVetoed when the launch is denied, and InterceptError (also a
    RezError) for every other failure, after writing the audit records.
    """
    check_rez_version()
    plan = recorded_plan(spawn, actions, site)
    request = launch_request(plan, spawn, sys.argv)
    caller = caller_name(sys.argv)
    try:
        parts = _collaborators(spawn, request, isolation_notice(caller))
    except GuardError as error:
        raise InterceptError(error.message) from error

    started = parts.clock()
    parts.audit.emit(
        "session.start",
        submitcwd=os.getcwd(),
        runargv=list(request.runargv),
        request=list(request.packages),
        shell=request.shell,
        package_paths=list(plan.package_paths),
        rxt_file=plan.environ.get("REZ_RXT_FILE"),
        mode=request.mode,
        command=request.command_text,
        isolated=False,
        route=ROUTE,
        caller=caller,
    )
    try:
        process, monitor = _approve_and_spawn(plan, request, parts, spawn, site)
    except BaseException as error:
        # NOTE: in rez's command-line tools, Ctrl-C at the prompt runs rez's own SIGINT handler, which
        # exits 1 at once: recorded here as SystemExit, and no shell starts, but it is not a `deny` answer.
        record_failure(parts.audit, error, parts.clock() - started)
        if isinstance(error, GuardError) and not isinstance(error, InterceptError):
            raise InterceptError(error.message) from error
        raise

    watcher = threading.Thread(
        target=_watch_shell, args=(process, monitor, parts, started), name="rez-guard-shell-watch")
    # Not a daemon: the interpreter waits for it at exit, so session.end is written after a blocking launch.
    watcher.start()
    return process


def _approve_and_spawn(
    plan: StartupPlan,
    request: LaunchRequest,
    parts: Collaborators,
    spawn: SpawnArguments,
    site: LaunchSite,
) -> tuple[subprocess.Popen, Monitor | None]:
    assessment = assess_plan(plan, request, parts)
    decision = decide_launch(assessment, request, parts)
    if not decision.approved:
        raise LaunchVetoed(veto_message(decision, assessment, spawn.shell))

    if site.from_execute_shell:
        _write_context(spawn.context_file, render_script(assessment.plan))
    check_sourced_unchanged(assessment.plan)
    options = monitor_options(request.monitor, parts.policy)
    prepared = prepare(options)
    record_monitor_start(parts.audit, prepared, options)
    # NOTE: unlike `rez-guard env`, this does not make the caller a child subreaper: the caller is
    # someone else's program, which would then have to reap orphans it never started.
    try:
        process = create_plain_shell(spawn.shell).spawn_shell(
            spawn.context_file,
            spawn.tmpdir,
            rcfile=spawn.rcfile,
            norc=spawn.norc,
            stdin=spawn.stdin,
            command=spawn.command,
            env=spawn.env,
            quiet=spawn.quiet,
            pre_command=spawn.pre_command,
            add_rez=spawn.add_rez,
            package_commands_sourced_first=spawn.package_commands_sourced_first,
            **spawn.popen_args,
        )
    except Exception as error:  # rez wraps OS errors in RezSystemError; both end the launch
        raise InterceptError(f"cannot start {spawn.shell}: {error}") from error

    return process, prepared.start(process.pid, audit_emitter(parts.audit))


def _write_context(context_file: str, script: str) -> None:
    # rez wrote the same script from the same calls; writing the rendered plan makes the approved text the one run.
    path = Path(context_file)
    if path.read_text(encoding="utf-8") != script:
        logger.debug("the rendered plan differs from rez's context file %s; launching the rendered plan",
                     context_file)
    path.write_text(script, encoding="utf-8")


def _watch_shell(process: subprocess.Popen, monitor: Monitor | None, parts: Collaborators, started: float) -> None:
    try:
        exit_code = process.wait()
        summary = monitor.stop() if monitor is not None else None
        if summary is not None:
            record_monitor_stop(parts.audit, summary)
        record_shell_end(parts.audit, exit_code, parts.clock() - started,
                         summary.processes_seen if summary else 0)
    except Exception:  # a failing audit write must not kill the caller's process from this thread
        logger.exception("cannot write the session.end record of pid %s", process.pid)
