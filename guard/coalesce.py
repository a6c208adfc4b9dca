"""Join runs of appends or prepends to one variable, so the shell runs one line per run.

rez writes each append as `export PATH="${PATH}:/x"`, and the shell expands the
growing value again on every line: a package appending 3,000 entries to PATH
costs bash about 1.9 s of CPU. `join_pend_runs` turns each run of consecutive
appends (or prepends) to the same variable into one action with the values
joined by rez's separator, which leaves the shell with the same value.

A value joins a run only when joining cannot change what the shell makes of it:
its expandable segments contain none of `UNSAFE_CHARACTERS`, so they expand
nothing and cannot refer to the variable itself. Literal segments are quoted
and always join. Any other action ends the run, and actions are never reordered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rez.shells import Shell

from guard.plan import Action, Op, Segment
from shells.rez_script import escaped, pend_separator

logger = logging.getLogger(__name__)

# Characters that make an expandable segment unsafe to join in at least one shell. `$` and
# backquotes expand everywhere, and a backslash escapes the next character inside double quotes.
# Each shell escapes `"` its own way, and `!` is history substitution in csh and interactive zsh.
# rez expands a leading `~` itself, and csh cannot carry a line break.
UNSAFE_CHARACTERS = frozenset("$`\\\"!~\n\r")

_PEND_OPS = (Op.APPENDENV, Op.PREPENDENV)


def join_pend_runs(actions: Sequence[Action], plugin: Shell, max_joined_length: int | None) -> list[Action]:
    """Return the actions with each run of safe appends or prepends to one variable joined into one action.

    `plugin` is the rez shell plugin the actions are replayed on, which gives the
    separator and the quoting. `max_joined_length` caps the characters the
    plugin writes for the joined values of one line, and None means no cap.
    A run longer than the cap becomes several actions.
    """
    joined: list[Action] = []
    run: list[Action] = []
    run_length = 0
    for action in actions:
        if run and _continues(run[-1], action, plugin):
            length = _rendered_length(action, plugin, max_joined_length)
            if max_joined_length is None or run_length + length <= max_joined_length:
                run.append(action)
                run_length += length
                continue
        if run:
            joined.append(_join(run, plugin))
            run = []
        if _can_join(action, plugin):
            run = [action]
            run_length = _rendered_length(action, plugin, max_joined_length)
        else:
            joined.append(action)
    if run:
        joined.append(_join(run, plugin))
    if len(joined) < len(actions):
        logger.debug("joined runs of appends and prepends: %d actions replayed as %d", len(actions), len(joined))
    return joined


def is_safe_to_join(segments: Sequence[Segment]) -> bool:
    """True when no expandable segment contains a character the shell (or rez) would act on."""
    return all(segment.literal or UNSAFE_CHARACTERS.isdisjoint(segment.text) for segment in segments)


def _can_join(action: Action, plugin: Shell) -> bool:
    if action.op not in _PEND_OPS or action.key is None or not is_safe_to_join(action.value):
        return False
    return UNSAFE_CHARACTERS.isdisjoint(pend_separator(plugin, action.key))


def _continues(last: Action, action: Action, plugin: Shell) -> bool:
    return action.op is last.op and action.key == last.key and _can_join(action, plugin)


def _rendered_length(action: Action, plugin: Shell, max_joined_length: int | None) -> int:
    # The quoted value plus the separator between it and the next value, in double quotes.
    # Quoting the joined values together never writes more, as neighbouring quotes merge.
    if max_joined_length is None:
        return 0
    separator = pend_separator(plugin, action.key)
    return len(plugin.escape_string(escaped(action.value))) + len(separator) + 2


def _join(run: list[Action], plugin: Shell) -> Action:
    if len(run) == 1:
        return run[0]
    first = run[0]
    separator = Segment(pend_separator(plugin, first.key), literal=False)
    # Prepending a, then b, gives b:a:old, so the values of a run of prepends go in reverse.
    ordered = run if first.op is Op.APPENDENV else list(reversed(run))
    segments: list[Segment] = []
    for position, action in enumerate(ordered):
        if position:
            segments.append(separator)
        segments.extend(action.value)
    return Action(op=first.op, phase=first.phase, variant=first.variant, key=first.key, value=tuple(segments))
