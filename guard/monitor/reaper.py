"""Adopting orphans of the tree and reaping them, without touching the shell.

As a child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER) the guard becomes the
parent of every process of the tree whose own parent exits, such as a
double-forked daemon, instead of init. Those adopted processes must be reaped by
the guard when they exit, or they stay zombies until the guard exits.

The guard's launch code waits for the shell itself (Popen.wait()). To leave the
shell's exit status to it, `Reaper.reap` calls waitpid(2) only with one specific
pid, never with -1 or 0, and only for a zombie that is a child of the guard, is
a process of the tree, and is not the root. A zombie child cannot be reaped by
anyone but its parent, so its pid cannot be reused between the check and the
waitpid call.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

from guard.monitor.procfs import ProcStat

logger = logging.getLogger(__name__)

# From <linux/prctl.h>.
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


# The running program's own symbols, libc's among them. ctypes.util.find_library("c")
# would run /sbin/ldconfig in a new process to find the same library.
_libc = ctypes.CDLL(None, use_errno=True)


def become_subreaper() -> bool:
    """Make the calling process the child subreaper of its descendants; return True on success.

    Call it before the shell starts. It applies to the whole process and lasts
    until the process exits. Returns False on systems other than Linux and when
    the kernel rejects the call (the reason is logged).
    """
    if not sys.platform.startswith("linux"):
        logger.info("child subreaper is Linux only; orphans of the tree will be adopted by init")
        return False
    result = _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if result != 0:
        error = ctypes.get_errno()
        logger.warning("prctl(PR_SET_CHILD_SUBREAPER) failed: %s", os.strerror(error))
        return False
    return True


def is_subreaper() -> bool:
    """True when the calling process is a child subreaper."""
    if not sys.platform.startswith("linux"):
        return False
    flag = ctypes.c_int(0)
    if _libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
        return False
    return flag.value != 0


class Reaper:
    """Reaps adopted zombies of one tree and never its root."""

    def __init__(self, root_pid: int, guard_pid: int | None = None) -> None:
        self.root_pid = root_pid
        self.guard_pid = os.getpid() if guard_pid is None else guard_pid

    def reap(self, stat: ProcStat) -> int | None:
        """Reap the zombie `stat` describes if it is an adopted child; return its wait status.

        The caller must pass only processes of the tree. Returns None, without
        waiting, for the root, for a process that is not a zombie child of the
        guard, and when the process was already reaped.
        """
        if stat.pid == self.root_pid or stat.ppid != self.guard_pid or not stat.zombie:
            return None
        try:
            pid, status = os.waitpid(stat.pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return None
        logger.debug("reaped adopted process %d with wait status %#x", pid, status)
        return status
