"""The audit log: one JSON record per line. TODO: hash chain, sinks, verify."""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class AuditOptions:
    """Where records go and how."""

    path: Path
    required: bool = False


class AuditLog:
    """An append-only JSON-lines file."""

    def __init__(self, options: AuditOptions) -> None:
        self.options = options
        options.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: Mapping[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(self.options.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)

    def close(self) -> None:
        pass


def open_audit_log(options: AuditOptions) -> AuditLog:
    return AuditLog(options)


class AuditSession:
    """The records of one guarded launch."""

    def __init__(self, log: AuditLog, session_id: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.log = log
        self.session_id = session_id or str(uuid.uuid4())
        self._clock = clock
        self._seq = 0
        self._user = getpass.getuser()
        self._host = socket.gethostname()

    def emit(self, event: str, **fields: Any) -> None:
        self._seq += 1
        record = {
            "schema": SCHEMA_VERSION,
            "event": event,
            "session": self.session_id,
            "seq": self._seq,
            "server_time": self._clock(),
            "submituser": self._user,
            "submithost": self._host,
            "pid": os.getpid(),
            **fields,
        }
        self.log.append(record)
