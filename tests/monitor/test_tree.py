"""Walking the process tree under the shell."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from guard.monitor.procfs import LinuxProcfs
from guard.monitor.tree import TreeWalker
from tests.monitor.support import make_fifo, release, wait_for


def test_walker_finds_descendants(tmp_path: Path) -> None:
    gate = make_fifo(tmp_path, "gate")
    shell = subprocess.Popen(["bash", "-c", f"sleep 30 & (sleep 31 & read line < {gate}; kill $!); kill $!"])
    walker = TreeWalker(LinuxProcfs(), shell.pid)
    try:
        expected = ["bash", "bash", "sleep", "sleep"]
        assert wait_for(lambda: sorted(stat.comm for stat in walker.walk().values()) == expected)
        found = walker.walk()
    finally:
        release(gate)
        shell.wait()

    assert shell.pid in found
    assert found[shell.pid].comm == "bash"


def test_walker_skips_guard_children_from_before() -> None:
    earlier = subprocess.Popen(["sleep", "30"])
    # Start times count in clock ticks (10 ms here): let one pass between the two.
    time.sleep(0.05)
    shell = subprocess.Popen(["sleep", "30"])
    try:
        walker = TreeWalker(LinuxProcfs(), shell.pid)
        later = subprocess.Popen(["sleep", "30"])
        try:
            found = walker.walk()
        finally:
            later.kill()
            later.wait()
    finally:
        earlier.kill()
        shell.kill()
        earlier.wait()
        shell.wait()

    assert shell.pid in found
    assert earlier.pid not in found
    # A child the guard starts after the shell looks like an adopted orphan.
    assert later.pid in found


def test_walker_keeps_known_process_after_reparenting(tmp_path: Path) -> None:
    gate = make_fifo(tmp_path, "gate")
    shell = subprocess.Popen(["bash", "-c", f"(sleep 30 & read line < {gate}); exit 0"])
    walker = TreeWalker(LinuxProcfs(), shell.pid)
    assert wait_for(lambda: any(stat.comm == "sleep" for stat in walker.walk().values()))
    sleeper = next(stat for stat in walker.walk().values() if stat.comm == "sleep")
    release(gate)
    shell.wait()
    try:
        # The orphan now belongs to init (no subreaper here), not to the tree below the shell.
        found = walker.walk({sleeper.pid: sleeper.start_key})
    finally:
        os.kill(sleeper.pid, signal.SIGKILL)

    assert sleeper.pid in found
    assert found[sleeper.pid].ppid != shell.pid
