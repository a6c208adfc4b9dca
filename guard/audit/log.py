"""The local audit log: an append-only, hash-chained JSON Lines file, and its sinks.

Many guard processes may append to one log at once (a shared folder). Each
append takes an exclusive flock on the head file, links the record to the line
that is last in the file at that moment, and writes the line with a single
write(2) on an O_APPEND descriptor. Records are therefore never interleaved, and
the chain follows file order whatever order the processes ran in.

A writer killed by SIGKILL can leave at most one partial line: the kernel stops
a large write between pages. The next writer starts its record on a new line and
links it to the last complete line, so `verify` reports the partial line as
truncated, not as a broken link.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from guard.audit.chain import (
    HEAD_SIZE,
    ChainHead,
    encode_record,
    hash_line_ending_at,
    head_path,
    line_hash,
    read_first_prev,
    read_tail,
    Tail,
)
from guard.audit.files import rotated_name
from guard.audit.record import Clock, Submitter, stamp_record
from guard.audit.schema import GENESIS_HASH
from guard.audit.syslog import SinkSpec, SyslogSink
from guard.errors import ConfigError
from guard.fastclass import dataclass

logger = logging.getLogger(__name__)

DEFAULT_REDACT: Final = ("token", "password", "passwd", "secret", "key", "credential")
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """Where and how audit records are written.

    - `required`: fail closed. Opening the log or a sink, or a later write to
      either, raises ConfigError instead of logging a warning.
    - `log_values`: also log the values of changed variables in `decision`
      records. A value whose variable name contains a `redact` word (ignoring
      case) is replaced by "[redacted]".
    - `fsync`: call fdatasync(2) after each record, so a record survives an OS
      crash or power loss, not only a crash of the guard. It costs throughput
      (see docs/benchmarks.md).
    - `max_bytes`: rotate the log to `<path>.<UTC time>` when it has reached this
      size before an append; 0 never rotates. The chain carries across files.
    - `file_mode`: permission bits of a log file the guard creates; use 0o660 or
      0o666 with a group for a log shared between users.
    """

    path: Path
    sinks: tuple[SinkSpec, ...] = ()
    required: bool = False
    log_values: bool = False
    redact: tuple[str, ...] = DEFAULT_REDACT
    fsync: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    file_mode: int = 0o600

    def __post_init__(self) -> None:
        if self.max_bytes < 0:
            raise ConfigError(f"invalid audit max_bytes {self.max_bytes}; use 0 (never rotate) or a positive size")


class AuditWriteError(ConfigError):
    """A record could not be written to the local log or a sink while audit is required."""


def open_audit_log(options: AuditOptions) -> AuditLog:
    """Open the local log and connect the sinks.

    Raises ConfigError when `options.required` is set and the log cannot be
    opened or a sink cannot be connected; otherwise logs a warning and goes on.
    """
    log = AuditLog(options)
    log.connect()
    return log


class AuditLog:
    """An open audit log and its sinks; `append` writes one record to each."""

    def __init__(self, options: AuditOptions, clock: Clock = time.time) -> None:
        self.options = options
        self._clock = clock
        self._sinks = [SyslogSink(spec) for spec in options.sinks]
        # flock excludes other processes only; threads of this process take this lock.
        self._thread_lock = threading.Lock()
        self._log_fd: int | None = None
        self._head_fd: int | None = None
        self._inode = 0
        # (inode, size) of the log after this process's last append, and that line's hash.
        # While the file still has that size, no other writer appended, so the tail need not be read.
        self._cached_position = (0, -1)
        self._cached_hash = GENESIS_HASH
        # Links records sent to sinks while the local log cannot be written.
        self._sink_only_prev = GENESIS_HASH
        self._local_failures = 0
        # Plain strings: these are passed to os.stat and os.open on every append.
        self._path_text = os.fspath(options.path)
        self._head_path_text = os.fspath(head_path(options.path))

    @property
    def path(self) -> Path:
        """The local log file."""
        return self.options.path

    def connect(self) -> None:
        """Open the local log and each sink, as `open_audit_log` describes."""
        try:
            self._open_local()
        except OSError as error:
            message = (
                f"opening audit log {self.path} failed: {error.strerror or error}; fix the folder's "
                "permissions or free disk space, or turn off audit_required in the policy"
            )
            if self.options.required:
                raise ConfigError(message) from error
            logger.warning("%s; records go only to the configured sinks", message)

        for sink in self._sinks:
            try:
                sink.connect()
            except OSError as error:
                message = f"connecting to audit sink {sink.spec} failed: {error.strerror or error}"
                if self.options.required:
                    self.close()
                    raise ConfigError(
                        f"{message}; start the collector, fix the sink address, "
                        "or turn off audit_required in the policy"
                    ) from error
                logger.warning("%s; records stay in the local log", message)

    def append(self, record: Mapping[str, Any]) -> None:
        """Link a record into the chain, write it to the local log, then send it to the sinks.

        Raises AuditWriteError when `required` is set and a write fails. Without
        `required`, a failure is logged as a warning; a record that reached the
        local log stays there when a sink fails.
        """
        with self._thread_lock:
            line = self._append_local(record)
            if line is None:
                line = encode_record(record, self._sink_only_prev)
                self._sink_only_prev = line_hash(line)
            for sink in self._sinks:
                if not sink.send(record, line) and self.options.required:
                    raise AuditWriteError(
                        f"sending an audit record to {sink.spec} failed; start the collector "
                        "or turn off audit_required in the policy"
                    )

    def close(self) -> None:
        """Close the log file and the sinks, and report writes that failed."""
        with self._thread_lock:
            if self._local_failures:
                logger.warning("%d audit records could not be written to %s", self._local_failures, self.path)
                self._local_failures = 0
            self._close_files()
            for sink in self._sinks:
                sink.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open_local(self) -> None:
        self._close_files()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._open_head_file()
        self._open_log_file()

    def _close_files(self) -> None:
        for fd in (self._log_fd, self._head_fd):
            if fd is not None:
                os.close(fd)
        self._log_fd = self._head_fd = None

    def _open_head_file(self) -> None:
        self._head_fd = _open_file(self._head_path_text, os.O_RDWR, self.options.file_mode)

    def _open_log_file(self) -> None:
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
        # Read access too: the writer reads the file's tail to find the line to link to.
        self._log_fd = _open_file(self._path_text, os.O_RDWR | os.O_APPEND, self.options.file_mode)
        self._inode = os.fstat(self._log_fd).st_ino

    def _append_local(self, record: Mapping[str, Any]) -> bytes | None:
        try:
            if self._log_fd is None or self._head_fd is None:
                self._open_local()
            self._lock()
            try:
                return self._write_locked(record)
            finally:
                self._unlock()
        except OSError as error:
            if self.options.required:
                raise AuditWriteError(
                    f"writing audit log {self.path} failed: {error.strerror or error}; fix the file's "
                    "permissions or free disk space, or turn off audit_required in the policy"
                ) from error
            self._local_failures += 1
            if self._local_failures == 1:
                logger.warning("writing audit log %s failed: %s; the record was not kept", self.path, error)
            return None

    def _lock(self) -> None:
        """Take the exclusive flock on the head file that is at its path now."""
        while True:
            assert self._head_fd is not None
            fcntl.flock(self._head_fd, fcntl.LOCK_EX)
            # A head file removed or replaced while we waited locks nothing for
            # the other writers, so lock the file that is at the path now.
            if _stat_if_at(self._head_path_text, self._head_fd) is not None:
                return
            fcntl.flock(self._head_fd, fcntl.LOCK_UN)
            os.close(self._head_fd)
            self._head_fd = None
            self._open_head_file()

    def _unlock(self) -> None:
        if self._head_fd is not None:
            fcntl.flock(self._head_fd, fcntl.LOCK_UN)

    def _write_locked(self, record: Mapping[str, Any]) -> bytes:
        opened = None if self._log_fd is None else _stat_if_at(self._path_text, self._log_fd)
        if opened is None:
            # Another writer rotated the log, or someone moved or removed it.
            self._open_log_file()
            assert self._log_fd is not None
            opened = os.fstat(self._log_fd)
        prev, partial, size = self._link_target(opened.st_size)

        if self.options.max_bytes and size >= self.options.max_bytes:
            self._rotate()
            size, partial = 0, False
        return self._write_line(record, prev, partial, size)

    def _link_target(self, size: int) -> tuple[str, bool, int]:
        """Return the hash to link the next record to, whether a partial line ends the file, and its size."""
        if (self._inode, size) == self._cached_position:
            return self._cached_hash, False, size

        assert self._log_fd is not None
        tail = read_tail(self._log_fd, size)
        head = self._read_head()
        prev = tail.last_hash or (head.last if head is not None else None) or GENESIS_HASH
        if head is not None and not self._head_consistent(head, size, tail):
            # The record the head file names is gone or moved. Write that down
            # before the head file is overwritten and the evidence is lost.
            self._write_line(self._changed_record(head, size), prev, tail.partial, size)
            return self._cached_hash, False, self._cached_position[1]
        return prev, tail.partial, size

    def _head_consistent(self, head: ChainHead, size: int, tail: Tail) -> bool:
        """Tell whether the log still contains the record the head file names, or continues from it.

        A head file for another inode was written before a rotation: the new
        file is empty, or its first record links to the head's record. Any other
        content was put there by something other than a guard writer.
        """
        assert self._log_fd is not None
        if head.inode != self._inode:
            return size == 0 or tail.last_hash == head.last or read_first_prev(self._log_fd) == head.last
        if head.size > size:
            return False
        if head.size == 0:
            return True
        if os.pread(self._log_fd, 1, head.size - 1) != b"\n":
            return False
        return hash_line_ending_at(self._log_fd, head.size - 1) == head.last

    def _read_head(self) -> ChainHead | None:
        assert self._head_fd is not None
        return ChainHead.decode(os.pread(self._head_fd, HEAD_SIZE, 0))

    def _changed_record(self, head: ChainHead, size: int) -> dict[str, Any]:
        logger.warning(
            "audit log %s was changed outside the guard: the record its head file names does not end "
            "at byte %d (the file has %d bytes)",
            self.path,
            head.size,
            size,
        )
        record = stamp_record("log.changed", str(uuid.uuid4()), 0, self._clock(), Submitter.current())
        record.update(path=str(self.path), head_size=head.size, head_hash=head.last, size=size)
        return record

    def _rotate(self) -> None:
        target = rotated_name(self.path, datetime.now(UTC))
        os.rename(self.path, target)
        self._open_log_file()
        logger.info("rotated audit log %s to %s", self.path, target)

    def _write_line(self, record: Mapping[str, Any], prev: str, partial: bool, size: int) -> bytes:
        assert self._log_fd is not None and self._head_fd is not None
        line = encode_record(record, prev)
        data = b"\n" + line + b"\n" if partial else line + b"\n"
        written = os.write(self._log_fd, data)
        if written != len(data):
            raise OSError(errno.EIO, f"short write of {written} of {len(data)} bytes")
        if self.options.fsync:
            os.fdatasync(self._log_fd)

        digest = line_hash(line)
        new_size = size + len(data)
        os.pwrite(self._head_fd, ChainHead(self._inode, new_size, digest).encode(), 0)
        if self.options.fsync:
            os.fdatasync(self._head_fd)
        self._cached_position = (self._inode, new_size)
        self._cached_hash = digest
        return line


def _open_file(path: str, flags: int, mode: int) -> int:
    """Open a file, creating it with exactly `mode` (not reduced by the umask) if it is new."""
    flags |= os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return os.open(path, flags)
    # A shared log needs its group bits even when the creating user's umask removes them.
    os.fchmod(fd, mode)
    return fd


def _stat_if_at(path: str, fd: int) -> os.stat_result | None:
    """Return the fstat of an open file if it is the file now at `path`, else None."""
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return None
    opened = os.fstat(fd)
    if (at_path.st_dev, at_path.st_ino) != (opened.st_dev, opened.st_ino):
        return None
    return opened
