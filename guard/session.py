"""One guarded launch, from request to shell exit: the pipeline of docs/design.md.

`run_session` calls each stage in order and writes the audit records. It never
prints: everything shown to the user goes through the `LaunchUI` it is given,
and errors are raised as `GuardError` for the CLI to turn into exit codes.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import field, replace
from pathlib import Path
from typing import Any, Protocol

from guard import integrity
from guard.assess import assess
from guard.audit import AuditSession
from guard.decide import (
    Decision,
    DecidedBy,
    PromptAborted,
    Verdict,
    decide_without_prompt,
    needs_typed_approval,
)
from guard.envdiff import EnvDiff, diff_environ
from guard.errors import (
    Denied,
    ExitCode,
    GuardError,
    IntegrityAlert,
    InternalError,
    PackageError,
    ResolveFailed,
    UsageError,
)
from guard.fastclass import dataclass
from guard.findings import Finding
from guard.hostfacts import find_os_name, find_system_paths
from guard.fingerprint import fingerprint
from guard.isolation import run_isolated
from guard.launch import SessionDir, check_sourced_unchanged, spawn_shell, with_sourced_files
from guard.monitor import Backend, become_subreaper, import_backend, prepare, termination_signals
from guard.paths import GuardPaths
from guard.plan import StartupPlan
from guard.policy import Policy
from guard.preview import PreviewOptions, printable, render_preview, summary_line
from guard.render import render_script
from guard.request import LaunchRequest
from guard.resolve import ResolveOutcome, SessionFiles, package_paths, resolve_and_record
from guard.sandbox import SandboxReport, SandboxSummary, build_options
from guard.sandbox.findings import SandboxOutcome, denial_findings, describe_denials
from guard.sandbox.rezwork import prepare_in_parent
from guard.trust import TrustStore, context_identity, context_summary
from guard.verify import Drift, StartupCheck
from guard.watch import audit_emitter, monitor_options, record_monitor_start, record_monitor_stop, signal_name
from shells import adapter_for, startup_files
from shells.analysis import PlanAnalysis, analyze_plan
from shells.cache import ShellCache

logger = logging.getLogger(__name__)

# Failures the child may report, mapped to the error the parent raises. Anything
# else the child sends is treated as an internal error.
_CHILD_FAILURES: dict[str, type[GuardError]] = {
    "ResolveFailed": ResolveFailed,
    "PackageError": PackageError,
    "UsageError": UsageError,
}


class LaunchUI(Protocol):
    """The pipeline's channel to the user, implemented by the CLI on stderr and stdout."""

    def show(self, text: str) -> None:
        """Show text on stderr (preview, summary, notices)."""

    def output(self, text: str) -> None:
        """Write a result to stdout (the JSON preview, an rxt file for `-o -`)."""

    def ask(self, preview: str, details: str, typed: bool) -> Verdict:
        """Ask for approval on the terminal; raise PromptAborted on Ctrl-C or end of input."""

    def show_graph(self, dot: str) -> None:
        """Show a failed resolve's graph (rez-env --fail-graph)."""


@dataclass(frozen=True)
class Collaborators:
    """A session's collaborators: configuration read before any package code ran."""

    paths: GuardPaths
    policy: Policy
    trust: TrustStore
    audit: AuditSession
    ui: LaunchUI
    interactive: bool
    parent_environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], float] = time.time


@dataclass(frozen=True, slots=True)
class Assessment:
    """The plan with everything computed from it before the decision."""

    plan: StartupPlan
    findings: tuple[Finding, ...]
    fingerprint: str
    diff: EnvDiff
    identity: str
    analysis: PlanAnalysis
    sandbox: SandboxSummary = field(default_factory=SandboxSummary)
    notices: tuple[str, ...] = ()


def run_session(request: LaunchRequest, parts: Collaborators) -> int:
    """Run one guarded launch and return the exit code (the shell's, when one ran)."""
    started = parts.clock()
    parts.audit.emit(
        "session.start",
        submitcwd=os.getcwd(),
        runargv=list(request.runargv),
        request=list(request.packages),
        shell=request.shell,
        package_paths=request.paths.split(os.pathsep) if request.paths else [],
        rxt_file=request.input,
        mode=request.mode,
        command=request.command_text,
        isolated=True,
        route="env",
    )
    try:
        exit_code, process_count = _run_stages(request, parts)
    except BaseException as error:
        record_failure(parts.audit, error, parts.clock() - started)
        raise
    return record_shell_end(parts.audit, exit_code, parts.clock() - started, process_count)


def record_failure(audit: AuditSession, error: BaseException, run_time: float) -> int:
    """Write the `error` and `session.end` records of a launch that ended without a shell; return its exit code."""
    if isinstance(error, GuardError):
        exit_code, message = int(error.exit_code), error.message
    else:
        exit_code, message = int(ExitCode.INTERNAL_ERROR), str(error)
    audit.emit("error", error=type(error).__name__, message=message, exit_code=exit_code)
    audit.emit("session.end", exit_value=exit_code, signal=None, run_time=round(run_time, 6), process_count=0)
    return exit_code


def record_shell_end(audit: AuditSession, exit_code: int, run_time: float, process_count: int) -> int:
    """Write `session.end` for a shell that exited; return the code to exit with (128 + N for signal N)."""
    signal_number = -exit_code if exit_code < 0 else None
    audit.emit("session.end", exit_value=exit_code if exit_code >= 0 else None, signal=signal_name(signal_number),
               run_time=round(run_time, 6), process_count=process_count)
    return 128 + signal_number if signal_number else exit_code


def _run_stages(request: LaunchRequest, parts: Collaborators) -> tuple[int, int]:
    session_dir = SessionDir.create(request.shell)
    try:
        outcome, sandbox = _resolve_isolated(request, parts, session_dir)
        if request.output:
            _write_output(request, outcome, parts)
            return 0, 0
        assessment = assess_plan(outcome.plan, request, parts, sandbox)
        if request.preview:
            _show_preview(assessment, request, parts)
            return 0, 0
        decision = decide_launch(assessment, request, parts)
        if not decision.approved:
            raise Denied(f"launch denied ({decision.decided_by.value}): {decision.reason}")
        return _launch(assessment.plan, request, parts, session_dir, outcome, assessment.analysis)
    finally:
        if not request.detached:
            session_dir.remove()


def _resolve_isolated(
    request: LaunchRequest,
    parts: Collaborators,
    session_dir: SessionDir,
) -> tuple[ResolveOutcome, SandboxOutcome]:
    # rez runs programs for these facts, so the shell cache keeps them across launches.
    cache = ShellCache.for_paths(parts.paths)
    find_system_paths(request.shell, cache)
    find_os_name(cache)
    prepare_in_parent()
    files = SessionFiles(rxt_file=str(session_dir.rxt_file), context_file=str(session_dir.context_file))
    environ = dict(parts.parent_environ)
    protected = [Path(path) for path in parts.policy.protected_paths] or list(parts.paths.protected_dirs)
    options = build_options(parts.paths, package_paths(request), protected=protected)
    # Package code runs in the child and could replace module files the guard imports after the fork.
    import_backend(monitor_options(request.monitor, parts.policy))
    adapter_for(request.shell)
    # While the lock is held no concurrent guard writes the shell cache, which the snapshots would see.
    with cache.recording():
        before = integrity.snapshot(protected)
        # The trust store is read while the child runs, so reading a large store overlaps the child's work.
        result = run_isolated(lambda: resolve_and_record(request, files, environ).to_dict(), options,
                              while_child_runs=parts.trust.check)
        # Snapshot before writing any record: appending to the audit log changes files in the guard's folders.
        changed = integrity.changed_paths(before, integrity.snapshot(protected))
    report = result.report
    changed += [change for change in report.protected_changes if change not in changed]
    if report.output:
        parts.ui.show(_child_output_text(report))
    # The layers are known once the child has run; probing them before would cost a fork per launch.
    parts.audit.emit("sandbox", **report.to_dict())
    if changed:
        parts.audit.emit("alert", message="package code changed the guard's own folders while it ran", paths=changed)
        raise IntegrityAlert(
            f"package code changed {changed[0]} while the context was recorded ({len(changed)} paths changed); "
            "the launch is denied: inspect the packages and `rez-guard audit show`")
    # A blocked attempt on the guard is recorded as an alert; its finding (`sandbox.guard-tamper`,
    # block by default) lets the policy deny the launch.
    attempts = integrity.deepest_first(denied.target for denied in report.denied if denied.against_guard)
    if attempts:
        parts.audit.emit("alert", message="package code tried to change the guard's own folders or process",
                         paths=attempts)
    if result.failure is not None:
        error_type = _CHILD_FAILURES.get(result.failure.kind, InternalError)
        denials = describe_denials(report.denied)
        raise error_type(f"{result.failure.message}; {denials}" if denials else result.failure.message)

    outcome = ResolveOutcome.from_dict(result.value)
    if not outcome.solved:
        parts.ui.show(outcome.failure_text.rstrip())
        if outcome.graph_dot:
            parts.ui.show_graph(outcome.graph_dot)
        raise ResolveFailed("resolve failed: no set of package versions satisfies the request; see the conflict above")
    variants = outcome.plan.variants if outcome.plan is not None else ()
    findings = denial_findings(report.denied, parts.policy.severity, variants)
    return outcome, SandboxOutcome(report.summary, findings)


def _child_output_text(report: SandboxReport) -> str:
    # What rez and package code printed, escaped line by line so it cannot drive the terminal.
    lines = [printable(line) for line in report.output.rstrip("\n").split("\n")]
    if report.output_truncated:
        lines.append("(output of the recording child truncated)")
    return "\n".join(lines)


def _write_output(request: LaunchRequest, outcome: ResolveOutcome, parts: Collaborators) -> None:
    if request.output == "-":
        parts.ui.output(outcome.rxt_text)
        return
    try:
        Path(request.output).write_text(outcome.rxt_text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write the context to {request.output}: {error.strerror}") from error


def assess_plan(
    plan: StartupPlan | None,
    request: LaunchRequest,
    parts: Collaborators,
    sandbox: SandboxOutcome | None = None,
) -> Assessment:
    """Add sourced-file snapshots and startup files to the plan, then compute findings, fingerprint and env diff.

    `sandbox` carries what the recording child's sandbox denied; launches through
    rez's shell plugins had no child and pass none.
    """
    if plan is None:
        raise InternalError("the recording child returned no plan for a solved context")
    if sandbox is None:
        sandbox = SandboxOutcome(SandboxSummary())
    plan = with_sourced_files(plan, parts.parent_environ)
    command = request.command_text
    plan = replace(plan, startup_files=startup_files(
        plan.shell, request.rcfile, request.norc, request.stdin, command, parts.parent_environ))
    findings = (*assess(plan, parts.policy), *sandbox.findings)
    return Assessment(
        plan=plan,
        findings=findings,
        fingerprint=fingerprint(plan),
        diff=diff_environ(plan, parts.parent_environ),
        identity=context_identity(plan),
        analysis=analyze_plan(plan, parts.parent_environ),
        sandbox=sandbox.summary,
        notices=_launch_notices(request, parts.policy),
    )


def _launch_notices(request: LaunchRequest, policy: Policy) -> tuple[str, ...]:
    if monitor_options(request.monitor, policy).backend is Backend.PTRACE:
        return ("monitor: ptrace traces every process of this shell, so debuggers and strace cannot attach "
                "to them; use --monitor poll to debug",)
    return ()


def preview_document(assessment: Assessment) -> dict[str, Any]:
    """Return the JSON preview: the plan and everything computed from it."""
    return {
        "fingerprint": assessment.fingerprint,
        "identity": assessment.identity,
        "env_diff": assessment.diff.to_dict(),
        "findings": [finding.to_dict() for finding in assessment.findings],
        "sandbox": assessment.sandbox.to_dict(),
        "plan": assessment.plan.to_dict(),
        "shell_analysis": assessment.analysis.to_dict(),
    }


def _show_preview(assessment: Assessment, request: LaunchRequest, parts: Collaborators) -> None:
    if request.json:
        parts.ui.output(json.dumps(preview_document(assessment), indent=2, ensure_ascii=False))
        return
    parts.ui.show(_preview_text(assessment, show_rez=request.show_rez))


def _preview_text(assessment: Assessment, show_rez: bool) -> str:
    options = PreviewOptions(show_rez=show_rez, fingerprint=assessment.fingerprint)
    lines = [render_preview(assessment.plan, assessment.diff, assessment.findings, options, assessment.analysis)]
    lines.append(f"  {printable(assessment.sandbox.describe())}")
    lines.extend(f"  {printable(notice)}" for notice in assessment.notices)
    return "\n".join(lines)


def decide_launch(assessment: Assessment, request: LaunchRequest, parts: Collaborators) -> Decision:
    """Decide from the trust store, the policy or the prompt; audit and remember the decision."""
    trust_state = parts.trust.lookup(assessment.fingerprint, assessment.identity)
    decision = decide_without_prompt(
        assessment.findings, trust_state, parts.policy, yes=request.yes, interactive=parts.interactive)
    remember_denial = False
    if decision is None:
        try:
            verdict = parts.ui.ask(
                _preview_text(assessment, show_rez=request.show_rez),
                _preview_text(assessment, show_rez=True),
                typed=needs_typed_approval(assessment.findings),
            )
        except PromptAborted as aborted:
            decision = Decision(Verdict.DENY, DecidedBy.USER, f"{aborted}; nothing is remembered")
        else:
            # An explicit "deny" is remembered for this context, so it is not asked again.
            remember_denial = verdict is Verdict.DENY
            reason = ("denied at the prompt; run `rez-guard trust list` and `rez-guard trust forget ID` "
                      "to be asked again") if remember_denial else "answered at the prompt"
            decision = Decision(verdict, DecidedBy.USER, reason)
    elif decision.decided_by is DecidedBy.TRUST_STORE and decision.approved:
        parts.ui.show(summary_line(assessment.plan, assessment.diff, assessment.fingerprint))
    else:
        parts.ui.show(_preview_text(assessment, show_rez=request.show_rez))

    plan = assessment.plan
    parts.audit.emit(
        "decision",
        decision=decision.verdict.value,
        decided_by=decision.decided_by.value,
        reason=decision.reason,
        fingerprint=assessment.fingerprint,
        resolved=[variant.qualified_name for variant in plan.variants],
        variants=[{"qualified_name": variant.qualified_name, "uri": variant.uri, "root": variant.root,
                   "repository": variant.repository} for variant in plan.variants],
        findings=[{"rule": f.rule, "severity": f.severity.label, "message": f.message} for f in assessment.findings],
        env_diff=assessment.diff.to_dict(),
        # The audit log drops these unless the policy sets log_values, and redacts secrets.
        env_values={name: plan.environ.get(name) for name in (*assessment.diff.added, *assessment.diff.changed)},
    )
    if decision.verdict is Verdict.APPROVE_REMEMBER:
        parts.trust.remember(assessment.fingerprint, assessment.identity, context_summary(plan))
    elif remember_denial:
        parts.trust.deny(assessment.identity, context_summary(plan))
    return decision


def _ignore_signal(signum: int, frame: object) -> None:
    logger.debug("signal %d passed on to the shell", signum)


def _launch(
    plan: StartupPlan,
    request: LaunchRequest,
    parts: Collaborators,
    session_dir: SessionDir,
    outcome: ResolveOutcome,
    analysis: PlanAnalysis,
) -> tuple[int, int]:
    script = render_script(plan, analysis, session_folder=session_dir.path)
    check_sourced_unchanged(plan)
    options = monitor_options(request.monitor, parts.policy)
    rxt_file = plan.environ.get("REZ_RXT_FILE", str(session_dir.rxt_file))

    def report_drift(drift: Drift) -> None:
        parts.ui.show(drift.line())
        parts.audit.emit("drift", variables=list(drift.variables), detail=drift.detail)

    adapter = adapter_for(plan.shell)
    check = StartupCheck(session_dir.path, analysis, parts.parent_environ, adapter, report_drift)

    # From here a SIGTERM or SIGHUP to the guard is only recorded, so session.end is still written.
    with termination_signals() as signals:
        prepared = prepare(options)
        record_monitor_start(parts.audit, prepared, options)
        if prepared.backend is not Backend.OFF:
            become_subreaper()
        spawn = prepared.spawn if prepared.spawns_shell else None
        process = spawn_shell(plan, request, session_dir, script, outcome.rxt_text, rxt_file, spawn=spawn,
                              plugin=adapter.spawn_plugin(check.probe))
        check.start()
        monitor = prepared.start(process.pid, audit_emitter(parts.audit))
        # Ctrl-C belongs to the shell, which shares the terminal's process group. A Python
        # handler (unlike SIG_IGN) is reset to the default in the shell when it execs.
        previous = signal.signal(signal.SIGINT, _ignore_signal)
        try:
            exit_code = signals.wait(process)
        finally:
            signal.signal(signal.SIGINT, previous)
            summary = monitor.stop()
            record_monitor_stop(parts.audit, summary)
            check.stop()
    return exit_code, summary.processes_seen
