"""The root command imports a subcommand's module only when that subcommand runs."""

from __future__ import annotations

import inspect
import subprocess
import sys

import click
from click.testing import CliRunner

from guard.cli.main import SUBCOMMANDS, cli
from tests.conftest import REPO_ROOT


def _modules_after(code: str) -> list[str]:
    """Run `code` in a fresh interpreter and return the rez and guard.cli modules it imported."""
    script = code + (
        "\nimport sys\n"
        "names = sorted(m for m in sys.modules if m.split('.')[0] == 'rez' or m.startswith('guard.cli.'))\n"
        "print('modules:', *names, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=60, check=True)
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("modules:"), result.stderr
    return line.split()[1:]


def test_help_imports_no_rez() -> None:
    modules = _modules_after("from guard.cli.main import main\nmain(['--help'])")
    assert "rez" not in modules
    assert "guard.cli.env" not in modules


def test_version_imports_no_rez() -> None:
    modules = _modules_after("from guard.cli.main import main\nmain(['--version'])")
    assert "rez" not in modules


def test_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert f"  {name}  " in result.output


def test_table_help_matches_command_docstring() -> None:
    for name in SUBCOMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        first_line = inspect.cleandoc(command.help or "").splitlines()[0]
        assert SUBCOMMANDS[name][1] == first_line


def test_unknown_subcommand_rejected() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output
