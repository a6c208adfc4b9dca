"""One guarded launch, from request to shell exit: the pipeline of DESIGN.md.

`run_session` calls each stage in order and writes the audit records. It never
prints: everything shown to the user goes through the `LaunchUI` it is given,
and errors are raised as `GuardError` for the CLI to turn into exit codes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from guard import integrity
from guard.assess import assess
from guard.audit import AuditSession
from guard.decide import Decision, DecidedBy, Verdict, decide_without_prompt, needs_typed_approval
from guard.envdiff import EnvDiff, diff_environ
from guard.errors import (
    Denied,
    GuardError,
    IntegrityAlert,
    InternalError,
    LaunchFailed,
    PackageError,
    ResolveFailed,
    UsageError,
)
from guard.findings import Finding
from guard.fingerprint import fingerprint
from guard.isolation import run_isolated
from guard.launch import SessionDir, check_sourced_unchanged, spawn_shell, with_sourced_files
from guard.monitor import MonitorOptions, ProcessEvent, become_subreaper, prepare
from guard.paths import GuardPaths
from guard.plan import StartupPlan
from guard.policy import Policy
from guard.preview import PreviewOptions, render_preview, summary_line
from guard.record import detect_system_paths
from guard.render import render_script
from guard.request import LaunchRequest
from guard.resolve import ResolveOutcome, SessionFiles, resolve_and_record
from guard.trust import TrustState, TrustStore, context_identity
from guard.verify import Drift, StartupCheck
from shells import adapter_for, startup_files
from shells.analysis import PlanAnalysis, analyze_plan

logger = logging.getLogger(__name__)

# Failures the child may report, mapped to the error the parent raises. Anything
# else the child sends is treated as an internal error.
_CHILD_FAILURES: dict[str, type[GuardError]] = {
    "ResolveFailed": ResolveFailed,
    "PackageError": PackageError,
    "UsageError": UsageError,
}


class LaunchUI(Protocol):
    """How the pipeline talks to the user; the CLI implements it on stderr and stdout."""

    def show(self, text: str) -> None:
        """Show text on stderr (preview, summary, notices)."""

    def output(self, text: str) -> None:
        """Write a result to stdout (the JSON preview, an rxt file for `-o -`)."""

    def ask(self, preview: str, details: str, typed: bool) -> Verdict:
        """Ask for approval on the terminal; Ctrl-C or end of input means deny."""


@dataclass(frozen=True)
class Collaborators:
    """What a session is handed: configuration read before any package code ran."""

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
    )
    try:
        exit_code, process_count = _run_stages(request, parts)
    except GuardError as error:
        parts.audit.emit("error", error=type(error).__name__, message=error.message, exit_code=int(error.exit_code))
        parts.audit.emit("session.end", exit_value=int(error.exit_code), signal=None,
                         run_time=round(parts.clock() - started, 6), process_count=0)
        raise
    except BaseException as error:
        parts.audit.emit("error", error=type(error).__name__, message=str(error), exit_code=70)
        parts.audit.emit("session.end", exit_value=70, signal=None,
                         run_time=round(parts.clock() - started, 6), process_count=0)
        raise
    signal_number = -exit_code if exit_code < 0 else None
    parts.audit.emit("session.end", exit_value=exit_code if exit_code >= 0 else None, signal=signal_number,
                     run_time=round(parts.clock() - started, 6), process_count=process_count)
    return 128 + signal_number if signal_number else exit_code


def _run_stages(request: LaunchRequest, parts: Collaborators) -> tuple[int, int]:
    session_dir = SessionDir.create(request.shell)
    try:
        outcome = _resolve_isolated(request, parts, session_dir)
        if request.output:
            _write_output(request, outcome, parts)
            return 0, 0
        assessment = _assess(outcome.plan, request, parts)
        if request.preview:
            _show_preview(assessment, request, parts)
            return 0, 0
        decision = _decide(assessment, request, parts)
        if not decision.approved:
            raise Denied(f"launch denied ({decision.decided_by.value}): {decision.reason}")
        return _launch(assessment.plan, request, parts, session_dir, outcome, assessment.analysis)
    finally:
        if not request.detached:
            session_dir.remove()


def _resolve_isolated(request: LaunchRequest, parts: Collaborators, session_dir: SessionDir) -> ResolveOutcome:
    detect_system_paths(request.shell)
    files = SessionFiles(rxt_file=str(session_dir.rxt_file), context_file=str(session_dir.context_file))
    environ = dict(parts.parent_environ)
    before = integrity.snapshot(parts.paths.protected_dirs)

    result = run_isolated(lambda: resolve_and_record(request, files, environ).to_dict())

    changed = integrity.changed_paths(before, integrity.snapshot(parts.paths.protected_dirs))
    if changed:
        parts.audit.emit("alert", message="package code changed the guard's own folders while it ran", paths=changed)
        raise IntegrityAlert(
            f"package code changed {changed[0]} while the context was recorded ({len(changed)} paths changed); "
            "the launch is denied: inspect the packages and `rez-guard audit show`")
    if result.failure is not None:
        error_type = _CHILD_FAILURES.get(result.failure.kind, InternalError)
        raise error_type(result.failure.message)

    outcome = ResolveOutcome.from_dict(result.value)
    if not outcome.solved:
        parts.ui.show(outcome.failure_text.rstrip())
        raise ResolveFailed("resolve failed: no set of package versions satisfies the request; see the conflict above")
    return outcome


def _write_output(request: LaunchRequest, outcome: ResolveOutcome, parts: Collaborators) -> None:
    if request.output == "-":
        parts.ui.output(outcome.rxt_text)
        return
    try:
        Path(request.output).write_text(outcome.rxt_text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write the context to {request.output}: {error.strerror}") from error


def _assess(plan: StartupPlan | None, request: LaunchRequest, parts: Collaborators) -> Assessment:
    if plan is None:
        raise InternalError("the recording child returned no plan for a solved context")
    plan = with_sourced_files(plan, parts.parent_environ)
    command = request.command_text
    plan = replace(plan, startup_files=startup_files(
        plan.shell, request.rcfile, request.norc, request.stdin, command, parts.parent_environ))
    findings = assess(plan, parts.policy)
    return Assessment(
        plan=plan,
        findings=findings,
        fingerprint=fingerprint(plan),
        diff=diff_environ(plan, parts.parent_environ),
        identity=context_identity(plan),
        analysis=analyze_plan(plan, parts.parent_environ),
    )


def preview_document(assessment: Assessment) -> dict[str, Any]:
    """Return the JSON preview: the plan and everything computed from it."""
    return {
        "fingerprint": assessment.fingerprint,
        "identity": assessment.identity,
        "env_diff": assessment.diff.to_dict(),
        "findings": [finding.to_dict() for finding in assessment.findings],
        "plan": assessment.plan.to_dict(),
        "shell_analysis": assessment.analysis.to_dict(),
    }


def _show_preview(assessment: Assessment, request: LaunchRequest, parts: Collaborators) -> None:
    if request.json:
        parts.ui.output(json.dumps(preview_document(assessment), indent=2, ensure_ascii=False))
        return
    parts.ui.show(_preview_text(assessment, show_rez=False))


def _preview_text(assessment: Assessment, show_rez: bool) -> str:
    options = PreviewOptions(show_rez=show_rez, fingerprint=assessment.fingerprint)
    return render_preview(assessment.plan, assessment.diff, assessment.findings, options, assessment.analysis)


def _decide(assessment: Assessment, request: LaunchRequest, parts: Collaborators) -> Decision:
    trust_state = parts.trust.lookup(assessment.fingerprint, assessment.identity)
    decision = decide_without_prompt(
        assessment.findings, trust_state, parts.policy, yes=request.yes, interactive=parts.interactive)
    if decision is None:
        verdict = parts.ui.ask(
            _preview_text(assessment, show_rez=False),
            _preview_text(assessment, show_rez=True),
            typed=needs_typed_approval(assessment.findings),
        )
        decision = Decision(verdict, DecidedBy.USER, "answered at the prompt")
    elif decision.decided_by is DecidedBy.TRUST_STORE and decision.approved:
        parts.ui.show(summary_line(assessment.plan, assessment.diff, assessment.fingerprint))
    else:
        parts.ui.show(_preview_text(assessment, show_rez=False))

    plan = assessment.plan
    parts.audit.emit(
        "decision",
        decision=decision.verdict.value,
        decided_by=decision.decided_by.value,
        reason=decision.reason,
        fingerprint=assessment.fingerprint,
        resolved=[variant.qualified_name for variant in plan.variants],
        variants=[{"qualified_name": v.qualified_name, "uri": v.uri, "root": v.root, "repository": v.repository}
                  for v in plan.variants],
        findings=[{"rule": f.rule, "severity": f.severity.label, "message": f.message} for f in assessment.findings],
        env_diff=assessment.diff.to_dict(),
    )
    if decision.verdict is Verdict.APPROVE_REMEMBER:
        parts.trust.remember(assessment.fingerprint, assessment.identity, {
            "request": list(plan.request),
            "resolved": [variant.qualified_name for variant in plan.variants],
            "shell": plan.shell,
            "approved_at": parts.clock(),
        })
    return decision


def _launch(
    plan: StartupPlan,
    request: LaunchRequest,
    parts: Collaborators,
    session_dir: SessionDir,
    outcome: ResolveOutcome,
    analysis: PlanAnalysis,
) -> tuple[int, int]:
    script = render_script(plan, analysis)
    check_sourced_unchanged(plan)
    monitor_options = MonitorOptions()
    if request.monitor:
        monitor_options = replace(monitor_options, backend=type(monitor_options.backend)(request.monitor))
    prepared = prepare(monitor_options)
    become_subreaper()

    def report_drift(drift: Drift) -> None:
        parts.ui.show(drift.line())
        parts.audit.emit("drift", variables=list(drift.variables), detail=drift.detail)

    adapter = adapter_for(plan.shell)
    check = StartupCheck(session_dir.path, analysis, parts.parent_environ, adapter, report_drift)
    rxt_file = plan.environ.get("REZ_RXT_FILE", str(session_dir.rxt_file))
    process = spawn_shell(plan, request, session_dir, script, outcome.rxt_text, rxt_file,
                          adapter.spawn_plugin(check.probe))
    check.start()

    def emit(event: ProcessEvent) -> None:
        try:
            parts.audit.emit(event.kind, **event.to_dict())
        except Exception:  # the monitor thread must keep running when one record fails
            logger.exception("cannot write the %s record of pid %s", event.kind, event.pid)

    monitor = prepared.start(process.pid, emit)
    try:
        exit_code = process.wait()
    except KeyboardInterrupt:
        exit_code = process.wait()
    summary = monitor.stop() if monitor is not None else None
    check.stop()
    if exit_code is None:
        raise LaunchFailed(f"{plan.shell} exited without a status")
    return exit_code, summary.process_count if summary else 0
