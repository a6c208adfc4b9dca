"""The seccomp layer alone (with layer 0's descriptors): what it denies, names and allows."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat
import subprocess
import tempfile
import termios
import threading

import pytest

from guard.isolation import run_isolated
from guard.sandbox.options import SandboxOptions
from guard.sandbox.report import DeniedOperation, Layer, Operation
from guard.sandbox.seccomp import FilterSettings, install, kernel_supports_notify, table_for_machine

pytestmark = pytest.mark.skipif(table_for_machine() is None, reason="no seccomp system call table for this machine")

SECCOMP_ONLY = SandboxOptions(layers=frozenset({Layer.DESCRIPTORS, Layer.SECCOMP}))
needs_notify = pytest.mark.skipif(not kernel_supports_notify(), reason="no seccomp user notification here")


def errno_of(action) -> int:
    """Run `action` and return the errno it fails with, or 0."""
    try:
        action()
    except OSError as error:
        return error.errno
    return 0


def only(denied: tuple[DeniedOperation, ...], operation: Operation) -> list[DeniedOperation]:
    """Return the reports of one operation."""
    return [entry for entry in denied if entry.operation is operation]


def test_seccomp_layer_active():
    result = run_isolated(lambda: None, SECCOMP_ONLY)

    state = result.report.summary.state(Layer.SECCOMP)
    assert state is not None
    assert state.active, state.detail


@needs_notify
def test_seccomp_denies_exec_and_names_program():
    result = run_isolated(lambda: errno_of(lambda: os.execv("/bin/true", ["true"])), SECCOMP_ONLY)

    assert result.value == errno.EPERM
    (denied,) = only(result.report.denied, Operation.EXEC)
    assert denied.target == os.path.realpath("/bin/true")
    assert denied.system_call == "execve"
    assert denied.layer is Layer.SECCOMP


@needs_notify
def test_seccomp_denies_subprocess():
    result = run_isolated(lambda: errno_of(lambda: subprocess.run(["/bin/true"], check=False)), SECCOMP_ONLY)

    assert result.value == errno.EPERM
    assert only(result.report.denied, Operation.FORK)


@needs_notify
def test_seccomp_denies_fork():
    def task() -> int:
        try:
            pid = os.fork()
        except OSError as error:
            return error.errno
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        return 0

    result = run_isolated(task, SECCOMP_ONLY)

    assert result.value == errno.EPERM
    (denied,) = only(result.report.denied, Operation.FORK)
    assert denied.system_call in ("clone", "fork")


def test_seccomp_allows_threads():
    def task() -> list[int]:
        values: list[int] = []
        worker = threading.Thread(target=values.append, args=(7,))
        worker.start()
        worker.join()
        return values

    result = run_isolated(task, SECCOMP_ONLY)

    assert result.value == [7]
    assert result.report.denied == ()


@needs_notify
def test_seccomp_denies_sockets(listener):
    def task() -> list[int]:
        tcp = errno_of(lambda: socket.create_connection(("127.0.0.1", listener.port), timeout=5))
        unix = errno_of(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        return [tcp, unix]

    result = run_isolated(task, SECCOMP_ONLY)

    assert result.value == [errno.EPERM, errno.EPERM]
    targets = {entry.target for entry in only(result.report.denied, Operation.NETWORK)}
    assert targets == {"AF_INET stream socket", "AF_UNIX stream socket"}
    assert listener.connections() == 0


@needs_notify
def test_seccomp_denies_write_outside_allow_list(guard_paths):
    trust = guard_paths.trust_store
    before = trust.read_bytes()

    result = run_isolated(lambda: errno_of(lambda: trust.open("a").write("x")), SECCOMP_ONLY)

    assert result.value == errno.EACCES
    (denied,) = only(result.report.denied, Operation.WRITE)
    assert denied.target == str(trust.resolve())
    assert trust.read_bytes() == before


@needs_notify
def test_seccomp_allows_write_in_scratch():
    def task() -> str:
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as stream:
            stream.write("scratch")
            stream.flush()
            os.chmod(stream.name, 0o600)
            return stream.name

    result = run_isolated(task, SECCOMP_ONLY)

    assert "rez-guard-child_" in result.value
    assert result.report.denied == ()


@needs_notify
def test_seccomp_denies_metadata_changes(guard_paths):
    trust = guard_paths.trust_store
    mode = stat.S_IMODE(trust.stat().st_mode)

    def task() -> list[int]:
        by_path = errno_of(lambda: os.chmod(trust, 0o777))
        fd = os.open(trust, os.O_RDONLY)
        by_descriptor = errno_of(lambda: os.fchmod(fd, 0o777))
        times = errno_of(lambda: os.utime(trust, (0, 0)))
        return [by_path, by_descriptor, times]

    result = run_isolated(task, SECCOMP_ONLY)

    assert result.value == [errno.EPERM, errno.EPERM, errno.EPERM]
    # The three calls act on one file, so they are reported once and counted.
    (denied,) = only(result.report.denied, Operation.CHANGE_METADATA)
    assert denied.target == str(trust.resolve())
    assert denied.count == 3
    assert stat.S_IMODE(trust.stat().st_mode) == mode
    assert trust.stat().st_mtime > 0


@needs_notify
def test_seccomp_names_write_through_inherited_descriptor(guard_paths):
    trust = guard_paths.trust_store
    before = trust.read_bytes()
    fd = os.open(trust, os.O_WRONLY | os.O_APPEND)
    try:
        result = run_isolated(lambda: errno_of(lambda: os.write(fd, b"evil")), SECCOMP_ONLY)
    finally:
        os.close(fd)

    assert result.value == errno.EBADF
    (denied,) = only(result.report.denied, Operation.INHERITED_DESCRIPTOR)
    assert denied.target == f"descriptor {fd} ({trust})"
    assert trust.read_bytes() == before


@needs_notify
def test_seccomp_denies_signal_to_guard():
    guard_pid = os.getpid()

    result = run_isolated(lambda: errno_of(lambda: os.kill(os.getppid(), 0)), SECCOMP_ONLY)

    assert result.value == errno.EPERM
    (denied,) = only(result.report.denied, Operation.SIGNAL)
    assert denied.target == f"pid {guard_pid} (the guard)"


def test_seccomp_allows_signal_to_itself():
    result = run_isolated(lambda: errno_of(lambda: os.kill(os.getpid(), 0)), SECCOMP_ONLY)

    assert result.value == 0
    assert result.report.denied == ()


@needs_notify
def test_seccomp_denies_ptrace_of_guard(attach_to_parent):
    result = run_isolated(attach_to_parent, SECCOMP_ONLY)

    assert result.value == errno.EPERM
    (denied,) = only(result.report.denied, Operation.PTRACE)
    assert denied.target == f"pid {os.getpid()} (the guard)"


@needs_notify
def test_seccomp_denies_terminal_input_injection():
    result = run_isolated(lambda: errno_of(lambda: fcntl.ioctl(0, termios.TIOCSTI, b"y")), SECCOMP_ONLY)

    assert result.value == errno.EPERM
    (denied,) = only(result.report.denied, Operation.TERMINAL_INPUT)
    assert denied.target.startswith("TIOCSTI on ")


@needs_notify
def test_seccomp_denies_another_filter():
    def task() -> int:
        settings = FilterSettings(table_for_machine(), os.getpid(), (), notify=True)
        return errno_of(lambda: install(settings))

    result = run_isolated(task, SECCOMP_ONLY)

    assert result.value == errno.EPERM
    assert {entry.target for entry in only(result.report.denied, Operation.SYSTEM_CALL)} == {"seccomp"}


def test_seccomp_fallback_filter_decides_alone(tmp_path):
    # Build the fallback filter by hand in an unconfined child, as on a kernel without user notification.
    target = tmp_path / "written"

    def task() -> list[int]:
        install(FilterSettings(table_for_machine(), os.getpid(), (), notify=False))
        return [
            errno_of(lambda: os.execv("/bin/true", ["true"])),
            errno_of(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
            errno_of(lambda: os.chmod(tmp_path, 0o700)),
            errno_of(lambda: target.write_text("left to Landlock")),
        ]

    result = run_isolated(task, SandboxOptions(layers=frozenset()))

    assert result.value == [errno.EPERM, errno.EPERM, errno.EPERM, 0]
    assert target.read_text() == "left to Landlock"
    assert result.report.denied == ()
