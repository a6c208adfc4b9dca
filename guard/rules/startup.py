"""Rules on startup commands: files the shell sources and commands it runs as it starts."""

from __future__ import annotations

from collections.abc import Iterator

from guard.findings import Finding
from guard.plan import Op
from guard.rules.view import IndexedAction, PlanView


def check(view: PlanView) -> Iterator[Finding]:
    """Yield source.* and command.run findings."""
    for item in view.actions(Op.SOURCE):
        yield from _check_source(view, item)
    for item in view.actions(Op.COMMAND):
        yield view.finding(
            "command.run",
            f"the shell runs {item.action.text!r} as it starts; read the command before you approve",
            item,
        )


def _check_source(view: PlanView, item: IndexedAction) -> Iterator[Finding]:
    action = item.action
    resolved = view.resolve_value(action)
    path = resolved.resolved
    yield view.finding("source.file", f"the shell sources {path or action.text} as it starts", item)

    if path is None:
        yield view.finding(
            "source.outside-root",
            f"sourced path {action.text!r} depends on {', '.join(resolved.unresolved)} from the shell's "
            "environment, so the preview cannot show which file runs; use a path inside the package",
            item,
        )
        return
    if not view.within_own_root(path, action):
        yield view.finding(
            "source.outside-root",
            f"sourced file {path} lies outside the package's root, so the package does not control "
            "what it runs; check where the file comes from",
            item,
        )

    writable = view.files.writable_by_others(path)
    if writable is not None:
        yield view.finding(
            "source.writable",
            f"sourced file {path}: {writable.path} is writable by its {writable.who}, who can change "
            f"what the shell runs; run `chmod go-w {writable.path}`",
            item,
        )

    snapshot = view.snapshot_for(item)
    if snapshot is None or snapshot.sha256 is None or snapshot.error:
        reason = "no snapshot was recorded" if snapshot is None else (snapshot.error or "no hash was recorded")
        yield view.finding(
            "source.unreadable",
            f"sourced file {path} could not be read when the plan was recorded ({reason}), so the "
            "preview cannot cover what it runs; make the file readable or remove the source call",
            item,
        )
        return
    current = view.file_content(path)
    if current.sha256 != snapshot.sha256:
        now = current.error or f"sha256 {current.sha256}"
        yield view.finding(
            "source.changed",
            f"sourced file {path} changed after the plan was recorded (recorded sha256 {snapshot.sha256}, "
            f"now {now}); start the launch again to see the new content",
            item,
        )
