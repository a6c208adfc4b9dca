"""Rules on entries of path-like variables (PATH, LD_LIBRARY_PATH, PYTHONPATH, ...).

An entry decides where the shell and programs look for commands, libraries or
modules, so an entry that is relative, missing, or changeable by other users
lets someone else choose what runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Final

from guard.fastclass import dataclass
from guard.findings import Finding
from guard.plan import Op, Phase
from guard.rules import filesystem
from guard.rules.catalog import LIBRARY_PATH_VARIABLES
from guard.rules.shellwords import PathEntry
from guard.rules.view import IndexedAction, PlanView

# These variables have their own rule for entries outside package roots.
_OWN_ROOT_RULES: Final = LIBRARY_PATH_VARIABLES | {"PYTHONPATH"}
_VERSION_SUFFIX: Final = re.compile(r"[0-9.]*\Z")


def check(view: PlanView) -> Iterator[Finding]:
    """Yield the path.* findings for every entry of every path-like variable."""
    for item in view.env_actions(frozenset(view.policy.path_variables)):
        for entry in view.path_entries(item.action):
            yield from _check_entry(view, item, entry)
    yield from _shadowing(view)


def _check_entry(view: PlanView, item: IndexedAction, entry: PathEntry) -> Iterator[Finding]:
    key = item.action.key
    if entry.is_self:
        return
    if entry.text == "":
        yield view.finding(
            "path.empty-entry",
            f"{key} gets an empty entry, which means the current folder, so whatever folder you are in "
            "can supply commands or libraries; remove the empty entry (a doubled or trailing ':')",
            item,
        )
        return
    if entry.resolved is None:
        if key not in _OWN_ROOT_RULES:
            yield view.finding(
                "path.outside-roots",
                f"{key} entry {entry.text!r} depends on {', '.join(entry.unresolved)} from the shell's "
                "environment, so the preview cannot show where it points; use a path inside the package",
                item,
            )
        return

    path = entry.resolved
    if not os.path.isabs(path):
        yield from _relative_entry(view, item, entry)
        return
    if key not in _OWN_ROOT_RULES and not view.within_any_root(path) and not view.within_allowed_prefix(path):
        yield view.finding(
            "path.outside-roots",
            f"{key} entry {path} lies outside every package root and the policy's allowed prefixes; "
            "check where the folder comes from, or add its prefix to the policy",
            item,
        )
    if not view.files.is_dir(path):
        yield view.finding(
            "path.missing-dir",
            f"{key} entry {path} does not exist, so anyone who can create it later decides what it "
            "holds; remove the entry or create the folder",
            item,
        )
        return
    writable = view.files.writable_by_others(path)
    if writable is not None:
        yield view.finding(
            "path.writable-dir",
            f"{key} entry {path}: {writable.path} is writable by its {writable.who}, who can place "
            f"programs or libraries there; run `chmod go-w {writable.path}` or remove the entry",
            item,
        )
    owner = view.files.owner_uid(path)
    if owner is not None and owner not in view.trusted_uids:
        yield view.finding(
            "path.foreign-owner",
            f"{key} entry {path} belongs to user {filesystem.user_name(owner)}, who can change what it "
            "holds; add the user to the policy's trusted owners if that is expected",
            item,
        )


def _relative_entry(view: PlanView, item: IndexedAction, entry: PathEntry) -> Iterator[Finding]:
    key = item.action.key
    if os.path.normpath(entry.text) == "." and item.action.phase is Phase.REZ:
        yield view.finding(
            "path.rez-dot-entry",
            f"rez itself appends '.' to {key} (its system path detection found it in the shell's built-in "
            "PATH), so the current folder can supply commands not found elsewhere; set "
            "standard_system_paths in rezconfig to remove it",
            item,
        )
        return
    if os.path.normpath(entry.text) == ".":
        yield view.finding(
            "path.dot-entry",
            f"{key} gets the entry '.', the current folder, so whatever folder you are in can supply "
            "commands or libraries; remove the entry",
            item,
        )
        return
    yield view.finding(
        "path.relative-entry",
        f"{key} entry {entry.text!r} is relative, so it points somewhere else in every folder you "
        "change to; use an absolute path such as {root}/bin",
        item,
    )


@dataclass(frozen=True, slots=True, bulk=True)
class _Placed:
    """A PATH entry in the order the started shell will search, with the action that added it."""

    entry: PathEntry | None  # None stands for the PATH the shell inherits
    item: IndexedAction | None


# The search order as a tree: a tuple of entries and of earlier orders, read depth first.
_Order = tuple["_Placed | _Order", ...]


def _path_order(view: PlanView) -> Iterator[_Placed]:
    """Yield the PATH entries in the order the started shell searches them.

    Each action's order refers to the order before it instead of copying it,
    so replaying n actions costs O(n), and the caller reads only as far as it needs.
    """
    order: _Order = (_Placed(None, None),)
    for item in view.env_actions({"PATH"}, frozenset({Op.SETENV, Op.RESETENV, Op.PREPENDENV,
                                                      Op.APPENDENV, Op.UNSETENV})):
        op = item.action.op
        if op is Op.UNSETENV:
            order = ()
            continue
        added = tuple(order if entry.is_self else _Placed(entry, item) for entry in view.path_entries(item.action))
        if op is Op.PREPENDENV:
            order = (*added, order)
        elif op is Op.APPENDENV:
            order = (order, *added)
        else:
            order = added
    # A stack of iterators instead of recursion: 3,000 appends nest 3,000 levels deep.
    stack = [iter(order)]
    while stack:
        for part in stack[-1]:
            if isinstance(part, tuple):
                stack.append(iter(part))
                break
            yield part
        else:
            stack.pop()


def _shadowing(view: PlanView) -> Iterator[Finding]:
    """Yield path.shadows-command for folders searched before the inherited and system PATH."""
    commands = tuple(view.policy.common_commands)
    for placed in _path_order(view):
        entry, item = placed.entry, placed.item
        if entry is None or item is None:
            return
        if entry.resolved is None or not os.path.isabs(entry.resolved):
            continue
        if view.within_allowed_prefix(entry.resolved):
            return
        found = view.files.executables_in(entry.resolved, commands)
        variant = view.variant_of(item.action)
        shadowed = [name for name in found if variant is None or not _provides(variant.name, name)]
        if shadowed:
            yield view.finding(
                "path.shadows-command",
                f"PATH entry {entry.resolved} comes before the system folders and holds "
                f"{', '.join(shadowed)}, which will run instead of the system's; approve only if the "
                "package is meant to replace them",
                item,
            )


def _provides(package_name: str, command: str) -> bool:
    # A package may ship the command it is named after: python provides python3.11.
    return command.startswith(package_name) and bool(_VERSION_SUFFIX.match(command[len(package_name):]))
