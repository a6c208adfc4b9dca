"""Rules on aliases, which run package code whenever the user types their name."""

from __future__ import annotations

from collections.abc import Iterator

from guard.findings import Finding
from guard.plan import Op
from guard.rules.catalog import GUARD_COMMAND, SHELL_BUILTINS
from guard.rules.view import PlanView


def check(view: PlanView) -> Iterator[Finding]:
    """Yield alias.shadows-command and alias.defined findings."""
    commands = frozenset(view.policy.common_commands)
    for item in view.actions(Op.ALIAS):
        name = item.action.key or ""
        if name == GUARD_COMMAND:
            continue  # guard.command reports it
        if name in SHELL_BUILTINS or name in commands:
            kind = "shell builtin" if name in SHELL_BUILTINS else "common command"
            yield view.finding(
                "alias.shadows-command",
                f"alias {name} replaces the {kind} {name!r} with {item.action.text!r}, so typing {name} runs "
                "package code; approve only if the package is meant to change it",
                item,
            )
        else:
            yield view.finding(
                "alias.defined",
                f"alias {name} runs {item.action.text!r} when you type {name}",
                item,
            )
