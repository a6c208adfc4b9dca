"""The netlink backend: the Linux process events connector (proc connector).

The kernel sends a message for every fork, exec and exit on the system to
sockets subscribed to the proc connector (it needs CAP_NET_ADMIN, which root
has). A reader thread follows the guard's descendants, reads argv, exe and cwd
the moment one of them calls exec, and queues what it saw for the monitor
thread. When the socket's receive buffer overflows, the kernel
drops messages and recv() fails with ENOBUFS; the reader then rebuilds the tree
from /proc and queues a notice that events were lost.

Message layout (include/uapi/linux/netlink.h, connector.h, cn_proc.h): a
16-byte nlmsghdr, a 20-byte cn_msg, then a proc_event with `what`, `cpu` and a
CLOCK_MONOTONIC `timestamp_ns`, followed by the event's pids.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import queue
import select
import socket
import struct
import sys
import threading
import time

from guard.monitor.base import Barrier, Execed, Exited, Forked, Lost, Observation, QueueMonitor, Resynced
from guard.monitor.model import Backend, MonitorError, MonitorOptions
from guard.monitor.procfs import LinuxProcfs
from guard.monitor.recorder import Emit
from guard.monitor.tree import TreeWalker

logger = logging.getLogger(__name__)

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
NLMSG_DONE = 3
PROC_CN_MCAST_LISTEN = 1
SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26

# Classic BPF opcodes (include/uapi/linux/filter.h).
_BPF_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_BPF_TAX = 0x07  # BPF_MISC | BPF_TAX
_BPF_TXA = 0x87  # BPF_MISC | BPF_TXA
_BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_BPF_JEQ_X = 0x1D  # BPF_JMP | BPF_JEQ | BPF_X
_BPF_RET_K = 0x06  # BPF_RET | BPF_K

PROC_EVENT_FORK = 0x00000001
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_EXIT = 0x80000000

_NLMSGHDR = struct.Struct("=IHHII")
_CN_MSG = struct.Struct("=IIIIHH")
_EVENT_HEADER = struct.Struct("=IIQ")  # what, cpu, timestamp_ns
_EVENT_OFFSET = _NLMSGHDR.size + _CN_MSG.size  # 36
_DATA_OFFSET = _EVENT_OFFSET + _EVENT_HEADER.size  # 52
_FORK = struct.Struct("=IIII")  # parent pid, parent tgid, child pid, child tgid
_EXEC = struct.Struct("=II")  # pid, tgid
_EXIT = struct.Struct("=IIII")  # pid, tgid, exit code (a wait status), exit signal

# Receive buffer requested for the socket, in bytes. Each message takes about
# 1 KiB of buffer space in the kernel, so this fits roughly 16,000 events.
RECEIVE_BUFFER = 16 * 1024 * 1024

# Messages handled per wakeup before the reader checks for requests again.
_BATCH = 256

# SCHED_FIFO priorities of the reader and the monitor thread. A short-lived
# program such as /bin/true exits about 0.5 ms after exec, and a reader at
# normal priority often wakes too late to read its argv on a busy machine. The
# monitor thread needs real-time priority too: the reader needs the GIL, and a
# monitor thread that other processes preempt while it holds the GIL delays
# the reader just as much. The reader ranks above it, so it preempts it.
_READER_PRIORITY = 2
_MONITOR_PRIORITY = 1


class ConnectorUnavailable(MonitorError):
    """The proc connector cannot be used here."""


def open_connector(receive_buffer: int = RECEIVE_BUFFER) -> socket.socket:
    """Open a socket subscribed to the proc connector, or raise `ConnectorUnavailable`."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, NETLINK_CONNECTOR)
    except (OSError, AttributeError) as error:
        raise ConnectorUnavailable(f"cannot open a netlink connector socket: {error}") from error
    try:
        sock.bind((0, CN_IDX_PROC))
        _set_receive_buffer(sock, receive_buffer)
        _attach_filter(sock)
        listen = struct.pack("=I", PROC_CN_MCAST_LISTEN)
        cn_msg = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(listen), 0) + listen
        sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(cn_msg), NLMSG_DONE, 0, 0, 0) + cn_msg)
    except OSError as error:
        sock.close()
        raise ConnectorUnavailable(
            f"cannot subscribe to the proc connector: {error.strerror or error} (it needs CAP_NET_ADMIN, which root normally has)"
        ) from error
    return sock


def _attach_filter(sock: socket.socket) -> None:
    """Make the kernel drop messages the reader ignores, so they never wake it.

    The classic BPF program keeps exec messages, fork and exit messages of
    processes (not threads), and fork messages of this process's own threads,
    which `check_connector` looks for. BPF loads words in network byte order,
    so the constants are byte-swapped to match fields in host order.
    """

    def word(value: int) -> int:
        return int.from_bytes(value.to_bytes(4, sys.byteorder), "big")

    accept, drop = 14, 15
    program = [
        (_BPF_LD_ABS, 0, 0, _EVENT_OFFSET),  # 0: A = what
        (_BPF_JEQ_K, accept - 2, 0, word(PROC_EVENT_EXEC)),  # 1
        (_BPF_JEQ_K, 0, 9 - 3, word(PROC_EVENT_FORK)),  # 2
        (_BPF_LD_ABS, 0, 0, _DATA_OFFSET + 12),  # 3: A = child tgid
        (_BPF_TAX, 0, 0, 0),  # 4: X = A
        (_BPF_LD_ABS, 0, 0, _DATA_OFFSET + 8),  # 5: A = child pid
        (_BPF_JEQ_X, accept - 7, 0, 0),  # 6: a new process
        (_BPF_TXA, 0, 0, 0),  # 7: A = X, the child tgid of a new thread
        (_BPF_JEQ_K, accept - 9, drop - 9, word(os.getpid())),  # 8: a thread of this process
        (_BPF_JEQ_K, 0, drop - 10, word(PROC_EVENT_EXIT)),  # 9
        (_BPF_LD_ABS, 0, 0, _DATA_OFFSET + 4),  # 10: A = tgid
        (_BPF_TAX, 0, 0, 0),  # 11: X = A
        (_BPF_LD_ABS, 0, 0, _DATA_OFFSET),  # 12: A = pid
        (_BPF_JEQ_X, accept - 14, drop - 14, 0),  # 13
        (_BPF_RET_K, 0, 0, 0xFFFFFFFF),  # 14: accept the whole message
        (_BPF_RET_K, 0, 0, 0),  # 15: drop it
    ]
    code = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(program), ctypes.addressof(buffer))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError as error:
        logger.info("proc connector filter not attached, every message wakes the reader: %s", error)


def _set_receive_buffer(sock: socket.socket, size: int) -> None:
    # SO_RCVBUFFORCE may exceed net.core.rmem_max but needs CAP_NET_ADMIN.
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def check_connector(sock: socket.socket, timeout: float = 2.0) -> None:
    """Start a thread and confirm the socket reports its fork with this process's pids.

    The kernel reports pids as numbered in the initial pid namespace, so
    inside a container the connector may work but name other pids. A thread
    is a fork to the proc connector too, with this process as its tgid and
    its thread id as its pid, and starting one costs far less than forking
    the guard's whole heap. Raises `ConnectorUnavailable` when the thread's
    fork is not seen.
    """
    # A thread without a target returns at once.
    probe = threading.Thread(name="rez-guard-connector-check")
    probe.start()
    probe.join()
    thread_id = probe.native_id
    guard_pid = os.getpid()
    buffer = bytearray(1024)
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], remaining)
        if not ready:
            break
        try:
            size = sock.recv_into(buffer, len(buffer), socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        except OSError as error:
            if error.errno == errno.ENOBUFS:
                continue
            raise ConnectorUnavailable(f"reading the proc connector failed: {error}") from error
        if size >= _DATA_OFFSET + _FORK.size:
            (what, _cpu, _stamp) = _EVENT_HEADER.unpack_from(buffer, _EVENT_OFFSET)
            if what == PROC_EVENT_FORK:
                (_ppid, _parent_tgid, child_pid, child_tgid) = _FORK.unpack_from(buffer, _DATA_OFFSET)
                if child_pid == thread_id and child_tgid == guard_pid:
                    return
    raise ConnectorUnavailable(
        "the proc connector did not report a test thread with this process's pids "
        "(the guard may run in a separate pid namespace)"
    )


class ConnectorReader:
    """Reads proc connector messages and follows the guard's descendants.

    It starts before the shell does, following every descendant of the guard,
    so the shell's first processes are seen even if they exit at once. The
    monitor thread keeps only the shell's subtree of what it queues. Its
    `members` contains live pids only.
    """

    def __init__(self, sock: socket.socket, source: LinuxProcfs) -> None:
        self.sock = sock
        self.source = source
        self.observations: queue.SimpleQueue[Observation | None] = queue.SimpleQueue()
        guard_pid = os.getpid()
        # pid -> parent pid of every live descendant of the guard, and the guard.
        self.members: dict[int, int] = {guard_pid: 0}
        self.walker: TreeWalker | None = None
        self.resync_due = False
        self.barriers: queue.SimpleQueue[threading.Event] = queue.SimpleQueue()
        self.stopping = False
        self.wake_read, self.wake_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.thread = threading.Thread(target=self.run, name="rez-guard-netlink-reader", daemon=True)
        self.thread.start()

    def watch(self, walker: TreeWalker) -> None:
        """Give the reader the tree to rebuild from /proc when events are lost."""
        self.walker = walker
        self.wake()

    def request_barrier(self, done: threading.Event) -> None:
        """Ask the reader to queue a `Barrier` once it has read every pending message."""
        self.barriers.put(done)
        self.wake()

    def wake(self) -> None:
        """Make the reader look at its requests now."""
        try:
            os.write(self.wake_write, b"x")
        except BlockingIOError:
            pass  # the pipe is full, so the reader will wake anyway

    def close(self) -> None:
        """Stop the reader thread and close the socket."""
        self.stopping = True
        self.wake()
        self.thread.join(timeout=5.0)
        if self.thread.is_alive():
            logger.warning("the netlink reader thread did not stop")
            return
        self.sock.close()
        os.close(self.wake_read)
        os.close(self.wake_write)

    def run(self) -> None:
        _raise_priority(_READER_PRIORITY)
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        poller.register(self.wake_read, select.POLLIN)
        buffer = bytearray(4096)
        try:
            while not self.stopping:
                poller.poll()
                try:
                    os.read(self.wake_read, 4096)
                except BlockingIOError:
                    pass
                empty = self._read_batch(buffer)
                if self.resync_due and self.walker is not None:
                    self._resync(self.walker)
                if empty:
                    self._pass_barriers()
        except Exception as error:
            logger.exception("netlink reader failed")
            self.observations.put(Lost(f"the netlink reader failed, monitoring stopped: {error}", None))
            self.stopping = True
            self._pass_barriers()

    def _pass_barriers(self) -> None:
        while True:
            try:
                done = self.barriers.get_nowait()
            except queue.Empty:
                return
            self.observations.put(Barrier(done))

    def _read_batch(self, buffer: bytearray) -> bool:
        """Handle up to `_BATCH` queued messages; return True when the socket is empty."""
        for _ in range(_BATCH):
            try:
                size = self.sock.recv_into(buffer, len(buffer), socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True
            except OSError as error:
                if error.errno != errno.ENOBUFS:
                    raise
                self.observations.put(
                    Lost("the netlink receive buffer overflowed; the tree was rebuilt from /proc", None)
                )
                self.resync_due = True
                if self.walker is not None:
                    self._resync(self.walker)
                continue
            if size >= _DATA_OFFSET:
                self._handle(buffer)
        return False

    def _handle(self, buffer: bytearray) -> None:
        what, _cpu, stamp = _EVENT_HEADER.unpack_from(buffer, _EVENT_OFFSET)
        members = self.members
        if what == PROC_EVENT_FORK:
            _ppid, parent, child, child_tgid = _FORK.unpack_from(buffer, _DATA_OFFSET)
            # child != child_tgid for a new thread, which is no new process.
            if child == child_tgid and parent in members:
                members[child] = parent
                self.observations.put(Forked(child, parent, stamp))
        elif what == PROC_EVENT_EXEC:
            _pid, tgid = _EXEC.unpack_from(buffer, _DATA_OFFSET)
            if tgid in members:
                self.observations.put(Execed(tgid, self.source.info(tgid)))
        elif what == PROC_EVENT_EXIT:
            pid, tgid, status, _signal = _EXIT.unpack_from(buffer, _DATA_OFFSET)
            if pid == tgid and members.pop(pid, None) is not None:
                self.observations.put(Exited(pid, status, stamp))

    def _resync(self, walker: TreeWalker) -> None:
        self.resync_due = False
        found = walker.walk()
        members = {pid: stat.ppid for pid, stat in found.items() if not stat.zombie}
        members[walker.guard_pid] = 0
        self.members = members
        self.observations.put(Resynced(found))


def _raise_priority(priority: int) -> None:
    # Applies to the calling thread only: Linux schedules threads one by one.
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as error:
        logger.debug("%s stays at normal priority: %s", threading.current_thread().name, error)


class NetlinkMonitor(QueueMonitor):
    """Monitors the tree with the proc connector."""

    def __init__(self, reader: ConnectorReader, root_pid: int, options: MonitorOptions, emit: Emit) -> None:
        super().__init__(
            Backend.NETLINK, root_pid, options, emit, reader.source, observations=reader.observations
        )
        self._reader = reader
        reader.watch(TreeWalker(reader.source, root_pid))
        self.start_thread()

    def _run(self) -> None:
        _raise_priority(_MONITOR_PRIORITY)
        root = self.source.stat(self.root_pid)
        if root is not None:
            # Popen returns once exec has begun, but argv reads empty until exec
            # has set up the new program; the reader's exec record settles it.
            info = self.source.info(self.root_pid)
            self.recorder.seen(root, info, execed=info.argv is not None)
        super()._run()

    def _request_barrier(self, done: threading.Event) -> None:
        self._reader.request_barrier(done)

    def _close(self) -> None:
        self._reader.close()
