"""Layer 0 in the guard: processes package code leaves behind are found and killed."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time

import psutil
import pytest

from guard.isolation import run_isolated
from guard.monitor.procfs import LinuxProcfs, ProcessSource
from guard.monitor.psutil_source import PsutilSource
from guard.sandbox import libc, subreaper
from guard.sandbox.options import SandboxOptions
from guard.sandbox.report import LAYER_ZERO, Layer, Operation

LAYER_ZERO_ONLY = SandboxOptions(layers=LAYER_ZERO)
# /proc is what the guard reads on Linux; psutil is its fallback where /proc has no children files.
SOURCES = [pytest.param(LinuxProcfs, id="procfs"), pytest.param(PsutilSource, id="psutil")]


def double_fork() -> int:
    """Start a sleeping grandchild whose parent exits at once, as a daemon does; return the grandchild's pid."""
    read_fd, write_fd = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:
        if os.fork() == 0:
            os.write(write_fd, str(os.getpid()).encode())
            os.setsid()
            os.execv("/bin/sleep", ["sleep", "600"])
        os._exit(0)
    os.close(write_fd)
    os.waitpid(intermediate, 0)
    return int(os.read(read_fd, 32))


def fork_without_wait() -> int:
    """Start a process that exits at once and leave it unreaped; return its pid."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    # Wait for the exit but leave the zombie in place.
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    return pid


def test_subreaper_kills_double_forked_process():
    result = run_isolated(double_fork, LAYER_ZERO_ONLY)

    grandchild = result.value
    assert not psutil.pid_exists(grandchild)
    (leftover,) = [entry for entry in result.report.denied if entry.operation is Operation.LEFTOVER_PROCESS]
    # The guard may kill it before or after it runs sleep, so only the pid is certain.
    assert leftover.target.startswith(f"pid {grandchild}: ")
    assert leftover.layer is Layer.SUBREAPER
    assert len(result.report.denied) == 1


def test_subreaper_reports_exited_process():
    result = run_isolated(fork_without_wait, LAYER_ZERO_ONLY)

    pid = result.value
    (started,) = result.report.denied
    assert started.operation is Operation.FORK
    assert started.target == f"pid {pid} (exited)"
    assert not psutil.pid_exists(pid)


def test_subreaper_ignores_guard_children():
    process = psutil.Popen(["/bin/sleep", "600"])
    try:
        result = run_isolated(lambda: None, LAYER_ZERO_ONLY)
        assert process.is_running()
    finally:
        process.kill()
        process.wait()

    assert result.report.denied == ()


def test_subreaper_setting_restored():
    # Earlier tests in this process may have made it a subreaper; the run must put back what it found.
    before = ctypes.c_int(-1)
    libc.prctl(libc.PR_GET_CHILD_SUBREAPER, ctypes.addressof(before))
    value = ctypes.c_int(-1)

    run_isolated(lambda: None, LAYER_ZERO_ONLY)

    libc.prctl(libc.PR_GET_CHILD_SUBREAPER, ctypes.addressof(value))
    assert value.value == before.value


def test_run_ends_while_leftover_holds_pipes():
    # The grandchild inherits the result pipe; the guard must not wait for its end of file.
    started = time.monotonic()

    result = run_isolated(double_fork, LAYER_ZERO_ONLY)

    assert isinstance(result.value, int)
    assert time.monotonic() - started < 600


def start_child_and_grandchild() -> tuple[subprocess.Popen[bytes], int]:
    """Start a shell that runs a sleeping grandchild; return the shell and the grandchild's pid."""
    shell = subprocess.Popen(["/bin/sh", "-c", "sleep 600 & echo $!; wait"], stdout=subprocess.PIPE)
    assert shell.stdout is not None
    return shell, int(shell.stdout.readline())


@pytest.mark.parametrize("source_class", SOURCES)
def test_descendants_lists_grandchildren(source_class: type[ProcessSource]) -> None:
    shell, grandchild = start_child_and_grandchild()
    try:
        pids = {pid for pid, _ in subreaper.descendants(source_class())}
    finally:
        os.kill(grandchild, signal.SIGKILL)
        shell.kill()
        shell.wait()

    assert shell.pid in pids
    assert grandchild in pids


@pytest.mark.parametrize("source_class", SOURCES)
def test_kill_leftovers_kills_new_descendants(source_class: type[ProcessSource]) -> None:
    source = source_class()
    known = subreaper.descendants(source)
    shell, grandchild = start_child_and_grandchild()

    denied = subreaper.kill_leftovers(known, source)
    shell.wait()

    targets = sorted(entry.target for entry in denied)
    assert len(targets) == 2
    assert any(target.startswith(f"pid {shell.pid}: ") for target in targets)
    assert any(target.startswith(f"pid {grandchild}: ") for target in targets)
    assert all(entry.operation is Operation.LEFTOVER_PROCESS for entry in denied)
    assert not psutil.pid_exists(shell.pid)
    assert not psutil.pid_exists(grandchild)
