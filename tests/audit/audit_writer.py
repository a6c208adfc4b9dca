"""A guard-like writer process for the concurrency and SIGKILL tests.

Usage: audit_writer.py LOG READY_FILE GO_FILE MODE [MAX_BYTES]

It opens the log, creates READY_FILE, waits for GO_FILE to exist, then in mode
"session" writes one whole session and exits, and in mode "flood" writes large
alert records until it is killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from audit_helpers import emit_session
from guard.audit import AuditOptions, AuditSession, open_audit_log

PROCESS_EVENTS = 16
FLOOD_MESSAGE_BYTES = 4 * 1024 * 1024


def main() -> None:
    log_path, ready_file, go_file, mode = (sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
    max_bytes = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    log = open_audit_log(AuditOptions(path=Path(log_path), max_bytes=max_bytes, required=True))
    session = AuditSession(log)
    ready_file.touch()
    while not go_file.exists():
        time.sleep(0.01)

    if mode == "session":
        emit_session(session, process_events=PROCESS_EVENTS)
        log.close()
        return
    while True:
        session.emit("alert", message="x" * FLOOD_MESSAGE_BYTES, paths=[log_path])


if __name__ == "__main__":
    main()
