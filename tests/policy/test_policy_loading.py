"""Loading the system and user policy files, validating them, and tightening only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from guard.errors import ConfigError
from guard.findings import Severity
from guard.paths import GuardPaths
from guard.policy import NonInteractive, Policy, load_policy
from guard.policy_file import PolicyFileError, parse_policy_text, read_policy_file
from guard.rules.catalog import RULES

FULL_SYSTEM_POLICY = """\
[rules]
"command.run" = "high"
"path.missing-dir" = "info"
"alias.defined" = "warn"

[paths]
allowed_prefixes = ["/usr", "/opt/studio"]
variables = ["MAYA_SCRIPT_PATH"]
trusted_owners = ["pipeline", "1001"]

[repositories]
trusted = ["/studio/packages/release", "filesystem@/studio/packages/ext"]
trust_local = true

[environment]
code_variables = ["MAYA_SCRIPT_PATH"]

[commands]
common = ["maya", "nuke"]

[approval]
allow_yes = true
non_interactive = "approve-below"
non_interactive_max_severity = "warn"

[audit]
required = false
log_values = false
redact = ["*TOKEN*"]
sinks = ["udp://127.0.0.1:5514"]

[monitor]
backend = "psutil"
exit_policy = "report"
"""


@pytest.fixture
def paths(guard_home: Path) -> GuardPaths:
    return GuardPaths.from_environ(os.environ)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_policy_files(paths: GuardPaths):
    policy = load_policy(paths)

    assert policy.non_interactive is NonInteractive.TRUSTED_ONLY
    assert policy.severity("guard.variable") is Severity.BLOCK
    assert policy.trusted_repositories is None
    assert policy.sources == (str(paths.system_policy),)
    assert str(paths.data_dir) in policy.protected_paths


def test_default_policy_blocks_guard_variables():
    policy = Policy()

    for rule_id in ("guard.variable", "guard.command", "guard.tamper"):
        assert policy.severity(rule_id) is Severity.BLOCK


def test_system_file_sets_everything(paths: GuardPaths):
    write(paths.system_policy, FULL_SYSTEM_POLICY)

    policy = load_policy(paths)

    assert policy.severity("command.run") is Severity.HIGH
    assert policy.severity("path.missing-dir") is Severity.INFO
    assert policy.allowed_prefixes == ("/usr", "/opt/studio")
    assert policy.path_variables == ("MAYA_SCRIPT_PATH",)
    assert policy.trusted_owners == ("pipeline", "1001")
    assert policy.trusted_repositories == ("/studio/packages/release", "filesystem@/studio/packages/ext")
    assert policy.trust_local_packages is True
    assert policy.common_commands == ("maya", "nuke")
    assert policy.non_interactive is NonInteractive.APPROVE_BELOW
    assert policy.non_interactive_max_severity is Severity.WARN
    assert policy.audit_required is False
    assert policy.log_values is False
    assert policy.redact == ("*TOKEN*",)
    assert policy.audit_sinks == ("udp://127.0.0.1:5514",)
    assert policy.monitor_backend == "psutil"
    assert policy.monitor_exit_policy == "report"


def test_user_cannot_lower_system_severity(paths: GuardPaths):
    write(paths.system_policy, '[rules]\n"command.run" = "high"\n')
    write(paths.user_policy, '[rules]\n"command.run" = "info"\n"alias.defined" = "high"\n')

    policy = load_policy(paths)

    assert policy.severity("command.run") is Severity.HIGH
    assert policy.severity("alias.defined") is Severity.HIGH
    assert len(policy.notes) == 1
    assert f"{paths.user_policy}:2:" in policy.notes[0]
    assert "command.run" in policy.notes[0]


def test_user_cannot_lower_default_block(paths: GuardPaths):
    write(paths.user_policy, '[rules]\n"guard.variable" = "warn"\n')

    policy = load_policy(paths)

    assert policy.severity("guard.variable") is Severity.BLOCK
    assert policy.notes


def test_user_cannot_widen_allowed_prefixes(paths: GuardPaths):
    write(paths.system_policy, '[paths]\nallowed_prefixes = ["/usr", "/opt/studio"]\n')
    write(paths.user_policy, '[paths]\nallowed_prefixes = ["/opt/studio/tools", "/home/me/bin", "/"]\n')

    policy = load_policy(paths)

    assert policy.allowed_prefixes == ("/opt/studio/tools",)
    assert "'/home/me/bin'" in policy.notes[0]
    assert "'/'" in policy.notes[0]


def test_user_cannot_widen_trusted_repositories(paths: GuardPaths):
    write(paths.system_policy, '[repositories]\ntrusted = ["/studio/release"]\ntrust_local = false\n')
    write(paths.user_policy, '[repositories]\ntrusted = ["/studio/release", "/home/me/packages"]\ntrust_local = true\n')

    policy = load_policy(paths)

    assert policy.trusted_repositories == ("/studio/release",)
    assert policy.trust_local_packages is False
    assert len(policy.notes) == 2


def test_user_may_list_repositories_when_system_does_not(paths: GuardPaths):
    write(paths.user_policy, '[repositories]\ntrusted = ["/studio/release"]\n')

    policy = load_policy(paths)

    assert policy.trusted_repositories == ("/studio/release",)
    assert policy.notes == ()


def test_user_cannot_loosen_approval_or_audit(paths: GuardPaths):
    write(paths.system_policy, (
        '[approval]\nallow_yes = false\nnon_interactive = "deny"\nnon_interactive_max_severity = "info"\n'
        '[audit]\nrequired = true\nlog_values = true\n[monitor]\nexit_policy = "terminate"\n'
    ))
    write(paths.user_policy, (
        '[approval]\nallow_yes = true\nnon_interactive = "approve-below"\nnon_interactive_max_severity = "high"\n'
        '[audit]\nrequired = false\nlog_values = false\n[monitor]\nexit_policy = "report"\n'
    ))

    policy = load_policy(paths)

    assert policy.allow_yes is False
    assert policy.non_interactive is NonInteractive.DENY
    assert policy.non_interactive_max_severity is Severity.INFO
    assert policy.audit_required is True
    assert policy.log_values is True
    assert policy.monitor_exit_policy == "terminate"
    assert len(policy.notes) == 6


def test_user_can_tighten_everything(paths: GuardPaths):
    write(paths.system_policy, FULL_SYSTEM_POLICY)
    write(paths.user_policy, (
        '[approval]\nallow_yes = false\nnon_interactive = "deny"\nnon_interactive_max_severity = "info"\n'
        '[audit]\nrequired = true\nredact = ["*SECRET*"]\nsinks = ["tcp://127.0.0.1:6514"]\n'
        '[commands]\ncommon = ["houdini"]\n[repositories]\ntrust_local = false\n'
    ))

    policy = load_policy(paths)

    assert policy.notes == ()
    assert policy.allow_yes is False
    assert policy.non_interactive is NonInteractive.DENY
    assert policy.audit_required is True
    assert policy.redact == ("*TOKEN*", "*SECRET*")
    assert policy.audit_sinks == ("udp://127.0.0.1:5514", "tcp://127.0.0.1:6514")
    assert policy.common_commands == ("maya", "nuke", "houdini")
    assert policy.trust_local_packages is False


def test_bad_severity_names_line(tmp_path: Path):
    text = '# studio policy\n[rules]\n"command.run" = "hgh"\n'

    with pytest.raises(PolicyFileError) as caught:
        parse_policy_text(text, tmp_path / "policy.toml")

    assert str(caught.value.problems[0]).startswith(f"{tmp_path / 'policy.toml'}:3: ")
    assert "invalid severity 'hgh'" in str(caught.value)


def test_every_problem_listed(tmp_path: Path):
    text = (
        '[rules]\n'
        '"no.such-rule" = "high"\n'
        '[paths]\n'
        'allowed_prefixes = ["relative/dir"]\n'
        'colour = "blue"\n'
        '[approval]\n'
        'non_interactive = "sometimes"\n'
        '[surprise]\n'
        'x = 1\n'
    )

    with pytest.raises(PolicyFileError) as caught:
        parse_policy_text(text, tmp_path / "p.toml")

    lines = sorted(problem.line for problem in caught.value.problems)
    assert lines == [2, 4, 5, 7, 8]


def test_syntax_error_names_line(tmp_path: Path):
    with pytest.raises(PolicyFileError) as caught:
        parse_policy_text('[rules]\n"command.run" = \n', tmp_path / "p.toml")

    assert caught.value.problems[0].line == 2
    assert "invalid TOML" in caught.value.problems[0].message


def test_dotted_rule_key_accepted(tmp_path: Path):
    policy_file = parse_policy_text('[rules]\npath.dot-entry = "block"\n', tmp_path / "p.toml")

    assert policy_file.severities == {"path.dot-entry": Severity.BLOCK}
    assert policy_file.line_of("path.dot-entry") == 2


def test_wrong_type_names_key(tmp_path: Path):
    with pytest.raises(PolicyFileError) as caught:
        parse_policy_text('[audit]\n\nrequired = "yes"\n', tmp_path / "p.toml")

    assert caught.value.problems[0].line == 3
    assert "expected true or false" in caught.value.problems[0].message


def test_named_system_policy_missing(guard_home: Path, tmp_path: Path):
    environ = dict(os.environ, REZ_GUARD_POLICY=str(tmp_path / "nowhere.toml"))

    with pytest.raises(ConfigError, match="REZ_GUARD_POLICY is missing"):
        load_policy(GuardPaths.from_environ(environ))


def test_unreadable_policy_file(paths: GuardPaths):
    paths.user_policy.mkdir(parents=True)

    with pytest.raises(ConfigError, match="cannot read policy file"):
        load_policy(paths)


def test_invalid_user_file_fails_load(paths: GuardPaths):
    write(paths.user_policy, '[approval]\nallow_yes = 1\n')

    with pytest.raises(ConfigError, match=r"policy\.toml:2: "):
        load_policy(paths)


def test_policy_to_dict_is_json(paths: GuardPaths):
    write(paths.system_policy, FULL_SYSTEM_POLICY)

    data = json.loads(json.dumps(load_policy(paths).to_dict()))

    assert data["non_interactive"] == "approve-below"
    assert data["non_interactive_max_severity"] == "warn"
    assert set(data["severities"]) == {rule.id for rule in RULES}
    assert data["severities"]["command.run"] == "high"


def test_policy_file_round_trip(paths: GuardPaths):
    policy_file = read_policy_file(write(paths.system_policy, FULL_SYSTEM_POLICY))

    assert policy_file.settings["monitor_backend"] == "psutil"
    assert policy_file.line_of("monitor_backend") == 33


def test_top_level_value_rejected(tmp_path: Path):
    with pytest.raises(PolicyFileError) as caught:
        parse_policy_text('# policy\nversion = 2\n[audit]\nrequired = true\napproval = "deny"\n', tmp_path / "p.toml")

    problems = [(problem.line, problem.message) for problem in caught.value.problems]
    assert problems[0][0] == 2
    assert problems[0][1].startswith("unknown table [version]")
    assert problems[1][0] == 5
    assert problems[1][1].startswith("unknown key 'approval' in [audit]")
