"""Thin ctypes wrappers for the Linux calls the sandbox layers need.

Python 3.11 has no `os.unshare`, `prctl`, `mount` or raw `syscall`, so they go
through libc here. Every wrapper raises `OSError` with the errno the kernel set,
so callers handle failures the same way as for `os` functions.
"""

from __future__ import annotations

import ctypes
import os
import platform

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.ioctl.restype = ctypes.c_int

# prctl options from <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

MACHINE = platform.machine()


def _raise_errno(call: str) -> None:
    error = ctypes.get_errno()
    raise OSError(error, f"{call}: {os.strerror(error)}")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """Call prctl(2) and return its result."""
    result = _libc.prctl(option, arg2, arg3, arg4, arg5)
    if result < 0:
        _raise_errno(f"prctl({option})")
    return result


def _long_argument(argument: object) -> object:
    # syscall(2) reads every argument as a long; a bare Python int would be passed as a C int.
    if isinstance(argument, int):
        return ctypes.c_long(argument)
    if argument is None:
        return ctypes.c_void_p(None)
    return argument


def syscall(number: int, *args: object) -> int:
    """Call a raw system call by number and return its non-negative result.

    Pass ints, None (a null pointer), ctypes values or `ctypes.byref(...)` pointers.
    """
    result = _libc.syscall(ctypes.c_long(number), *(_long_argument(argument) for argument in args))
    if result < 0:
        _raise_errno(f"syscall {number}")
    return result


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (unshare(2))."""
    if _libc.unshare(flags) != 0:
        _raise_errno("unshare")


def _encode(text: str | None) -> bytes | None:
    return None if text is None else os.fsencode(text)


def mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    """Call mount(2) with no filesystem data."""
    if _libc.mount(_encode(source), _encode(target), _encode(fstype), flags, None) != 0:
        _raise_errno(f"mount {target}")


def ioctl(fd: int, request: int, argument: ctypes.Array | ctypes.Structure | ctypes.c_uint64) -> int:
    """Call ioctl(2) with a pointer argument and return its result."""
    result = _libc.ioctl(fd, ctypes.c_ulong(request), ctypes.byref(argument))
    if result < 0:
        _raise_errno(f"ioctl {request:#x}")
    return result
