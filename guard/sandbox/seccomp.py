"""Layer 1: a seccomp filter on the child's system calls, built as raw BPF.

The filter denies starting programs and processes, creating sockets, tracing or
signalling other processes, io_uring (whose operations bypass seccomp), injecting
terminal input, installing another filter, and calls that change the system. It
sends the calls that depend on a path (opening for writing, creating, removing,
renaming, changing metadata) and writes through inherited descriptors to the
guard as user notifications: the guard reads the arguments, responds, and
records what it denied. Threads, imports and reads keep working.

Without user notifications (before Linux 5.5) the filter decides alone: denied
calls fail with EPERM and are not named, path-based writes are left to Landlock,
and metadata changes are denied everywhere.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os

from guard.fastclass import dataclass
from guard.sandbox import libc
from guard.sandbox.bpf import Program
from guard.sandbox.report import Layer, LayerState
from guard.sandbox.syscalls import (
    CLONE_THREAD,
    INODE_FLAG_IOCTLS,
    PR_SET_SECCOMP,
    TABLES,
    TERMINAL_INPUT_IOCTLS,
    WRITE_OPEN_FLAGS,
    Check,
    SyscallRule,
    SyscallTable,
)

logger = logging.getLogger(__name__)

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_ALLOW = 0x7FFF0000
# SECCOMP_USER_NOTIF_FLAG_CONTINUE, which lets the guard allow a notified call, came in Linux 5.5.
_NOTIFY_MIN_KERNEL = (5, 5)


def _errno(value: int) -> int:
    return RET_ERRNO | (value & 0xFFFF)


@dataclass(frozen=True, slots=True)
class FilterSettings:
    """The inputs of one filter: the architecture, the child and its inherited descriptors."""

    table: SyscallTable
    child_pid: int
    inherited_fds: tuple[int, ...]
    notify: bool


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def table_for_machine() -> SyscallTable | None:
    """Return the system call table of this machine, or None when there is none."""
    return TABLES.get(libc.MACHINE)


def kernel_supports_notify() -> bool:
    """True when the running kernel has user notifications and the CONTINUE response to them."""
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail", encoding="ascii") as stream:
            if "user_notif" not in stream.read().split():
                return False
    except OSError:
        return False
    release = os.uname().release.split("-")[0].split(".")
    try:
        version = (int(release[0]), int(release[1]))
    except (IndexError, ValueError):
        return False
    return version >= _NOTIFY_MIN_KERNEL


def _rule_block(rule: SyscallRule, settings: FilterSettings) -> str | None:
    """Return the label of the block that decides `rule`, or None when the call needs no check."""
    check = rule.check
    if check is Check.DENY:
        return "notify"
    if check is Check.NOSYS:
        return "enosys"
    if check is Check.OPEN:
        return "decide" if rule.flags is None else f"open_flags_{rule.flags}"
    if check is Check.PATH_WRITE:
        return "decide"
    if check in (Check.PATH_METADATA, Check.FD_METADATA):
        return "decide_metadata"
    if check is Check.INHERITED_WRITE:
        return f"inherited_{rule.fd}" if settings.inherited_fds else None
    return check.value


def build_filter(settings: FilterSettings) -> Program:
    """Build the filter program for the child described by `settings`."""
    program = Program()
    program.load_arch()
    program.jump_if_equal(settings.table.audit_arch, "native")
    program.ret(RET_KILL_PROCESS)
    program.label("native")
    program.load_nr()
    if settings.table.foreign_abi_bit is not None:
        program.jump_if_at_least(settings.table.foreign_abi_bit, "enosys")

    blocks: set[str] = set()
    for rule in settings.table.rules:
        label = _rule_block(rule, settings)
        if label is not None:
            program.jump_if_equal(rule.number, label)
            blocks.add(label)
    program.ret(RET_ALLOW)
    _emit_blocks(program, blocks, settings)
    return program


def _emit_blocks(program: Program, blocks: set[str], settings: FilterSettings) -> None:
    # Blocks come after the main chain and BPF jumps only forward, so each block returns its action itself.
    notify = settings.notify
    deny = RET_USER_NOTIF if notify else _errno(errno.EPERM)
    # Path decisions fall back to Landlock when the guard cannot be asked.
    decide = RET_USER_NOTIF if notify else RET_ALLOW
    actions = {
        "notify": deny,
        "decide": decide,
        "decide_metadata": RET_USER_NOTIF if notify else _errno(errno.EPERM),
        "enosys": _errno(errno.ENOSYS),
    }
    inherited = RET_USER_NOTIF if notify else _errno(errno.EBADF)

    for label in sorted(blocks):
        program.label(label)
        if label in actions:
            program.ret(actions[label])
            continue
        if label.startswith("open_flags_"):
            program.load_arg_low(int(label.removeprefix("open_flags_")))
            program.return_if_any_bit(WRITE_OPEN_FLAGS, decide)
        elif label.startswith("inherited_"):
            program.load_arg_low(int(label.removeprefix("inherited_")))
            for fd in settings.inherited_fds:
                program.return_if_equal(fd, inherited)
        elif label == Check.CLONE.value:
            program.load_arg_low(0)
            program.return_if_any_bit(CLONE_THREAD, RET_ALLOW)
            program.ret(deny)
            continue
        elif label == Check.SIGNAL.value:
            # Signals to the child itself, its own process group (0) or itself as a group are allowed.
            program.load_arg_low(0)
            for pid in (settings.child_pid, 0, (-settings.child_pid) & 0xFFFFFFFF):
                program.return_if_equal(pid, RET_ALLOW)
            program.ret(deny)
            continue
        elif label == Check.IOCTL.value:
            program.load_arg_low(1)
            for request in (*TERMINAL_INPUT_IOCTLS, *INODE_FLAG_IOCTLS):
                program.return_if_equal(request, deny)
        elif label == Check.PRCTL.value:
            program.load_arg_low(0)
            program.return_if_equal(PR_SET_SECCOMP, deny)
        program.ret(RET_ALLOW)


def install(settings: FilterSettings) -> int | None:
    """Install the filter on the calling thread; return the notification listener descriptor, if any.

    Sets no_new_privs first, which an unprivileged process needs to install a filter.
    """
    code = build_filter(settings).assemble()
    buffer = ctypes.create_string_buffer(code, len(code))
    program = _SockFprog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    flags = SECCOMP_FILTER_FLAG_NEW_LISTENER if settings.notify else 0
    result = libc.syscall(settings.table.seccomp_number, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(program))
    return result if settings.notify else None


def apply(child_pid: int, inherited_fds: tuple[int, ...]) -> tuple[LayerState, int | None]:
    """Install the filter on the child, with user notifications when the kernel has them."""
    table = table_for_machine()
    if table is None:
        return LayerState(Layer.SECCOMP, False, f"no system call table for {libc.MACHINE}"), None
    notify = kernel_supports_notify()
    settings = FilterSettings(table, child_pid, inherited_fds, notify)
    try:
        listener = install(settings)
    except OSError as error:
        if not notify:
            return LayerState(Layer.SECCOMP, False, f"cannot install the filter: {error.strerror}"), None
        logger.debug("seccomp with user notification failed (%s); trying without", error)
        return apply_without_notify(settings)
    detail = "denials named" if notify else "denials not named: no user notification in this kernel"
    return LayerState(Layer.SECCOMP, True, detail), listener


def apply_without_notify(settings: FilterSettings) -> tuple[LayerState, None]:
    """Install the filter so that it decides every call itself."""
    fallback = FilterSettings(settings.table, settings.child_pid, settings.inherited_fds, notify=False)
    try:
        install(fallback)
    except OSError as error:
        return LayerState(Layer.SECCOMP, False, f"cannot install the filter: {error.strerror}"), None
    return LayerState(Layer.SECCOMP, True, "denials not named: user notification refused"), None
