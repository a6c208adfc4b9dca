"""Adopting and reaping orphans of the tree, in a guard-like process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from guard.monitor import Backend
from tests.monitor.support import BACKENDS, WAIT_LIMIT, WORKTREE, GuardRun, make_fifo, release, wait_for


def test_become_subreaper_sets_flag() -> None:
    # In a child process: the flag lasts for the life of the process.
    code = "from guard.monitor import become_subreaper, is_subreaper; print(is_subreaper(), become_subreaper(), is_subreaper())"
    output = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(WORKTREE)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert output.split() == ["False", "True", "True"]


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except FileNotFoundError:
        return None


@pytest.mark.parametrize("backend", BACKENDS)
def test_adopted_orphan_reaped_and_shell_status_kept(
    backend: Backend, run_guard: Callable[..., GuardRun], tmp_path: Path
) -> None:
    orphan_gate = make_fifo(tmp_path, "orphan")
    shell_gate = make_fifo(tmp_path, "shell")
    orphan_script = f"read line < {orphan_gate}; exit 6"
    guard = run_guard(backend, f"(sh -c '{orphan_script}' &); read line < {shell_gate}; exit 7")

    # A start record, or an exec record when poll saw the orphan before its exec.
    orphan = guard.wait_record(None, ["sh", "-c", orphan_script])
    orphan_pid = orphan["pid"]
    assert isinstance(orphan_pid, int)
    # Its parent subshell exited, so the guard, a child subreaper, adopted it.
    assert wait_for(lambda: _parent_of(orphan_pid) == guard.process.pid)
    release(orphan_gate)
    exit_record = guard.wait_record("process.exit", ["sh", "-c", orphan_script])
    assert wait_for(lambda: _parent_of(orphan_pid) is None), "the adopted orphan was left a zombie"
    release(shell_gate)
    assert guard.process.wait(timeout=WAIT_LIMIT) == 0

    end = guard.wait_record("session.end")
    assert end["returncode"] == 7
    assert exit_record["exit_status"] == 6
    assert guard.find("session.start")[0]["subreaper"] is True
