"""Rules on dynamic loader variables, which put code into every program the shell starts."""

from __future__ import annotations

from collections.abc import Iterator

from guard.findings import Finding
from guard.rules.catalog import LIBRARY_PATH_VARIABLES, PRELOAD_VARIABLES
from guard.rules.view import PlanView


def check(view: PlanView) -> Iterator[Finding]:
    """Yield loader.preload and loader.library-path findings."""
    for item in view.env_actions(PRELOAD_VARIABLES):
        action = item.action
        yield view.finding(
            "loader.preload",
            f"{action.op} {action.key}={action.text}: every program started in the shell loads this code "
            "first; approve only if the package is meant to inject a library",
            item,
        )

    for item in view.env_actions(LIBRARY_PATH_VARIABLES):
        action = item.action
        for entry in view.path_entries(action):
            if entry.is_self or entry.text == "":
                continue
            if entry.resolved is None:
                reason = f"depends on {', '.join(entry.unresolved)} from the shell's environment"
            elif view.within_own_root(entry.resolved, action) or view.within_allowed_prefix(entry.resolved):
                continue
            else:
                reason = "lies outside the package's root and the policy's allowed prefixes"
            yield view.finding(
                "loader.library-path",
                f"{action.key} entry {entry.text!r} {reason}, so programs may load libraries the package "
                "does not ship; check where the folder comes from",
                item,
            )
