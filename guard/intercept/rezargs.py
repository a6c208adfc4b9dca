"""rez-env's parsed command line turned back into `rez-guard env` words.

The `env` command plugin lets rez's own argparse parser read the command line,
so every option is read exactly as rez-env reads it (abbreviations, `nargs='+'`
rules, `--` groups). This module writes the parsed values back as canonical
words (`--long-option=value`) for `rez-guard env`, which then runs the guard's
isolated pipeline with the same error handling and exit codes as on its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

# rez's CLI profiles the whole command itself for --profile; the --N0 group is for shell completion
# and rez-env ignores it.
_HANDLED_BY_REZ = frozenset({"profile", "extra_0", "help"})
POSITIONAL_PACKAGES = "PKG"


def add_guard_options(parser: argparse.ArgumentParser) -> None:
    """Add rez-guard's own options, the ones `rez-guard env` has beyond rez-env's."""
    group = parser.add_argument_group("rez-guard")
    group.add_argument("--yes", action="store_true",
                       help="approve this launch without asking (policy may forbid it)")
    group.add_argument("--preview", action="store_true", help="show the plan and exit 0 without launching")
    group.add_argument("--json", dest="as_json", action="store_true",
                       help="with --preview: write the plan as JSON on stdout")
    group.add_argument("--monitor", choices=["auto", "poll", "netlink", "ptrace", "off"],
                       help="process monitor backend (default: from policy, else auto)")


def _long_option(action: argparse.Action) -> str:
    long_options = [option for option in action.option_strings if option.startswith("--")]
    return max(long_options or action.option_strings, key=len)


def _words_for(action: argparse.Action, value: object) -> list[str]:
    option = _long_option(action)
    if isinstance(action, argparse._CountAction):
        return [option] * int(value)
    if action.nargs == 0:
        return [option] if value else []
    if isinstance(value, list):
        return [f"{option}={item}" for item in value]
    return [f"{option}={value}"]


def rez_env_words(
    parser: argparse.ArgumentParser,
    options: argparse.Namespace,
    extra_arg_groups: Sequence[Sequence[str]] | None,
) -> list[str]:
    """Return `rez-guard env` words with the same meaning as rez-env's parsed command line.

    As rez-env does, only the first group after `--` is the command; later groups are ignored.
    """
    words: list[str] = []
    for action in parser._actions:
        if not action.option_strings or action.dest in _HANDLED_BY_REZ:
            continue
        value = getattr(options, action.dest, None)
        if value is None or value == action.default:
            continue
        words += _words_for(action, value)
    words += list(getattr(options, POSITIONAL_PACKAGES, None) or [])
    if extra_arg_groups:
        words += ["--", *extra_arg_groups[0]]
    return words
