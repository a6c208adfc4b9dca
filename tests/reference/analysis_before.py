"""The plan analysis as it was before it grew pended values piece by piece, kept to compare against.

`analyze_plan_before` joins the whole value and splits it again after every
prepend and append, which is quadratic in the number of actions but simple to
read. The tests in tests/shells/test_analysis_linear.py check that
`shells.analysis.analyze_plan` returns the same `PlanAnalysis` on every plan.
`join_templates_before` is the joining that the scanners used before.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

from rez.config import config

from guard.plan import Op, StartupPlan
from shells import adapter_for
from shells.analysis import CarryProblem, PathEntry, PlanAnalysis
from shells.rez_script import action_value, pend_separator
from shells.values import ExpansionKind, Template, ValueScan, template_text

_ENV_WRITES = frozenset({Op.SETENV, Op.RESETENV, Op.PREPENDENV, Op.APPENDENV})
_PARENT = "the parent environment"
_REZ = "rez"


def join_templates_before(parts: Iterable[Template]) -> Template:
    """Concatenate templates, merging neighbouring known text and neighbouring unknowns."""
    merged: list[str | None] = []
    for part in parts:
        for piece in part:
            if piece == "":
                continue
            if merged and piece is not None and merged[-1] is not None:
                merged[-1] = merged[-1] + piece
            elif merged and piece is None and merged[-1] is None:
                continue
            else:
                merged.append(piece)
    return tuple(merged) if merged else ("",)


class _State:
    """The variables at one point of the startup script, as templates."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.values: dict[str, Template] = {name: (value,) for name, value in environ.items()}
        self.origins: dict[str, list[str]] = {}
        # After a sourced file or a command, any variable may have been set or changed.
        self.tainted = False

    def lookup(self, name: str) -> Template | None:
        value = self.values.get(name)
        if value is None and self.tainted:
            return (None,)
        return value

    def lookup_set(self, name: str) -> Template | None:
        # For shells that stop on an undefined variable: only what is known to be set counts.
        return self.values.get(name)


def analyze_plan_before(plan: StartupPlan, environ: Mapping[str, str]) -> PlanAnalysis:
    """Scan the plan's values for its shell, starting from `environ` (the shell's environment at startup)."""
    adapter = adapter_for(plan.shell)
    plugin = adapter.render_plugin()
    state = _State(environ)
    scans: dict[int, ValueScan] = {}
    touched: set[str] = set()
    removed: set[str] = set()
    problems: list[CarryProblem] = []
    path_keys = {action.key for action in plan.actions if action.op in (Op.PREPENDENV, Op.APPENDENV)}

    for index, action in enumerate(plan.actions):
        key = action.key
        if action.op is Op.SAFEREFENV:
            if adapter.saferefenv_defines and key not in state.values:
                state.values[key] = ("",)
                state.origins[key] = [_REZ]
            continue
        if action.op is Op.UNSETENV:
            state.values.pop(key, None)
            state.origins.pop(key, None)
            touched.discard(key)
            removed.add(key)
            continue
        if action.op in (Op.SOURCE, Op.COMMAND):
            state.tainted = True
        if action.op is Op.ALIAS:
            scan = adapter.scan_alias(action.text)
        else:
            value = action_value(plugin, action)
            if value is None:
                continue
            lookup = state.lookup_set if adapter.undefined_variable_stops else state.lookup
            scan = adapter.scan_value(value, lookup)
            if action.op in (Op.PREPENDENV, Op.APPENDENV):
                scan = _without_own_reference(scan, plugin.get_key_token(key))
        scans[index] = scan
        if scan.problem is not None:
            problems.append(CarryProblem(index, plan.shell, key, action.variant, scan.problem))
        if action.op not in _ENV_WRITES:
            continue
        previous = state.values.get(key)
        state.values[key] = scan.template if scan.problem is None else (None,)
        touched.add(key)
        removed.discard(key)
        if _is_path_like(key, path_keys):
            _track_origins(state, key, previous, action.op, action.variant or _REZ, pend_separator(plugin, key))

    expected = {name: state.values[name] for name in touched if name in state.values}
    entries, dropped = _path_report(state, expected, environ, plugin, path_keys)
    return PlanAnalysis(
        shell=plan.shell,
        scans=scans,
        expected=expected,
        removed=frozenset(removed),
        path_entries=entries,
        dropped_entries=dropped,
        problems=tuple(problems),
    )


def _without_own_reference(scan: ValueScan, token: str) -> ValueScan:
    # The reference to the variable itself is how rez writes a prepend or an append, not package text.
    expansions = list(scan.expansions)
    for position, expansion in enumerate(expansions):
        if expansion.text == token and expansion.kind in (ExpansionKind.VARIABLE, ExpansionKind.PARAMETER):
            del expansions[position]
            break
    return ValueScan(template=scan.template, expansions=tuple(expansions), problem=scan.problem)


def _is_path_like(key: str | None, path_keys: set[str | None]) -> bool:
    if key is None:
        return False
    return key in path_keys or any(fnmatch.fnmatchcase(key, pattern) for pattern in config.pathed_env_vars)


def _split(template: Template | None, separator: str) -> list[str] | None:
    if template is None:
        return None
    text = template_text(template)
    return None if text is None else text.split(separator)


def _track_origins(state: _State, key: str, previous: Template | None, op: Op, origin: str,
                   separator: str) -> None:
    # Keep, for each entry of a PATH-like variable, who added it.
    new_entries = _split(state.values[key], separator)
    if new_entries is None:
        state.origins.pop(key, None)
        return
    old_entries = _split(previous, separator) or []
    old_origins = state.origins.get(key) or [_PARENT] * len(old_entries)
    if op is Op.PREPENDENV and len(new_entries) >= len(old_entries):
        added = len(new_entries) - len(old_entries)
        state.origins[key] = [origin] * added + old_origins[:len(old_entries)]
    elif op is Op.APPENDENV and len(new_entries) >= len(old_entries):
        added = len(new_entries) - len(old_entries)
        state.origins[key] = old_origins[:len(old_entries)] + [origin] * added
    else:
        state.origins[key] = [origin] * len(new_entries)


def _path_report(state: _State, expected: Mapping[str, Template], environ: Mapping[str, str], plugin,
                 path_keys: set[str | None]) -> tuple[tuple[PathEntry, ...], dict[str, tuple[str, ...]]]:
    entries: list[PathEntry] = []
    dropped: dict[str, tuple[str, ...]] = {}
    for key in sorted(expected):
        if not _is_path_like(key, path_keys):
            continue
        separator = pend_separator(plugin, key)
        final = _split(expected[key], separator)
        if final is None:
            continue
        origins = state.origins.get(key) or [_REZ] * len(final)
        for position, entry in enumerate(final, start=1):
            if entry.startswith("/"):
                continue
            origin = origins[position - 1] if position - 1 < len(origins) else _REZ
            entries.append(PathEntry(key, position, entry, origin))
        parent = environ.get(key)
        if parent:
            lost = tuple(dict.fromkeys(item for item in parent.split(separator) if item and item not in final))
            if lost:
                dropped[key] = lost
    return tuple(entries), dropped
