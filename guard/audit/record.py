"""The fields every audit record starts with: who, where, when, and its place in a session."""

from __future__ import annotations

import os
import pwd
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from guard.audit.schema import SCHEMA_VERSION
from guard.fastclass import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Submitter:
    """The user, host and guard process that write a session's records."""

    user: str
    host: str
    pid: int

    @classmethod
    def current(cls) -> Submitter:
        """Describe this process: the login name of its real uid, the host name and pid."""
        uid = os.getuid()
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            # A uid without a passwd entry (common in containers) is logged as its number.
            user = str(uid)
        return cls(user=user, host=socket.gethostname(), pid=os.getpid())


def format_server_time(epoch_seconds: float) -> str:
    """Format a POSIX time as RFC 3339 in UTC with microseconds, ending in Z."""
    # isoformat ends in "+00:00" for UTC; it costs half of what strftime does on every record.
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_server_time(text: str) -> datetime:
    """Parse a `server_time` value into an aware UTC datetime; raise ValueError if invalid."""
    if not text.endswith("Z"):
        raise ValueError(f"server_time {text!r} does not end in Z")
    return datetime.fromisoformat(text[:-1] + "+00:00")


def stamp_record(
    event: str, session: str, seq: int, epoch_seconds: float, submitter: Submitter
) -> dict[str, Any]:
    """Return the common fields of a record, in the order they are written."""
    return {
        "schema": SCHEMA_VERSION,
        "event": event,
        "session": session,
        "seq": seq,
        "uuid": str(uuid.uuid4()),
        "server_time": format_server_time(epoch_seconds),
        "submituser": submitter.user,
        "submithost": submitter.host,
        "guard_pid": submitter.pid,
    }
