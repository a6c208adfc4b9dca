"""The guard's side of a run: serve the child's pipes, socket and notifications until it exits.

One loop, on one thread, reads the result pipe, the captured output, the
child's layer report, the protected-folder watch and the seccomp listener. It
keeps responding to notifications while it reads the result, because a child
blocked in a notified call would otherwise never finish writing. The loop ends
when the child exits. It does not wait for end of file on the pipes, because a
process the child left behind may still keep them open.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
from collections.abc import Callable
from dataclasses import field

from guard.fastclass import dataclass
from guard.sandbox.report import LayerState
from guard.sandbox.watch import ProtectedWatch

logger = logging.getLogger(__name__)

_READ_SIZE = 1 << 16
# How often to check for the child's exit when the kernel has no pidfd (before Linux 5.3).
_EXIT_POLL_MILLISECONDS = 50
_CONTROL_MESSAGE_BYTES = 1 << 16
# A process left behind may keep writing into the pipes; stop collecting after this many rounds.
_DRAIN_ROUNDS = 64


@dataclass
class ChildReport:
    """The child's report about itself, sent before package code ran."""

    layers: list[LayerState]
    inherited: tuple[int, ...]


@dataclass
class RunTranscript:
    """Everything the loop collected from one child."""

    result: bytearray = field(default_factory=bytearray)
    output: bytearray = field(default_factory=bytearray)
    output_truncated: bool = False
    report: ChildReport | None = None
    protected_changes: list[str] = field(default_factory=list)


class Supervisor:
    """Serves one running child until it exits."""

    def __init__(
        self,
        pid: int,
        result_fd: int,
        output_fd: int,
        control: socket.socket,
        watch: ProtectedWatch | None,
        start_notifications: Callable[[int], Callable[[], None]],
        max_result_bytes: int,
        max_output_bytes: int,
    ) -> None:
        self._pid = pid
        self._result_fd = result_fd
        self._output_fd = output_fd
        self._control = control
        self._watch = watch
        self._start_notifications = start_notifications
        self._max_result = max_result_bytes
        self._max_output = max_output_bytes
        self._poll = select.poll()
        self._handlers: dict[int, Callable[[int], None]] = {}
        self._listeners: list[int] = []
        self.transcript = RunTranscript()

    def _register(self, fd: int, handler: Callable[[int], None]) -> None:
        self._handlers[fd] = handler
        self._poll.register(fd, select.POLLIN)

    def _unregister(self, fd: int) -> None:
        if self._handlers.pop(fd, None) is not None:
            self._poll.unregister(fd)

    def run(self) -> None:
        """Serve the child until it exits, then collect what is left in the pipes."""
        os.set_blocking(self._result_fd, False)
        os.set_blocking(self._output_fd, False)
        self._register(self._result_fd, self._read_result)
        self._register(self._output_fd, self._read_output)
        self._register(self._control.fileno(), self._read_control)
        if self._watch is not None:
            self._register(self._watch.fd, self._read_watch)
        try:
            self._serve_until_exit()
            self._drain()
        finally:
            for listener in self._listeners:
                os.close(listener)

    def _serve_until_exit(self) -> None:
        # NOTE: there is no time limit; package code that never returns keeps the guard here until interrupted.
        pidfd = _open_pidfd(self._pid)
        if pidfd is None:
            while not _has_exited(self._pid):
                self._dispatch(self._poll.poll(_EXIT_POLL_MILLISECONDS))
            return
        self._poll.register(pidfd, select.POLLIN)
        try:
            while True:
                events = self._poll.poll()
                self._dispatch(events)
                if any(fd == pidfd for fd, _ in events):
                    return
        finally:
            self._poll.unregister(pidfd)
            os.close(pidfd)

    def _dispatch(self, events: list[tuple[int, int]]) -> None:
        for fd, mask in events:
            handler = self._handlers.get(fd)
            if handler is not None:
                handler(mask)

    def _drain(self) -> None:
        # The child has exited: take what is ready now without waiting for end of file.
        # Only ready descriptors are served, because receiving a notification blocks.
        for _ in range(_DRAIN_ROUNDS):
            events = self._poll.poll(0)
            if not events:
                return
            self._dispatch(events)

    def _read_available(self, fd: int) -> bytes | None:
        """Read what is there now: bytes, b'' at end of file, or None when nothing is ready."""
        try:
            return os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return None

    def _read_result(self, mask: int) -> None:
        while (chunk := self._read_available(self._result_fd)) is not None:
            if not chunk:
                self._unregister(self._result_fd)
                return
            if len(self.transcript.result) + len(chunk) > self._max_result:
                logger.warning("the recording child sent more than %d bytes; stopping it", self._max_result)
                self.transcript.result += chunk[: self._max_result - len(self.transcript.result)]
                self._unregister(self._result_fd)
                _kill(self._pid)
                return
            self.transcript.result += chunk

    def _read_output(self, mask: int) -> None:
        while (chunk := self._read_available(self._output_fd)) is not None:
            if not chunk:
                self._unregister(self._output_fd)
                return
            room = self._max_output - len(self.transcript.output)
            if len(chunk) > room:
                self.transcript.output_truncated = True
            self.transcript.output += chunk[: max(room, 0)]

    def _read_control(self, mask: int) -> None:
        # Only the first message counts: the child closes the socket before package code runs.
        fd = self._control.fileno()
        self._unregister(fd)
        try:
            message, fds, _, _ = socket.recv_fds(self._control, _CONTROL_MESSAGE_BYTES, 1, socket.MSG_DONTWAIT)
        except BlockingIOError:
            self._register(fd, self._read_control)
            return
        except OSError as error:
            logger.warning("cannot read the recording child's layer report: %s", error)
            return
        if not message:
            return
        try:
            data = json.loads(message.decode("utf-8"))
            layers = [LayerState.from_dict(item) for item in data["layers"]]
            inherited = tuple(int(fd) for fd in data["inherited"])
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            logger.warning("the recording child sent an invalid layer report: %s", error)
            for extra in fds:
                os.close(extra)
            return
        self.transcript.report = ChildReport(layers, inherited)
        for listener in fds:
            self._listeners.append(listener)
            handle = self._start_notifications(listener)
            self._register(listener, lambda mask, handle=handle, listener=listener: self._notify(listener, mask, handle))

    def _notify(self, listener: int, mask: int, handle: Callable[[], None]) -> None:
        if mask & select.POLLIN:
            handle()
        elif mask & (select.POLLHUP | select.POLLERR):
            # Every thread under the filter has exited.
            self._unregister(listener)

    def _read_watch(self, mask: int) -> None:
        assert self._watch is not None
        self.transcript.protected_changes.extend(self._watch.read_changes())


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _has_exited(pid: int) -> bool:
    # WNOWAIT leaves the child to be reaped by the caller, which reads its status.
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
