"""Reading process facts from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from guard.monitor.procfs import LinuxProcfs, decode_wait_status, default_source
from tests.monitor.support import wait_for

pytestmark = pytest.mark.skipif(not LinuxProcfs.available(), reason="needs Linux /proc with children files")


def test_procfs_info_of_running_child(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "30"], cwd=tmp_path)
    try:
        # Popen returns while exec may still be setting up argv.
        assert wait_for(lambda: LinuxProcfs().info(child.pid).argv is not None)
        info = LinuxProcfs().info(child.pid)
        stat = LinuxProcfs().stat(child.pid)
        create_time = psutil.Process(child.pid).create_time()
    finally:
        child.kill()
        child.wait()

    assert info.argv == ("sleep", "30")
    assert info.exe is not None and info.exe.endswith("/sleep")
    assert info.cwd == str(tmp_path)
    assert info.uid == os.getuid()
    assert stat is not None
    assert stat.ppid == os.getpid()
    assert stat.comm == "sleep"
    # /proc counts start time in clock ticks (10 ms here), psutil in seconds.
    assert stat.start_time == pytest.approx(create_time, abs=1.0)


def test_procfs_children_lists_child() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        children = LinuxProcfs().children(os.getpid())
    finally:
        child.kill()
        child.wait()

    assert child.pid in children


def test_procfs_zombie_has_exit_code() -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    try:
        procfs = LinuxProcfs()
        stat = procfs.stat(child.pid)
        while stat is not None and not stat.zombie:
            stat = procfs.stat(child.pid)
    finally:
        child.wait()

    assert stat is not None
    assert stat.exit_code is not None
    assert decode_wait_status(stat.exit_code) == (3, None)
    assert procfs.stat(child.pid) is None


def test_procfs_missing_process() -> None:
    child = subprocess.Popen(["/bin/true"])
    child.wait()

    assert LinuxProcfs().stat(child.pid) is None
    assert LinuxProcfs().info(child.pid).argv is None


def test_decode_wait_status() -> None:
    assert decode_wait_status(7 << 8) == (7, None)
    assert decode_wait_status(signal.SIGKILL) == (None, signal.SIGKILL)
    assert decode_wait_status(signal.SIGSEGV | 0x80) == (None, signal.SIGSEGV)


def test_default_source_on_linux() -> None:
    assert isinstance(default_source(), LinuxProcfs)
