"""The guard's side of one sandboxed run: what it prepares before the fork and reports after.

Before the fork the guard makes itself not dumpable and a child subreaper and
starts the watch on its folders. It creates the child's scratch folder, the
pipes, the control socket and the shared attribution page. Last, it lists its
own open descriptors, to name one if the child writes to it. After the child
exits, the guard kills what the child left running and builds the `SandboxReport`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from guard.sandbox import dumpable, subreaper
from guard.sandbox.attribution import SourceSlot
from guard.sandbox.child import ChildPlan
from guard.sandbox.descriptors import open_descriptors
from guard.sandbox.notify import NotificationHandler, WriteAllowList
from guard.sandbox.options import DEV_NULL, SandboxOptions, allowed_writable
from guard.sandbox.report import DenialLog, Layer, LayerState, SandboxReport, SandboxSummary
from guard.sandbox.seccomp import table_for_machine
from guard.sandbox.supervisor import RunTranscript
from guard.sandbox.watch import ProtectedWatch

# The layers the child applies to itself and reports over the control socket.
_CHILD_LAYERS = (Layer.DESCRIPTORS, Layer.NAMESPACES, Layer.LANDLOCK, Layer.SECCOMP)


class Pipe:
    """A pipe that closes each end only once, so a later close cannot hit a reused descriptor number."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()

    # Each end is marked closed before os.close: a signal handler that raises between
    # the two steps then leaks one descriptor instead of closing it twice.
    def close_read(self) -> None:
        """Close the read end, if still open."""
        fd, self.read_fd = self.read_fd, -1
        if fd >= 0:
            os.close(fd)

    def close_write(self) -> None:
        """Close the write end, if still open."""
        fd, self.write_fd = self.write_fd, -1
        if fd >= 0:
            os.close(fd)

    def close(self) -> None:
        """Close both ends."""
        self.close_read()
        self.close_write()


class ParentSide:
    """The guard's preparations for one run of the child; a context manager that undoes them."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.layers: list[LayerState] = []
        self.denials = DenialLog(options.max_denied)
        self.subreaper_state: subreaper.SubreaperState | None = None
        self.watch: ProtectedWatch | None = None
        self.scratch: Path | None = None
        self.known_descendants: set[subreaper.ProcessKey] = set()
        self.inherited_names: dict[int, str] = {}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> ParentSide:
        try:
            self._prepare()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _prepare(self) -> None:
        layers = self.options.layers
        stack = self._stack
        self.known_descendants = subreaper.descendants()
        if Layer.NOT_DUMPABLE in layers:
            self.layers.append(dumpable.make_not_dumpable())
        if Layer.SUBREAPER in layers:
            self.subreaper_state = subreaper.become_subreaper()
            stack.callback(subreaper.restore, self.subreaper_state)
            self.layers.append(self.subreaper_state.layer)
        if Layer.WATCH in layers:
            self._start_watch()
        self.scratch = self._make_scratch()

        self.slot = stack.enter_context(contextlib.closing(SourceSlot()))
        self.result = stack.enter_context(contextlib.closing(Pipe()))
        self.output = stack.enter_context(contextlib.closing(Pipe()))
        self.control, self.child_control = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stack.callback(self.control.close)
        stack.callback(self.child_control.close)
        # Listed last, so every descriptor the child inherits has a name.
        self.inherited_names = open_descriptors()

    def _start_watch(self) -> None:
        try:
            self.watch = ProtectedWatch(self.options.protected_dirs)
        except OSError as error:
            self.layers.append(LayerState(Layer.WATCH, False, f"inotify failed: {error.strerror}"))
            return
        self._stack.callback(self.watch.close)
        self.layers.append(self.watch.layer)

    def _make_scratch(self) -> Path | None:
        scratch = Path(tempfile.mkdtemp(prefix="rez-guard-child_"))
        self._stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        if not allowed_writable((scratch,), self.options.protected_dirs):
            return None
        return scratch

    def child_plan(self) -> ChildPlan:
        """Return what the child needs; call in the child, right after the fork."""
        self.result.close_read()
        self.output.close_read()
        self.control.close()
        return ChildPlan(self.options, os.getppid(), self.result.write_fd, self.output.write_fd,
                         self.child_control, self.scratch, self.slot)

    def close_child_ends(self) -> None:
        """Close the pipe and socket ends the child uses; call in the guard after the fork."""
        self.result.close_write()
        self.output.close_write()
        self.child_control.close()

    def start_notifications(self, listener: int) -> Callable[[], None]:
        """Return the function that receives and responds to one seccomp notification on `listener`."""
        table = table_for_machine()
        assert table is not None, "the child installs a filter only when a table exists"
        scratch = (self.scratch,) if self.scratch is not None else ()
        allow_list = WriteAllowList.from_paths((*scratch, *self.options.writable_dirs), (DEV_NULL,),
                                               self.options.protected_dirs)
        handler = NotificationHandler(listener, table, allow_list, self.inherited_names, os.getpid(),
                                      self.slot.read, self.denials.add)
        return handler.handle

    def kill_leftovers(self) -> None:
        """Kill what the child left running and record each process; call after the child is reaped."""
        if self.subreaper_state is not None and self.subreaper_state.layer.active:
            self.denials.extend(subreaper.kill_leftovers(self.known_descendants))

    def report(self, transcript: RunTranscript) -> SandboxReport:
        """Build the report of the run from the guard's layers and what the child and the loop reported."""
        reported = {state.layer: state for state in transcript.report.layers} if transcript.report else {}
        states = {state.layer: state for state in self.layers}
        for layer in _CHILD_LAYERS:
            if layer in self.options.layers:
                states[layer] = reported.get(layer, LayerState(layer, False, "the child did not report it"))
        return SandboxReport(
            summary=SandboxSummary(tuple(states[layer] for layer in Layer if layer in states)),
            denied=self.denials.entries(),
            protected_changes=tuple(transcript.protected_changes),
            output=transcript.output.decode("utf-8", "replace"),
            output_truncated=transcript.output_truncated,
            denied_dropped=self.denials.dropped,
        )
