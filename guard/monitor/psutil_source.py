"""Reading process facts through psutil, where Linux /proc cannot be used.

`PsutilSource` returns what `guard.monitor.procfs.LinuxProcfs` returns, for
systems without /proc or without its per-thread `children` files (Linux
without CONFIG_PROC_CHILDREN, macOS). `guard.monitor.procfs.default_source`
imports this module only there, because importing psutil takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import psutil

from guard.monitor.procfs import UNKNOWN_INFO, ProcessInfo, ProcStat

T = TypeVar("T")


class PsutilSource:
    """Process facts read through psutil, for systems without Linux /proc."""

    def __init__(self) -> None:
        self._children: dict[int, list[int]] = {}

    def refresh(self) -> None:
        # psutil finds children by scanning every process, so scan once per walk.
        children: dict[int, list[int]] = {}
        for process in psutil.process_iter(["ppid"]):
            ppid = process.info["ppid"]
            if ppid is not None:
                children.setdefault(ppid, []).append(process.pid)
        self._children = children

    def stat(self, pid: int) -> ProcStat | None:
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                create_time = process.create_time()
                return ProcStat(
                    pid=pid,
                    ppid=process.ppid(),
                    state="Z" if process.status() == psutil.STATUS_ZOMBIE else "R",
                    comm=process.name(),
                    start_key=round(create_time * 1_000_000),
                    start_time=create_time,
                    exit_code=None,
                )
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return None

    def info(self, pid: int) -> ProcessInfo:
        try:
            process = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return UNKNOWN_INFO
        return ProcessInfo(
            exe=_psutil_fact(process.exe) or None,
            argv=_tuple_or_none(_psutil_fact(process.cmdline)),
            cwd=_psutil_fact(process.cwd) or None,
            uid=_real_uid_psutil(process),
        )

    def children(self, pid: int, threads: int = 0) -> list[int]:
        return list(self._children.get(pid, ()))


def _psutil_fact(getter: Callable[[], T]) -> T | None:
    try:
        return getter()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return None


def _tuple_or_none(words: list[str] | None) -> tuple[str, ...] | None:
    return tuple(words) if words else None


def _real_uid_psutil(process: psutil.Process) -> int | None:
    uids = _psutil_fact(process.uids)
    return None if uids is None else uids.real
