"""rez-env's parsed command line becomes `rez-guard env` words with the same meaning."""

from __future__ import annotations

import argparse

import pytest
from rez.cli._main import _add_common_args

from guard.cli.env import build_request, env
from guard.errors import UsageError
from guard.intercept.plugins import env as env_plugin
from guard.intercept.rezargs import rez_env_words
from guard.request import LaunchRequest

# rez-env ignores words after --N0 (they are for shell completion); rez handles --profile itself.
_NOT_PASSED_ON = frozenset({"--N0", "--profile"})


def _rez_parser() -> argparse.ArgumentParser:
    # The same parser rez builds for `rez-env` when the hooks are installed.
    parser = argparse.ArgumentParser(prog="rez-env")
    env_plugin.setup_parser(parser)
    _add_common_args(parser)
    return parser


def _split_groups(args: list[str]) -> tuple[list[str], list[list[str]]]:
    # rez's "grouped" mode splits the command line at each `--` before argparse reads it.
    groups: list[list[str]] = [[]]
    for word in args:
        if word == "--":
            groups.append([])
        else:
            groups[-1].append(word)
    return groups[0], groups[1:]


def _request_from_click(args: list[str]) -> LaunchRequest | str:
    try:
        ctx = env.make_context("env", list(args))
        params = dict(ctx.params)
        packages = params.pop("packages")
        return build_request(packages, ctx.meta.get("guard.argv"), params, ())
    except UsageError as error:
        return error.message


def _request_through_rez(args: list[str]) -> LaunchRequest | str:
    parser = _rez_parser()
    first, extra_groups = _split_groups(args)
    options = parser.parse_args(first)
    return _request_from_click(rez_env_words(parser, options, extra_groups))


def _sample_args(action: argparse.Action, option: str) -> list[str]:
    if action.nargs == 0:
        return [option]
    if action.choices:
        value = "bash" if "bash" in action.choices else sorted(action.choices)[0]
        return [option, value]
    if action.type is int:
        return [option, "3"]
    return [option, "value"]


def _options() -> list:
    parser = _rez_parser()
    return [
        pytest.param(action, option, id=option)
        for action in parser._actions if action.option_strings and action.dest != "help"
        for option in action.option_strings if option not in _NOT_PASSED_ON
    ]


OPTIONS = _options()


@pytest.mark.parametrize(("action", "option"), OPTIONS)
def test_option_means_the_same(action: argparse.Action, option: str) -> None:
    args = ["somepkg", *_sample_args(action, option)]
    assert _request_through_rez(args) == _request_from_click(args)


def test_every_option_enumerated() -> None:
    # rez-env 3.4 has over 40 option strings; a broken enumeration would pass vacuously.
    assert len(OPTIONS) > 40


def test_abbreviated_option_expanded() -> None:
    request = _request_through_rez(["--no-imp", "--path=/repo", "pkg"])
    assert isinstance(request, LaunchRequest)
    assert request.no_implicit
    assert request.paths == "/repo"


def test_greedy_rules_and_command() -> None:
    args = ["--exclude", "*.beta", "foo-1", "--shell", "sh", "pkg", "-vv", "--", "echo", "-n", "a b"]
    request = _request_through_rez(args)
    assert request == _request_from_click(args)
    assert request.exclude == ("*.beta", "foo-1")
    assert request.packages == ("pkg",)
    assert request.verbose == 2
    assert request.argv == ("echo", "-n", "a b")


def test_later_command_groups_ignored() -> None:
    request = _request_through_rez(["pkg", "--", "first", "--", "second"])
    assert request.argv == ("first",)


def test_values_starting_with_dash_kept() -> None:
    request = _request_through_rez(["--time=-10s", "-c", "echo --x=1", "pkg"])
    assert request.time == "-10s"
    assert request.command == "echo --x=1"


def test_guard_options_accepted() -> None:
    request = _request_through_rez(["--preview", "--json", "--monitor", "poll", "--yes", "pkg"])
    assert (request.preview, request.json, request.monitor, request.yes) == (True, True, "poll", True)


def test_command_with_argv_rejected() -> None:
    assert "cannot be combined" in _request_through_rez(["-c", "true", "pkg", "--", "false"])
