"""The process-tree monitor: every process under the guarded shell, until it exits.

How the launch code uses it:

    with termination_signals() as signals:   # SIGTERM/SIGHUP recorded from here on
        prepared = prepare(options)      # choose the backend
        audit(prepared.backend, prepared.reason)
        if prepared.backend is not Backend.OFF:
            become_subreaper()           # adopt double-forked daemons of the tree
        shell = prepared.spawn(argv, env=env, cwd=cwd)   # required for ptrace; Popen otherwise
        monitor = prepared.start(shell.pid, emit)        # emit(record) runs in the monitor thread
        try:
            returncode = signals.wait(shell)
        except GuardTerminated as terminated:
            returncode = shell.returncode    # None: the shell still runs
        summary = monitor.stop()         # applies the exit policy, returns counts and leftovers

For the poll, netlink and off backends the shell may also be started with the
guard's own `subprocess.Popen` and its pid passed to `start()`. Only ptrace
needs `spawn()`, because the tracer thread must fork the shell. `prepare()`
starts the netlink reader, which follows every process the guard starts from
then on, so call it shortly before the shell starts.

The backend modules (netlink, ptrace, poll, off) are imported when a launch
uses them. A caller that must not import modules later, such as the guard
before it forks the child that runs package code, calls
`import_backend(options)` first.

If the guard starts other children while the monitor runs, pass each pid to
`monitor.exclude_child()`: the poll backend cannot tell them from orphans the
guard adopted, and would report them and reap them.

`emit` receives `ProcessEvent` records (process.start, process.exec,
process.exit) and `MonitorNotice` records (monitor.events_lost); both have
`kind` and `to_dict()`. An exception raised by `emit` is logged and counted,
never raised into the monitor.

The monitor never reaps the shell: it waits only for specific adopted pids that
are not the shell's (see `guard.monitor.reaper`), so `Popen.wait()` on the
shell returns the shell's own status.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from guard.monitor.base import Monitor
from guard.monitor.model import (
    DEFAULT_POLL_INTERVAL,
    Backend,
    EventKind,
    ExitPolicy,
    Leftover,
    LeftoverAction,
    MonitorError,
    MonitorNotice,
    MonitorOptions,
    MonitorRecord,
    MonitorSummary,
    ProcessEvent,
    ShellProcess,
)
from guard.monitor.procfs import LinuxProcfs, default_source, procfs_usable
from guard.monitor.reaper import become_subreaper, is_subreaper
from guard.monitor.recorder import Emit
from guard.monitor.signals import GuardTerminated, TerminationSignals, termination_signals

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "Backend",
    "EventKind",
    "ExitPolicy",
    "GuardTerminated",
    "Leftover",
    "LeftoverAction",
    "Monitor",
    "MonitorError",
    "MonitorNotice",
    "MonitorOptions",
    "MonitorRecord",
    "MonitorSummary",
    "PreparedMonitor",
    "ProcessEvent",
    "TerminationSignals",
    "ShellProcess",
    "become_subreaper",
    "import_backend",
    "is_subreaper",
    "prepare",
    "termination_signals",
]

logger = logging.getLogger(__name__)

_LINUX = sys.platform.startswith("linux")

if TYPE_CHECKING:
    from guard.monitor.netlink import ConnectorReader
    from guard.monitor.ptrace import Tracer

# The modules each backend imports in `prepare()` and `PreparedMonitor.start()`.
# AUTO may fall back to poll, and it needs netlink only on Linux.
_BACKEND_MODULES: dict[Backend, tuple[str, ...]] = {
    Backend.OFF: ("guard.monitor.off",),
    Backend.POLL: ("guard.monitor.poll",),
    Backend.NETLINK: ("guard.monitor.netlink",),
    Backend.PTRACE: ("guard.monitor.ptrace",),
    Backend.AUTO: ("guard.monitor.netlink", "guard.monitor.poll") if _LINUX else ("guard.monitor.poll",),
}


class PreparedMonitor:
    """A chosen backend, ready to watch a shell that is about to start.

    `backend` is the backend that will run (never AUTO) and `reason` one
    sentence on why, for the audit record.
    """

    def __init__(
        self,
        options: MonitorOptions,
        backend: Backend,
        reason: str,
        *,
        reader: ConnectorReader | None = None,
    ) -> None:
        self.options = options
        self.backend = backend
        self.reason = reason
        self._reader = reader
        self._tracer: Tracer | None = None
        if backend is Backend.PTRACE:
            from guard.monitor import ptrace

            self._tracer = ptrace.Tracer()
        self._started = False

    @property
    def spawns_shell(self) -> bool:
        """True when the shell must be started with `spawn()` (the ptrace backend)."""
        return self.backend is Backend.PTRACE

    def spawn(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        *,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        pass_fds: Sequence[int] = (),
        start_new_session: bool = False,
    ) -> ShellProcess:
        """Start the shell: traced for ptrace, with `subprocess.Popen` otherwise.

        `stdin`, `stdout` and `stderr` are file descriptors (None inherits the
        guard's). Both kinds of handle have `pid`, `wait()`, `poll()`,
        `returncode`, `send_signal()`, `terminate()` and `kill()`. Raises
        OSError when the program cannot be run and `MonitorError` when it
        cannot be traced.
        """
        if self._tracer is not None:
            return self._tracer.spawn(
                argv,
                env,
                cwd,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                pass_fds=pass_fds,
                start_new_session=start_new_session,
            )
        logger.debug("starting shell: %s", list(argv))
        return subprocess.Popen(
            list(argv),
            env=None if env is None else dict(env),
            cwd=cwd,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pass_fds=tuple(pass_fds),
            start_new_session=start_new_session,
        )

    def start(self, root_pid: int, emit: Emit) -> Monitor:
        """Start watching the tree under `root_pid` in a new thread; `emit` gets every record."""
        if self._started:
            raise MonitorError("this monitor was already started; call prepare() again for a new shell")
        self._started = True
        source = default_source()
        if self.backend is Backend.OFF:
            from guard.monitor.off import OffMonitor

            return OffMonitor(root_pid, self.options, emit, source)
        if self.backend is Backend.POLL:
            from guard.monitor.poll import PollMonitor

            return PollMonitor(root_pid, self.options, emit, source)
        if self.backend is Backend.NETLINK:
            from guard.monitor.netlink import NetlinkMonitor

            assert self._reader is not None
            reader, self._reader = self._reader, None
            return NetlinkMonitor(reader, root_pid, self.options, emit)
        from guard.monitor.ptrace import PtraceMonitor

        assert self._tracer is not None
        if self._tracer.shell is None or self._tracer.shell.pid != root_pid:
            raise MonitorError(
                f"the ptrace monitor can only watch the shell it started; start pid {root_pid} with spawn() first"
            )
        return PtraceMonitor(self._tracer, self.options, emit)

    def close(self) -> None:
        """Release what `prepare()` opened if the shell will not be started."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> PreparedMonitor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def import_backend(options: MonitorOptions) -> None:
    """Import every module that `prepare(options)` and the monitor it returns will use.

    `prepare()` imports them itself when needed. Call this first where no module
    may be imported later: package code the guard runs after this call could
    replace the module files.
    """
    for name in _BACKEND_MODULES[options.backend]:
        importlib.import_module(name)
    if not procfs_usable():
        importlib.import_module("guard.monitor.psutil_source")


def prepare(options: MonitorOptions) -> PreparedMonitor:
    """Choose the backend for `options` and open what it needs; call before the shell starts.

    AUTO chooses netlink when this process may subscribe to the proc connector
    and the connector reports this process's pids, and poll otherwise. An
    explicitly requested backend that cannot work raises `MonitorError`
    naming the reason.
    """
    backend = options.backend
    if backend is Backend.OFF:
        return PreparedMonitor(options, Backend.OFF, "process monitoring is turned off by the monitor option")
    if backend is Backend.POLL:
        return PreparedMonitor(options, Backend.POLL, _poll_reason(options, "the monitor option requests poll"))
    if backend is Backend.NETLINK:
        if not _LINUX:
            raise MonitorError(f"the netlink monitor needs Linux, not {sys.platform}; choose --monitor poll")
        from guard.monitor.netlink import ConnectorUnavailable

        try:
            reader = _start_reader()
        except ConnectorUnavailable as error:
            raise MonitorError(f"the netlink monitor is unavailable: {error.message}; choose --monitor poll") from error
        return PreparedMonitor(options, Backend.NETLINK, "the monitor option requests netlink", reader=reader)
    if backend is Backend.PTRACE:
        if not _LINUX:
            raise MonitorError(f"the ptrace monitor needs Linux, not {sys.platform}; choose --monitor poll")
        from guard.monitor.ptrace import check_ptrace

        check_ptrace()
        return PreparedMonitor(options, Backend.PTRACE, "the monitor option requests ptrace")
    if not _LINUX:
        return PreparedMonitor(options, Backend.POLL, _poll_reason(options, f"netlink needs Linux, not {sys.platform}"))
    from guard.monitor.netlink import ConnectorUnavailable

    try:
        reader = _start_reader()
    except ConnectorUnavailable as error:
        logger.info("netlink monitor unavailable, polling instead: %s", error.message)
        return PreparedMonitor(options, Backend.POLL, _poll_reason(options, f"netlink is unavailable: {error.message}"))
    return PreparedMonitor(
        options, Backend.NETLINK, "auto chose netlink: this process may subscribe to the proc connector", reader=reader
    )


def _start_reader() -> ConnectorReader:
    from guard.monitor.netlink import ConnectorReader, ConnectorUnavailable, check_connector, open_connector

    connector = open_connector()
    try:
        check_connector(connector)
    except ConnectorUnavailable:
        connector.close()
        raise
    return ConnectorReader(connector, LinuxProcfs())


def _poll_reason(options: MonitorOptions, why: str) -> str:
    return f"{why}; polling every {options.interval:g} s, so processes shorter than that may be missed"
