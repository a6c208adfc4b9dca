"""Filesystem facts the rules need: who can change a folder or file, and what a folder holds.

Results are read when the plan is assessed; the fingerprint covers sourced
files' content but not folder permissions, so these checks run on every launch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import stat
from pathlib import Path
from typing import Final

from guard.fastclass import dataclass

logger = logging.getLogger(__name__)

MAX_SCANNED_BYTES: Final = 16 * 1024 * 1024
_OTHERS_WRITE: Final = stat.S_IWGRP | stat.S_IWOTH


@dataclass(frozen=True, slots=True)
class WritableBy:
    """A folder or file that users other than its owner can change, and how."""

    path: str
    who: str  # "group", "others" or "group and others"


@dataclass(frozen=True, slots=True)
class FileContent:
    """A regular file's bytes and sha256 as read now, or why it could not be read."""

    data: bytes | None
    sha256: str | None
    error: str | None = None


def writable_by_others(path: str) -> WritableBy | None:
    """Return the first of `path` and its parent folders that others can change, if any.

    `path` itself counts with any group or other write bit. A parent counts
    unless it has the sticky bit, which stops others from renaming what is in it.
    Paths are resolved first, so a symbolic link cannot hide its target.
    """
    current = os.path.realpath(path)
    is_target = True
    while True:
        try:
            mode = os.stat(current).st_mode
        except OSError:
            mode = None
        if mode is not None and mode & _OTHERS_WRITE and (is_target or not mode & stat.S_ISVTX):
            return WritableBy(current, _who(mode))
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
        is_target = False


def owner_uid(path: str) -> int | None:
    """Return the owner's uid of `path` (links followed), or None when it cannot be read."""
    try:
        return os.stat(path).st_uid
    except OSError:
        return None


def user_name(uid: int) -> str:
    """Return the user name for `uid`, or the number when the user is unknown."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def trusted_uids(owner_names: tuple[str, ...]) -> frozenset[int]:
    """Return root's uid, the guard's effective uid, and the uids of `owner_names`.

    A name that is all digits is taken as a uid. Unknown names are skipped with
    a warning, because a typo must not make the rule trust nobody or everybody.
    """
    uids = {0, os.geteuid()}
    for name in owner_names:
        if name.isdigit():
            uids.add(int(name))
            continue
        try:
            uids.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            logger.warning("policy names unknown trusted owner %r; ignoring it", name)
    return frozenset(uids)


def executables_in(folder: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """Return which of `names` are executable files in `folder`."""
    found: list[str] = []
    for name in names:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            found.append(name)
    return tuple(found)


def read_regular_file(path: str) -> FileContent:
    """Read a regular file of at most MAX_SCANNED_BYTES and hash it.

    Devices, pipes and folders are not read, because reading them can block or
    never end.
    """
    try:
        info = os.stat(path)
    except OSError as error:
        return FileContent(None, None, error.strerror or str(error))
    if not stat.S_ISREG(info.st_mode):
        return FileContent(None, None, "not a regular file")
    if info.st_size > MAX_SCANNED_BYTES:
        return FileContent(None, None, f"larger than {MAX_SCANNED_BYTES} bytes")
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return FileContent(None, None, error.strerror or str(error))
    return FileContent(data, hashlib.sha256(data).hexdigest())


def _who(mode: int) -> str:
    group = bool(mode & stat.S_IWGRP)
    others = bool(mode & stat.S_IWOTH)
    if group and others:
        return "group and others"
    return "group" if group else "others"
