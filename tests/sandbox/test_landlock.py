"""The Landlock layer alone (with layer 0's descriptors): writes, TCP, signals, ptrace and exec."""

from __future__ import annotations

import errno
import os
import socket
import tempfile

import pytest

from guard.isolation import run_isolated
from guard.sandbox import landlock
from guard.sandbox.options import SandboxOptions
from guard.sandbox.report import Layer

ABI = landlock.abi_version()
pytestmark = pytest.mark.skipif(ABI < 1, reason="Landlock is not available in this kernel")

LANDLOCK_ONLY = SandboxOptions(layers=frozenset({Layer.DESCRIPTORS, Layer.LANDLOCK}))


def errno_of(action) -> int:
    """Run `action` and return the errno it fails with, or 0."""
    try:
        action()
    except OSError as error:
        return error.errno
    return 0


def test_landlock_layer_reports_abi():
    result = run_isolated(lambda: None, LANDLOCK_ONLY)

    state = result.report.summary.state(Layer.LANDLOCK)
    assert state is not None
    assert state.active
    assert state.detail.startswith(f"ABI {ABI}")


def test_landlock_denies_write_outside_allow_list(guard_paths):
    trust = guard_paths.trust_store
    before = trust.read_bytes()

    def task() -> list[int]:
        append = errno_of(lambda: trust.open("a").write("x"))
        create = errno_of(lambda: (guard_paths.data_dir / "new.json").write_text("{}"))
        remove = errno_of(lambda: trust.unlink())
        return [append, create, remove]

    result = run_isolated(task, LANDLOCK_ONLY)

    assert result.value == [errno.EACCES, errno.EACCES, errno.EACCES]
    assert trust.read_bytes() == before
    assert not (guard_paths.data_dir / "new.json").exists()


def test_landlock_allows_scratch_and_dev_null():
    def task() -> list[int]:
        with tempfile.TemporaryDirectory() as folder:
            scratch = errno_of(lambda: open(os.path.join(folder, "file"), "w").write("ok"))
        null = errno_of(lambda: open(os.devnull, "w").write("ok"))
        return [scratch, null]

    result = run_isolated(task, LANDLOCK_ONLY)

    assert result.value == [0, 0]


def test_landlock_denies_exec():
    result = run_isolated(lambda: errno_of(lambda: os.execv("/bin/true", ["true"])), LANDLOCK_ONLY)

    assert result.value == errno.EACCES


@pytest.mark.skipif(ABI < 4, reason="Landlock ABI 4 is needed for TCP rules")
def test_landlock_denies_tcp_connect(listener):
    def task() -> int:
        return errno_of(lambda: socket.create_connection(("127.0.0.1", listener.port), timeout=5))

    result = run_isolated(task, LANDLOCK_ONLY)

    assert result.value == errno.EACCES
    assert listener.connections() == 0


@pytest.mark.skipif(ABI < 6, reason="Landlock ABI 6 is needed to scope signals")
def test_landlock_denies_signal_to_guard():
    result = run_isolated(lambda: errno_of(lambda: os.kill(os.getppid(), 0)), LANDLOCK_ONLY)

    assert result.value == errno.EPERM


def test_landlock_denies_ptrace_of_guard(attach_to_parent):
    result = run_isolated(attach_to_parent, LANDLOCK_ONLY)

    assert result.value == errno.EPERM
