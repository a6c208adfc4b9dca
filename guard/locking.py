"""An exclusive lock on a file between processes, with a timeout.

The trust store takes it around each read-change-write. It is flock(2) on a
lock file beside the data, which the kernel releases when the holder exits, so
a crashed writer never leaves the store locked.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The wait between attempts doubles from the first value up to the last. A writer holds the lock for milliseconds.
_FIRST_WAIT_SECONDS = 0.001
_LAST_WAIT_SECONDS = 0.05


class LockTimeout(Exception):
    """The lock was still held by another process when the timeout ran out."""


@contextmanager
def exclusive_lock(path: Path, timeout: float, mode: int = 0o600) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created with `mode` when missing) for the body of the with block.

    Raises LockTimeout when another process holds it for longer than `timeout`
    seconds, and OSError when the lock file cannot be opened.
    """
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        _acquire(descriptor, path, timeout)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _acquire(descriptor: int, path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    wait = _FIRST_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockTimeout(f"{path} stayed locked for over {timeout:g} s")
        time.sleep(min(wait, remaining))
        wait = min(wait * 2, _LAST_WAIT_SECONDS)
