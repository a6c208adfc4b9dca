"""Ending a guarded session cleanly when the guard receives SIGTERM or SIGHUP.

Python's default action for these signals ends the process at once, so the
guard would write no `session.end` record and leave the tree to itself.
`termination_signals()` turns the first of them into a `GuardTerminated`
exception in the main thread, and only records later ones, so the cleanup that
the first one started (stopping the monitor, applying the exit policy, writing
the audit record) runs to its end. Use it around the wait and the cleanup:

    with termination_signals() as received:
        try:
            returncode = shell.wait()
        except GuardTerminated as terminated:
            returncode = terminated.exit_code
        summary = monitor.stop()
        ...  # write session.end, including received.signals
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import FrameType

from guard.errors import GuardError

TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class GuardTerminated(GuardError):
    """The guard received a termination signal while the shell ran."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"rez-guard received {name}; ending the session and applying the exit policy")
        self.signum = signum
        # Shells report a process killed by signal N with status 128 + N.
        self.exit_code = 128 + signum


@dataclass
class ReceivedSignals:
    """The termination signals received inside `termination_signals()`, in order."""

    signals: list[signal.Signals] = field(default_factory=list)


@contextlib.contextmanager
def termination_signals(signums: Iterable[int] = TERMINATION_SIGNALS) -> Iterator[ReceivedSignals]:
    """Raise `GuardTerminated` in the main thread on the first of `signums`; record the rest.

    Must be entered from the main thread (Python runs signal handlers only
    there). The previous handlers come back when the block exits.
    """
    received = ReceivedSignals()

    def handle(signum: int, frame: FrameType | None) -> None:
        received.signals.append(signal.Signals(signum))
        if len(received.signals) == 1:
            raise GuardTerminated(signum)

    previous = {signum: signal.signal(signum, handle) for signum in signums}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
