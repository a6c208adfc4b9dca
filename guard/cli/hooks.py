"""`rez-guard hooks install|uninstall`: route rez's own commands and shells through rez-guard, or stop."""

from __future__ import annotations

import sys

import click

from guard.intercept import companion
from guard.intercept.errors import HooksError
from guard.intercept.routes import HOOKED_ROUTE_NAMES, RouteState, probe_status_elsewhere


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def hooks() -> None:
    """Install or remove the rez plugins that send every rez shell launch through rez-guard."""


@hooks.command()
def install() -> None:
    """Install rez-guard-hooks into this Python environment, which is rez's.

    Afterwards rez-env and `rez env` run rez-guard's isolated pipeline, `rez
    guard` is rez-guard, and every launch through rez's bash, sh, zsh, csh and
    tcsh shell plugins (suite tools, rez-build, rez-test, execute_shell) is
    previewed, decided, monitored and audited in rez's own process.
    """
    installed = companion.install()
    status = probe_status_elsewhere()
    if status is None or not _all_hooked_routes_guarded(status):
        companion.uninstall()
        raise HooksError(
            f"rez in {sys.prefix} failed to load the hooks when started from / without PYTHONPATH, so they "
            "were removed again; the usual cause is a rez-guard importable only through PYTHONPATH or the "
            "current folder: install rez-guard itself into this environment with pip and run the command again")
    click.echo(f"rez-guard: installed {companion.DISTRIBUTION} {installed.version} into {installed.location}; "
               "run `rez-guard status` to see the guarded routes", err=True)


@hooks.command()
def uninstall() -> None:
    """Remove rez-guard-hooks from this Python environment: rez behaves as before."""
    removed = companion.uninstall()
    if removed is None:
        click.echo(f"rez-guard: {companion.DISTRIBUTION} is not installed in {sys.prefix}; nothing to remove",
                   err=True)
        return
    click.echo(f"rez-guard: removed {companion.DISTRIBUTION} {removed.version} from {removed.location}", err=True)


def _all_hooked_routes_guarded(status: dict) -> bool:
    states = {route["name"]: route["state"] for route in status.get("routes", [])}
    return all(states.get(name) == RouteState.GUARDED.value for name in HOOKED_ROUTE_NAMES)
