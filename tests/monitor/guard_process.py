"""A guard-like program for tests that need a process of their own.

It does what the guard's launch code does around the monitor: becomes a child
subreaper, prepares the backend, starts the shell, monitors it inside
`termination_signals()`, stops the monitor and writes `session.end`. Every
record goes to the JSON-lines file given as the first argument, one flushed
line each, so a test can follow the session while it runs.

Usage: guard_process.py RECORDS BACKEND POLICY INTERVAL GRACE SCRIPT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO

from guard.monitor import (
    Backend,
    ExitPolicy,
    GuardTerminated,
    MonitorOptions,
    MonitorRecord,
    become_subreaper,
    prepare,
    termination_signals,
)


def _write(output: IO[str], record: dict[str, object]) -> None:
    output.write(json.dumps(record) + "\n")
    output.flush()


def main(argv: list[str]) -> int:
    records_path, backend, policy, interval, grace, script = argv
    options = MonitorOptions(
        backend=Backend(backend),
        exit_policy=ExitPolicy(policy),
        interval=float(interval),
        grace_period=float(grace),
    )
    with Path(records_path).open("w", encoding="utf-8") as output:

        def emit(record: MonitorRecord) -> None:
            _write(output, record.to_dict())

        subreaper = become_subreaper()
        # Signals are recorded from before the shell starts, and raised only
        # while waiting for it.
        with termination_signals() as signals:
            prepared = prepare(options)
            _write(output, {"kind": "session.start", "backend": prepared.backend.value, "subreaper": subreaper})
            shell = prepared.spawn(["bash", "-c", script])
            monitor = prepared.start(shell.pid, emit)
            terminated: GuardTerminated | None = None
            try:
                returncode: int | None = signals.wait(shell)
            except GuardTerminated as error:
                terminated = error
                returncode = shell.returncode
            summary = monitor.stop()
            _write(
                output,
                {
                    "kind": "session.end",
                    "shell_pid": shell.pid,
                    "returncode": returncode,
                    "signals": [int(signum) for signum in signals.received],
                    "summary": summary.to_dict(),
                },
            )
        if terminated is not None:
            return terminated.exit_code
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
