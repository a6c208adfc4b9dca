"""The shell cache: facts about shell programs and the host, kept across launches.

Two results cost a shell process on every launch: the names the shell defines
itself (`ShellAdapter.variables_query`) and whether the context script parses
(`ShellAdapter.check_syntax`). The first depends only on the shell program, the
second on the program and the script. The same folder keeps the facts rez
finds about the host by running a program (`guard/hostfacts.py`): the
operating system name and each shell's system paths. Everything is stored in
the guard's state folder (`$XDG_STATE_HOME/rez-guard/shell-cache/`), which the
recording child's sandbox protects, so package code cannot add an entry.

A missing, unreadable or invalid file is read as empty and rewritten on the next
store. Writers replace a file atomically, so a reader never sees half a file.
Two writers at once may lose one entry, which only costs a query later.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from guard import __version__
from guard.fastclass import dataclass
from guard.paths import GuardPaths

logger = logging.getLogger(__name__)

CACHE_FOLDER: Final = "shell-cache"
VARIABLES_FILE: Final = "variables.json"
SYNTAX_FILE: Final = "syntax.json"
# rez's facts about this host that cost a program run (guard/hostfacts.py).
HOST_FILE: Final = "host.json"
# Held shared while a recording child runs. The integrity snapshot and the watch skip `.lock` files.
RECORDING_LOCK: Final = "recording.lock"
CACHE_FORMAT: Final = "rez-guard-shell-cache"
CACHE_VERSION: Final = 1
# Scripts whose syntax check passed, newest kept. One entry is a 64-character digest.
MAX_SYNTAX_ENTRIES: Final = 256

# rez sets these to the time of the resolve and of the recording, so they change on every launch.
LAUNCH_TIME_VARIABLES: Final = ("REZ_USED_TIMESTAMP", "REZ_SHELL_INIT_TIMESTAMP")

# A value that changes between launches is masked only when it is a folder made of these
# characters or a run of digits. Either is a run of ordinary word characters in every
# quoting context of sh, bash, zsh, tcsh and csh, so another value of the same kind in
# its place cannot change how the script parses.
_PLAIN_FOLDER = re.compile(r"/[A-Za-z0-9_./-]*")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class ShellProgram:
    """A shell executable and the file status that distinguishes its builds.

    `path` is the path the guard runs, `target` the file it resolves to. A new
    build replaces the file, which changes the inode or the times; ctime cannot be
    set back by a user, unlike mtime.
    """

    path: str
    target: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def find(cls, name: str) -> ShellProgram | None:
        """Look up `name` on the guard's PATH as `shutil.which` does, or return None when it is missing."""
        path = shutil.which(name)
        if path is None:
            return None
        return cls.at(path)

    @classmethod
    def at(cls, path: str) -> ShellProgram | None:
        """Identify the program at `path`, or return None when it cannot be read."""
        target = os.path.realpath(path)
        try:
            info = os.stat(target)
        except OSError as error:
            logger.debug("cannot identify the shell %s: %s", path, error)
            return None
        return cls(path, target, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)

    @property
    def key(self) -> str:
        """The cache key of this build of the program at this path."""
        return "\0".join(str(part) for part in (self.path, self.target, self.device, self.inode, self.size,
                                                 self.mtime_ns, self.ctime_ns))

    def unchanged(self) -> bool:
        """True when the program at `path` is still this build, checked before its output is stored."""
        return ShellProgram.at(self.path) == self


def launch_values(environ: Mapping[str, str], session_folder: Path | str | None) -> tuple[str, ...]:
    """Return what differs between two launches of one context: the session folder and rez's timestamps."""
    values = [] if session_folder is None else [str(session_folder)]
    values.extend(environ.get(name, "") for name in LAUNCH_TIME_VARIABLES)
    return tuple(value for value in values if value)


def syntax_key(program: ShellProgram, options: Iterable[str], script: str,
               launch_values: Iterable[str] = ()) -> str | None:
    """Return the cache key of a syntax check, or None when the check must not be cached.

    Each of `launch_values` is replaced by a mark, so two launches of one context
    share the key. The key is None when a value is neither a folder made of
    `[A-Za-z0-9_./-]` nor a run of digits, or when the script contains a NUL,
    which could be taken for a mark.
    """
    if "\0" in script:
        return None
    # rez's two timestamps may be equal in one launch and a second apart in the next, so all
    # runs of digits share one mark. Only a here-document compares two words while
    # parsing (its delimiter), so a script with `<<` gets one mark per value.
    shared_digits = "<<" not in script
    text = script
    for index, value in enumerate(launch_values):
        if _DIGITS.fullmatch(value):
            mark = "\0digits\0" if shared_digits else f"\0{index}\0"
        elif _PLAIN_FOLDER.fullmatch(value):
            mark = f"\0{index}\0"
        else:
            return None
        text = text.replace(value, mark)
    digest = hashlib.sha256()
    for part in (__version__, program.key, "\0".join(options), text):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\0\0")
    return digest.hexdigest()


class ShellCache:
    """Read and write the shell cache files in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_paths(cls, paths: GuardPaths) -> ShellCache:
        """Return the cache in the guard's state folder."""
        return cls(paths.state_dir / CACHE_FOLDER)

    @classmethod
    def default(cls) -> ShellCache:
        """Return the cache of the guard's own environment, the one the CLI reads its folders from."""
        # NOTE: the adapters find the cache through os.environ, not `Collaborators.paths`, so a caller that
        # passes other paths takes the recording lock in another folder than the one the cache is written to.
        return cls.for_paths(GuardPaths.from_environ(os.environ))

    # -- variables

    def variables(self, program: ShellProgram, query: Iterable[str]) -> frozenset[str] | None:
        """Return the names this shell build listed for `query`, or None when none are stored."""
        names = self._entries(VARIABLES_FILE, dict).get(_variables_key(program, query))
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            return None
        return frozenset(names)

    def store_variables(self, program: ShellProgram, query: Iterable[str], names: frozenset[str]) -> None:
        """Store the names this shell build listed for `query`."""
        def update(entries: dict[str, Any]) -> dict[str, Any]:
            # Entries of other builds at the same path are stale, so dropping them bounds the file.
            remaining = {key: value for key, value in entries.items()
                    if isinstance(key, str) and not key.startswith(program.path + "\0")}
            remaining[_variables_key(program, query)] = sorted(names)
            return remaining

        self._update(VARIABLES_FILE, dict, update)

    # -- syntax checks

    def syntax_passed(self, key: str) -> bool:
        """True when a syntax check with this key passed before."""
        return key in self._entries(SYNTAX_FILE, list)

    def store_syntax_passed(self, key: str) -> None:
        """Record that the syntax check with this key passed, keeping the newest entries."""
        def update(entries: list[Any]) -> list[Any]:
            remaining = [entry for entry in entries if isinstance(entry, str) and entry != key]
            remaining.append(key)
            return remaining[-MAX_SYNTAX_ENTRIES:]

        self._update(SYNTAX_FILE, list, update)

    # -- host facts

    def host_fact(self, key: str) -> Any:
        """Return the host fact stored under `key`, or None."""
        return self._entries(HOST_FILE, dict).get(key)

    def store_host_fact(self, key: str, value: Any, stale: Callable[[str], bool]) -> None:
        """Store a host fact under `key`, dropping the stored keys for which `stale` is true."""
        def update(entries: dict[str, Any]) -> dict[str, Any]:
            remaining = {name: fact for name, fact in entries.items() if isinstance(name, str) and not stale(name)}
            remaining[key] = value
            return remaining

        self._update(HOST_FILE, dict, update)

    # -- the lock against writes while package code runs

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Hold the shared recording lock while package code runs in a child.

        The session compares snapshots of the guard's folders taken around the
        child, so a cache write by a concurrent guard would look like package code
        changing them. Writers skip the write while any session holds this lock.
        """
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(self.folder / RECORDING_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            # Without the folder no guard can write the cache either, so nothing needs the lock.
            logger.debug("no shell cache lock in %s: %s", self.folder, error)
            descriptor = None
        if descriptor is None:
            yield
            return
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH)
            yield
        finally:
            os.close(descriptor)

    # -- files

    def _entries(self, name: str, kind: type) -> Any:
        path = self.folder / name
        try:
            with open(path, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not _owned_privately(info):
                    logger.warning("ignoring the shell cache %s: another user can change it", path)
                    return kind()
                data = json.loads(handle.read())
        except FileNotFoundError:
            return kind()
        except (OSError, ValueError) as error:
            logger.debug("ignoring the shell cache %s: %s", path, error)
            return kind()
        if not isinstance(data, Mapping) or data.get("format") != CACHE_FORMAT or data.get("version") != CACHE_VERSION:
            logger.debug("ignoring the shell cache %s: not a version %d cache file", path, CACHE_VERSION)
            return kind()
        entries = data.get("entries")
        return entries if isinstance(entries, kind) else kind()

    def _update(self, name: str, kind: type, update: Callable[[Any], Any]) -> None:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self._exclusive() as acquired:
                if not acquired:
                    logger.debug("a recording child is running; the shell cache %s is not written", name)
                    return
                self._replace(self.folder / name, update(self._entries(name, kind)))
        except OSError as error:
            logger.debug("cannot write the shell cache %s in %s: %s", name, self.folder, error)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[bool]:
        descriptor = os.open(self.folder / RECORDING_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                yield False
                return
            yield True
        finally:
            os.close(descriptor)

    def _replace(self, path: Path, entries: Any) -> None:
        document = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "entries": entries}
        handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.folder, prefix=f".{path.name}.",
                                             suffix=".tmp", delete=False)
        try:
            with handle:
                json.dump(document, handle, separators=(",", ":"))
            os.replace(handle.name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(handle.name)
            raise


def _variables_key(program: ShellProgram, query: Iterable[str]) -> str:
    # The guard's version and the query are part of the key, because another guard may list the names differently.
    return "\0".join((program.key, __version__, *query))


def _owned_privately(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
