"""Layer 0 in the child: no descriptor of the guard, no terminal, captured output."""

from __future__ import annotations

import errno
import os

from guard.isolation import run_isolated
from guard.sandbox.options import SandboxOptions
from guard.sandbox.report import Layer

DESCRIPTORS_ONLY = SandboxOptions(layers=frozenset({Layer.DESCRIPTORS}))


def test_descriptors_replace_inherited_descriptor(guard_paths):
    trust = guard_paths.trust_store
    before = trust.read_bytes()
    fd = os.open(trust, os.O_WRONLY | os.O_APPEND)

    def task() -> list:
        try:
            os.write(fd, b"evil")
        except OSError as error:
            return [error.errno, os.readlink(f"/proc/self/fd/{fd}")]
        return [0, os.readlink(f"/proc/self/fd/{fd}")]

    try:
        result = run_isolated(task, DESCRIPTORS_ONLY)
    finally:
        os.close(fd)

    assert result.value == [errno.EBADF, "/dev/null"]
    assert trust.read_bytes() == before


def test_descriptors_capture_output():
    def task() -> None:
        print("from the package")
        os.write(2, b"\x1b[2Jraw escape\n")

    result = run_isolated(task, DESCRIPTORS_ONLY)

    assert result.report.output == "from the package\n\x1b[2Jraw escape\n"
    assert not result.report.output_truncated


def test_descriptors_truncate_long_output():
    options = SandboxOptions(layers=frozenset({Layer.DESCRIPTORS}), max_output_bytes=10)

    result = run_isolated(lambda: print("x" * 100), options)

    assert result.report.output == "x" * 10
    assert result.report.output_truncated


def test_descriptors_leave_terminal_and_stdin():
    def task() -> list:
        return [os.getsid(0) == os.getpid(), os.readlink("/proc/self/fd/0")]

    result = run_isolated(task, DESCRIPTORS_ONLY)

    assert result.value == [True, "/dev/null"]


def test_descriptors_report_count():
    result = run_isolated(lambda: None, DESCRIPTORS_ONLY)

    state = result.report.summary.state(Layer.DESCRIPTORS)
    assert state.active
    assert state.detail.endswith("inherited descriptors closed")
