"""Layer 2: Landlock rules that deny writes outside the allow-list, TCP, and signals out.

The child restricts itself with a Landlock ruleset (Linux 5.13 or later, when
the `landlock` LSM is enabled). The ruleset handles every write-like file access
and program execution, so those are denied except beneath the allowed folders.
Reads are not handled: rez must read the repositories, its configuration and
Python itself. From ABI 4 it denies every TCP bind and connect. From ABI 6 it
also denies signals to processes outside the sandbox and connections to abstract
unix sockets created outside it. Landlock always denies ptrace toward a process
outside the sandbox.

Landlock does not cover changes to metadata (chmod, chown, utime, extended
attributes), UDP, or named unix sockets; the seccomp layer covers those.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from pathlib import Path

from guard.sandbox import libc
from guard.sandbox.report import Layer, LayerState

# System call numbers, the same on every architecture (added after the tables were unified).
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2

ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_REMOVE_DIR = 1 << 4
ACCESS_FS_REMOVE_FILE = 1 << 5
ACCESS_FS_MAKE_CHAR = 1 << 6
ACCESS_FS_MAKE_DIR = 1 << 7
ACCESS_FS_MAKE_REG = 1 << 8
ACCESS_FS_MAKE_SOCK = 1 << 9
ACCESS_FS_MAKE_FIFO = 1 << 10
ACCESS_FS_MAKE_BLOCK = 1 << 11
ACCESS_FS_MAKE_SYM = 1 << 12
ACCESS_FS_REFER = 1 << 13
ACCESS_FS_TRUNCATE = 1 << 14
ACCESS_FS_IOCTL_DEV = 1 << 15
ACCESS_NET_BIND_TCP = 1 << 0
ACCESS_NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

_WRITE_ACCESS_ABI_1 = (
    ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_REMOVE_DIR | ACCESS_FS_REMOVE_FILE
    | ACCESS_FS_MAKE_CHAR | ACCESS_FS_MAKE_DIR | ACCESS_FS_MAKE_REG | ACCESS_FS_MAKE_SOCK
    | ACCESS_FS_MAKE_FIFO | ACCESS_FS_MAKE_BLOCK | ACCESS_FS_MAKE_SYM
)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """Return the Landlock ABI version the kernel offers, or 0 when Landlock is unavailable."""
    try:
        return libc.syscall(_SYS_CREATE_RULESET, None, 0, _CREATE_RULESET_VERSION)
    except OSError:
        return 0


def handled_fs_access(abi: int) -> int:
    """Return the file access rights the ruleset handles for an ABI version: everything but reads."""
    access = _WRITE_ACCESS_ABI_1
    if abi >= 2:
        access |= ACCESS_FS_REFER
    if abi >= 3:
        access |= ACCESS_FS_TRUNCATE
    if abi >= 5:
        access |= ACCESS_FS_IOCTL_DEV
    return access


def _ruleset_size(abi: int) -> int:
    # The kernel rejects a struct larger than the fields of its ABI version.
    if abi >= 6:
        return 24
    if abi >= 4:
        return 16
    return 8


def _add_path_rule(ruleset_fd: int, path: Path, access: int) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rule = _PathBeneathAttr(access, fd)
        libc.syscall(_SYS_ADD_RULE, ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
    finally:
        os.close(fd)


def restrict(writable_dirs: Sequence[Path], writable_files: Sequence[Path]) -> LayerState:
    """Restrict the calling process (and every process it starts) with Landlock."""
    abi = abi_version()
    if abi < 1:
        return LayerState(Layer.LANDLOCK, False, "not supported or not enabled in this kernel")

    handled = handled_fs_access(abi)
    attr = _RulesetAttr(
        handled_access_fs=handled,
        handled_access_net=(ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP) if abi >= 4 else 0,
        scoped=(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    try:
        ruleset_fd = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), _ruleset_size(abi),
                                  0)
    except OSError as error:
        return LayerState(Layer.LANDLOCK, False, f"cannot create a ruleset: {error.strerror}")
    try:
        for folder in writable_dirs:
            _add_path_rule(ruleset_fd, folder, handled & ~ACCESS_FS_EXECUTE)
        for file in writable_files:
            _add_path_rule(ruleset_fd, file, handled & (ACCESS_FS_WRITE_FILE | ACCESS_FS_TRUNCATE))
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        libc.syscall(_SYS_RESTRICT_SELF, ruleset_fd, 0)
    except OSError as error:
        return LayerState(Layer.LANDLOCK, False, f"cannot apply the ruleset: {error}")
    finally:
        os.close(ruleset_fd)

    covered = ["files"] + (["TCP"] if abi >= 4 else []) + (["signals", "abstract sockets"] if abi >= 6 else [])
    return LayerState(Layer.LANDLOCK, True, f"ABI {abi}; {', '.join(covered)}")
