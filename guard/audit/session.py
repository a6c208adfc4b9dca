"""An audit session: the records of one guarded launch, numbered and stamped."""

from __future__ import annotations

import fnmatch

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final

from guard.audit.log import AuditLog
from guard.audit.record import Clock, Submitter, stamp_record
from guard.audit.schema import COMMON_FIELD_NAMES, check_field_names

logger = logging.getLogger(__name__)

REDACTED: Final = "[redacted]"


class AuditSession:
    """One guarded launch: stamps each record with the session id, seq, time and submitter.

    `clock` returns POSIX seconds; tests pass a fixed one. `emit` may be called
    from several threads (the monitor runs in its own).
    """

    def __init__(self, log: AuditLog, session_id: str | None = None, clock: Clock = time.time) -> None:
        self._log = log
        self._session_id = session_id or str(uuid.uuid4())
        self._clock = clock
        self._submitter = Submitter.current()
        self._seq = 0
        self._lock = threading.Lock()

    @property
    def session_id(self) -> str:
        """The id shared by every record of this session (a UUID unless given)."""
        return self._session_id

    def emit(self, event: str, /, **fields: Any) -> None:
        """Write one record of kind `event` with the given fields.

        In a `decision` record, `env_values` is dropped unless the log's options
        set `log_values`, and values of variables whose names contain a redact word
        are replaced by "[redacted]". A record that does not match the schema is
        still written, with a warning, because losing it would be worse.
        """
        clash = COMMON_FIELD_NAMES.intersection(fields)
        if clash:
            raise ValueError(f"audit fields {sorted(clash)} are set by the session; rename them in the {event} record")

        if "env_values" in fields:
            fields["env_values"] = self._env_values(fields["env_values"])
            if fields["env_values"] is None:
                del fields["env_values"]

        with self._lock:
            record = stamp_record(event, self._session_id, self._seq, self._clock(), self._submitter)
            self._seq += 1
            record.update(fields)
            self._warn_if_invalid(record)
            self._log.append(record)

    def _env_values(self, values: Mapping[str, str | None] | None) -> dict[str, str | None] | None:
        if values is None or not self._log.options.log_values:
            return None
        return redact_values(values, self._log.options.redact)

    def _warn_if_invalid(self, record: Mapping[str, Any]) -> None:
        # Only field names are checked on this path, because a full check would cost
        # a third of the append time; tests and `audit verify --schema` check types.
        problems = check_field_names(record)
        if problems:
            logger.warning(
                "audit record %s seq %d does not match the schema: %s",
                record["event"],
                record["seq"],
                "; ".join(problems),
            )


def _redact_matches(name: str, entry: str) -> bool:
    if any(char in entry for char in "*?["):
        return fnmatch.fnmatchcase(name, entry)
    return entry in name


def redact_values(values: Mapping[str, str | None], redact: tuple[str, ...]) -> dict[str, str | None]:
    """Return a copy of `values` with the value of each name matching a redact entry replaced.

    An entry with glob characters (the policy's "*_KEY") is a pattern for the whole
    name; a plain entry ("key") matches anywhere in it. Matching ignores case, so
    "key" covers AWS_SECRET_ACCESS_KEY and ApiKey. A removed variable (value None)
    stays None.
    """
    entries = tuple(entry.lower() for entry in redact if entry)
    redacted: dict[str, str | None] = {}
    for name, value in values.items():
        lowered = name.lower()
        if value is not None and any(_redact_matches(lowered, entry) for entry in entries):
            redacted[name] = REDACTED
        else:
            redacted[name] = value
    return redacted
