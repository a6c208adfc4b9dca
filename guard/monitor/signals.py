"""Ending a guarded session cleanly when the guard receives SIGTERM or SIGHUP.

Python's default action for these signals ends the process at once, so the
guard would write no `session.end` record and leave the tree to itself.
Inside `termination_signals()` they are recorded instead. Only
`TerminationSignals.wait(shell)` turns one into a `GuardTerminated` exception.
So a signal never interrupts the guard halfway through starting the shell or
the monitor. Nor does a later signal interrupt the cleanup that the first one
started: stopping the monitor, applying the exit policy, writing the audit
record.

    with termination_signals() as signals:
        ...  # prepare, spawn, start: a signal here is recorded
        try:
            returncode = signals.wait(shell)
        except GuardTerminated as terminated:
            returncode = shell.returncode  # None while the shell still runs
        summary = monitor.stop()
        ...  # write session.end, including signals.received
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterable, Iterator
from types import FrameType

from guard.errors import GuardError
from guard.monitor.model import ShellProcess

TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class GuardTerminated(GuardError):
    """The guard received a termination signal while the shell ran."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"rez-guard received {name}; ending the session and applying the exit policy")
        self.signum = signum
        # Shells report a process killed by signal N with status 128 + N.
        self.exit_code = 128 + signum


class TerminationSignals:
    """The termination signals received inside `termination_signals()`, in order."""

    def __init__(self) -> None:
        self.received: list[signal.Signals] = []
        self._waiting = False

    def wait(self, shell: ShellProcess) -> int:
        """Wait for the shell and return its exit code.

        Raises `GuardTerminated` for the first termination signal, whether it
        arrived before this call or during the wait.
        """
        self._waiting = True
        try:
            if self.received:
                raise GuardTerminated(self.received[0])
            return shell.wait()
        finally:
            self._waiting = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum))
        if self._waiting and len(self.received) == 1:
            raise GuardTerminated(signum)


@contextlib.contextmanager
def termination_signals(signums: Iterable[int] = TERMINATION_SIGNALS) -> Iterator[TerminationSignals]:
    """Record `signums` instead of dying of them; `TerminationSignals.wait` raises for the first.

    Must be entered from the main thread (Python runs signal handlers only
    there). The previous handlers come back when the block exits.
    """
    signals = TerminationSignals()
    previous = {signum: signal.signal(signum, signals._handle) for signum in signums}
    try:
        yield signals
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
