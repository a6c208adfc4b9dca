"""A real rez 3.4.0 and this checkout in a fresh virtual environment, for the hooks' end-to-end tests.

The environment is made once per test session. Its packages come from a
wheelhouse folder that outlives the session (`.cache/wheelhouse` in the
checkout, or `$REZ_GUARD_WHEELHOUSE`): pip fills it from the package index
only when an offline install from it fails, so later runs download nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from tests.conftest import REPO_ROOT

TESTED_REZ = "rez==3.4.0"
WHEELHOUSE = Path(os.environ.get("REZ_GUARD_WHEELHOUSE") or REPO_ROOT / ".cache" / "wheelhouse")
# What the distribution is built from: pyproject.toml names README.md, and its packages are guard and shells.
_SHIPPED_FILES = ("pyproject.toml", "README.md")
_SHIPPED_PACKAGES = ("guard", "shells")


def _requirements() -> list[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [TESTED_REZ, *project["project"]["dependencies"], *project["build-system"]["requires"]]


def _run(argv: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=environ, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=600, check=False)


def _check(result: subprocess.CompletedProcess[str], step: str) -> None:
    if result.returncode != 0:
        pytest.fail(f"{step} failed with exit code {result.returncode}:\n{result.stderr[-3000:]}")


def _setup_environ(scratch: Path) -> dict[str, str]:
    # pip must not read or write the real HOME (its cache and configuration live there).
    environ = dict(os.environ)
    environ.pop("PYTHONPATH", None)
    environ.update(HOME=str(scratch), XDG_CACHE_HOME=str(scratch / "cache"),
                   XDG_CONFIG_HOME=str(scratch / "config"), PIP_NO_CACHE_DIR="1")
    return environ


@dataclass(frozen=True)
class RezVenv:
    """The fresh environment: its interpreter and scripts, and how to run them as a user would."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def environ(self) -> dict[str, str]:
        """The test's environment (private HOME and XDG folders) with this environment's scripts first on PATH."""
        environ = dict(os.environ)
        environ.pop("PYTHONPATH", None)
        environ["PATH"] = f"{self.bin}{os.pathsep}{environ.get('PATH', '')}"
        return environ

    def run(self, program: str, *args: str, cwd: Path | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run a program of the environment's bin folder (or one given by absolute path) without a terminal."""
        return subprocess.run([str(self.bin / program), *args], env=self.environ(), cwd=cwd, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False)

    def spawn(self, program: str, *args: str, cwd: Path | None = None) -> pexpect.spawn:
        """Start a program of the environment's bin folder (or one given by absolute path) on a terminal."""
        return pexpect.spawn(str(self.bin / program), list(args), env=self.environ(), cwd=None if cwd is None
                             else str(cwd), encoding="utf-8", timeout=90, dimensions=(60, 200))

    def hooks_installed(self) -> bool:
        return any(self.root.glob("lib/python*/site-packages/rez_guard_hooks-*.dist-info"))

    def install_hooks(self) -> None:
        result = self.run("rez-guard", "hooks", "install")
        assert result.returncode == 0, result.stderr

    def uninstall_hooks(self) -> None:
        result = self.run("rez-guard", "hooks", "uninstall")
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def rez_venv(tmp_path_factory: pytest.TempPathFactory) -> RezVenv:
    """A virtual environment with rez 3.4.0 and a copy of this checkout installed, without the hooks."""
    base = tmp_path_factory.mktemp("rez-venv")
    environ = _setup_environ(base / "setup-home")
    venv = RezVenv(base / "venv")
    _check(_run([sys.executable, "-m", "venv", str(venv.root)], environ), "creating the virtual environment")

    pip = [str(venv.python), "-m", "pip", "--disable-pip-version-check"]
    offline = [*pip, "install", "--no-index", "--find-links", str(WHEELHOUSE), *_requirements()]
    if _run(offline, environ).returncode != 0:
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        _check(_run([*pip, "wheel", "--wheel-dir", str(WHEELHOUSE), *_requirements()], environ),
               f"filling the wheelhouse {WHEELHOUSE}")
        _check(_run(offline, environ), "installing rez from the wheelhouse")

    # Installing from a copy keeps pip's build files out of the checkout.
    source = base / "source"
    for package in _SHIPPED_PACKAGES:
        shutil.copytree(REPO_ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in _SHIPPED_FILES:
        shutil.copy2(REPO_ROOT / name, source / name)
    _check(_run([*pip, "install", "--no-index", "--find-links", str(WHEELHOUSE), "--no-deps", str(source)], environ),
           "installing rez-guard")
    return venv


@pytest.fixture
def hooked(rez_venv: RezVenv) -> RezVenv:
    """The fresh environment with rez-guard's hooks installed."""
    if not rez_venv.hooks_installed():
        rez_venv.install_hooks()
    return rez_venv


def last_line(text: str) -> str:
    """The last non-empty line of a program's output."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
