"""The running monitor: its thread, its stop, and the queue that feeds it.

Every backend runs in a `Monitor` thread that owns the `Recorder`, so records
reach `emit` from that one thread. Backends that must react to the kernel
within microseconds (netlink, ptrace) observe in their own producer thread and
pass plain observations through a queue, so a slow `emit` (an audit write,
an fsync) never delays them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from typing import NamedTuple

from guard.monitor.exit_policy import apply_exit_policy
from guard.monitor.model import Backend, Leftover, MonitorOptions, MonitorSummary
from guard.monitor.procfs import ProcessInfo, ProcessSource, ProcStat, decode_wait_status
from guard.monitor.reaper import Reaper
from guard.monitor.recorder import Emit, LiveProcess, Recorder

logger = logging.getLogger(__name__)


class Monitor:
    """A monitor watching one process tree; call `stop()` once the shell has exited."""

    def __init__(
        self,
        backend: Backend,
        root_pid: int,
        options: MonitorOptions,
        emit: Emit,
        source: ProcessSource,
        *,
        sampled: bool,
    ) -> None:
        self.backend = backend
        self.root_pid = root_pid
        self.options = options
        self.source = source
        self.recorder = Recorder(emit, source, sampled=sampled)
        self.reaper = Reaper(root_pid)
        self._stop_requested = threading.Event()
        self._stop_lock = threading.Lock()
        self._error: str | None = None
        self._summary: MonitorSummary | None = None
        self._thread = threading.Thread(target=self._main, name=f"rez-guard-monitor-{backend}", daemon=True)

    @property
    def live_count(self) -> int:
        """The number of live processes the monitor keeps in memory."""
        return len(self.recorder.live)

    def start_thread(self) -> None:
        """Start the monitor thread (called once by the backend's constructor or `start`)."""
        self._thread.start()

    def stop(self) -> MonitorSummary:
        """Stop monitoring, apply the exit policy to what still runs, and return the summary.

        Safe to call more than once and from any thread; later calls return the
        same summary. Blocks for at most about the grace period plus a few
        seconds under the terminate policy.
        """
        with self._stop_lock:
            if not self._stop_requested.is_set():
                self._stop_requested.set()
                self._wake()
        self._thread.join()
        assert self._summary is not None
        return self._summary

    def _main(self) -> None:
        try:
            self._run()
        except Exception as error:
            logger.exception("%s monitor of pid %d failed", self.backend, self.root_pid)
            self._error = f"{type(error).__name__}: {error}"
        leftovers: tuple[Leftover, ...] = ()
        try:
            leftovers = apply_exit_policy(
                self._leftover_candidates(),
                self.options.exit_policy,
                self.options.grace_period,
                self.source,
                self._wait_step,
                self._leftover_candidates,
            )
            self._settle()
        except Exception as error:
            logger.exception("applying the %s exit policy failed", self.options.exit_policy)
            self._error = self._error or f"{type(error).__name__}: {error}"
        try:
            self._close()
        except Exception:
            logger.exception("closing the %s monitor failed", self.backend)
        self._summary = MonitorSummary(
            backend=self.backend,
            exit_policy=self.options.exit_policy,
            processes_seen=self.recorder.processes_seen,
            events_emitted=self.recorder.events_emitted,
            lost_notices=self.recorder.lost_notices,
            emit_errors=self.recorder.emit_errors,
            leftovers=leftovers,
            error=self._error,
        )

    def exclude_child(self, pid: int) -> None:
        """Declare `pid`, a child the guard started after `start()`, no part of the tree.

        Only the poll backend needs this: it cannot tell such a child from an
        orphan the guard adopted, and would report and reap it. Call it right
        after starting the child. The other backends follow fork lineage and
        ignore the call.
        """

    def _leftover_candidates(self) -> Iterable[LiveProcess]:
        return list(self.recorder.live.values())

    def _run(self) -> None:
        """Observe the tree until `stop()` is called (runs in the monitor thread)."""
        raise NotImplementedError

    def _wait_step(self, seconds: float) -> None:
        """Keep observing for up to `seconds` while the exit policy waits."""
        time.sleep(seconds)

    def _wake(self) -> None:
        """Make `_run` notice the stop request soon."""

    def _settle(self) -> None:
        """Emit what the backend observed while the exit policy ran."""

    def _close(self) -> None:
        """Release the backend's resources after the exit policy ran."""


class Forked(NamedTuple):
    """The kernel created process `pid` as a child of `ppid`."""

    pid: int
    ppid: int
    monotonic_ns: int


class Execed(NamedTuple):
    """Process `pid` started running the program `info` describes."""

    pid: int
    info: ProcessInfo


class Exited(NamedTuple):
    """Process `pid` ended with the waitpid(2) status `status` (None if unknown)."""

    pid: int
    status: int | None
    monotonic_ns: int


class Resynced(NamedTuple):
    """The tree as found in /proc after events were lost."""

    found: dict[int, ProcStat]


class Lost(NamedTuple):
    """The producer missed kernel events."""

    message: str
    count: int | None


class Barrier(NamedTuple):
    """Everything the producer observed before this point is in the queue."""

    done: threading.Event


Observation = Forked | Execed | Exited | Resynced | Lost | Barrier

# Maximum time in seconds the consumer waits before it checks due announcements and reaps.
_IDLE_WAIT = 0.5

# How long `_drain` waits for the producer to confirm it has queued everything.
BARRIER_TIMEOUT = 2.0


class QueueMonitor(Monitor):
    """A monitor whose thread consumes observations queued by a producer thread."""

    def __init__(
        self,
        backend: Backend,
        root_pid: int,
        options: MonitorOptions,
        emit: Emit,
        source: ProcessSource,
        observations: queue.SimpleQueue[Observation | None] | None = None,
    ) -> None:
        super().__init__(backend, root_pid, options, emit, source, sampled=False)
        self.observations: queue.SimpleQueue[Observation | None] = observations or queue.SimpleQueue()
        self._unreaped: dict[int, float] = {}  # adopted pids that exited -> when to give up

    def _run(self) -> None:
        while not self._stop_requested.is_set():
            self._consume(self._next_wait())
        self._drain()
        self.recorder.announce_due(everything=True)

    def _wait_step(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self._consume(min(remaining, self._next_wait()))

    def _wake(self) -> None:
        self.observations.put(None)

    def _settle(self) -> None:
        self._drain()

    def _request_barrier(self, done: threading.Event) -> None:
        """Ask the producer to queue a `Barrier` once it has queued all it observed."""
        raise NotImplementedError

    def _drain(self) -> None:
        done = threading.Event()
        self._request_barrier(done)
        deadline = time.monotonic() + BARRIER_TIMEOUT
        while not done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                logger.warning("%s monitor: events after the stop request may be missing", self.backend)
                return
            self._consume(min(remaining, _IDLE_WAIT))

    def _next_wait(self) -> float:
        wait = _IDLE_WAIT
        due = self.recorder.announce_due()
        if due is not None:
            wait = min(wait, due)
        if self._unreaped:
            wait = min(wait, 0.01)
        return wait

    def _consume(self, timeout: float) -> None:
        try:
            observation = self.observations.get(timeout=timeout)
        except queue.Empty:
            observation = None
        while observation is not None:
            self._handle(observation)
            # Let the producer thread take the GIL between two records: the
            # netlink reader must read a new program's argv before it exits.
            time.sleep(0)
            try:
                observation = self.observations.get_nowait()
            except queue.Empty:
                observation = None
        self._retry_reaps()

    def _handle(self, observation: Observation) -> None:
        recorder = self.recorder
        match observation:
            case Forked(pid, ppid, monotonic_ns):
                # A producer may report more than the tree (the netlink reader
                # follows all of the guard's descendants): keep the root's subtree.
                if pid == self.root_pid or ppid in recorder.live:
                    recorder.forked(pid, ppid, _to_epoch(monotonic_ns))
            case Execed(pid, info):
                recorder.execed(pid, info)
            case Exited(pid, status, monotonic_ns):
                # Only a process of the tree may be reaped: the netlink reader
                # also reports the guard's own children, which are not ours to reap.
                if pid in recorder.live:
                    exit_status, signal = (None, None) if status is None else decode_wait_status(status)
                    recorder.exited(pid, exit_status, signal, when=_to_epoch(monotonic_ns))
                    self._reap(pid)
            case Resynced(found):
                self._resync(found)
            case Lost(message, count):
                recorder.lost(message, count)
            case Barrier(done):
                done.set()

    def _resync(self, found: dict[int, ProcStat]) -> None:
        for pid in list(self.recorder.live):
            stat = found.get(pid)
            if stat is None or stat.zombie:
                self.recorder.exited(pid, None, None, sampled=True)
                if stat is not None:
                    self._reap(pid)
        for pid, stat in found.items():
            if pid not in self.recorder.live and not stat.zombie:
                self.recorder.seen(stat, self.source.info(pid), execed=True, sampled=True)

    def _reap(self, pid: int) -> None:
        if pid == self.root_pid:
            return
        stat = self.source.stat(pid)
        if stat is None or stat.ppid != self.reaper.guard_pid:
            return
        if self.reaper.reap(stat) is None and not stat.zombie:
            # The exit message can arrive before the process turns into a zombie.
            self._unreaped[pid] = time.monotonic() + 1.0

    def _retry_reaps(self) -> None:
        now = time.monotonic()
        for pid, give_up in list(self._unreaped.items()):
            stat = self.source.stat(pid)
            if stat is None or (stat.zombie and self.reaper.reap(stat) is not None) or now > give_up:
                del self._unreaped[pid]


def _to_epoch(monotonic_ns: int) -> float:
    # Kernel timestamps and time.monotonic() both use CLOCK_MONOTONIC.
    return time.time() - (time.monotonic_ns() - monotonic_ns) / 1e9
