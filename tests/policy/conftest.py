"""Fixtures for the policy, rule and trust store tests.

Every test runs with HOME and the XDG folders in its own temporary folder.
`record_plan` resolves real rez packages from a copy of `packages/` and records
them with the guard's own recorder into a `StartupPlan`, as the launch pipeline
does in its child process, so each rule is triggered by a real package.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from rez.config import config as rez_config
from rez.resolved_context import ResolvedContext

from guard.launch import with_sourced_files
from guard.plan import StartupPlan
from guard.record import RecordingSettings
from guard.record import record_plan as record_plan_once

HERE = Path(__file__).parent
NOBODY_UID = 65534

RecordPlan = Callable[..., StartupPlan]


@pytest.fixture(autouse=True)
def guard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME, the XDG folders and the system policy (empty) at a temporary folder."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    for name in list(os.environ):
        if name.startswith("REZ_GUARD_"):
            monkeypatch.delenv(name)
    system_policy = tmp_path / "etc" / "policy.toml"
    system_policy.parent.mkdir()
    system_policy.write_text("")
    monkeypatch.setenv("REZ_GUARD_POLICY", str(system_policy))
    return home


@pytest.fixture(autouse=True)
def no_rez_system_paths() -> Iterator[None]:
    """Make rez append fixed system folders to PATH instead of asking the login shell.

    Without this, rez runs `bash` with PATH unset to learn its built-in PATH,
    which on many systems ends in '.', so every plan would carry that finding.
    """
    rez_config.override("standard_system_paths", ["/usr/bin", "/bin"])
    yield
    rez_config.remove_override("standard_system_paths")


@pytest.fixture(scope="session")
def package_repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copy the test packages and scripts to a temporary folder and set the permissions git cannot store."""
    base = tmp_path_factory.mktemp("policy-repos")
    for name in ("packages", "local_packages", "scripts"):
        shutil.copytree(HERE / name, base / name, symlinks=True)
    packages = base / "packages"
    (packages / "writabledir" / "1.0.0" / "shared").chmod(0o777)
    (packages / "writablesource" / "1.0.0" / "setup.sh").chmod(0o666)
    if os.geteuid() == 0:
        os.chown(packages / "foreigndir" / "1.0.0" / "vendor", NOBODY_UID, NOBODY_UID)
    return base


@pytest.fixture
def record_plan(package_repos: Path, guard_home: Path) -> RecordPlan:
    """Return a function that resolves a request from the test repositories and records its plan."""

    def record(request: list[str], *, local: bool = False, shell: str = "bash",
               parent_environ: Mapping[str, str] | None = None) -> StartupPlan:
        environ = dict(parent_environ or {"PATH": "/usr/bin:/bin", "HOME": str(guard_home)})
        paths = [str(package_repos / "packages")]
        rez_config.override("local_packages_path", str(package_repos / "local_packages"))
        try:
            if local:
                paths.append(str(package_repos / "local_packages"))
            context = ResolvedContext(request, package_paths=paths)
            assert context.success, f"rez could not resolve {request}: {context.failure_description}"
            settings = RecordingSettings(shell=shell, rxt_file="/tmp/session/context.rxt",
                                         context_file="/tmp/session/context.sh", interactive=False,
                                         parent_environ=environ)
            plan = record_plan_once(context, settings, time.time)
        finally:
            rez_config.remove_override("local_packages_path")
        return with_sourced_files(plan, environ)

    return record
