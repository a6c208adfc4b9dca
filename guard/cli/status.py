"""`rez-guard status`: which routes to a rez shell pass rez-guard on this host."""

from __future__ import annotations

import json

import click

from guard.intercept.routes import InterceptionStatus, interception_status


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="Write the status as JSON.")
def status(as_json: bool) -> None:
    """Show which routes to a rez shell pass rez-guard: rez-env, rez's shell plugins, and the unguarded ones."""
    current = interception_status()
    if as_json:
        click.echo(json.dumps(current.to_dict(), indent=2))
        return
    click.echo(format_status(current))


def format_status(current: InterceptionStatus) -> str:
    """Return the status as text: rez, the hooks, then one line per route."""
    tested = "tested" if current.rez_tested else "NOT tested: launches through the hooks are denied"
    lines = [f"rez {current.rez_version} at {current.rez_location} ({tested})"]
    if current.hooks_version is None:
        lines.append("hooks: not installed (`rez-guard hooks install` installs them)")
    else:
        lines.append(f"hooks: rez-guard-hooks {current.hooks_version} in {current.hooks_location}")
    if current.rez_env_on_path is None:
        lines.append("rez-env on PATH: none")
    elif current.rez_env_in_this_environment:
        lines.append(f"rez-env on PATH: {current.rez_env_on_path} (this environment)")
    else:
        lines.append(f"rez-env on PATH: {current.rez_env_on_path} (ANOTHER environment: the routes below "
                     "are not the ones it loads)")
    width = max(len(route.name) for route in current.routes)
    for route in current.routes:
        lines.append(f"{route.state.value:<12} {route.name:<{width}}  {route.detail}")
    return "\n".join(lines)
