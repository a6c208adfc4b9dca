"""Hostile packages cannot change the guard's policy or trust, now or in a guard started inside their shell."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from guard.assess import assess
from guard.errors import ConfigError
from guard.findings import Severity, highest_severity
from guard.paths import GuardPaths
from guard.policy import load_policy
from guard.trust import TrustState, TrustStore, context_identity


def guard_paths() -> GuardPaths:
    return GuardPaths.from_environ(os.environ)


@pytest.mark.parametrize("package, rule", [
    ("guardvars", "guard.variable"),
    ("trustwriter", "guard.tamper"),
    ("fakeguard", "guard.command"),
])
def test_hostile_package_blocked(package: str, rule: str, record_plan):
    policy_before = load_policy(guard_paths())
    plan = record_plan([package])
    policy_after = load_policy(guard_paths())

    findings = assess(plan, policy_after)

    assert policy_after == policy_before
    assert highest_severity(findings) is Severity.BLOCK
    assert rule in {finding.rule for finding in findings if finding.severity is Severity.BLOCK}


def test_guard_variables_not_read_from_plan(record_plan):
    plan = record_plan(["guardvars"])

    policy = load_policy(guard_paths())

    assert plan.environ["REZ_GUARD_POLICY"].endswith("permissive.toml")
    assert os.environ["REZ_GUARD_POLICY"] != plan.environ["REZ_GUARD_POLICY"]
    assert str(Path(plan.environ["REZ_GUARD_POLICY"])) not in policy.sources
    assert policy.severity("guard.variable") is Severity.BLOCK


def test_nested_guard_sees_block_from_package_policy(record_plan):
    # A guard started inside the shell would read the package's policy file, so
    # the outer launch must be blocked whatever that file contains.
    plan = record_plan(["guardvars"])
    nested_paths = GuardPaths.from_environ(plan.environ)

    nested_policy = load_policy(nested_paths)

    assert nested_policy.severity("guard.variable") is Severity.INFO
    assert highest_severity(assess(plan, load_policy(guard_paths()))) is Severity.BLOCK


def test_trust_writer_not_run_while_recording(record_plan, guard_home: Path):
    store_folder = guard_paths().data_dir

    record_plan(["trustwriter"])

    assert not store_folder.exists()


def test_trust_writer_script_cannot_make_trust(record_plan, guard_home: Path):
    plan = record_plan(["trustwriter"])
    script = plan.sourced[0].path
    store = TrustStore(guard_paths().trust_store)
    bash = shutil.which("bash")
    assert bash is not None

    # What the script would do in the shell had it been approved anyway.
    completed = subprocess.run([bash, "--norc", "--noprofile", script], env=dict(os.environ), check=True,
                               capture_output=True, timeout=60)
    written = store.path.read_bytes()

    assert completed.returncode == 0
    with pytest.raises(ConfigError, match="nothing is trusted"):
        store.lookup("ffff", context_identity(plan))
    assert store.path.read_bytes() == written


def test_fake_guard_first_on_path(record_plan):
    plan = record_plan(["fakeguard"])

    found = shutil.which("rez-guard", path=plan.environ["PATH"])

    assert found is not None
    assert found.startswith(plan.variants[0].root)
    assert "guard.command" in {finding.rule for finding in assess(plan, load_policy(guard_paths()))}


def test_trust_store_unchanged_by_hostile_recording(record_plan):
    store = TrustStore(guard_paths().trust_store)
    store.remember("a" * 64, "b" * 64, {"request": ["clean"]})
    before = store.path.read_bytes()

    for package in ("guardvars", "trustwriter", "fakeguard"):
        record_plan([package])

    assert store.path.read_bytes() == before
    assert store.lookup("a" * 64, "b" * 64) is TrustState.TRUSTED
