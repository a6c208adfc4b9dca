"""The `policy` and `trust` command groups, invoked directly with click's CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from guard.cli.policy import policy_group
from guard.cli.trust import trust_group
from guard.errors import ConfigError, UsageError
from guard.paths import GuardPaths
from guard.policy_file import parse_policy_text
from guard.trust import TrustState, TrustStore

SUMMARY = {"request": ["clean"], "resolve": ["clean-1.0.0[]"], "shell": "bash"}


@pytest.fixture
def paths(guard_home: Path) -> GuardPaths:
    return GuardPaths.from_environ(os.environ)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def store(paths: GuardPaths) -> TrustStore:
    trust_store = TrustStore(paths.trust_store)
    trust_store.remember("a1" + "0" * 62, "c1" + "0" * 62, SUMMARY)
    trust_store.deny("c2" + "0" * 62, dict(SUMMARY, request=["bad"]))
    return trust_store


def test_policy_check_valid_file(runner: CliRunner, tmp_path: Path):
    policy_file = tmp_path / "studio.toml"
    policy_file.write_text('[rules]\n"command.run" = "high"\n')

    result = runner.invoke(policy_group, ["check", str(policy_file)])

    assert result.exit_code == 0, result.output
    assert f"{policy_file}: valid" in result.stdout


def test_policy_check_lists_problems(runner: CliRunner, tmp_path: Path):
    policy_file = tmp_path / "studio.toml"
    policy_file.write_text('[rules]\n"command.run" = "loud"\n[audit]\nrequired = "yes"\n')

    result = runner.invoke(policy_group, ["check", str(policy_file)])

    assert isinstance(result.exception, ConfigError)
    assert f"{policy_file}:2: rule 'command.run': invalid severity 'loud'" in result.stderr
    assert f"{policy_file}:4: [audit] required: expected true or false" in result.stderr
    assert "2 problems in policy files" in str(result.exception)


def test_policy_check_warns_ignored_user_settings(runner: CliRunner, paths: GuardPaths):
    paths.system_policy.write_text('[approval]\nallow_yes = false\n')
    paths.user_policy.parent.mkdir(parents=True)
    paths.user_policy.write_text('[approval]\nallow_yes = true\n')

    result = runner.invoke(policy_group, ["check"])

    assert result.exit_code == 0, result.output
    assert f"{paths.system_policy}: valid" in result.stdout
    assert f"{paths.user_policy}: valid" in result.stdout
    assert f"warning: {paths.user_policy}:2: ignored true in 'allow_yes'" in result.stderr


def test_policy_show_is_policy_file(runner: CliRunner, paths: GuardPaths, tmp_path: Path):
    paths.system_policy.write_text('[rules]\n"command.run" = "high"\n[repositories]\ntrusted = ["/studio"]\n')

    result = runner.invoke(policy_group, ["show"])

    assert result.exit_code == 0, result.output
    assert '"command.run" = "high"' in result.stdout
    shown = parse_policy_text(result.stdout, tmp_path / "shown.toml")
    assert shown.settings["trusted_repositories"] == ("/studio",)
    assert shown.severities["guard.variable"].label == "block"


def test_policy_show_json(runner: CliRunner, paths: GuardPaths):
    result = runner.invoke(policy_group, ["show", "--json"])

    data = json.loads(result.stdout)
    assert data["severities"]["guard.variable"] == "block"
    assert data["non_interactive"] == "trusted-only"
    assert data["sources"] == [str(paths.system_policy)]


def test_trust_list_table(runner: CliRunner, store: TrustStore):
    result = runner.invoke(trust_group, ["list"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["KEY", "STATE", "CREATED", "CONTEXT"]
    assert {line.split()[1] for line in lines[1:]} == {"trusted", "denied"}


def test_trust_list_json(runner: CliRunner, store: TrustStore):
    result = runner.invoke(trust_group, ["list", "--json"])

    data = json.loads(result.stdout)
    assert sorted(item["state"] for item in data) == ["denied", "trusted"]


def test_trust_list_empty(runner: CliRunner, paths: GuardPaths):
    result = runner.invoke(trust_group, ["list"])

    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no trust entries" in result.stderr


def test_trust_show_by_prefix(runner: CliRunner, store: TrustStore):
    result = runner.invoke(trust_group, ["show", "a1", "--json"])

    data = json.loads(result.stdout)
    assert data["key"] == "a1" + "0" * 62
    assert data["summary"] == SUMMARY


def test_trust_show_unknown_key(runner: CliRunner, store: TrustStore):
    result = runner.invoke(trust_group, ["show", "zz"])

    assert isinstance(result.exception, UsageError)


def test_trust_forget(runner: CliRunner, store: TrustStore):
    result = runner.invoke(trust_group, ["forget", "c2"])

    assert result.exit_code == 0, result.output
    assert "forgot denied entry" in result.stdout
    assert store.lookup("x", "c2" + "0" * 62) is TrustState.UNKNOWN


def test_trust_forget_json(runner: CliRunner, store: TrustStore):
    result = runner.invoke(trust_group, ["forget", "a1", "--json"])

    assert json.loads(result.stdout)["forgotten"]["state"] == "trusted"
    assert [entry.state for entry in store.entries()] == [TrustState.DENIED]


def test_trust_deny_trusted_entry(runner: CliRunner, store: TrustStore):
    result = runner.invoke(trust_group, ["deny", "a1", "--json"])

    record = json.loads(result.stdout)["denied"]
    assert record["key"] == "c1" + "0" * 62
    assert store.lookup("a1" + "0" * 62, "c1" + "0" * 62) is TrustState.DENIED


def test_trust_corrupt_store_fails(runner: CliRunner, paths: GuardPaths):
    paths.trust_store.parent.mkdir(parents=True)
    paths.trust_store.write_text("{")
    paths.trust_store.chmod(0o600)

    result = runner.invoke(trust_group, ["list"])

    assert isinstance(result.exception, ConfigError)
    assert paths.trust_store.read_text() == "{"
