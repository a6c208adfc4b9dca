"""The ptrace backend: trace the shell and every descendant, without privilege.

The guard must start the shell itself for this backend: `Tracer.spawn` forks it
from the tracer thread and attaches with PTRACE_SEIZE before it calls exec, with
options that attach every new child and thread too. A traced process stops only
at fork, vfork, clone, exec and signal delivery; the tracer reads what it needs
and resumes it at once. Exits reach the tracer through waitpid(2).

ptrace requests are valid only from the thread that attached, so one tracer
thread does all of them, and it waits with __WNOTHREAD so that it never reaps
children of the guard's other threads. The tracer is the shell's real parent, so
it also collects the shell's exit status and hands it to `TracedShell.wait()`.

Debuggers and strace cannot attach to a process that is already traced, so
they fail inside a shell monitored this way.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

from guard.monitor.base import Barrier, Execed, Exited, Forked, Observation, QueueMonitor
from guard.monitor.model import Backend, MonitorError, MonitorOptions
from guard.monitor.procfs import LinuxProcfs
from guard.monitor.recorder import Emit

logger = logging.getLogger(__name__)

# From <linux/ptrace.h> and <linux/wait.h>.
PTRACE_CONT = 7
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
PTRACE_SEIZE = 0x4206
PTRACE_LISTEN = 0x4208
PTRACE_O_TRACEFORK = 0x02
PTRACE_O_TRACEVFORK = 0x04
PTRACE_O_TRACECLONE = 0x08
PTRACE_O_TRACEEXEC = 0x10
PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_STOP = 128
WALL = 0x40000000
WNOTHREAD = 0x20000000
SI_USER = 0

TRACE_OPTIONS = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC
_STOP_SIGNALS = frozenset({signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})
_FORK_EVENTS = frozenset({PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_CLONE})

# siginfo_t is 128 bytes; si_pid follows si_signo, si_errno and si_code, padded
# to the alignment of a pointer on 64-bit systems.
_SIGINFO_SIZE = 128
_SI_PID_OFFSET = 16 if ctypes.sizeof(ctypes.c_void_p) == 8 else 12

# Maximum sleep in seconds between two waitpid(WNOHANG) calls when the tracer cannot block.
_MAX_IDLE_SLEEP = 0.05

# The running program's own symbols, libc's among them, loaded without running
# /sbin/ldconfig as ctypes.util.find_library("c") would.
_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long


def _ptrace(request: int, pid: int, address: int | None = None, data: int | ctypes.c_void_p | None = None) -> None:
    ctypes.set_errno(0)
    if _libc.ptrace(request, pid, address, data) == -1:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def _resume(request: int, pid: int, signum: int = 0) -> None:
    try:
        _ptrace(request, pid, None, signum)
    except OSError as error:
        # ESRCH: the tracee was killed (SIGKILL) while stopped; its exit follows.
        if error.errno != errno.ESRCH:
            raise


def _event_message(pid: int) -> int | None:
    value = ctypes.c_ulong(0)
    try:
        _ptrace(PTRACE_GETEVENTMSG, pid, None, ctypes.addressof(value))
    except OSError as error:
        if error.errno != errno.ESRCH:
            raise
        return None  # killed while stopped; its exit follows
    return value.value


def _signal_sender(pid: int) -> tuple[int, int] | None:
    info = ctypes.create_string_buffer(_SIGINFO_SIZE)
    try:
        _ptrace(PTRACE_GETSIGINFO, pid, None, ctypes.addressof(info))
    except OSError:
        return None
    code = int.from_bytes(info.raw[8:12], sys.byteorder, signed=True)
    sender = int.from_bytes(info.raw[_SI_PID_OFFSET : _SI_PID_OFFSET + 4], sys.byteorder, signed=True)
    return code, sender


def check_ptrace() -> None:
    """Attach to a short-lived child to confirm ptrace works; raise `MonitorError` if not."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    child = os.fork()
    if child == 0:
        try:
            os.read(read_end, 1)
        finally:
            os._exit(0)
    os.close(read_end)
    try:
        _ptrace(PTRACE_SEIZE, child, None, 0)
    except OSError as error:
        raise MonitorError(
            f"ptrace is not permitted here ({error.strerror}); "
            "check kernel.yama.ptrace_scope or the container's seccomp profile, or choose another monitor"
        ) from error
    finally:
        os.close(write_end)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, WALL)


class TracedShell:
    """The shell started under ptrace, with the parts of `subprocess.Popen` the guard uses."""

    def __init__(self, pid: int, args: Sequence[str]) -> None:
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None
        self._done = threading.Event()

    def _exited(self, status: int) -> None:
        self.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        self._done.set()

    def _released(self) -> None:
        # The tracer thread ended before the shell; the shell is now a plain child.
        self._done.set()

    def poll(self) -> int | None:
        """Return the exit code if the shell has exited, else None."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the shell to exit and return its code (negative: killed by that signal).

        Raises `subprocess.TimeoutExpired` after `timeout` seconds. A signal
        handler of the main thread may raise out of this wait.
        """
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        if self.returncode is None:
            # NOTE: once the tracer let go, this waits without the timeout.
            _, status = os.waitpid(self.pid, 0)
            self._exited(status)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Send signal `sig` to the shell if it is still running."""
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        """Send SIGTERM to the shell."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL to the shell."""
        self.send_signal(signal.SIGKILL)


class _SpawnRequest:
    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | os.PathLike[str] | None,
        stdio: tuple[int | None, int | None, int | None],
        pass_fds: Sequence[int],
        start_new_session: bool,
    ) -> None:
        if not argv:
            raise MonitorError("cannot start the shell: the command line is empty")
        self.argv = [str(word) for word in argv]
        self.env = dict(os.environ if env is None else env)
        self.cwd = None if cwd is None else os.fspath(cwd)
        self.stdio = stdio
        self.pass_fds = sorted(set(pass_fds))
        self.start_new_session = start_new_session
        self.path = self._resolve(self.argv[0])
        self.done = threading.Event()
        self.shell: TracedShell | None = None
        self.error: Exception | None = None

    def _resolve(self, program: str) -> str:
        if os.sep in program:
            return program
        found = shutil.which(program, path=self.env.get("PATH", os.defpath))
        if found is None:
            raise FileNotFoundError(errno.ENOENT, "program not found on the shell's PATH", program)
        return found


class Tracer:
    """The tracer thread: starts the shell, services every stop, queues observations."""

    def __init__(self) -> None:
        self.observations: queue.SimpleQueue[Observation | None] = queue.SimpleQueue()
        self.source = LinuxProcfs()
        self.shell: TracedShell | None = None
        self._guard_pid = os.getpid()
        self._tracees: dict[int, int] = {}  # tid -> tgid of every traced thread
        self._listening: set[int] = set()  # tids held in group-stop by PTRACE_LISTEN
        self._barriers: queue.SimpleQueue[threading.Event] = queue.SimpleQueue()
        self._wakes_sent = 0
        self._wake_lock = threading.Lock()
        self.stopping = False
        self.finished = False
        self._request: _SpawnRequest | None = None
        self.thread = threading.Thread(target=self._main, name="rez-guard-ptrace-tracer", daemon=True)

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
    ) -> TracedShell:
        """Start `argv` traced from the tracer thread and return its handle.

        Raises OSError (FileNotFoundError, PermissionError, ...) when the
        program cannot be run, like `subprocess.Popen`, and `MonitorError` when
        it cannot be traced.
        """
        if self._request is not None:
            raise MonitorError("this ptrace monitor has already started a shell; prepare a new monitor")
        request = _SpawnRequest(argv, env, cwd, (stdin, stdout, stderr), pass_fds, start_new_session)
        self._request = request
        self.thread.start()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.shell is not None
        return request.shell

    def request_barrier(self, done: threading.Event) -> None:
        """Ask the tracer to queue a `Barrier` once it has handled every pending stop.

        Only the monitor's stop requests a barrier, so from then on the tracer
        stops blocking in waitpid() and polls instead.
        """
        self._barriers.put(done)
        self.stopping = True
        self._wake()

    def finish(self) -> None:
        """Make the tracer thread exit; the kernel then detaches every remaining tracee."""
        self.stopping = True
        self.finished = True
        self._wake()
        self.thread.join(timeout=5.0)
        if self.thread.is_alive():
            logger.warning("the ptrace tracer thread did not exit; tracees stay attached until the guard exits")

    def _wake(self) -> None:
        # The tracer may block in waitpid() while the shell runs. A signal sent to
        # the shell stops it at delivery, which ends that wait. The tracer
        # recognizes the signal as its own by the sender pid and discards it.
        shell = self.shell
        if shell is None or shell.returncode is not None or shell.pid in self._listening:
            return
        with self._wake_lock:
            self._wakes_sent += 1
        try:
            os.kill(shell.pid, signal.SIGCHLD)
        except ProcessLookupError:
            pass

    def _main(self) -> None:
        request = self._request
        assert request is not None
        try:
            self.shell = self._start(request)
            request.shell = self.shell
        except Exception as error:
            request.error = error
            return
        finally:
            request.done.set()
        try:
            self._loop()
        except Exception:
            logger.exception("ptrace tracer failed; the tree is no longer traced")
        finally:
            self._pass_barriers()
            if self.shell.returncode is None:
                self.shell._released()

    def _start(self, request: _SpawnRequest) -> TracedShell:
        sync_read, sync_write = os.pipe2(os.O_CLOEXEC)
        error_read, error_write = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            _exec_child(request, sync_read, error_write)
        os.close(sync_read)
        os.close(error_write)
        try:
            _ptrace(PTRACE_SEIZE, pid, None, TRACE_OPTIONS)
        except OSError as error:
            os.close(sync_write)
            os.close(error_read)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise MonitorError(f"cannot trace the shell {request.argv[0]!r}: {error.strerror}") from error
        self._tracees[pid] = pid
        self.observations.put(Forked(pid, self._guard_pid, time.monotonic_ns()))
        os.write(sync_write, b"x")
        os.close(sync_write)
        with os.fdopen(error_read, "rb") as pipe:
            failure = pipe.read()
        if failure:
            self._collect_failed_child(pid)
            code, _, message = failure.decode("ascii", "replace").partition(":")
            raise OSError(int(code), message, request.path)
        logger.debug("started traced shell %d: %s", pid, request.argv)
        return TracedShell(pid, request.argv)

    def _collect_failed_child(self, pid: int) -> None:
        while True:
            _, status = os.waitpid(pid, WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self._tracees.clear()
                self.observations.put(Exited(pid, status, time.monotonic_ns()))
                return
            _resume(PTRACE_CONT, pid, 0)

    def _loop(self) -> None:
        idle_sleep = 0.001
        while True:
            shell = self.shell
            assert shell is not None
            can_block = shell.returncode is None and not self.stopping and shell.pid not in self._listening
            options = WALL | WNOTHREAD | (0 if can_block else os.WNOHANG)
            try:
                pid, status = os.waitpid(-1, options)
            except ChildProcessError:
                pid, status = 0, 0
            if pid:
                self._handle(pid, status)
                idle_sleep = 0.001
                continue
            self._pass_barriers()
            if self.finished:
                return
            time.sleep(idle_sleep)
            idle_sleep = min(idle_sleep * 2, _MAX_IDLE_SLEEP)

    def _pass_barriers(self) -> None:
        while True:
            try:
                done = self._barriers.get_nowait()
            except queue.Empty:
                return
            self.observations.put(Barrier(done))

    def _handle(self, pid: int, status: int) -> None:
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            self._on_exit(pid, status)
            return
        if not os.WIFSTOPPED(status):
            return
        if pid not in self._tracees:
            self._learn(pid)
        signum = os.WSTOPSIG(status)
        event = status >> 16
        if event in _FORK_EVENTS:
            child = _event_message(pid)
            if child is not None:
                self._on_fork(pid, child)
            _resume(PTRACE_CONT, pid)
        elif event == PTRACE_EVENT_EXEC:
            # After an exec by another thread, the thread's old id is gone.
            former_tid = _event_message(pid)
            if former_tid is not None and former_tid != pid:
                self._tracees.pop(former_tid, None)
            self._tracees[pid] = pid
            self.observations.put(Execed(pid, self.source.info(pid)))
            _resume(PTRACE_CONT, pid)
        elif event == PTRACE_EVENT_STOP:
            if signum in _STOP_SIGNALS:
                # Group-stop: keep it stopped until SIGCONT, as job control expects.
                self._listening.add(pid)
                _resume(PTRACE_LISTEN, pid)
            else:
                self._listening.discard(pid)
                _resume(PTRACE_CONT, pid)
        else:
            _resume(PTRACE_CONT, pid, 0 if self._is_own_wake(pid, signum) else signum)

    def _is_own_wake(self, pid: int, signum: int) -> bool:
        shell = self.shell
        if signum != signal.SIGCHLD or shell is None or pid != shell.pid:
            return False
        sender = _signal_sender(pid)
        if sender is None or sender != (SI_USER, self._guard_pid):
            return False
        with self._wake_lock:
            if self._wakes_sent == 0:
                return False
            self._wakes_sent -= 1
        return True

    def _learn(self, pid: int) -> None:
        # A new child's first stop can arrive before its parent's fork event.
        tgid = self._thread_group(pid)
        self._tracees[pid] = tgid
        if tgid == pid:
            stat = self.source.stat(pid)
            self.observations.put(Forked(pid, stat.ppid if stat else 0, time.monotonic_ns()))

    def _on_fork(self, parent_tid: int, child: int) -> None:
        if child in self._tracees:
            return
        parent = self._tracees.get(parent_tid, parent_tid)
        tgid = self._thread_group(child)
        self._tracees[child] = tgid
        if tgid == child:
            self.observations.put(Forked(child, parent, time.monotonic_ns()))

    def _on_exit(self, pid: int, status: int) -> None:
        tgid = self._tracees.pop(pid, pid)
        self._listening.discard(pid)
        if tgid != pid:
            return
        self.observations.put(Exited(pid, status, time.monotonic_ns()))
        shell = self.shell
        if shell is not None and pid == shell.pid:
            shell._exited(status)

    def _thread_group(self, tid: int) -> int:
        try:
            with open(f"/proc/{tid}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"Tgid:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return tid


def _exec_child(request: _SpawnRequest, sync_read: int, error_write: int) -> None:
    """Run in the forked child: wait to be traced, then exec. Never returns."""
    # NOTE: the guard has other threads, so like subprocess's preexec_fn this
    # child runs Python after fork(). It calls only os functions that wrap one
    # system call each and take no lock that another thread could have held.
    try:
        os.read(sync_read, 1)
        for target, fd in enumerate(request.stdio):
            if fd is not None:
                os.dup2(fd, target)
        keep = [error_write, *request.pass_fds]
        for fd in request.pass_fds:
            os.set_inheritable(fd, True)
        low = 3
        for fd in sorted(keep):
            if fd >= low:
                os.closerange(low, fd)
                low = fd + 1
        os.closerange(low, os.sysconf("SC_OPEN_MAX"))
        # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive exec.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        if request.start_new_session:
            os.setsid()
        if request.cwd is not None:
            os.chdir(request.cwd)
        os.execve(request.path, request.argv, request.env)
    except OSError as error:
        os.write(error_write, f"{error.errno}:{error.strerror}".encode("ascii", "replace"))
    finally:
        os._exit(127)


class PtraceMonitor(QueueMonitor):
    """Monitors the tree through the observations of a `Tracer`."""

    def __init__(self, tracer: Tracer, options: MonitorOptions, emit: Emit) -> None:
        if tracer.shell is None:
            raise MonitorError("the ptrace monitor has no shell: call spawn() before start()")
        super().__init__(
            Backend.PTRACE, tracer.shell.pid, options, emit, tracer.source, observations=tracer.observations
        )
        self.tracer = tracer
        self.start_thread()

    def _request_barrier(self, done: threading.Event) -> None:
        self.tracer.request_barrier(done)

    def _reap(self, pid: int) -> None:
        # The tracer's waitpid already reaped every traced process of the guard.
        return None

    def _close(self) -> None:
        self.tracer.finish()
