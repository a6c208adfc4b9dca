"""The `rez-guard` root command and the one place errors become exit codes."""

from __future__ import annotations

import gc
import importlib
import logging
import sys

import click

from guard import __version__
from guard.errors import ExitCode, GuardError
from guard.lazy_rez import defer_dot_parser, speed_up_plugin_search

logger = logging.getLogger("guard")

# Subcommand name -> ("module:attribute" of its click command, its one-line help).
# A subcommand's module is imported only when that subcommand runs, so that
# `rez-guard --help` and the subcommands that never launch a shell do not pay
# for importing rez (about 0.1 s of CPU time).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "env": ("guard.cli.env:env", "Resolve PKG..., show what the packages inject, ask, and launch the approved shell."),
    "audit": ("guard.cli.audit:audit", "Check, list and follow the audit log."),
    "hooks": ("guard.cli.hooks:hooks",
              "Install or remove the rez plugins that send every rez shell launch through rez-guard."),
    "policy": ("guard.cli.policy:policy_group", "Check policy files and show the effective policy."),
    "status": ("guard.cli.status:status",
               "Show which routes to a rez shell pass rez-guard: rez-env, rez's shell plugins, and the unguarded ones."),
    "trust": ("guard.cli.trust:trust_group", "Manage remembered approvals and denials (a KEY may be any unique prefix)."),
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module on first use."""

    def __init__(self, *args, lazy_commands: dict[str, tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy_commands:
            return self.commands.get(cmd_name)
        # The stand-in must be in place before the subcommand's module imports rez.
        defer_dot_parser()
        module_name, attribute = self.lazy_commands[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if "rez.plugin_managers" in sys.modules:
            speed_up_plugin_search()
        # Everything imported so far lives as long as the process. Freezing it keeps
        # the garbage collector from walking it again on every full collection, and
        # keeps the forked recording child from copying the pages it would touch.
        gc.freeze()
        gc.enable()
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listed from the table, so that --help imports no subcommand module.
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None:
                rows.append((name, command.get_short_help_str(formatter.width)))
            else:
                rows.append((name, self.lazy_commands[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy_commands=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rez-guard")
def cli() -> None:
    """Guard rez shells: preview, approve, launch, monitor and audit."""


def _wants_debug(argv: list[str]) -> bool:
    options = argv[: argv.index("--")] if "--" in argv else argv
    return any(word in ("--verbose", "--debug") or (word.startswith("-v") and set(word[1:]) == {"v"})
               for word in options)


def _configure_logging(argv: list[str]) -> None:
    # Logging is set up before click parses, so that parsing and loading the policy can log too.
    verbose = _wants_debug(argv)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="rez-guard: %(levelname)s: %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    _configure_logging(args)
    # Importing a subcommand creates most of the objects a launch keeps, so collecting
    # garbage meanwhile only walks a growing heap. get_command turns collection back
    # on once the subcommand is imported, and so does the end of this function.
    gc.disable()
    try:
        # Without standalone mode click returns the code given to ctx.exit() instead of exiting.
        result = cli.main(args=args, prog_name="rez-guard", standalone_mode=False)
    except GuardError as error:
        click.echo(f"rez-guard: error: {error.message}", err=True)
        return int(error.exit_code)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("rez-guard: aborted", err=True)
        return int(ExitCode.DENIED)
    except KeyboardInterrupt:
        click.echo("rez-guard: interrupted", err=True)
        return 130
    except Exception as error:
        logger.debug("unexpected error", exc_info=True)
        click.echo(f"rez-guard: internal error: {type(error).__name__}: {error} (run with -v for the traceback)",
                   err=True)
        return int(ExitCode.INTERNAL_ERROR)
    finally:
        gc.enable()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
