"""Launch `rez-guard env` on small real packages and read the launched shell's environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guard.verify import parse_environ
from tests.conftest import REPO_ROOT
from tests.guard_run import GUARD

ENV_PROGRAM = shutil.which("env") or "/usr/bin/env"


@dataclass(frozen=True)
class Launch:
    """One finished `rez-guard env` run."""

    returncode: int
    stdout: bytes
    stderr: str

    @property
    def environ(self) -> dict[str, str]:
        """The environment `env -0` printed in the launched shell."""
        return parse_environ(self.stdout)


def guard_env(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              timeout: float = 120) -> Launch:
    """Run `rez-guard env ARGS` without a terminal and return its result."""
    result = subprocess.run([*GUARD, "env", *args], stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=timeout, env=launch_environ_of(env), cwd=cwd)
    return Launch(result.returncode, result.stdout, result.stderr.decode("utf-8", "replace"))


def launch_environ_of(env: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment a launch gets: `env` (the test's by default), importing this checkout's guard.

    It is always passed explicitly, because a child started without one also inherits
    variables that were set outside os.environ (pytest's COLUMNS and LINES).
    """
    environ = dict(os.environ if env is None else env)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environ.get("PYTHONPATH")]))
    return environ


def launch_environ(repository: Path, shell: str, *packages: str, env: dict[str, str] | None = None) -> Launch:
    """Launch the packages with --yes and print the shell's environment with `env -0`."""
    return guard_env("--paths", str(repository), "--shell", shell, *packages, "--yes", "--", ENV_PROGRAM, "-0",
                     env=env)


def preview(repository: Path, shell: str, *packages: str, env: dict[str, str] | None = None) -> str:
    """Return the text preview of launching the packages in `shell`."""
    result = guard_env("--paths", str(repository), "--shell", shell, *packages, "--preview", env=env)
    assert result.returncode == 0, result.stderr
    return result.stderr


def preview_json(repository: Path, shell: str, *packages: str, extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> dict[str, Any]:
    """Return the JSON preview of launching the packages in `shell`."""
    result = guard_env("--paths", str(repository), "--shell", shell, *packages, "--preview", "--json", *extra,
                       env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def environ_with(**values: str) -> dict[str, str]:
    """The test process's environment with these variables added."""
    return {**os.environ, **values}
