"""The guard's side of the seccomp layer: respond to the child's notified system calls.

For each notification the guard reads the call's arguments from the child's
memory (`/proc/<tid>/mem`), decides, responds, and records what it denied. A
denial is final: the call never runs. An allowed path-based call continues with
the arguments the child holds at that moment, so a second thread in the child
could swap the path after the check (the kernel's documentation warns about
this). The Landlock layer is what enforces writes; the check here names them.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from guard.fastclass import dataclass
from guard.sandbox import libc
from guard.sandbox.report import DeniedOperation, Layer, Operation
from guard.sandbox.syscalls import (
    AT_FDCWD,
    INODE_FLAG_IOCTLS,
    TERMINAL_INPUT_IOCTLS,
    WRITE_OPEN_FLAGS,
    Check,
    PathArgument,
    SyscallRule,
    SyscallTable,
)

logger = logging.getLogger(__name__)

_PATH_MAX = 4096
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_USER_NOTIF_FLAG_CONTINUE = 1


class _SeccompData(ctypes.Structure):
    _fields_ = [("nr", ctypes.c_int), ("arch", ctypes.c_uint32), ("instruction_pointer", ctypes.c_uint64),
                ("args", ctypes.c_uint64 * 6)]


class _Notification(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("pid", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("data", _SeccompData)]


class _Response(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("val", ctypes.c_int64), ("error", ctypes.c_int32),
                ("flags", ctypes.c_uint32)]


def _iowr(number: int, size: int) -> int:
    return (3 << 30) | (size << 16) | (ord("!") << 8) | number


_IOCTL_RECV = _iowr(0, ctypes.sizeof(_Notification))
_IOCTL_SEND = _iowr(1, ctypes.sizeof(_Response))
_IOCTL_ID_VALID = (1 << 30) | (8 << 16) | (ord("!") << 8) | 2

_SOCKET_FAMILIES = {family.value: family.name for family in socket.AddressFamily}
_SOCKET_TYPES = {1: "stream", 2: "datagram", 3: "raw", 5: "seqpacket"}


def _beneath(path: str, folders: Sequence[str]) -> bool:
    return any(path == folder or path.startswith(folder.rstrip("/") + "/") for folder in folders)


@dataclass(frozen=True, slots=True)
class WriteAllowList:
    """The folders and files the child may write (`files` for contents only), and the guard's protected folders."""

    folders: tuple[str, ...]
    files: tuple[str, ...]
    protected: tuple[str, ...] = ()

    @classmethod
    def from_paths(cls, folders: Sequence[Path], files: Sequence[Path], protected: Sequence[Path]) -> WriteAllowList:
        """Build the allow-list from paths, resolved the way the kernel will see them."""
        def resolved(paths: Sequence[Path]) -> tuple[str, ...]:
            return tuple(os.path.realpath(path) for path in paths)

        return cls(resolved(folders), resolved(files), resolved(protected))

    def allows(self, path: str, contents_only: bool) -> bool:
        """True when `path` is beneath an allowed folder, or an allowed file for a contents-only write."""
        if contents_only and path in self.files:
            return True
        return _beneath(path, self.folders)

    def is_protected(self, path: str) -> bool:
        """True when `path` is one of the guard's protected folders or beneath one."""
        return _beneath(path, self.protected)


@dataclass(frozen=True, slots=True)
class _Decision:
    error: int = 0
    report: DeniedOperation | None = None

    @property
    def allowed(self) -> bool:
        return self.error == 0


class _ChildMemory:
    """Reads from one thread's memory through /proc/<tid>/mem."""

    def __init__(self, tid: int) -> None:
        self.tid = tid
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(f"/proc/{self.tid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        return self._fd

    def read(self, address: int, size: int) -> bytes:
        return os.pread(self._open(), size, address)

    def read_string(self, address: int) -> str | None:
        """Read a NUL-terminated path; None for a null pointer or unreadable memory."""
        if address == 0:
            return None
        data = b""
        try:
            while len(data) < _PATH_MAX:
                # Each read stops at the end of a page, so that an unmapped next page does not fail it.
                chunk = self.read(address + len(data), _PAGE_SIZE - (address + len(data)) % _PAGE_SIZE)
                if not chunk:
                    break
                end = chunk.find(b"\0")
                if end >= 0:
                    return os.fsdecode(data + chunk[:end])
                data += chunk
        except OSError:
            return None
        return os.fsdecode(data)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


def _signed(value: int) -> int:
    low = value & 0xFFFFFFFF
    return low - (1 << 32) if low & 0x80000000 else low


class NotificationHandler:
    """Responds to the notifications of one child's filter and records what it denies."""

    def __init__(
        self,
        listener_fd: int,
        table: SyscallTable,
        allow_list: WriteAllowList,
        inherited: Mapping[int, str],
        guard_pid: int,
        source: Callable[[], str | None],
        record: Callable[[DeniedOperation], None],
    ) -> None:
        self.fd = listener_fd
        self._rules = table.by_number()
        self._allow_list = allow_list
        self._inherited = dict(inherited)
        self._guard_pid = guard_pid
        self._source = source
        self._record = record

    def handle(self) -> None:
        """Receive one notification, respond to it, and record it when it was denied."""
        notification = _Notification()
        try:
            libc.ioctl(self.fd, _IOCTL_RECV, notification)
        except OSError as error:
            # ENOENT: the calling thread died or was interrupted before the guard received the call.
            if error.errno != errno.ENOENT:
                logger.debug("cannot receive a seccomp notification: %s", error)
            return
        rule = self._rules.get(notification.data.nr)
        memory = _ChildMemory(notification.pid)
        try:
            decision = self._decide(rule, notification, memory) if rule else _Decision(errno.EPERM)
        finally:
            memory.close()
        if not self._still_valid(notification.id):
            return
        self._respond(notification.id, decision)
        if decision.report is not None:
            self._record(decision.report)

    def _still_valid(self, notification_id: int) -> bool:
        # The thread may have died while its memory was read, and its tid been reused.
        try:
            libc.ioctl(self.fd, _IOCTL_ID_VALID, ctypes.c_uint64(notification_id))
        except OSError:
            return False
        return True

    def _respond(self, notification_id: int, decision: _Decision) -> None:
        if decision.allowed:
            response = _Response(notification_id, 0, 0, _USER_NOTIF_FLAG_CONTINUE)
        else:
            response = _Response(notification_id, 0, -decision.error, 0)
        try:
            libc.ioctl(self.fd, _IOCTL_SEND, response)
        except OSError as error:
            logger.debug("cannot send the response to seccomp notification %d: %s", notification_id, error)

    def _report(self, rule: SyscallRule, operation: Operation, target: str, error: int,
                against_guard: bool = False) -> _Decision:
        denied = DeniedOperation(operation, target, Layer.SECCOMP, self._source(), rule.name,
                                 against_guard=against_guard)
        return _Decision(error, denied)

    def _is_guard_path(self, path: str) -> bool:
        # The guard's folders, or its process's files in /proc (memory, descriptors, environment).
        return self._allow_list.is_protected(path) or _beneath(path, (f"/proc/{self._guard_pid}",))

    def _decide(self, rule: SyscallRule, notification: _Notification, memory: _ChildMemory) -> _Decision:
        args = list(notification.data.args)
        check = rule.check
        if check is Check.OPEN:
            return self._decide_open(rule, args, memory)
        if check in (Check.PATH_WRITE, Check.PATH_METADATA):
            targets = [self._resolve(memory, args, path) for path in rule.paths]
            if all(self._allow_list.allows(target, contents_only=False) for target in targets):
                return _Decision()
            error = errno.EACCES if check is Check.PATH_WRITE else errno.EPERM
            return self._report(rule, rule.operation, " -> ".join(targets), error,
                                any(self._is_guard_path(target) for target in targets))
        if check is Check.FD_METADATA:
            target = self._descriptor_path(memory.tid, _signed(args[rule.fd or 0]))
            if self._allow_list.allows(target, contents_only=False):
                return _Decision()
            return self._report(rule, rule.operation, target, errno.EPERM, self._is_guard_path(target))
        if check is Check.INHERITED_WRITE:
            fd = _signed(args[rule.fd or 0])
            target = f"descriptor {fd} ({self._inherited.get(fd, 'unknown')})"
            return self._report(rule, rule.operation, target, errno.EBADF, against_guard=True)
        if check is Check.IOCTL:
            return self._decide_ioctl(rule, args, memory)
        target = self._describe(rule, args, memory)
        return self._report(rule, rule.operation, target, errno.EPERM, target.endswith("(the guard)"))

    def _decide_open(self, rule: SyscallRule, args: list[int], memory: _ChildMemory) -> _Decision:
        if rule.name == "openat2":
            try:
                flags = struct.unpack("=Q", memory.read(args[2], 8))[0]
            except (OSError, struct.error):
                flags = WRITE_OPEN_FLAGS
        elif rule.flags is None:
            flags = WRITE_OPEN_FLAGS
        else:
            flags = args[rule.flags]
        if not flags & WRITE_OPEN_FLAGS:
            return _Decision()
        target = self._resolve(memory, args, rule.paths[0])
        if self._allow_list.allows(target, contents_only=True):
            return _Decision()
        return self._report(rule, rule.operation, target, errno.EACCES, self._is_guard_path(target))

    def _decide_ioctl(self, rule: SyscallRule, args: list[int], memory: _ChildMemory) -> _Decision:
        request = args[1] & 0xFFFFFFFF
        target = self._descriptor_path(memory.tid, _signed(args[0]))
        if request in TERMINAL_INPUT_IOCTLS:
            return self._report(rule, Operation.TERMINAL_INPUT, f"{TERMINAL_INPUT_IOCTLS[request]} on {target}",
                                errno.EPERM)
        name = INODE_FLAG_IOCTLS.get(request, hex(request))
        return self._report(rule, Operation.CHANGE_METADATA, f"{name} on {target}", errno.EPERM,
                            self._is_guard_path(target))

    def _describe(self, rule: SyscallRule, args: list[int], memory: _ChildMemory) -> str:
        operation = rule.operation
        if operation is Operation.EXEC:
            return self._resolve(memory, args, rule.paths[0])
        if operation is Operation.NETWORK:
            family = _SOCKET_FAMILIES.get(_signed(args[0]), f"family {_signed(args[0])}")
            kind = _SOCKET_TYPES.get(args[1] & 0xF, f"type {args[1] & 0xF}")
            return f"{family} {kind} socket"
        if operation is Operation.FORK:
            return rule.name
        if rule.name == "ptrace":
            return self._describe_pid(_signed(args[1]))
        if operation in (Operation.PTRACE, Operation.SIGNAL) and rule.name not in ("pidfd_getfd", "pidfd_send_signal"):
            return self._describe_pid(_signed(args[0]))
        if rule.name == "prctl":
            return "prctl(PR_SET_SECCOMP)"
        return rule.name

    def _describe_pid(self, pid: int) -> str:
        return f"pid {pid} (the guard)" if pid == self._guard_pid else f"pid {pid}"

    def _resolve(self, memory: _ChildMemory, args: list[int], argument: PathArgument) -> str:
        path = memory.read_string(args[argument.path])
        dirfd = AT_FDCWD if argument.dirfd is None else _signed(args[argument.dirfd])
        if path is None and args[argument.path] != 0:
            return "(unreadable path)"
        if not path:
            # A null or empty path (utimensat, AT_EMPTY_PATH) acts on the directory descriptor itself.
            return self._descriptor_path(memory.tid, dirfd)
        if not path.startswith("/"):
            path = os.path.join(self._descriptor_path(memory.tid, dirfd), path)
        if argument.follow:
            return os.path.realpath(path)
        head, tail = os.path.split(path.rstrip("/") or "/")
        return os.path.join(os.path.realpath(head), tail)

    @staticmethod
    def _descriptor_path(tid: int, fd: int) -> str:
        link = f"/proc/{tid}/cwd" if fd == AT_FDCWD else f"/proc/{tid}/fd/{fd}"
        try:
            return os.readlink(link)
        except OSError:
            return f"(descriptor {fd})"
