"""Time the guard's hot-path stages inside one process, on real resolved contexts.

Each figure is the median wall time of several calls. The launch comparison in
launch_bench.py times whole processes; these figures say where the time inside
them goes.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from rez.resolved_context import ResolvedContext
from rez.shells import create_shell

from bench.repositories import GeneratedContext, write_append_repository
from guard import integrity
from guard.assess import assess
from guard.audit import AuditOptions, AuditSession, open_audit_log
from guard.cli.env import default_shell
from guard.envdiff import diff_environ
from guard.fingerprint import fingerprint
from guard.paths import GuardPaths
from guard.plan import StartupPlan
from guard.policy import load_policy
from guard.preview import PreviewOptions, render_preview, summary_line
from guard.record import RecordingSettings, detect_system_paths, record_plan
from guard.render import render_script
from guard.trust import TrustStore, context_identity
from shells.analysis import analyze_plan

FIXED_TIME = 1_700_000_000.0
REPEAT = 9


def median_time(task: Callable[[], object], repeat: int = REPEAT) -> float:
    """Return the median CPU time of `task` in seconds over `repeat` calls."""
    return statistics.median(_cpu_times(task, repeat))


def min_time(task: Callable[[], object], repeat: int = REPEAT) -> float:
    """Return the least CPU time of `task` in seconds over `repeat` calls: the cost without interference."""
    return min(_cpu_times(task, repeat))


def _cpu_times(task: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        task()
        times.append(time.process_time() - started)
    return times


def _resolve(context: GeneratedContext) -> ResolvedContext:
    resolved = ResolvedContext(list(context.request), package_paths=[str(context.repository)])
    if not resolved.success:
        raise SystemExit(f"cannot resolve {' '.join(context.request)} in {context.repository}")
    return resolved


def _settings(shell: str, environ: Mapping[str, str]) -> RecordingSettings:
    return RecordingSettings(shell=shell, rxt_file="/tmp/bench/context.rxt", context_file="/tmp/bench/context.sh",
                             interactive=False, parent_environ=dict(environ))


def _rez_record(resolved: ResolvedContext, settings: RecordingSettings) -> None:
    # rez's own executor on rez's shell plugin: the steps execute_shell runs before writing the script.
    executor = resolved._create_executor(create_shell(settings.shell), settings.parent_environ)
    resolved._execute(executor)
    executor.get_output()


def measure_appends(root: Path, environ: Mapping[str, str], shell: str, appends: int = 1000) -> dict[str, float]:
    """Time recording a context whose one package appends `appends` entries to PATH."""
    resolved = _resolve(write_append_repository(root / f"appends{appends}", appends))
    settings = _settings(shell, environ)
    gc.freeze()
    return {
        f"record {appends} appends to PATH (rez-guard)": median_time(
            lambda: record_plan(resolved, settings, lambda: FIXED_TIME), 21),
        f"record {appends} appends to PATH (rez-guard), least of 21": min_time(
            lambda: record_plan(resolved, settings, lambda: FIXED_TIME), 21),
        f"record {appends} appends to PATH (rez's executor)": median_time(
            lambda: _rez_record(resolved, settings), repeat=3),
    }


def measure_context(context: GeneratedContext, environ: Mapping[str, str], shell: str) -> dict[str, float]:
    """Time each stage the parent runs on a trusted launch of `context`, and its preview."""
    resolved = _resolve(context)
    settings = _settings(shell, environ)
    plan = record_plan(resolved, settings, lambda: FIXED_TIME)
    paths = GuardPaths.from_environ(environ)
    policy = load_policy(paths)
    findings = assess(plan, policy)
    diff = diff_environ(plan, environ)
    trust = TrustStore(paths.trust_store)
    payload = json.dumps({"value": plan.to_dict()}, ensure_ascii=False)
    digest = fingerprint(plan)
    identity = context_identity(plan)
    label = f"{len(plan.variants)} packages, {len(plan.actions)} actions"
    analysis = analyze_plan(plan, environ)

    def preview_and_fingerprint() -> None:
        digest = fingerprint(plan)
        render_preview(plan, diff_environ(plan, environ), findings, PreviewOptions(fingerprint=digest))

    audit = AuditSession(open_audit_log(AuditOptions(path=paths.state_dir / "bench-audit.jsonl")))
    gc.freeze()
    return {
        f"preview + fingerprint ({label})": median_time(preview_and_fingerprint, 21),
        f"preview + fingerprint ({label}), least of 21": min_time(preview_and_fingerprint, 21),
        "  fingerprint": median_time(lambda: fingerprint(plan)),
        "  env diff": median_time(lambda: diff_environ(plan, environ)),
        "  full preview text": median_time(
            lambda: render_preview(plan, diff, findings, PreviewOptions(fingerprint="0" * 64))),
        "  summary line": median_time(lambda: summary_line(plan, diff, "0" * 64)),
        "record plan in the child": median_time(lambda: record_plan(resolved, settings, lambda: FIXED_TIME), 5),
        "plan to JSON in the child": median_time(lambda: json.dumps({"value": plan.to_dict()}, ensure_ascii=False)),
        "plan from JSON in the parent": median_time(lambda: StartupPlan.from_dict(json.loads(payload)["value"])),
        "assess": median_time(lambda: assess(plan, policy)),
        "trust lookup": median_time(lambda: trust.lookup(digest, identity)),
        "analyse the values for the shell": median_time(lambda: analyze_plan(plan, environ)),
        "render script (analysis given)": median_time(lambda: render_script(plan, analysis)),
        "snapshot of the guard's folders": median_time(lambda: integrity.snapshot(paths.protected_dirs)),
        "one audit record": median_time(lambda: audit.emit("alert", message="bench", paths=[])),
    }


def measure_shell_floor(appends: GeneratedContext, root: Path, environ: Mapping[str, str], shell: str) -> dict[str, float]:
    """Time the shell alone running the script of `appends`, which rez-env and rez-guard both make it run."""
    plan = record_plan(_resolve(appends), _settings(shell, environ), lambda: FIXED_TIME)
    script = root / f"appends-script.{shell}"
    script.write_text(render_script(plan), encoding="utf-8")
    times = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([shell, "-c", f". {script}; true"], env=dict(environ), check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {f"{shell} running the script of {appends.package_actions} appends, alone": statistics.median(times)}


def measure_inprocess(wide: GeneratedContext, appends: GeneratedContext, root: Path,
                      environ: Mapping[str, str]) -> dict[str, float]:
    """Run every in-process measurement; return seconds by label."""
    shell = default_shell()
    detect_system_paths(shell)
    timings = measure_context(wide, environ, shell)
    timings.update(measure_appends(root, environ, shell))
    timings.update(measure_shell_floor(appends, root, environ, shell))
    return timings
