"""Reading audit logs back: records from files, filters, following a growing log."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from guard.audit.record import parse_server_time
from guard.fastclass import dataclass

logger = logging.getLogger(__name__)

_AGE_PATTERN = re.compile(r"(\d+)\s*([smhdw])")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """Parse an age such as 30m, 2h or 7d, or an ISO 8601 date or time, into an aware datetime.

    A date or time without a zone is taken as local time. Raises ValueError
    when the text is neither.
    """
    age = _AGE_PATTERN.fullmatch(text.strip())
    if age:
        return now - timedelta(**{_AGE_UNITS[age.group(2)]: int(age.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"invalid time {text!r}; use an age like 30m, 2h, 7d or an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.astimezone()


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """A selection of records by session id prefix, time and event kind.

    An event kind without a dot matches every event of that family, so
    "process" matches process.start and process.exit.
    """

    session: str | None = None
    since: datetime | None = None
    events: tuple[str, ...] = ()

    def matches(self, record: dict[str, Any]) -> bool:
        """Tell whether a record passes every condition that is set."""
        if self.session is not None and not str(record.get("session", "")).startswith(self.session):
            return False
        if self.events and not any(_event_matches(str(record.get("event", "")), kind) for kind in self.events):
            return False
        if self.since is not None:
            try:
                if parse_server_time(str(record.get("server_time", ""))) < self.since:
                    return False
            except ValueError:
                return False
        return True


def _event_matches(event: str, kind: str) -> bool:
    return event == kind or ("." not in kind and event.startswith(kind + "."))


def parse_line(line: bytes) -> dict[str, Any] | None:
    """Parse one log line into a record; return None for a partial or invalid line."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def read_records(paths: Sequence[Path]) -> Iterator[dict[str, Any]]:
    """Yield the records of the files in order, skipping partial and invalid lines."""
    for path in paths:
        skipped = 0
        with open(path, "rb") as stream:
            for line in stream:
                record = parse_line(line)
                if record is None:
                    skipped += 1
                    continue
                yield record
        if skipped:
            logger.warning("skipped %d lines of %s that are not records; run `rez-guard audit verify`", skipped, path)


class LogFollower:
    """Reads records appended to a log after a given offset, across rotations.

    Each `poll` returns the complete lines written since the last one. When the
    file at the path is replaced (rotated), the follower finishes the old file and
    continues at the start of the new one.
    """

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self._stream: BinaryIO | None = None
        self._buffer = b""
        self._open(offset)

    def poll(self) -> list[dict[str, Any]]:
        """Return the records completed since the last poll (possibly none)."""
        records = self._read_available()
        if self._replaced():
            records.extend(self._read_available())
            self._open(0)
            records.extend(self._read_available())
        return records

    def close(self) -> None:
        """Close the open file."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _open(self, offset: int) -> None:
        self.close()
        self._buffer = b""
        try:
            self._stream = open(self.path, "rb")
        except FileNotFoundError:
            return
        self._stream.seek(offset)

    def _replaced(self) -> bool:
        try:
            at_path = os.stat(self.path)
        except FileNotFoundError:
            return False
        if self._stream is None:
            return True
        opened = os.fstat(self._stream.fileno())
        return (at_path.st_dev, at_path.st_ino) != (opened.st_dev, opened.st_ino)

    def _read_available(self) -> list[dict[str, Any]]:
        if self._stream is None:
            return []
        self._buffer += self._stream.read()
        *lines, self._buffer = self._buffer.split(b"\n")
        return [record for record in map(parse_line, lines) if record is not None]


def tail_records(paths: Sequence[Path], count: int) -> tuple[list[dict[str, Any]], int]:
    """Return the last `count` records of the files and the size of the last file as read.

    Files are read newest first until enough records are found. The size is
    where a `LogFollower` continues, so no record is shown twice.
    """
    collected: list[dict[str, Any]] = []
    end_offset = 0
    for index, path in enumerate(reversed(paths)):
        with open(path, "rb") as stream:
            data = stream.read()
        if index == 0:
            # Stop after the last complete line; a line still being written is shown once it is complete.
            end_offset = data.rfind(b"\n") + 1
            data = data[:end_offset]
        records = [record for record in map(parse_line, data.splitlines()) if record is not None]
        collected = records + collected
        if len(collected) >= count:
            break
    return (collected[-count:] if count > 0 else []), end_offset
