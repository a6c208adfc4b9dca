"""Rules that keep the context being vetted away from the guard's own configuration.

The guard reads its policy, trust store and audit log locations from its own
environment before the resolve. A package that changes those variables, puts
a `rez-guard` command first on PATH, or runs code that mentions the guard's
folders could change what a later guard, started inside this shell, decides.
"""

from __future__ import annotations

from collections.abc import Iterator

from guard.findings import Finding
from guard.plan import ENV_OPS, Op, Phase
from guard.rules.catalog import GUARD_COMMAND, GUARD_VARIABLE_PREFIX, GUARD_VARIABLES
from guard.rules.view import PlanView


def check(view: PlanView) -> Iterator[Finding]:
    """Yield guard.variable, guard.command and guard.tamper findings."""
    yield from _guard_variables(view)
    yield from _guard_commands(view)
    yield from _tampering(view)


def _guard_variables(view: PlanView) -> Iterator[Finding]:
    for item in view.actions(*ENV_OPS):
        action = item.action
        key = action.key or ""
        if action.phase is Phase.REZ:
            continue
        if key in GUARD_VARIABLES or key.startswith(GUARD_VARIABLE_PREFIX):
            verb = "unsets" if action.op is Op.UNSETENV else "sets"
            yield view.finding(
                "guard.variable",
                f"{action.op} {key}: a package {verb} a variable rez-guard reads to find its policy, trust store "
                "or audit log, so a guard started in this shell could obey the package; deny, and remove it "
                "from the package",
                item,
            )


def _guard_commands(view: PlanView) -> Iterator[Finding]:
    for item in view.env_actions({"PATH"}):
        for entry in view.path_entries(item.action):
            if entry.resolved and view.files.executables_in(entry.resolved, (GUARD_COMMAND,)):
                yield view.finding(
                    "guard.command",
                    f"PATH entry {entry.resolved} holds a {GUARD_COMMAND} command, which would replace the real "
                    "guard in this shell and in shells started from it; deny, and remove it from the package",
                    item,
                )
    for item in view.actions(Op.ALIAS):
        if item.action.key == GUARD_COMMAND:
            yield view.finding(
                "guard.command",
                f"alias {GUARD_COMMAND} replaces the real guard in this shell; deny, and remove it from the package",
                item,
            )


def _tampering(view: PlanView) -> Iterator[Finding]:
    needles = _needles(view)
    for item in view.actions(Op.SOURCE, Op.COMMAND, Op.ALIAS):
        action = item.action
        if action.op is Op.SOURCE:
            resolved = view.resolve_value(action).resolved
            content = view.file_content(resolved).data if resolved else None
            text = "" if content is None else content.decode("utf-8", errors="replace")
            where = f"sourced file {resolved}"
        else:
            text = action.text
            where = f"{action.op} {action.key or action.text!r}"
        mentioned = [needle for needle in needles if needle in text.lower()]
        if mentioned:
            yield view.finding(
                "guard.tamper",
                f"{where} mentions {mentioned[0]!r}, which belongs to rez-guard's own configuration, trust "
                "store or audit log; deny, and find out why the package touches them",
                item,
            )


def _needles(view: PlanView) -> tuple[str, ...]:
    # NOTE: this is a text search, so it misses code that builds the name at run
    # time (say "rez-" + "guard"). The fingerprint covers the file's hash, so a
    # change to such a file is still asked about again.
    needles = {GUARD_COMMAND, GUARD_COMMAND.replace("-", "_"), GUARD_VARIABLE_PREFIX.lower()}
    needles.update(path.lower() for path in view.policy.protected_paths)
    return tuple(sorted(needles))
