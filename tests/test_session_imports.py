"""The guard imports every module before the recording child runs package code, never after.

Package code can write files as the user, so a module the parent imported after
the fork could have been replaced by the context being vetted. A driver runs
the real CLI, takes a snapshot of sys.modules when the parent returns from its
first fork, and lists what the parent imported after it.
"""

from __future__ import annotations

import subprocess
import sys

import pexpect
import pytest

from tests.conftest import EXAMPLE_PACKAGES, REPO_ROOT, SHELLS
from tests.guard_run import GUARD

EXAMPLES = ["--paths", str(EXAMPLE_PACKAGES)]

_DRIVER = """
import os, sys
first_fork = []
def at_fork():
    if not first_fork:
        first_fork.append(set(sys.modules))
os.register_at_fork(after_in_parent=at_fork)
from guard.cli.main import main
code = main(sys.argv[1:])
late = sorted(set(sys.modules) - first_fork[0]) if first_fork else ["(no fork)"]
print("imported after the fork:", *late, file=sys.stderr)
sys.exit(code)
"""


def _late_imports(*args: str) -> tuple[int, list[str]]:
    result = subprocess.run([sys.executable, "-c", _DRIVER, *args], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, cwd=REPO_ROOT, timeout=120)
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("imported after the fork:"), result.stderr
    return result.returncode, line.split(":", 1)[1].split()


@pytest.mark.parametrize(("args", "expected_code"), [
    pytest.param(["studio_plugin", "studio_config", "--yes", "--", "true"], 0, id="approved with yes"),
    # Each monitor backend imports its own modules, so each must be imported before the fork.
    *(pytest.param(["studio_plugin", "--monitor", backend, "--yes", "--", "true"], 0, id=f"monitor {backend}")
      for backend in ("poll", "netlink", "ptrace", "off")),
    # So does each shell's adapter.
    *(pytest.param(["studio_plugin", "--shell", shell, "--yes", "--", "true"], 0, id=f"shell {shell}")
      for shell in SHELLS),
    pytest.param(["hostile", "--", "true"], 5, id="denied without terminal"),
    pytest.param(["studio_plugin", "--preview"], 0, id="preview"),
    pytest.param(["studio_plugin", "--preview", "--json"], 0, id="json preview"),
    pytest.param(["no_such_package", "--", "true"], 3, id="missing package"),
    pytest.param(["studio_python_lib-1.0", "studio_python_lib-1.1", "--", "true"], 3, id="resolve conflict"),
])
def test_no_import_after_fork(args: list[str], expected_code: int) -> None:
    code, late = _late_imports("env", *EXAMPLES, *args)
    assert code == expected_code
    assert late == []


def test_no_import_after_fork_when_trusted() -> None:
    child = pexpect.spawn(GUARD[0], [*GUARD[1:], "env", *EXAMPLES, "studio_app", "--", "true"],
                          encoding="utf-8", timeout=60, cwd=str(REPO_ROOT))
    child.expect("Approve this environment?")
    child.sendline("r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    code, late = _late_imports("env", *EXAMPLES, "studio_app", "--", "true")
    assert code == 0
    assert late == []
