"""Host facts found without starting a program match the values rez finds by running one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guard.hostfacts import HOST_FACT_MAX_AGE_SECONDS, parent_shell_word
from shells.cache import CACHE_FOLDER, HOST_FILE
from tests.conftest import EXAMPLE_PACKAGES, REPO_ROOT, SHELLS, require_shell
from tests.guard_run import run_guard

EXAMPLES = ["--paths", str(EXAMPLE_PACKAGES)]
# rez's own detection of bash's system paths, in a process without the guard.
_REZ_PATHS = "import json; from rez.shells import create_shell; print(json.dumps(create_shell('bash').get_syspaths()))"


def _rez_word(pid: int) -> str:
    # What rez 3.4's system.shell does with the output of ps.
    output = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True,
                            check=True).stdout
    return os.path.basename(output.strip().split()[0]).replace("-", "")


def _waiting(argv: list[str], executable: str) -> subprocess.Popen[bytes]:
    # The shell prints that it is ready, then waits for a line on stdin. Until exec is done,
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


# -- facts kept in the shell cache


def _fake_lsb_release(folder: Path, log: Path, release: str) -> Path:
    # Prints what an lsb_release program prints, and logs each run.
    program = folder / "lsb_release"
    program.write_text(f'#!/bin/sh\necho run >> {log}\nprintf "Distributor ID:\\tStudioOS\\nRelease:\\t{release}\\n"\n',
                       encoding="utf-8")
    program.chmod(0o755)
    return program


def _shell_wrapper(folder: Path, log: Path, shell: str) -> None:
    # Named like the shell and first on PATH: logs each run, then runs the real shell.
    wrapper = folder / shell
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {shutil.which(shell)} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)


def _runs(log: Path, marker: str = "") -> int:
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text(encoding="utf-8").splitlines() if marker in line)


def _implicit(shell: str, environ: dict[str, str] | None = None) -> str:
    result = run_guard("env", *EXAMPLES, "--shell", shell, "studio_plugin", "--yes", "--", "printenv",
                       "REZ_USED_IMPLICIT_PACKAGES", env=environ)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def host_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if Path("/etc/lsb-release").exists() and "DISTRIB_RELEASE" in Path("/etc/lsb-release").read_text():
        pytest.skip("/etc/lsb-release names the system, so rez runs no lsb_release here")
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


@pytest.mark.parametrize("shell", SHELLS)
def test_second_launch_runs_no_host_program(shell: str, host_bin: Path, tmp_path: Path):
    require_shell(shell)
    lsb_log, shell_log = tmp_path / "lsb.log", tmp_path / "shell.log"
    _fake_lsb_release(host_bin, lsb_log, "9.1")
    _shell_wrapper(host_bin, shell_log, shell)

    assert "~os==StudioOS-9.1" in _implicit(shell)
    assert _runs(lsb_log) == 1
    assert _runs(shell_log, "__PATHS_") == 1

    assert "~os==StudioOS-9.1" in _implicit(shell)
    assert _runs(lsb_log) == 1
    assert _runs(shell_log, "__PATHS_") == 1


def test_changed_lsb_release_names_system_again(host_bin: Path, tmp_path: Path):
    log = tmp_path / "lsb.log"
    _fake_lsb_release(host_bin, log, "9.1")
    assert "~os==StudioOS-9.1" in _implicit("bash")
    _fake_lsb_release(host_bin, log, "9.20")
    assert "~os==StudioOS-9.20" in _implicit("bash")
    assert _runs(log) == 2


def test_stored_host_facts_expire(host_bin: Path, tmp_path: Path):
    log = tmp_path / "lsb.log"
    _fake_lsb_release(host_bin, log, "9.1")
    _shell_wrapper(host_bin, tmp_path / "shell.log", "bash")
    _implicit("bash")
    store = Path(os.environ["XDG_STATE_HOME"]) / "rez-guard" / CACHE_FOLDER / HOST_FILE
    document = json.loads(store.read_text())
    for value in document["entries"].values():
        if isinstance(value, dict):
            value["time"] -= HOST_FACT_MAX_AGE_SECONDS + 60
    store.write_text(json.dumps(document))
    _implicit("bash")
    assert _runs(log) == 2
    assert _runs(tmp_path / "shell.log", "__PATHS_") == 2


def test_platform_map_applies_to_stored_name(host_bin: Path, tmp_path: Path):
    log = tmp_path / "lsb.log"
    _fake_lsb_release(host_bin, log, "9.1")
    assert "~os==StudioOS-9.1" in _implicit("bash")
    config = tmp_path / "rezconfig.py"
    config.write_text('platform_map = {"os": {r"StudioOS-9\\.1": "Studio-9"}}\n')
    assert "~os==Studio-9" in _implicit("bash", {**os.environ, "REZ_CONFIG_FILE": str(config)})


def test_stored_system_paths_are_rez_own(host_bin: Path):
    _implicit("bash")
    store = Path(os.environ["XDG_STATE_HOME"]) / "rez-guard" / CACHE_FOLDER / HOST_FILE
    stored = [value["value"] for key, value in json.loads(store.read_text())["entries"].items()
              if key.startswith("system-paths:")]
    detected = subprocess.run([sys.executable, "-c", _REZ_PATHS], capture_output=True, text=True, cwd=REPO_ROOT,
                              timeout=120, check=True).stdout.strip()
    assert stored == [json.loads(detected)]
