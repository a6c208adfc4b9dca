"""Rules on values the shell expands or executes as it starts.

rez writes expandable segments in double quotes, so the shell expands `$VAR`
and runs `$(...)` and backticks inside them; literal segments stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from guard.findings import Finding
from guard.plan import Op
from guard.rules.shellwords import command_substitutions, referenced_name, shell_expansions
from guard.rules.view import SETTING_OPS, IndexedAction, PlanView

_VALUE_OPS: Final = SETTING_OPS | {Op.SOURCE, Op.INFO, Op.ERROR}
_CSH_SHELLS: Final = frozenset({"csh", "tcsh"})


def check(view: PlanView) -> Iterator[Finding]:
    """Yield value.command-substitution and value.expansion findings."""
    for item in view.actions(*_VALUE_OPS):
        text = item.action.expandable_text
        if command_substitutions(text):
            yield view.finding(
                "value.command-substitution",
                f"{_describe(item)} runs a command when the shell expands it: {text!r}; approve only if "
                "you have read the command",
                item,
            )
            continue
        outside = _environment_references(view, item, text)
        if outside:
            yield view.finding(
                "value.expansion",
                f"{_describe(item)} expands {', '.join(outside)} from the environment the shell starts in, "
                "so its value is decided at launch, not here; check that this is meant",
                item,
            )


def _environment_references(view: PlanView, item: IndexedAction, text: str) -> list[str]:
    # A reference to a variable the context sets (or to the variable's own old
    # value) is shown in the preview; anything else comes from outside.
    found: list[str] = []
    for expansion in shell_expansions(text):
        name = referenced_name(expansion)
        if name is not None and (name == item.action.key or name in view.context_variables):
            continue
        found.append(expansion)
    if view.plan.shell in _CSH_SHELLS and "!" in text:
        found.append("! (csh history substitution)")
    return list(dict.fromkeys(found))


def _describe(item: IndexedAction) -> str:
    action = item.action
    if action.key:
        return f"{action.op} {action.key}"
    return str(action.op)
