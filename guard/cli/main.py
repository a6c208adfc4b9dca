"""The `rez-guard` root command and the one place errors become exit codes."""

from __future__ import annotations

import logging
import sys

import click

from guard import __version__
from guard.cli.audit import audit
from guard.cli.env import env
from guard.cli.hooks import hooks
from guard.cli.policy import policy_group
from guard.cli.status import status
from guard.cli.trust import trust_group
from guard.errors import ExitCode, GuardError

logger = logging.getLogger("guard")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rez-guard")
def cli() -> None:
    """Guard rez shells: preview, approve, launch, monitor and audit."""


cli.add_command(env)
cli.add_command(audit)
cli.add_command(policy_group)
cli.add_command(trust_group)
cli.add_command(hooks)
cli.add_command(status)


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
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
