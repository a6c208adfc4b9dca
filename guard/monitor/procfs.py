"""Reading one process's state, program and children from the operating system.

`LinuxProcfs` reads /proc directly with one small read per fact, because the
monitor reads these files many times a second. `PsutilSource`, in its own
module, returns the same facts through psutil for systems without /proc or
without the per-thread `children` files (Linux without CONFIG_PROC_CHILDREN,
macOS).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Protocol

from guard.fastclass import dataclass

logger = logging.getLogger(__name__)

# Read size for /proc files; argv longer than this is read in further chunks.
_READ_CHUNK = 65536


@dataclass(frozen=True, slots=True, bulk=True)
class ProcStat:
    """The identity and scheduling state of one process at one moment.

    `start_key` identifies the process together with its pid (pids are reused,
    start keys of two processes with the same pid differ). `exit_code` is the
    wait status of a zombie, where the system exposes it.
    """

    pid: int
    ppid: int
    state: str
    comm: str
    start_key: int
    start_time: float
    exit_code: int | None
    threads: int = 0  # 0 when unknown

    @property
    def zombie(self) -> bool:
        """True when the process has exited and waits to be reaped."""
        return self.state in ("Z", "X")


@dataclass(frozen=True, slots=True, bulk=True)
class ProcessInfo:
    """The program a process runs: its executable, arguments, folder and real user id."""

    exe: str | None
    argv: tuple[str, ...] | None
    cwd: str | None
    uid: int | None


UNKNOWN_INFO = ProcessInfo(exe=None, argv=None, cwd=None, uid=None)


class ProcessSource(Protocol):
    """A reader of process facts."""

    def refresh(self) -> None:
        """Start a new walk of the tree (a source may cache per walk)."""

    def stat(self, pid: int) -> ProcStat | None:
        """Return the process's state, or None when no process has this pid."""

    def info(self, pid: int) -> ProcessInfo:
        """Return what the process runs; fields it cannot read are None."""

    def children(self, pid: int, threads: int = 0) -> list[int]:
        """Return the pids of the process's children (of all its `threads`, 0 if unknown)."""


def decode_wait_status(status: int) -> tuple[int | None, int | None]:
    """Split a waitpid(2) status into (exit status, signal); one of them is None."""
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None
    return None, None


def _read_file(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) < _READ_CHUNK:
                break
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


class LinuxProcfs:
    """Process facts read from Linux /proc."""

    def __init__(self, proc_root: str = "/proc") -> None:
        self._root = proc_root
        self._ticks_per_second = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def available(proc_root: str = "/proc") -> bool:
        """True when /proc has the per-thread `children` files this class needs."""
        own = os.getpid()
        return os.path.exists(f"{proc_root}/{own}/task/{own}/children")

    def refresh(self) -> None:
        return None

    def stat(self, pid: int) -> ProcStat | None:
        data = _read_file(f"{self._root}/{pid}/stat")
        if not data:
            return None
        # comm may contain spaces and parentheses, so split after its last ")".
        open_paren = data.find(b"(")
        close_paren = data.rfind(b")")
        fields = data[close_paren + 2 :].split()
        # fields[0] is field 3 (state) of proc_pid_stat(5); num_threads is field
        # 20, starttime field 22 and exit_code field 52 (Linux 3.5 and later).
        start_ticks = int(fields[19])
        exit_code = int(fields[49]) if len(fields) > 49 else None
        # starttime counts from boot in CLOCK_BOOTTIME. The boot time in
        # /proc/stat is rounded to whole seconds, so compute it from the clocks.
        boot_time = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
        return ProcStat(
            pid=pid,
            ppid=int(fields[1]),
            state=fields[0].decode("ascii", "replace"),
            comm=os.fsdecode(data[open_paren + 1 : close_paren]),
            start_key=start_ticks,
            start_time=boot_time + start_ticks / self._ticks_per_second,
            exit_code=exit_code,
            threads=int(fields[17]),
        )

    def info(self, pid: int) -> ProcessInfo:
        # argv first: a short-lived process may be gone a few microseconds later.
        cmdline = _read_file(f"{self._root}/{pid}/cmdline")
        exe = _read_link(f"{self._root}/{pid}/exe")
        cwd = _read_link(f"{self._root}/{pid}/cwd")
        status = _read_file(f"{self._root}/{pid}/status")
        argv = None
        if cmdline:
            argv = tuple(os.fsdecode(word) for word in cmdline.rstrip(b"\0").split(b"\0"))
        return ProcessInfo(exe=exe, argv=argv, cwd=cwd, uid=_real_uid(status))

    def children(self, pid: int, threads: int = 0) -> list[int]:
        if threads == 1:
            # One thread: its id is the pid, so skip listing the task folder.
            tids = [str(pid)]
        else:
            try:
                tids = os.listdir(f"{self._root}/{pid}/task")
            except OSError:
                return []
        pids: list[int] = []
        for tid in tids:
            data = _read_file(f"{self._root}/{pid}/task/{tid}/children")
            if data:
                pids.extend(int(word) for word in data.split())
        return pids


def _real_uid(status: bytes | None) -> int | None:
    if not status:
        return None
    for line in status.splitlines():
        if line.startswith(b"Uid:"):
            return int(line.split()[1])
    return None


def default_source() -> ProcessSource:
    """Return the fastest source that works on this system."""
    if procfs_usable():
        return LinuxProcfs()
    logger.info("per-thread /proc children files not found; reading processes through psutil")
    # Imported only here: importing psutil takes milliseconds, and only this fallback needs it.
    from guard.monitor.psutil_source import PsutilSource

    return PsutilSource()


def procfs_usable() -> bool:
    """True when `default_source` returns a `LinuxProcfs`, so psutil is not needed."""
    return sys.platform.startswith("linux") and LinuxProcfs.available()
