"""Resolve a launch request into a rez context, inside the recording child.

Loading package.py files runs package code, so everything here runs in the
forked child (see isolation.py). The result crosses back as plain data: the
plan, the context as rxt text, or a failure description.
"""

from __future__ import annotations

import io
import logging
import os
import time
from typing import Any

from rez.config import config
from rez.exceptions import (
    PackageCommandError,
    PackageFamilyNotFoundError,
    PackageMetadataError,
    PackageNotFoundError,
    PackageRequestError,
    ResourceError,
    RexError,
    RezError,
)
from rez.package_filter import PackageFilterList, Rule
from rez.resolved_context import ResolvedContext
from rez.resolver import ResolverStatus
from rez.utils.formatting import get_epoch_time_from_str

from guard.errors import PackageError, ResolveFailed, UsageError
from guard.fastclass import dataclass
from guard.plan import StartupPlan
from guard.record import RecordingSettings, record_plan
from guard.request import LaunchRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionFiles:
    """Paths the shell will see in REZ_RXT_FILE and REZ_CONTEXT_FILE."""

    rxt_file: str
    context_file: str


@dataclass(frozen=True, slots=True)
class ResolveOutcome:
    """The child's result: the context as rxt text and, when recorded, the plan."""

    solved: bool
    rxt_text: str
    failure_text: str = ""
    graph_dot: str | None = None
    plan: StartupPlan | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "solved": self.solved,
            "rxt_text": self.rxt_text,
            "failure_text": self.failure_text,
            "graph_dot": self.graph_dot,
            "plan": None if self.plan is None else self.plan.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResolveOutcome:
        plan = data.get("plan")
        return cls(
            solved=bool(data["solved"]),
            rxt_text=str(data["rxt_text"]),
            failure_text=str(data.get("failure_text") or ""),
            graph_dot=data.get("graph_dot"),
            plan=None if plan is None else StartupPlan.from_dict(plan),
        )


def package_paths(request: LaunchRequest) -> list[str] | None:
    """Return the package search path rez-env would use for this request, or None for rez's default."""
    if request.paths is None:
        return list(config.nonlocal_packages_path) if request.no_local else None
    return [os.path.expanduser(path) for path in request.paths.split(os.pathsep) if path]


def _package_filter(request: LaunchRequest) -> PackageFilterList:
    package_filter = PackageFilterList() if request.no_filters else PackageFilterList.singleton.copy()
    for rule_text in request.exclude:
        package_filter.add_exclusion(_parse_rule(rule_text))
    for rule_text in request.include:
        package_filter.add_inclusion(_parse_rule(rule_text))
    return package_filter


def _parse_rule(rule_text: str) -> Rule:
    try:
        return Rule.parse_rule(rule_text)
    except RezError as error:
        raise UsageError(f"invalid package filter rule {rule_text!r}: {error}") from error


def _cache_mode(request: LaunchRequest) -> bool | None:
    return {"async": True, "sync": False}.get(request.pkg_cache_mode or "")


def _load_or_resolve(request: LaunchRequest) -> ResolvedContext:
    context = None
    packages = list(request.packages)
    if request.input:
        context = ResolvedContext.load(request.input)
    if request.patch:
        if context is None:
            # What rez-env's --patch reads (rez.status), without importing rez's suite support.
            current = os.environ.get("REZ_RXT_FILE")
            context = ResolvedContext.load(current) if current else None
            if context is None:
                raise UsageError("cannot patch: not in a rez context; run --patch inside a rez shell or give -i FILE")
        packages = [str(req) for req in context.get_patched_request(
            packages, strict=request.strict, rank=request.patch_rank)]
        context = None
    if context is not None:
        return context

    try:
        timestamp = get_epoch_time_from_str(request.time) if request.time else None
    except ValueError as error:
        raise UsageError(f"invalid --time {request.time!r}: {error}; use epoch seconds or -10s, -5m, -0.5h, -10d") from error
    return ResolvedContext(
        package_requests=packages,
        timestamp=timestamp,
        package_paths=package_paths(request),
        building=request.build,
        package_filter=_package_filter(request),
        add_implicit_packages=not request.no_implicit,
        verbosity=request.verbose,
        max_fails=request.max_fails,
        time_limit=request.time_limit,
        caching=not request.no_cache,
        suppress_passive=request.no_passive,
        print_stats=request.stats,
        package_caching=not request.no_pkg_cache,
        package_cache_async=_cache_mode(request),
    )


def _describe_rez_error(error: RezError) -> str:
    # rez messages are often a header ending in ':' followed by the detail; keep both on one line.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[-1]}"
    return lines[0]


def resolve_and_record(request: LaunchRequest, files: SessionFiles, parent_environ: dict[str, str]) -> ResolveOutcome:
    """Resolve (or load) the context and, unless only the context is wanted, record its plan.

    Runs in the child. rez errors become ResolveFailed or PackageError with a
    one-line message naming the package or file.
    """
    try:
        context = _load_or_resolve(request)
    except (PackageFamilyNotFoundError, PackageNotFoundError, PackageRequestError) as error:
        raise ResolveFailed(
            f"resolve failed: {_describe_rez_error(error)}; check the package name and --paths") from error
    except (PackageMetadataError, ResourceError) as error:
        raise PackageError(
            f"invalid package definition: {_describe_rez_error(error)}; fix the package.py named above") from error
    except RezError as error:
        raise ResolveFailed(f"resolve failed: {_describe_rez_error(error)}") from error

    rxt_buffer = io.StringIO()
    context.write_to_buffer(rxt_buffer)
    if context.status != ResolverStatus.solved:
        info = io.StringIO()
        context.print_info(buf=info)
        graph = None
        if request.fail_graph and context.graph:
            graph = context.graph(as_dot=True)
        return ResolveOutcome(solved=False, rxt_text=rxt_buffer.getvalue(),
                              failure_text=info.getvalue(), graph_dot=graph)
    if request.output:
        return ResolveOutcome(solved=True, rxt_text=rxt_buffer.getvalue())

    rxt_file = files.rxt_file
    if context.load_path and os.path.isfile(context.load_path):
        rxt_file = context.load_path
    settings = RecordingSettings(
        shell=request.shell,
        rxt_file=rxt_file,
        context_file=files.context_file,
        interactive=not (request.runs_command or request.stdin),
        parent_environ=parent_environ,
    )
    try:
        plan = record_plan(context, settings, time.time)
    except (PackageCommandError, RexError) as error:
        raise PackageError(f"package commands failed: {_describe_rez_error(error)}") from error
    return ResolveOutcome(solved=True, rxt_text=rxt_buffer.getvalue(), plan=plan)
