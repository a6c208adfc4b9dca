"""Fixtures every test gets: a private HOME and XDG folders, and no leftover child processes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PACKAGES = REPO_ROOT / "examples" / "packages"
SHELLS = ("bash", "sh", "zsh", "tcsh", "csh")


def in_ci() -> bool:
    """True when running under CI, where a missing shell is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_shell(name: str) -> None:
    """Skip the test when the shell is missing, or fail it under CI."""
    if shutil.which(name):
        return
    if in_ci():
        pytest.fail(f"shell {name} is not installed; .ci/run must install it")
    pytest.skip(f"shell {name} is not installed")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG folders at tmp_path, and the system policy at an empty file there."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    system_policy = tmp_path / "system-policy.toml"
    system_policy.write_text("", encoding="utf-8")
    monkeypatch.setenv("REZ_GUARD_POLICY", str(system_policy))
    return home


@pytest.fixture(autouse=True)
def reap_children():
    """Kill and reap any child process a test left behind.

    Processes that were running before the test (servers of module-scoped fixtures,
    which pytest sets up first) are left to their fixtures.
    """
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    yield
    leftovers = [child for child in psutil.Process().children(recursive=True) if child.pid not in before]
    for child in leftovers:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(leftovers, timeout=5)
