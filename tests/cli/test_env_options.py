"""`rez-guard env` accepts every option of rez-env, read from rez's own parser."""

from __future__ import annotations

import argparse

import click
import pytest
from rez.cli import env as rez_env_cli
from rez.cli._main import _add_common_args

from guard.cli.env import build_request, env
from guard.errors import UsageError


def _rez_env_actions() -> list[argparse.Action]:
    parser = argparse.ArgumentParser()
    rez_env_cli.setup_parser(parser)
    _add_common_args(parser)
    return [action for action in parser._actions if action.option_strings and action.dest != "help"]


def _sample_args(action: argparse.Action, option: str) -> list[str]:
    if action.nargs == 0:
        return [option]
    if action.choices:
        value = "bash" if "bash" in action.choices else sorted(action.choices)[0]
        return [option, value]
    if action.type is int:
        return [option, "1"]
    return [option, "value"]


REZ_OPTIONS = [
    pytest.param(action, option, id=option)
    for action in _rez_env_actions()
    for option in action.option_strings
]


@pytest.mark.parametrize(("action", "option"), REZ_OPTIONS)
def test_rez_env_option_accepted(action: argparse.Action, option: str) -> None:
    args = _sample_args(action, option)
    with env.make_context("env", ["somepkg", *args]) as ctx:
        assert ctx.params["packages"] == ("somepkg",) or option == "--N0"


def test_rez_options_found() -> None:
    # A broken enumeration would make the parametrized test pass vacuously.
    assert len(REZ_OPTIONS) > 40


def _request(args: list[str]):
    ctx = env.make_context("env", args)
    params = dict(ctx.params)
    packages = params.pop("packages")
    return build_request(packages, ctx.meta.get("guard.argv"), params, ("rez-guard", "env", *args))


def test_argv_after_double_dash() -> None:
    request = _request(["pkg", "--", "echo", "-n", "a b"])
    assert request.packages == ("pkg",)
    assert request.argv == ("echo", "-n", "a b")


def test_exclude_reads_rules_greedily() -> None:
    request = _request(["--exclude", "*.beta", "foo-1", "--shell", "sh", "pkg"])
    assert request.exclude == ("*.beta", "foo-1")
    assert request.packages == ("pkg",)


def test_command_with_argv_rejected() -> None:
    with pytest.raises(UsageError, match="cannot be combined"):
        _request(["-c", "true", "pkg", "--", "false"])


def test_input_with_packages_rejected() -> None:
    with pytest.raises(UsageError, match="--input"):
        _request(["-i", "ctx.rxt", "pkg"])


def test_unknown_shell_rejected() -> None:
    with pytest.raises(UsageError, match="unsupported shell 'pwsh'"):
        _request(["--shell", "pwsh", "pkg"])


def test_json_without_preview_rejected() -> None:
    with pytest.raises(UsageError, match="--json needs --preview"):
        _request(["--json", "pkg"])


def test_unknown_option_is_usage_error() -> None:
    with pytest.raises(click.NoSuchOption):
        env.make_context("env", ["--no-such-option", "pkg"])
