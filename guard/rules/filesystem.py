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


class FileFacts:
    """File-system facts read at most once per path, for one assessment.

    The rules share one instance, so a folder that several entries name, or
    that is a parent of many entries, is read once. Each method returns what
    the module function of the same name returns when called at the moment the
    fact was first read; tests/policy/test_rules_linear.py compares the two.
    """

    def __init__(self) -> None:
        self._stats: dict[str, os.stat_result | None] = {}
        self._real_paths: dict[str, str] = {}
        # For a folder: the first of it and its parents that others can change, as a parent.
        self._writable_parents: dict[str, WritableBy | None] = {}
        self._executables: dict[tuple[str, str], bool] = {}

    def real_path(self, path: str) -> str:
        """Return `path` with symbolic links resolved, as `os.path.realpath` does.

        `os.path.realpath` reads every component of the path, so entries that
        share a long prefix would read it again each time. For an absolute,
        normalized path, the result is the real parent with the last name
        added, unless that name is a link: then the whole path is resolved.
        """
        real = self._real_paths.get(path)
        if real is not None:
            return real
        if not _is_normalized_absolute(path):
            real = os.path.realpath(path)
            self._real_paths[path] = real
            return real
        # The folders above `path` not resolved yet, nearest first; the parents of a normalized
        # absolute path are normalized and absolute too.
        pending: list[tuple[str, str]] = []
        current = path
        while current not in self._real_paths:
            parent, name = os.path.split(current)
            if not name:
                self._real_paths[current] = os.path.realpath(current)
                break
            pending.append((current, name))
            current = parent
        real = self._real_paths[current]
        for current, name in reversed(pending):
            candidate = os.path.join(real, name)
            try:
                is_link = stat.S_ISLNK(os.lstat(candidate).st_mode)
            except OSError:
                is_link = False
            real = os.path.realpath(current) if is_link else candidate
            self._real_paths[current] = real
        return real

    def is_dir(self, path: str) -> bool:
        """Return whether `path` is a folder, links followed (`os.path.isdir`)."""
        try:
            info = self._stat(path)
        except ValueError:
            return False
        return info is not None and stat.S_ISDIR(info.st_mode)

    def owner_uid(self, path: str) -> int | None:
        """Return the owner's uid of `path` (links followed), or None when it cannot be read."""
        info = self._stat(path)
        return None if info is None else info.st_uid

    def writable_by_others(self, path: str) -> WritableBy | None:
        """Return the first of `path` and its parent folders that others can change, as `writable_by_others`."""
        current = self.real_path(path)
        info = self._stat(current)
        if info is not None and info.st_mode & _OTHERS_WRITE:
            return WritableBy(current, _who(info.st_mode))
        parent = os.path.dirname(current)
        if parent == current:
            return None
        return self._writable_parent(parent)

    def executables_in(self, folder: str, names: tuple[str, ...]) -> tuple[str, ...]:
        """Return which of `names` are executable files in `folder`."""
        # Nothing inside a path that is not a folder can be a file, so a missing folder costs one stat.
        # An empty folder name means the current folder to os.path.join, so it is always looked in.
        if folder and not self.is_dir(folder):
            return ()
        found: list[str] = []
        for name in names:
            executable = self._executables.get((folder, name))
            if executable is None:
                candidate = os.path.join(folder, name)
                executable = os.path.isfile(candidate) and os.access(candidate, os.X_OK)
                self._executables[(folder, name)] = executable
            if executable:
                found.append(name)
        return tuple(found)

    def _stat(self, path: str) -> os.stat_result | None:
        # OSError means the path cannot be read and is kept as None; ValueError (a NUL in the path) is raised.
        if path in self._stats:
            return self._stats[path]
        try:
            info: os.stat_result | None = os.stat(path)
        except OSError:
            info = None
        self._stats[path] = info
        return info

    def _writable_parent(self, folder: str) -> WritableBy | None:
        # A parent counts unless it has the sticky bit. Every folder walked through gets the same
        # result, so the parents that many entries share are read once.
        walked: list[str] = []
        current = folder
        while True:
            if current in self._writable_parents:
                result = self._writable_parents[current]
                break
            walked.append(current)
            info = self._stat(current)
            if info is not None and info.st_mode & _OTHERS_WRITE and not info.st_mode & stat.S_ISVTX:
                result = WritableBy(current, _who(info.st_mode))
                break
            parent = os.path.dirname(current)
            if parent == current:
                result = None
                break
            current = parent
        for name in walked:
            self._writable_parents[name] = result
        return result


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


def _is_normalized_absolute(path: str) -> bool:
    # POSIX keeps a leading `//` apart, so such paths take os.path.realpath's own way.
    return path.startswith(os.sep) and not path.startswith(os.sep * 2) and os.path.normpath(path) == path


def _who(mode: int) -> str:
    group = bool(mode & stat.S_IWGRP)
    others = bool(mode & stat.S_IWOTH)
    if group and others:
        return "group and others"
    return "group" if group else "others"
