"""The hash chain: how a record is encoded as a line and linked to the line before.

Each line of an audit log is one JSON object. Its `prev` field is the SHA-256 of
the bytes of the line before it (without the newline), or of the last line of
the previous file after a rotation. The first record of a chain has 64 zeros.

The head file beside the log (`<log>.head`) stores the inode, size and last line
hash of the log after each append. Writers also lock it, so it is never rotated.
It lets `verify` notice records removed from the end of the log, which the links
between the remaining lines cannot show.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from guard.fastclass import dataclass


# The head file is rewritten in place with one pwrite of this many bytes, padded
# with spaces, so a reader never sees a shorter, stale tail behind the new text.
HEAD_SIZE: Final = 256


def line_hash(line: bytes) -> str:
    """Return the SHA-256 hex digest of one log line, without its newline."""
    return hashlib.sha256(line).hexdigest()


def encode_record(record: Mapping[str, Any], prev: str) -> bytes:
    """Encode a record with its `prev` link as one compact JSON line (no newline).

    Text is written as UTF-8. A string that cannot be encoded (a lone surrogate
    from an undecodable file name) makes the whole line fall back to ASCII with
    JSON escapes, which reads back as the same string.
    """
    data = dict(record)
    data["prev"] = prev
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, ensure_ascii=True, separators=(",", ":"), default=_json_default).encode("ascii")


def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"audit record value of type {type(value).__name__} is not JSON serializable: {value!r:.60}")


def head_path(log_path: Path) -> Path:
    """Return the path of the head file (the lock and tail anchor) of a log."""
    return log_path.with_name(log_path.name + ".head")


@dataclass(frozen=True, slots=True, bulk=True)
class ChainHead:
    """The log's state after the last append: its inode, size and last line hash."""

    inode: int
    size: int
    last: str

    def encode(self) -> bytes:
        """Encode as a fixed-size block of JSON padded with spaces."""
        # Formatted by hand: this runs on every append, and json.dumps costs more.
        text = f'{{"inode":{int(self.inode)},"size":{int(self.size)},"last":"{self.last}"}}'
        return text.encode("ascii").ljust(HEAD_SIZE - 1) + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> ChainHead | None:
        """Parse a head block; return None when it is empty or unreadable."""
        try:
            parsed = json.loads(data.decode("ascii"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(parsed, dict):
            return None
        inode, size, last = parsed.get("inode"), parsed.get("size"), parsed.get("last")
        if not (isinstance(inode, int) and isinstance(size, int) and isinstance(last, str)):
            return None
        return cls(inode=inode, size=size, last=last)


def read_head(log_path: Path) -> ChainHead | None:
    """Read the head file of a log; return None when it is missing or unreadable."""
    try:
        data = head_path(log_path).read_bytes()
    except FileNotFoundError:
        return None
    return ChainHead.decode(data[:HEAD_SIZE])


@dataclass(frozen=True, slots=True)
class Tail:
    """The end of a log file: the hash to link to and whether a partial line follows it."""

    last_hash: str | None
    partial: bool


def read_tail(fd: int, size: int, chunk_size: int = 65536) -> Tail:
    """Find the hash of the last complete line of an open log of `size` bytes.

    `last_hash` is None when the file contains no complete line. `partial` is true
    when the file does not end with a newline: a writer stopped mid-write, and the
    next record must start on a new line and link to the line before the partial one.
    """
    if size == 0:
        return Tail(last_hash=None, partial=False)

    partial = os.pread(fd, 1, size - 1) != b"\n"
    if partial:
        end = _rfind_newline(fd, size, chunk_size)
        if end is None:
            return Tail(last_hash=None, partial=True)
    else:
        end = size - 1

    return Tail(last_hash=hash_line_ending_at(fd, end, chunk_size), partial=partial)


def hash_line_ending_at(fd: int, newline_offset: int, chunk_size: int = 65536) -> str:
    """Return the hash of the line that the newline at `newline_offset` closes."""
    previous = _rfind_newline(fd, newline_offset, chunk_size)
    start = 0 if previous is None else previous + 1
    return line_hash(_pread_all(fd, newline_offset - start, start))


def read_first_prev(fd: int, chunk_size: int = 65536) -> str | None:
    """Return the `prev` of the first line of an open log, or None if it has no valid first record."""
    data = b""
    while b"\n" not in data:
        chunk = os.pread(fd, chunk_size, len(data))
        if not chunk:
            return None
        data += chunk
    try:
        record = json.loads(data[: data.index(b"\n")])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    prev = record.get("prev") if isinstance(record, dict) else None
    return prev if isinstance(prev, str) else None


def _rfind_newline(fd: int, before: int, chunk_size: int) -> int | None:
    """Return the offset of the last newline before offset `before`, or None."""
    position = before
    while position > 0:
        start = max(0, position - chunk_size)
        chunk = _pread_all(fd, position - start, start)
        index = chunk.rfind(b"\n")
        if index >= 0:
            return start + index
        position = start
    return None


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    parts = []
    while length > 0:
        data = os.pread(fd, length, offset)
        if not data:
            break
        parts.append(data)
        length -= len(data)
        offset += len(data)
    return b"".join(parts)

