"""The child's side of the sandbox: apply every requested layer before package code runs.

Order matters. The child first leaves the guard's session and terminal and drops
the guard's descriptors, then enters namespaces (they need mount, which Landlock
and seccomp forbid afterwards), then Landlock, then seccomp last (it denies the
calls the earlier layers use). It then sends the state of each layer, and the
seccomp listener, to the guard over a socket that it closes before package code
runs, so package code cannot send a report of its own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

from guard.fastclass import dataclass
from guard.sandbox import descriptors, dumpable, landlock, libc, namespaces, rezwork, seccomp
from guard.sandbox.attribution import SourceSlot, install_rez_hooks
from guard.sandbox.options import DEV_NULL, SandboxOptions
from guard.sandbox.report import Layer, LayerState


@dataclass(frozen=True)
class ChildPlan:
    """The child's instructions for confining itself, made by the guard before the fork."""

    options: SandboxOptions
    guard_pid: int
    result_fd: int
    output_fd: int
    control: socket.socket
    scratch: Path | None
    slot: SourceSlot

    @property
    def writable_dirs(self) -> tuple[Path, ...]:
        """The folders the child may write in: the scratch folder and the allowed ones."""
        scratch = (self.scratch,) if self.scratch is not None else ()
        return (*scratch, *self.options.writable_dirs)


def _leave_guard_session(guard_pid: int) -> None:
    # A new session has no controlling terminal, so /dev/tty cannot be opened.
    os.setsid()
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != guard_pid:
        os._exit(70)  # the guard died before the death signal was set


def enter(plan: ChildPlan) -> None:
    """Confine the calling child as `plan` requests and report the layers to the guard."""
    layers = plan.options.layers
    _leave_guard_session(plan.guard_pid)

    states: list[LayerState] = []
    inherited: tuple[int, ...] = ()
    if Layer.DESCRIPTORS in layers:
        descriptors.redirect_standard_streams(plan.output_fd)
        os.close(plan.output_fd)
        inherited = descriptors.replace_inherited(frozenset({plan.result_fd, plan.control.fileno()}))
        states.append(LayerState(Layer.DESCRIPTORS, True, f"{len(inherited)} inherited descriptors closed"))
    else:
        os.close(plan.output_fd)  # the child writes to the guard's own stdout and stderr, as without a sandbox
    dumpable.make_dumpable()
    rezwork.configure_child(plan.scratch)

    writable = plan.writable_dirs
    if Layer.NAMESPACES in layers:
        states.append(namespaces.enter((*plan.options.protected_dirs, *plan.options.readonly_dirs), writable))
    if Layer.LANDLOCK in layers:
        states.append(landlock.restrict(writable, (DEV_NULL,)))
    listener = None
    if Layer.SECCOMP in layers:
        state, listener = seccomp.apply(os.getpid(), inherited)
        states.append(state)

    message = json.dumps({"layers": [state.to_dict() for state in states], "inherited": list(inherited)})
    socket.send_fds(plan.control, [message.encode("utf-8")], [listener] if listener is not None else [])
    plan.control.close()
    if listener is not None:
        os.close(listener)
    install_rez_hooks(plan.slot)
