"""Walk a startup plan the way its shell will run it.

`analyze_plan` scans every value the plan writes with the shell's adapter, in
order, keeping track of the value each variable has at that point. It returns
what the preview must show before approval (expansions, problems, PATH-like
entries that mean the current folder) and what the environment must hold once
the context ran, which the check after launch compares with the real one.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from rez.config import config
from rez.rex import EscapedString

from guard.fastclass import dataclass
from guard.plan import Op, StartupPlan
from shells import adapter_for
from shells.base import ShellAdapter
from shells.pended import PendedValue
from shells.rez_script import action_value, pend_separator
from shells.values import ExpansionKind, Lookup, Template, ValueScan, template_text

_ENV_WRITES = frozenset({Op.SETENV, Op.RESETENV, Op.PREPENDENV, Op.APPENDENV})
_PEND_OPS = frozenset({Op.PREPENDENV, Op.APPENDENV})
_PARENT = "the parent environment"
_REZ = "rez"


@dataclass(frozen=True, slots=True)
class PathEntry:
    """An entry of a PATH-like variable that the shell resolves against the current folder."""

    key: str
    position: int
    entry: str
    origin: str

    @property
    def reason(self) -> str:
        """Why the entry matters, in words."""
        if self.entry == "":
            return "empty entry, read as the current folder"
        if self.entry == ".":
            return "the current folder"
        return "relative entry, resolved against the current folder"

    def describe(self) -> str:
        """Return the one-line description the preview shows."""
        shown = '""' if self.entry == "" else self.entry
        return f"{self.key}  entry {self.position} {shown}: {self.reason} (from {self.origin})"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "position": self.position, "entry": self.entry, "origin": self.origin,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class CarryProblem:
    """A value the shell cannot carry as shown: the launch must stop before the shell starts."""

    action_index: int
    shell: str
    key: str | None
    variant: str | None
    reason: str

    def message(self) -> str:
        """Return the error message naming the variable, the shell and why."""
        what = f"the value of {self.key}" if self.key else "a value"
        where = f" from {self.variant}" if self.variant else ""
        return (f"{self.shell} cannot start with {what}{where} as previewed: {self.reason}; "
                "change the package or launch with another --shell")


@dataclass(frozen=True)
class PlanAnalysis:
    """The shell's handling of each value of a plan, and the environment the plan must lead to."""

    shell: str
    scans: Mapping[int, ValueScan]
    expected: Mapping[str, Template]
    removed: frozenset[str]
    path_entries: tuple[PathEntry, ...] = ()
    dropped_entries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    problems: tuple[CarryProblem, ...] = ()

    @property
    def touched(self) -> frozenset[str]:
        """Variables the plan sets or removes."""
        return frozenset(self.expected) | self.removed

    def to_dict(self) -> dict[str, Any]:
        return {
            "shell": self.shell,
            "values": {str(index): scan.to_dict() for index, scan in sorted(self.scans.items())
                       if scan.expansions or scan.problem},
            "path_entries": [entry.to_dict() for entry in self.path_entries],
            "dropped_entries": {key: list(entries) for key, entries in self.dropped_entries.items()},
            "problems": [problem.message() for problem in self.problems],
        }


class _State:
    """The variables at one point of the startup script, as templates."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.values: dict[str, Template | PendedValue] = {name: (value,) for name, value in environ.items()}
        # Who added each entry of a PATH-like variable, for the variables whose text is known.
        self.origins: dict[str, deque[str]] = {}
        # After a sourced file or a command, any variable may have been set or changed.
        self.tainted = False

    def template(self, name: str) -> Template | None:
        value = self.values.get(name)
        if isinstance(value, PendedValue):
            return value.template()
        return value

    def lookup(self, name: str) -> Template | None:
        value = self.template(name)
        if value is None and self.tainted:
            return (None,)
        return value

    def lookup_set(self, name: str) -> Template | None:
        # For shells that stop on an undefined variable: only what is known to be set counts.
        return self.template(name)


@dataclass(frozen=True, slots=True, bulk=True)
class _Pended:
    """A prepend or append scanned with a marker for the variable's own value, and the pieces around the marker.

    `scan.template` contains the marker; the caller replaces it before the scan is kept.
    """

    scan: ValueScan
    front: Template
    back: Template


def analyze_plan(plan: StartupPlan, environ: Mapping[str, str]) -> PlanAnalysis:
    """Scan the plan's values for its shell, starting from `environ` (the shell's environment at startup).

    A prepend or append is scanned with a marker in place of the variable's own
    value, and the text around the marker is added to the value piece by piece
    (see shells/pended.py). So the time is linear in the number of actions and
    the length of the values.
    """
    adapter = adapter_for(plan.shell)
    plugin = adapter.render_plugin()
    state = _State(environ)
    scans: dict[int, ValueScan] = {}
    touched: set[str] = set()
    removed: set[str] = set()
    problems: list[CarryProblem] = []
    path_keys = {action.key for action in plan.actions if action.op in _PEND_OPS}
    path_like = {key for key in {action.key for action in plan.actions} if _is_path_like(key, path_keys)}
    lookup = state.lookup_set if adapter.undefined_variable_stops else state.lookup
    # A NUL cannot occur in an environment variable, and the random part cannot be guessed by a package.
    marker = f"\0{os.urandom(16).hex()}\0"

    for index, action in enumerate(plan.actions):
        key = action.key
        if action.op is Op.SAFEREFENV:
            if adapter.saferefenv_defines and key not in state.values:
                state.values[key] = ("",)
                state.origins[key] = deque([_REZ])
            continue
        if action.op is Op.UNSETENV:
            state.values.pop(key, None)
            state.origins.pop(key, None)
            touched.discard(key)
            removed.add(key)
            continue
        if action.op in (Op.SOURCE, Op.COMMAND):
            state.tainted = True
        pended: _Pended | None = None
        if action.op is Op.ALIAS:
            scan = adapter.scan_alias(action.text)
        else:
            value = action_value(plugin, action)
            if value is None:
                continue
            separator = pend_separator(plugin, key) if action.op in _PEND_OPS else ""
            # NOTE: a variable whose rez separator is longer than one character is still joined and split
            # after every pend, which is quadratic in its number of pends (rez's defaults are one character).
            if len(separator) == 1 and state.values.get(key) is not None:
                pended = _scan_pended(adapter, value, key, lookup, marker)
            scan = pended.scan if pended is not None else adapter.scan_value(value, lookup)
            if action.op in _PEND_OPS:
                scan = _without_own_reference(scan, plugin.get_key_token(key))
        if action.op not in _ENV_WRITES:
            scans[index] = scan
            if scan.problem is not None:
                problems.append(CarryProblem(index, plan.shell, key, action.variant, scan.problem))
            continue

        previous = state.values.get(key)
        old_entries = _entry_count(previous, pend_separator(plugin, key)) if key in path_like else None
        if pended is not None and scan.problem is None:
            grown = previous if isinstance(previous, PendedValue) else PendedValue(previous, separator)
            grown.extend(pended.front, pended.back)
            state.values[key] = grown
            scan = ValueScan(template=grown.snapshot(), expansions=scan.expansions)
        else:
            state.values[key] = scan.template if scan.problem is None else (None,)
        scans[index] = scan
        if scan.problem is not None:
            problems.append(CarryProblem(index, plan.shell, key, action.variant, scan.problem))
        touched.add(key)
        removed.discard(key)
        if key in path_like:
            new_entries = _entry_count(state.values[key], pend_separator(plugin, key))
            _track_origins(state, key, old_entries, new_entries, action.op, action.variant or _REZ)

    expected = {name: state.template(name) for name in touched if name in state.values}
    entries, dropped = _path_report(state, expected, environ, plugin, path_like)
    return PlanAnalysis(
        shell=plan.shell,
        scans=scans,
        expected=expected,
        removed=frozenset(removed),
        path_entries=entries,
        dropped_entries=dropped,
        problems=tuple(problems),
    )


def _scan_pended(adapter: ShellAdapter, value: EscapedString, key: str, lookup: Lookup,
                 marker: str) -> _Pended | None:
    # The adapters only test a looked-up template for None and copy it into the result (the rule
    # at `Lookup` in shells/values.py), so the marker ends where the variable's own value goes.
    # tests/shells/test_analysis_linear.py compares the result with a scan of the real value.
    # None when the value does not name the variable exactly once, and the caller then scans it
    # with the real value.
    def marked_lookup(name: str) -> Template | None:
        return (marker,) if name == key else lookup(name)

    scan = adapter.scan_value(value, marked_lookup)
    holders = [position for position, piece in enumerate(scan.template) if piece is not None and marker in piece]
    if scan.problem is not None:
        # The scanners give up on the whole value then, so the template contains no marker.
        return None if holders else _Pended(scan, (), ())
    if len(holders) != 1:
        return None
    position = holders[0]
    piece = scan.template[position]
    if piece.count(marker) != 1:
        return None
    before, _, after = piece.partition(marker)
    return _Pended(scan, (*scan.template[:position], before), (after, *scan.template[position + 1:]))


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


def _entry_count(value: Template | PendedValue | None, separator: str) -> int | None:
    # The length of the value split at `separator`, or None when the value or its text is unknown.
    if isinstance(value, PendedValue):
        return value.entries
    if value is None:
        return None
    text = template_text(value)
    return None if text is None else text.count(separator) + 1


def _track_origins(state: _State, key: str, old_entries: int | None, new_entries: int | None, op: Op,
                   origin: str) -> None:
    # Keep, for each entry of a PATH-like variable, who added it. The origins are changed in place
    # at the end the action writes to, so a long run of appends costs constant time per entry.
    if new_entries is None:
        state.origins.pop(key, None)
        return
    old_count = old_entries or 0
    origins = state.origins.get(key) or deque([_PARENT] * old_count)
    added = new_entries - old_count
    if op is Op.PREPENDENV and added >= 0:
        _truncate(origins, old_count)
        origins.extendleft(itertools.repeat(origin, added))
    elif op is Op.APPENDENV and added >= 0:
        _truncate(origins, old_count)
        origins.extend(itertools.repeat(origin, added))
    else:
        origins = deque([origin] * new_entries)
    state.origins[key] = origins


def _truncate(origins: deque[str], length: int) -> None:
    while len(origins) > length:
        origins.pop()


def _path_report(state: _State, expected: Mapping[str, Template], environ: Mapping[str, str], plugin,
                 path_like: set[str | None]) -> tuple[tuple[PathEntry, ...], dict[str, tuple[str, ...]]]:
    entries: list[PathEntry] = []
    dropped: dict[str, tuple[str, ...]] = {}
    for key in sorted(expected):
        if key not in path_like:
            continue
        separator = pend_separator(plugin, key)
        final = _split(expected[key], separator)
        if final is None:
            continue
        origins = list(state.origins.get(key) or [_REZ] * len(final))
        for position, entry in enumerate(final, start=1):
            if entry.startswith("/"):
                continue
            origin = origins[position - 1] if position - 1 < len(origins) else _REZ
            entries.append(PathEntry(key, position, entry, origin))
        parent = environ.get(key)
        if parent:
            remaining = set(final)
            lost = tuple(dict.fromkeys(item for item in parent.split(separator) if item and item not in remaining))
            if lost:
                dropped[key] = lost
    return tuple(entries), dropped
