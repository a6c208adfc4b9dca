"""The namespace layer alone (with layer 0's descriptors): no network, read-only guard folders."""

from __future__ import annotations

import ctypes
import errno
import os
import socket

import pytest

from guard.isolation import run_isolated
from guard.sandbox import libc
from guard.sandbox.namespaces import MS_BIND, MS_REMOUNT
from guard.sandbox.options import SandboxOptions
from guard.sandbox.report import Layer

NAMESPACES = frozenset({Layer.DESCRIPTORS, Layer.NAMESPACES})


def errno_of(action) -> int:
    """Run `action` and return the errno it fails with, or 0."""
    try:
        action()
    except OSError as error:
        return error.errno
    return 0


@pytest.fixture
def options(guard_paths, tmp_path) -> SandboxOptions:
    """Namespace-only options protecting the guard's folders, with a package repository."""
    repository = tmp_path / "repository"
    repository.mkdir()
    return SandboxOptions(layers=NAMESPACES, protected_dirs=guard_paths.protected_dirs, readonly_dirs=(repository,))


@pytest.fixture(autouse=True)
def require_namespaces(options):
    """Skip when this kernel refuses unprivileged user namespaces."""
    state = run_isolated(lambda: None, options).report.summary.state(Layer.NAMESPACES)
    if state is None or not state.active:
        pytest.skip(f"user namespaces are not available: {state.detail if state else 'not requested'}")


def test_namespaces_bind_guard_folders_read_only(options, guard_paths):
    trust = guard_paths.trust_store
    before = trust.read_bytes()

    result = run_isolated(lambda: errno_of(lambda: trust.open("a").write("x")), options)

    # Read-only even for root: EROFS comes before any permission check.
    assert result.value == errno.EROFS
    assert trust.read_bytes() == before
    state = result.report.summary.state(Layer.NAMESPACES)
    assert state.detail.endswith(f"{len(options.protected_dirs) + 1} folders read-only")


def test_namespaces_bind_repositories_read_only(options):
    repository = options.readonly_dirs[0]

    result = run_isolated(lambda: errno_of(lambda: (repository / "package.py").write_text("x")), options)

    assert result.value == errno.EROFS
    assert not (repository / "package.py").exists()


def test_namespaces_lock_read_only_binds(options, guard_paths):
    folder = str(guard_paths.data_dir)

    def task() -> list[int]:
        remount = errno_of(lambda: libc.mount(None, folder, None, MS_REMOUNT | MS_BIND))
        c_library = ctypes.CDLL(None, use_errno=True)
        unmount = 0 if c_library.umount2(os.fsencode(folder), 0) == 0 else ctypes.get_errno()
        return [remount, unmount]

    result = run_isolated(task, options)

    assert result.value[0] == errno.EPERM
    assert result.value[1] in (errno.EPERM, errno.EINVAL)
    assert os.access(guard_paths.trust_store, os.W_OK)


def test_namespaces_cut_network(options, listener):
    def task() -> int:
        return errno_of(lambda: socket.create_connection(("127.0.0.1", listener.port), timeout=5))

    result = run_isolated(task, options)

    assert result.value in (errno.ENETUNREACH, errno.ECONNREFUSED, errno.EADDRNOTAVAIL)
    assert listener.connections() == 0


def test_namespaces_keep_ids(options):
    result = run_isolated(lambda: [os.getuid(), os.getgid(), os.geteuid()], options)

    assert result.value == [os.getuid(), os.getgid(), os.geteuid()]
