"""Layer 0 in the guard: processes package code leaves behind are found and killed."""

from __future__ import annotations

import ctypes
import os
import time

import psutil

from guard.isolation import run_isolated
from guard.sandbox import libc
from guard.sandbox.options import SandboxOptions
from guard.sandbox.report import LAYER_ZERO, Layer, Operation

LAYER_ZERO_ONLY = SandboxOptions(layers=LAYER_ZERO)


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
