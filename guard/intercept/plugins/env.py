"""Open a rez-configured shell, possibly interactive, through rez-guard: preview, approve, launch, monitor and audit.

This replaces rez's `env` command, so `rez-env` and `rez env` run rez-guard's
isolated pipeline. rez's own parser reads the command line; rez-guard adds
--yes, --preview, --json and --monitor.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rez.cli import env as rez_env
from rez.command import Command

from guard.intercept.plugins import restore_interrupt_handling
from guard.intercept.rezargs import add_guard_options, rez_env_words
from guard.intercept.versions import check_rez_version

# The same as rez's env command: words after `--` are the command to run.
command_behavior = {"hidden": False, "arg_mode": "grouped"}


def setup_parser(parser: argparse.ArgumentParser, completions: bool = False) -> None:
    """Add rez-env's options, from rez's own parser setup, and rez-guard's."""
    rez_env.setup_parser(parser, completions)
    add_guard_options(parser)


def command(
    opts: argparse.Namespace,
    parser: argparse.ArgumentParser | None = None,
    extra_arg_groups: Sequence[Sequence[str]] | None = None,
) -> int:
    """Run `rez-guard env` with the parsed command line and return its exit code."""
    check_rez_version()
    words = rez_env_words(parser, opts, extra_arg_groups)
    restore_interrupt_handling()
    # rez imports every command plugin when any rez command starts. Importing rez-guard's
    # pipeline only here keeps the other rez commands as fast as before.
    from guard.cli.main import main
    return main(["env", *words])


class GuardedEnvCommand(Command):
    """rez's `env` command, replaced by rez-guard's."""

    @classmethod
    def name(cls) -> str:
        return "env"


def register_plugin():
    """Return the class rez registers as the `env` command."""
    return GuardedEnvCommand
