"""The exclusive file lock the trust store takes, between real processes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from guard.locking import LockTimeout, exclusive_lock
from tests.conftest import REPO_ROOT

# Takes the lock, prints `held`, then holds the lock until stdin closes.
_HOLDER = """
import sys
from pathlib import Path
from guard.locking import exclusive_lock
with exclusive_lock(Path(sys.argv[1]), 5):
    print("held", flush=True)
    sys.stdin.read()
"""


def _start_holder(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def _stop(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=30)


def test_lock_times_out_while_another_process_holds_it(tmp_path: Path):
    path = tmp_path / "store.lock"
    holder = _start_holder(path)
    try:
        with pytest.raises(LockTimeout, match="store.lock stayed locked for over 0.2 s"):
            with exclusive_lock(path, 0.2):
                pass
    finally:
        _stop(holder)
    with exclusive_lock(path, 0.2):
        pass


def test_lock_is_freed_when_its_holder_is_killed(tmp_path: Path):
    path = tmp_path / "store.lock"
    holder = _start_holder(path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with exclusive_lock(path, 5):
        pass


def test_lock_waits_for_a_holder_that_lets_go(tmp_path: Path):
    path = tmp_path / "store.lock"
    holder = _start_holder(path)
    # The holder lets go as soon as its stdin closes; the lock is taken once it has.
    assert holder.stdin is not None
    holder.stdin.close()
    with exclusive_lock(path, 30):
        assert holder.wait(timeout=30) == 0


def test_lock_file_is_private(tmp_path: Path):
    path = tmp_path / "store.lock"
    with exclusive_lock(path, 1):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_lock_refuses_a_symbolic_link(tmp_path: Path):
    target = tmp_path / "elsewhere"
    path = tmp_path / "store.lock"
    os.symlink(target, path)
    with pytest.raises(OSError):
        with exclusive_lock(path, 1):
            pass
    assert not target.exists()
