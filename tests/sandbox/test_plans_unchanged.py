"""The sandbox changes nothing a clean package does: same plans with and without it, nothing denied.

The requests cover rez's own test repositories (solver and commands, shipped in
the rez package) and the example repository of this project.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import rez

from guard.isolation import run_isolated
from guard.paths import GuardPaths
from guard.plan import StartupPlan
from guard.record import detect_system_paths
from guard.render import replay_plan
from guard.request import LaunchRequest
from guard.resolve import SessionFiles, resolve_and_record
from guard.sandbox import build_options
from guard.sandbox.rezwork import prepare_in_parent

REZ_TESTS = Path(rez.__file__).resolve().parent / "data" / "tests"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "packages"
# Values that change from one recording to the next, whatever the sandbox does.
CLOCK_VARIABLES = ("REZ_SHELL_INIT_TIMESTAMP", "REZ_USED_TIMESTAMP")

CASES = [
    *[(REZ_TESTS / "solver" / "packages", request) for request in (
        ("pyfoo",), ("pybah",), ("pyvariants",), ("nopy",), ("bahish",), ("pymum",), ("pyson",), ("pyodd",),
        ("pysplit",), ("test_variant_split_start",), ("python-2.6",), ("test_weakly_reference_requires",),
        ("missing_variant_requires",),
    )],
    *[(REZ_TESTS / "commands" / "packages", request) for request in (("rextest",), ("rextest2",))],
    *[(EXAMPLES, request) for request in (
        ("studio_plugin", "studio_config"), ("hostile",), ("studio_python_lib-1.0",), ("studio_app",),
    )],
]


def normalized(plan: dict) -> dict:
    """Return the plan with the clock values blanked."""
    for action in plan["actions"]:
        if action.get("key") in CLOCK_VARIABLES:
            action["value"] = [["<clock>", False]]
    for name in CLOCK_VARIABLES:
        if name in plan["environ"]:
            plan["environ"][name] = "<clock>"
    return plan


@pytest.mark.parametrize("shell", ["bash", "tcsh"])
@pytest.mark.parametrize(("repository", "packages"), CASES, ids=lambda value: getattr(value, "name", None)
                         or " ".join(value))
def test_plan_same_with_and_without_sandbox(repository, packages, shell, tmp_path):
    detect_system_paths(shell)
    prepare_in_parent()
    request = LaunchRequest(packages=packages, paths=str(repository), shell=shell)
    files = SessionFiles(rxt_file=str(tmp_path / "context.rxt"), context_file=str(tmp_path / "context.sh"))
    environ = {"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"], "LANG": "C.UTF-8"}
    sandboxed = build_options(GuardPaths.from_environ(os.environ), [str(repository)])

    def record() -> dict:
        return resolve_and_record(request, files, environ).to_dict()

    plain = run_isolated(record, sandboxed.with_layers(()))
    confined = run_isolated(record, sandboxed)

    assert confined.report.denied == ()
    assert confined.report.protected_changes == ()
    assert (confined.failure is None) == (plain.failure is None)
    if plain.failure is not None:
        assert confined.failure == plain.failure
        return
    assert confined.value["solved"] == plain.value["solved"]
    # The first line of rez's failure text carries the time of the resolve.
    assert confined.value["failure_text"].split("\n")[1:] == plain.value["failure_text"].split("\n")[1:]
    if plain.value["plan"] is None:
        assert confined.value["plan"] is None
        return
    plain_plan = normalized(plain.value["plan"])
    confined_plan = normalized(confined.value["plan"])
    assert confined_plan == plain_plan
    assert replay_plan(StartupPlan.from_dict(confined_plan)) == replay_plan(StartupPlan.from_dict(plain_plan))
