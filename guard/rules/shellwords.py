"""Reading values the way the shell will: path entries, variable references, command substitution.

Values in a startup plan are unexpanded: the shell expands `$VAR`, `${VAR}`,
`$(...)` and backticks in their expandable segments when it starts. These
helpers find those expansions and resolve path entries against the variables
the context itself sets, so rules can check what an entry will point to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Final

from guard.fastclass import dataclass

# `$NAME` or `${NAME}` with nothing else inside the braces.
_SIMPLE_REFERENCE: Final = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_COMMAND_SUBSTITUTION: Final = re.compile(r"\$\(|`")


@dataclass(frozen=True, slots=True, bulk=True)
class PathEntry:
    """One entry of a path-like value, as written and as it will resolve.

    `resolved` is the entry with references to context variables replaced, or
    None when it still depends on the shell's environment (`unresolved` names
    what) or is a reference to the variable's own previous value (`is_self`).
    """

    text: str
    resolved: str | None
    unresolved: tuple[str, ...] = ()
    is_self: bool = False


def command_substitutions(text: str) -> tuple[str, ...]:
    """Return the `$(` and backtick markers in `text`, in order (also catches `$((`)."""
    return tuple(match.group(0) for match in _COMMAND_SUBSTITUTION.finditer(text))


def shell_expansions(text: str) -> tuple[str, ...]:
    """Return each `$` expansion in `text`: `$HOME` and `${A:-b}` as written, `$(...)` for a substitution."""
    expansions: list[str] = []
    position = text.find("$")
    while position != -1:
        expansions.append(_expansion_at(text, position))
        position = text.find("$", position + 1)
    return tuple(expansions)


def referenced_name(expansion: str) -> str | None:
    """Return NAME when `expansion` is exactly `$NAME` or `${NAME}`, else None."""
    match = _SIMPLE_REFERENCE.fullmatch(expansion)
    if match is None:
        return None
    return match.group(1) or match.group(2)


def split_entries(text: str) -> tuple[str, ...]:
    """Split a path-like value into its entries, keeping empty ones."""
    return tuple(text.split(os.pathsep))


def resolve_entry(entry: str, key: str, variables: Mapping[str, str]) -> PathEntry:
    """Resolve one entry of variable `key` using the values the context sets.

    A reference to `key` itself stands for the value before this action and is
    marked `is_self`. Other references resolve through `variables`; anything
    left (user variables, command substitution, a leading `~`) is unresolved.
    """
    if referenced_name(entry) == key:
        return PathEntry(entry, None, is_self=True)

    unresolved: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name != key and name in variables:
            return variables[name]
        unresolved.append(match.group(0))
        return match.group(0)

    resolved = _SIMPLE_REFERENCE.sub(substitute, entry)
    if "$" in resolved or "`" in resolved:
        unresolved.extend(expansion for expansion in shell_expansions(resolved) if expansion not in unresolved)
        if "`" in resolved:
            unresolved.append("`...`")
    if resolved.startswith("~"):
        unresolved.append("~")
    if unresolved:
        return PathEntry(entry, None, tuple(dict.fromkeys(unresolved)))
    return PathEntry(entry, resolved)


def is_within(path: str, prefix: str) -> bool:
    """Return whether `path` is `prefix` or lies under it (both absolute and normalized)."""
    if prefix == os.sep:
        return path.startswith(os.sep)
    return path == prefix or path.startswith(prefix.rstrip(os.sep) + os.sep)


def real_path(path: str) -> str:
    """Return `path` with symbolic links resolved, so a link cannot hide where an entry points."""
    return os.path.realpath(path)


def _expansion_at(text: str, position: int) -> str:
    rest = text[position:]
    if rest.startswith("${"):
        end = rest.find("}")
        return rest if end == -1 else rest[: end + 1]
    if rest.startswith("$("):
        return "$(...)"
    match = re.match(r"\$[A-Za-z_][A-Za-z0-9_]*", rest)
    if match:
        return match.group(0)
    return rest[:2]
