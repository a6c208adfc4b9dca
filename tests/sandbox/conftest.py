"""Fixtures for the sandbox tests: isolated HOME and XDG folders, child reaping, packages, a TCP listener."""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

import guard
from guard.paths import GuardPaths
from guard.trust import TrustStore

WORKTREE = Path(guard.__file__).resolve().parent.parent
NOBODY = pwd.getpwnam("nobody")
PTRACE_ATTACH = 16
PTRACE_DETACH = 17
WAIT_ALL = 0x40000000


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG folders at tmp_path, so nothing a test runs writes into the real ones."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    return home


@pytest.fixture(autouse=True)
def reap_children() -> Iterator[None]:
    """Kill and reap every descendant a test leaves behind."""
    before = {process.pid for process in psutil.Process().children(recursive=True)}
    yield
    leftovers = [process for process in psutil.Process().children(recursive=True) if process.pid not in before]
    for process in leftovers:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.Error:
            continue
    psutil.wait_procs(leftovers, timeout=5)


@pytest.fixture
def guard_paths(tmp_path: Path) -> GuardPaths:
    """The guard's folders under tmp_path, created, with a trust store that remembers one other context."""
    paths = GuardPaths.from_environ(os.environ)
    for folder in paths.protected_dirs:
        folder.mkdir(parents=True, exist_ok=True)
    TrustStore(paths.trust_store).remember("f" * 64, "another context", {"request": ["other"]})
    return paths


@dataclass
class Listener:
    """A TCP listener on 127.0.0.1 that package code must not reach."""

    sock: socket.socket
    port: int

    def connections(self) -> int:
        """Return how many connections are waiting, accepting and closing each."""
        count = 0
        self.sock.setblocking(False)
        while True:
            try:
                connection, _ = self.sock.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A TCP listener on a free port of 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield Listener(sock, sock.getsockname()[1])
    finally:
        sock.close()


def _write_package(repository: Path, name: str, source: str, version: str = "1.0.0") -> Path:
    folder = repository / name / version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.py").write_text(
        f"name = {name!r}\nversion = {version!r}\n\n" + textwrap.dedent(source), encoding="utf-8")
    return folder


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A folder outside tmp_path (whose parents are private) that the nobody user can enter."""
    folder = Path(tempfile.mkdtemp(prefix="rez-guard-sandbox-test_"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _attach_to_parent() -> int:
    """Try to ptrace-attach to the parent; return 0 on success (after detaching) or the errno."""
    c_library = ctypes.CDLL(None, use_errno=True)
    c_library.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if c_library.ptrace(PTRACE_ATTACH, os.getppid(), None, None) != 0:
        return ctypes.get_errno()
    # Wait for the attach stop (__WALL, because the parent is not our child), then detach, dropping its SIGSTOP.
    os.waitpid(os.getppid(), WAIT_ALL)
    c_library.ptrace(PTRACE_DETACH, os.getppid(), None, None)
    return 0


@pytest.fixture
def attach_to_parent() -> Callable[[], int]:
    """Return a function that tries to attach to its parent with ptrace and reports the errno (0: attached)."""
    return _attach_to_parent


@pytest.fixture
def write_package() -> Callable[..., Path]:
    """Return a function that writes package.py (dedented source) to repository/name/version and returns the folder."""
    return _write_package


@pytest.fixture
def run_as_nobody() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Return a function that runs a Python script as nobody, with this worktree's guard package first."""
    return _run_as_nobody


def _run_as_nobody(script: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "PYTHONPATH": str(WORKTREE),
        "LANG": "C.UTF-8",
    }
    command = ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups",
               sys.executable, str(script), *args]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120, check=False)
