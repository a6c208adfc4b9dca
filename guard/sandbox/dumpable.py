"""Layer 0: keep other processes of the user from attaching to the guard.

Without this, any process of the same user, package code included, can ptrace
the guard or write `/proc/<guard>/mem` (unless Yama is configured). A process
that is not dumpable can only be attached to with CAP_SYS_PTRACE, so this does
not stop root.
"""

from __future__ import annotations

from guard.sandbox import libc
from guard.sandbox.report import Layer, LayerState


def make_not_dumpable() -> LayerState:
    """Mark the calling process not dumpable for the rest of its life (exec resets it for a new program)."""
    try:
        libc.prctl(libc.PR_SET_DUMPABLE, 0)
    except OSError as error:
        return LayerState(Layer.NOT_DUMPABLE, False, f"prctl failed: {error.strerror}")
    return LayerState(Layer.NOT_DUMPABLE, True)


def make_dumpable() -> None:
    """Mark the calling process dumpable again.

    The recording child calls this so the guard, without CAP_SYS_PTRACE, can read
    the arguments of the system calls it reports. The child has a copy of the
    guard's memory from the fork, its environment included, which the user's
    other processes can read while the child runs.
    """
    libc.prctl(libc.PR_SET_DUMPABLE, 1)
