"""The trust store: remembered approvals keyed by plan fingerprint, and deny records keyed by context identity.

The store is one JSON file under the guard's data folder. Every change takes a
file lock, reads the current file, and replaces it atomically (write a
temporary file in the same folder, fsync, `os.replace`), so concurrent launches
lose no entries and a reader never sees half a file. A store that cannot be
read, is not valid, fails its checksum, or could be changed by another user
raises ConfigError: nothing is trusted, and the file is left as it was.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar

from guard.errors import ConfigError, UsageError
from guard.fastclass import dataclass
from guard.locking import LockTimeout, exclusive_lock
from guard.plan import StartupPlan

logger = logging.getLogger(__name__)

STORE_FORMAT: Final = "rez-guard-trust"
STORE_VERSION: Final = 1
# Long enough for many launches queued behind one another; a writer holds the lock for milliseconds.
LOCK_TIMEOUT_SECONDS: Final = 60.0

Result = TypeVar("Result")


class TrustState(enum.StrEnum):
    """The store's verdict on a plan and its context."""

    TRUSTED = "trusted"
    DENIED = "denied"
    UNKNOWN = "unknown"


# The states an entry may have, by stored value (a dict lookup is quicker than TrustState()).
_STORED_STATES: Final = {TrustState.TRUSTED.value: TrustState.TRUSTED, TrustState.DENIED.value: TrustState.DENIED}


class UnknownTrustEntry(UsageError):
    """No trust entry matches the key given on the command line, or several do."""


@dataclass(frozen=True, bulk=True)
class TrustEntry:
    """One remembered decision.

    `key` is the plan fingerprint for a trusted entry and the context identity
    for a deny record. `summary` contains what the user saw (request, resolve, shell).
    """

    key: str
    state: TrustState
    identity: str
    fingerprint: str | None
    created: str
    summary: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as stored in the JSON file."""
        return {
            "key": self.key,
            "state": self.state.value,
            "identity": self.identity,
            "fingerprint": self.fingerprint,
            "created": self.created,
            "summary": _thaw(self.summary),
        }

    @classmethod
    def from_dict(cls, data: Any) -> TrustEntry:
        """Build an entry from stored data; raise ValueError when a field is missing or invalid.

        `data` is taken over: the entry keeps its summary object, read-only.
        """
        if not isinstance(data, dict):
            raise ValueError("an entry is not a JSON object")
        state = _STORED_STATES.get(data.get("state"))
        if state is None:
            raise ValueError(f"an entry has state {data.get('state')!r}, not 'trusted' or 'denied'")
        key, identity, created = data.get("key"), data.get("identity"), data.get("created")
        fingerprint, summary = data.get("fingerprint"), data.get("summary", {})
        if not all(isinstance(value, str) and value for value in (key, identity, created)):
            raise ValueError("an entry lacks its key, identity or creation time")
        if state is TrustState.TRUSTED and fingerprint != key:
            raise ValueError(f"trusted entry {key} does not carry its own fingerprint")
        if state is TrustState.DENIED and identity != key:
            raise ValueError(f"deny record {key} is not keyed by its identity")
        if not isinstance(summary, dict):
            raise ValueError(f"entry {key} has a summary that is not a JSON object")
        # The summary comes fresh from json.loads, so it needs no copy: _freeze took about 10 of the
        # 17 ms of reading a 1,000-entry store.
        return cls(key, state, identity, fingerprint, created, MappingProxyType(summary))


class TrustStore:
    """The trust store file at `path`, safe to use from many processes at once."""

    def __init__(self, path: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._clock = clock or (lambda: datetime.now(UTC))
        # The entries last read, with the signature of the file they came from.
        self._last_read: tuple[tuple[int, ...], tuple[TrustEntry, ...]] | None = None

    def lookup(self, fingerprint: str, identity: str) -> TrustState:
        """Return DENIED when the context is denied, TRUSTED when the plan is remembered, else UNKNOWN.

        A deny record wins over a trusted fingerprint. Raises ConfigError when
        the store cannot be used, so a caller never mistakes damage for trust.
        """
        entries = self._read()
        if any(entry.state is TrustState.DENIED and entry.identity == identity for entry in entries):
            return TrustState.DENIED
        if any(entry.state is TrustState.TRUSTED and entry.key == fingerprint for entry in entries):
            return TrustState.TRUSTED
        return TrustState.UNKNOWN

    def check(self) -> None:
        """Read the store, so a later lookup reuses what was read; raise ConfigError when it cannot be used."""
        self._read()

    def remember(self, fingerprint: str, identity: str, summary: Mapping[str, Any]) -> None:
        """Trust the plan with `fingerprint`, and lift any deny record of its context."""
        entry = TrustEntry(fingerprint, TrustState.TRUSTED, identity, fingerprint, self._now(), _freeze(summary))

        def change(entries: list[TrustEntry]) -> tuple[list[TrustEntry], None]:
            kept = [
                other for other in entries
                if other.key != fingerprint and not (other.state is TrustState.DENIED and other.identity == identity)
            ]
            return [*kept, entry], None

        self._update(change)
        logger.info("trusted fingerprint %s of context %s", fingerprint, identity)

    def deny(self, identity: str, summary: Mapping[str, Any]) -> None:
        """Deny the context with `identity` until the record is forgotten; drop its trusted plans."""
        entry = TrustEntry(identity, TrustState.DENIED, identity, None, self._now(), _freeze(summary))

        def change(entries: list[TrustEntry]) -> tuple[list[TrustEntry], None]:
            kept = [other for other in entries if other.key != identity and other.identity != identity]
            return [*kept, entry], None

        self._update(change)
        logger.info("denied context %s", identity)

    def forget(self, key: str) -> bool:
        """Remove the entry with exactly this key; return whether there was one."""

        def change(entries: list[TrustEntry]) -> tuple[list[TrustEntry], bool]:
            kept = [entry for entry in entries if entry.key != key]
            return kept, len(kept) != len(entries)

        removed = self._update(change)
        logger.info("forgot trust entry %s: %s", key, "removed" if removed else "not found")
        return removed

    def entries(self) -> list[TrustEntry]:
        """Return every entry, oldest first."""
        return sorted(self._read(), key=lambda entry: (entry.created, entry.key))

    def find(self, key: str) -> TrustEntry:
        """Return the entry whose key is `key` or starts with it; raise UnknownTrustEntry unless exactly one."""
        entries = self.entries()
        exact = [entry for entry in entries if entry.key == key]
        if exact:
            return exact[0]
        matches = [entry for entry in entries if key and entry.key.startswith(key)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UnknownTrustEntry(f"no trust entry has key {key!r}; run `rez-guard trust list` to see the keys")
        raise UnknownTrustEntry(f"{len(matches)} trust entries start with {key!r}; give more of the key")

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    def _update(self, change: Callable[[list[TrustEntry]], tuple[list[TrustEntry], Result]]) -> Result:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            with exclusive_lock(self._lock_path, LOCK_TIMEOUT_SECONDS):
                entries = self._read()
                updated, result = change(entries)
                if updated != entries:
                    self._write(updated)
                return result
        except LockTimeout as error:
            raise ConfigError(
                f"timed out after {LOCK_TIMEOUT_SECONDS:.0f} s waiting for trust store lock {self._lock_path}; "
                "check for a stuck rez-guard process"
            ) from error

    def _read(self) -> list[TrustEntry]:
        try:
            descriptor = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise self._unusable(error.strerror or str(error)) from error
        try:
            info = os.fstat(descriptor)
            self._check_file(info)
        except ConfigError:
            os.close(descriptor)
            raise
        # A launch reads the store while the recording child runs and again for the lookup.
        # The guard's writes replace the file, so an unchanged signature means unchanged entries.
        # NOTE: an edit in place that keeps the size, within one tick of the file system's clock,
        # is not seen by a store object that read the file before it.
        signature = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if self._last_read is not None and self._last_read[0] == signature:
            os.close(descriptor)
            return list(self._last_read[1])
        with os.fdopen(descriptor, "rb") as stream:
            raw = stream.read()
        try:
            entries = _decode(raw)
        except ValueError as error:
            raise self._unusable(f"invalid content: {error}") from error
        self._last_read = (signature, tuple(entries))
        return entries

    def _check_file(self, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise self._unusable("not a regular file")
        if info.st_uid != os.geteuid():
            raise self._unusable(f"owned by uid {info.st_uid}, not by you")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise self._unusable("writable by other users")

    def _unusable(self, reason: str) -> ConfigError:
        return ConfigError(
            f"trust store {self.path} cannot be used ({reason}); nothing is trusted and the file is left as it "
            "is: move it aside or repair it, then run `rez-guard trust list`"
        )

    def _write(self, entries: list[TrustEntry]) -> None:
        data = _encode(entries)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_folder(self.path.parent)


def context_identity(plan: StartupPlan) -> str:
    """Return the sha256 of the context's request and resolved variants (with their repositories).

    Deny records use it: the same request resolving to the same variants is the
    same context, whatever shell or environment it is launched from.
    """
    identity = {
        "request": list(plan.request),
        "variants": [[variant.qualified_name, variant.repository] for variant in plan.variants],
    }
    return hashlib.sha256(_canonical_json(identity)).hexdigest()


def context_summary(plan: StartupPlan) -> dict[str, Any]:
    """Return what `trust list` shows for a plan: its request, resolve and shell."""
    return {
        "request": list(plan.request),
        "resolve": [variant.qualified_name for variant in plan.variants],
        "shell": plan.shell,
    }


def _encode(entries: list[TrustEntry]) -> bytes:
    stored = [entry.to_dict() for entry in entries]
    document = {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "checksum": _checksum(stored),
        "entries": stored,
    }
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _decode(raw: bytes) -> list[TrustEntry]:
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(str(error)) from error
    if not isinstance(document, dict) or document.get("format") != STORE_FORMAT:
        raise ValueError(f"not a {STORE_FORMAT} file")
    if document.get("version") != STORE_VERSION:
        raise ValueError(f"unsupported version {document.get('version')!r}")
    stored = document.get("entries")
    if not isinstance(stored, list):
        raise ValueError("'entries' is not a list")
    # The checksum catches truncation and hand edits; it is no signature, because
    # anything running as you can recompute it.
    if document.get("checksum") != _checksum(stored):
        raise ValueError("checksum mismatch")
    return [TrustEntry.from_dict(item) for item in stored]


def _checksum(stored: list[Any]) -> str:
    return "sha256:" + hashlib.sha256(_canonical_json(stored)).hexdigest()


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _freeze(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    # A JSON round trip checks the summary can be stored and detaches it from the caller's objects.
    return MappingProxyType(json.loads(_canonical_json(dict(summary))))


def _thaw(summary: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(_canonical_json(dict(summary)))


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse fsync on folders.
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        logger.debug("fsync of folder %s is not supported", folder)
    finally:
        os.close(descriptor)
