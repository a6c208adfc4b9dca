"""`rez-guard policy`: validate policy files and print the effective policy."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from guard.errors import ConfigError
from guard.findings import Severity
from guard.paths import GuardPaths
from guard.policy import Policy, apply_system_file, apply_user_file, load_policy
from guard.policy_file import SCHEMA, PolicyFile, PolicyFileError, PolicyProblem, read_policy_file
from guard.rules.catalog import RULES


@click.group("policy")
def policy_group() -> None:
    """Check policy files and show the effective policy."""


@policy_group.command("check")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check_command(file: Path | None) -> None:
    """Validate FILE, or the system and user policy files when FILE is not given.

    Problems are printed as FILE:LINE: message. User settings that the system
    policy makes the guard ignore are printed as warnings.
    """
    paths = GuardPaths.from_environ(os.environ)
    files = [file] if file is not None else [path for path in (paths.system_policy, paths.user_policy) if path.exists()]
    if not files:
        click.echo(f"no policy files at {paths.system_policy} or {paths.user_policy}; the built-in defaults apply")
        return

    problems: list[PolicyProblem] = []
    parsed: dict[Path, PolicyFile] = {}
    for path in files:
        try:
            parsed[path] = read_policy_file(path)
        except PolicyFileError as error:
            problems.extend(error.problems)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise ConfigError(f"{len(problems)} problems in policy files; fix them and run `rez-guard policy check` again")

    for path in parsed:
        click.echo(f"{path}: valid")
    user_file = next((policy_file for path, policy_file in parsed.items() if _same_file(path, paths.user_policy)), None)
    if user_file is not None:
        for note in _user_notes(paths, user_file):
            click.echo(f"warning: {note}", err=True)


@policy_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the policy as one JSON object.")
def show_command(as_json: bool) -> None:
    """Print the effective policy: defaults, then the system file, then the user file."""
    policy = load_policy(GuardPaths.from_environ(os.environ))
    if as_json:
        click.echo(json.dumps(policy.to_dict(), indent=2, sort_keys=True))
        return
    click.echo(render_policy(policy), nl=False)


def render_policy(policy: Policy) -> str:
    """Return the policy as a policy file that sets every setting, with its sources as comments."""
    lines = ["# effective rez-guard policy"]
    lines.append(f"# read from: {', '.join(policy.sources) if policy.sources else 'built-in defaults only'}")
    lines.extend(f"# ignored: {note}" for note in policy.notes)
    lines.extend(["", "[rules]"])
    for rule in RULES:
        lines.append(f"{_toml_value(rule.id)} = {_toml_value(policy.severity(rule.id))}  # {rule.summary}")
    for table, keys in SCHEMA.items():
        lines.extend(["", f"[{table}]"])
        for key, (field_name, _convert) in keys.items():
            value = getattr(policy, field_name)
            if value is None:
                lines.append(f"# {key} is not set: every repository except your local packages is trusted")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Severity):
        return json.dumps(value.label)
    if isinstance(value, str):
        # A JSON string with only these escapes is also a TOML basic string.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for policy value {value!r}")


def _user_notes(paths: GuardPaths, user_file: PolicyFile) -> tuple[str, ...]:
    base = Policy()
    if paths.system_policy.exists():
        base = apply_system_file(base, read_policy_file(paths.system_policy))
    return apply_user_file(base, user_file).notes


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve()
    except OSError:
        return False
