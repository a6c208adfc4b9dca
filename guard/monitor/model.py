"""Values the process-tree monitor hands to the rest of the guard.

Everything here is frozen and converts to JSON-compatible dicts with `to_dict()`,
because the guard writes these values into the audit log as they are.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

from guard.errors import LaunchFailed, UsageError
from guard.fastclass import dataclass

# The poll interval in seconds, picked with bench/monitor_bench.py (results in
# docs/benchmarks.md). Polls start every 75 ms, leaving a margin below 100 ms so
# that every process living 100 ms or more is seen, and an idle shell cost 0.4%
# of a core on the 2-core test machine, under the 0.5% budget.
DEFAULT_POLL_INTERVAL = 0.075


class Backend(enum.StrEnum):
    """The mechanism the monitor uses to learn about processes in the tree."""

    AUTO = "auto"
    POLL = "poll"
    NETLINK = "netlink"
    PTRACE = "ptrace"
    OFF = "off"


class ExitPolicy(enum.StrEnum):
    """The treatment of processes still running when the monitor stops.

    LEAVE lets them run and logs them at INFO. REPORT lets them run and logs a
    WARNING with their pids. TERMINATE sends SIGTERM, then SIGKILL to those still
    running after the grace period. Every policy lists them in the summary.
    """

    LEAVE = "leave"
    TERMINATE = "terminate"
    REPORT = "report"


class EventKind(enum.StrEnum):
    """The audit record kind of a `ProcessEvent` or `MonitorNotice`."""

    PROCESS_START = "process.start"
    PROCESS_EXEC = "process.exec"
    PROCESS_EXIT = "process.exit"
    EVENTS_LOST = "monitor.events_lost"


class LeftoverAction(enum.StrEnum):
    """The exit policy's action on one leftover process, and how the process ended."""

    LEFT = "left"
    REPORTED = "reported"
    EXITED = "exited"  # gone before the monitor sent it any signal
    TERMINATED = "terminated"  # exited after SIGTERM
    KILLED = "killed"  # exited after SIGKILL
    SURVIVED = "survived"  # still running after SIGKILL, or a signal was rejected


@dataclass(frozen=True, slots=True)
class MonitorOptions:
    """The settings for monitoring one session: backend, poll interval and exit policy.

    `interval` is the poll period in seconds, used only by the poll backend.
    `grace_period` is the time in seconds between SIGTERM and SIGKILL under
    the terminate policy.
    """

    backend: Backend = Backend.AUTO
    interval: float = DEFAULT_POLL_INTERVAL
    exit_policy: ExitPolicy = ExitPolicy.REPORT
    grace_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise UsageError(
                f"invalid monitor interval {self.interval!r}: give a number of seconds greater than 0"
            )
        if not self.grace_period >= 0:
            raise UsageError(
                f"invalid grace period {self.grace_period!r}: give a number of seconds, 0 or more"
            )


@dataclass(frozen=True, slots=True, bulk=True)
class ProcessEvent:
    """One process starting, executing a new program, or exiting in the tree.

    `start_time` is seconds since the epoch. `argv`, `exe`, `cwd` and `uid` are
    None where the process was gone before the monitor could read them. On exit,
    `exit_status` is set when the process exited and `signal` when a signal
    killed it. Both are None when the backend could not learn how it ended.
    `lifetime` is in seconds. `sampled` is True when the record comes from
    looking at /proc at some moment (the poll backend, or a resync after lost
    events) instead of from the kernel reporting each fork, exec and exit.
    """

    kind: EventKind
    pid: int
    ppid: int | None
    start_time: float | None
    exe: str | None
    argv: tuple[str, ...] | None
    cwd: str | None
    uid: int | None
    exit_status: int | None = None
    signal: int | None = None
    lifetime: float | None = None
    sampled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "pid": self.pid,
            "ppid": self.ppid,
            "start_time": self.start_time,
            "exe": self.exe,
            "argv": None if self.argv is None else list(self.argv),
            "cwd": self.cwd,
            "uid": self.uid,
            "exit_status": self.exit_status,
            "signal": self.signal,
            "lifetime": self.lifetime,
            "sampled": self.sampled,
        }


@dataclass(frozen=True, slots=True)
class MonitorNotice:
    """Something the monitor could not see, to be written as its own audit record.

    `lost` is the number of lost kernel messages when the kernel reports it, or
    None when it only reports that some were lost.
    """

    kind: EventKind
    message: str
    lost: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "message": self.message, "lost": self.lost}


MonitorRecord = ProcessEvent | MonitorNotice


@dataclass(frozen=True, slots=True)
class Leftover:
    """A process still in the tree when the monitor stopped, and what was done to it."""

    pid: int
    ppid: int | None
    start_time: float | None
    exe: str | None
    argv: tuple[str, ...] | None
    action: LeftoverAction

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "ppid": self.ppid,
            "start_time": self.start_time,
            "exe": self.exe,
            "argv": None if self.argv is None else list(self.argv),
            "action": self.action.value,
        }


@dataclass(frozen=True, slots=True)
class MonitorSummary:
    """Counts and leftovers of one monitored session, for the `session.end` record.

    `processes_seen` counts every process the monitor reported, the shell
    included. `lost_notices` counts the times the kernel reported lost events.
    `emit_errors` counts exceptions raised by the `emit` callback (each was
    logged and the record dropped). `error` contains the message of an unexpected
    failure that ended monitoring early, or None.
    """

    backend: Backend
    exit_policy: ExitPolicy
    processes_seen: int
    events_emitted: int
    lost_notices: int
    emit_errors: int
    leftovers: tuple[Leftover, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend.value,
            "exit_policy": self.exit_policy.value,
            "processes_seen": self.processes_seen,
            "events_emitted": self.events_emitted,
            "lost_notices": self.lost_notices,
            "emit_errors": self.emit_errors,
            "leftovers": [leftover.to_dict() for leftover in self.leftovers],
            "error": self.error,
        }


class ShellProcess(Protocol):
    """The started shell: `subprocess.Popen`, or `TracedShell` under ptrace."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None:
        """Return the exit code if the shell has exited, else None."""

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the shell to exit and return its exit code (negative: killed by that signal)."""

    def send_signal(self, sig: int) -> None:
        """Send signal `sig` to the shell."""

    def terminate(self) -> None:
        """Send SIGTERM to the shell."""

    def kill(self) -> None:
        """Send SIGKILL to the shell."""


class MonitorError(LaunchFailed):
    """The monitor cannot be set up as requested."""
