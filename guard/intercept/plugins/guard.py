"""Run rez-guard: `rez guard ARGS` is the same as `rez-guard ARGS`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rez.command import Command

from guard.intercept.plugins import restore_interrupt_handling

# rez-guard parses its own options, so rez passes words it does not know through.
command_behavior = {"hidden": False, "arg_mode": "passthrough"}
SUBCOMMAND = "guard"


def setup_parser(parser: argparse.ArgumentParser, completions: bool = False) -> None:
    """Accept any words: rez-guard reads them, including -h for its own help."""
    # Replace argparse's -h so that `rez guard -h` shows rez-guard's help, not this module's.
    # argparse checks conflicts in the group that contains the options, so both need the handler.
    parser.conflict_handler = "resolve"
    parser._optionals.conflict_handler = "resolve"
    parser.add_argument("-h", "--help", dest="guard_help", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("ARGS", nargs=argparse.REMAINDER, help="a rez-guard command and its options")


def words_after_subcommand(argv: Sequence[str]) -> list[str]:
    """Return the words after `guard` in rez's command line (`rez [-v] [--debug] guard ARGS`)."""
    for index in range(1, len(argv)):
        if argv[index] == SUBCOMMAND and argv[index - 1] != "--profile":
            return list(argv[index + 1:])
    return []


def command(
    opts: argparse.Namespace,
    parser: argparse.ArgumentParser | None = None,
    extra_arg_groups: Sequence[Sequence[str]] | None = None,
) -> int:
    """Run rez-guard with the words after `guard` and return its exit code."""
    # Imported here for the same reason as in the env plugin: rez imports every command plugin at start.
    from guard.cli.main import main
    restore_interrupt_handling()
    return main(words_after_subcommand(sys.argv))


class GuardCommand(Command):
    """The `rez guard` subcommand."""

    @classmethod
    def name(cls) -> str:
        return SUBCOMMAND


def register_plugin():
    """Return the class rez registers as the `guard` command."""
    return GuardCommand
