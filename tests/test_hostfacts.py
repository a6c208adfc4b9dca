"""Host facts found without starting a program give the answers rez finds with one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guard.hostfacts import parent_shell_word
from tests.conftest import REPO_ROOT, require_shell


def _rez_word(pid: int) -> str:
    # What rez 3.4's system.shell does with the output of ps.
    output = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True,
                            check=True).stdout
    return os.path.basename(output.strip().split()[0]).replace("-", "")


def _waiting(argv: list[str], executable: str) -> subprocess.Popen[bytes]:
    # The shell says it is ready, then waits for a line on stdin. Until exec is done,
    # the kernel can show an empty command line.
    process = subprocess.Popen(argv, executable=executable, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    return process


@pytest.mark.parametrize("argv", [
    pytest.param(["sh", "-c", "echo ready; read line"], id="plain"),
    pytest.param(["-bash", "-c", "echo ready; read line"], id="login dash"),
    pytest.param(["/usr/local/bin/bash", "-c", "echo ready; read line", "with spaces in  args"], id="path"),
])
def test_parent_shell_word_matches_ps(argv: list[str]):
    process = _waiting(argv, shutil.which("bash") or "/bin/sh")
    try:
        assert parent_shell_word(process.pid) == _rez_word(process.pid)
    finally:
        process.communicate(b"\n", timeout=30)


def test_parent_shell_word_unsure_of_control_characters():
    process = _waiting(["ba\tsh", "-c", "echo ready; read line"], shutil.which("bash") or "/bin/sh")
    try:
        assert parent_shell_word(process.pid) is None
    finally:
        process.communicate(b"\n", timeout=30)


def test_parent_shell_word_of_missing_process():
    process = subprocess.Popen(["true"])
    process.wait(timeout=30)
    assert parent_shell_word(process.pid) is None


_DRIVER = """
import subprocess, sys
started = []
original = subprocess.Popen.__init__
def spy(self, args, *rest, **options):
    started.append(args)
    original(self, args, *rest, **options)
subprocess.Popen.__init__ = spy
from guard.hostfacts import find_system_shell
from rez.system import system
print(find_system_shell(), system.shell, started)
"""

_REZ = "from rez.system import system; print(system.shell)"


@pytest.mark.parametrize(("shell", "expected_found"), [
    ("bash", True), ("zsh", True), ("tcsh", True), ("csh", True),
    # rez maps sh to a plugin after reading /bin/sh's link, so the guard leaves sh to rez.
    ("sh", False),
])
def test_system_shell_as_rez_finds_it(shell: str, expected_found: bool, tmp_path: Path):
    require_shell(shell)
    program = shutil.which(shell)
    environ = {**os.environ, "SHELL": "/bin/false", "PYTHONPATH": str(REPO_ROOT)}
    # `; true` keeps the shell from replacing itself with Python, so Python's parent is that shell.
    results = []
    for code in (_DRIVER, _REZ):
        script = tmp_path / "driver.py"
        script.write_text(code)
        command = f"{sys.executable} {script}; true"
        results.append(subprocess.run([program, "-c", command], capture_output=True, text=True, env=environ,
                                      cwd=tmp_path, timeout=120, check=True).stdout.split(None, 2))
    (found, guard_shell, started), (rez_shell,) = results
    assert found == str(expected_found)
    assert guard_shell == rez_shell
    if expected_found:
        assert guard_shell == shell
        assert started.strip() == "[]"
