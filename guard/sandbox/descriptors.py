"""Layer 0: the child keeps no descriptor the guard had open.

A forked child inherits every open descriptor of the guard (close-on-exec does
not apply to fork), and a write through one bypasses every other layer. The child
points each inherited descriptor number at a read-only `/dev/null` instead of
closing it. The number then stays taken, so a later `open` in the child cannot
reuse it: a stale Python object that still refers to the number reads an empty file,
and the seccomp layer can recognise a write to that number as a write through an
inherited descriptor.
"""

from __future__ import annotations

import logging
import os
import resource
import sys

logger = logging.getLogger(__name__)

_FD_FOLDER = "/proc/self/fd"


def open_descriptors() -> dict[int, str]:
    """Return the calling process's open descriptors and what each one refers to."""
    targets = {}
    for name in os.listdir(_FD_FOLDER):
        fd = int(name)
        try:
            targets[fd] = os.readlink(f"{_FD_FOLDER}/{fd}")
        except OSError:
            continue  # the descriptor listdir itself used, closed by now
    return targets


def _descriptor_numbers() -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir(_FD_FOLDER))
    except OSError:
        # Without /proc, try every number up to the soft limit.
        soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return list(range(min(soft_limit, 65536)))


def redirect_standard_streams(output_fd: int) -> None:
    """Point stdin at /dev/null and stdout and stderr at the guard's output pipe.

    The terminal stays out of the child's reach: through it, package code could
    inject input into the approval prompt (TIOCSTI) or draw a fake preview.
    """
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.close(null_fd)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    # sys.stdout and sys.stderr may wrap other descriptors, such as a test runner's
    # capture files, and those are about to become /dev/null. So rebind them to 1 and 2.
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)


def replace_inherited(keep: frozenset[int]) -> tuple[int, ...]:
    """Point every descriptor from 3 up that is not in `keep` at /dev/null; return their numbers."""
    numbers = [fd for fd in _descriptor_numbers() if fd > 2 and fd not in keep]
    null_fd = os.open(os.devnull, os.O_RDONLY)
    replaced = []
    for fd in numbers:
        if fd == null_fd:
            continue
        try:
            os.fstat(fd)
        except OSError:
            continue
        os.dup2(null_fd, fd, inheritable=False)
        replaced.append(fd)
    os.close(null_fd)
    return tuple(replaced)
