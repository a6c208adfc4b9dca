"""The sandbox's report: which layers were active and what package code tried.

These values cross from the sandbox into the session, the preview and the audit
log, so they are frozen and convert to JSON-compatible dicts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import field, replace
from typing import Any

from guard.fastclass import dataclass


class Layer(enum.StrEnum):
    """One confinement layer of the recording child.

    Layer 0 (descriptors, not-dumpable, subreaper, watch) is always requested;
    seccomp, landlock and namespaces are used when the kernel allows them.
    """

    DESCRIPTORS = "descriptors"
    NOT_DUMPABLE = "not-dumpable"
    SUBREAPER = "subreaper"
    WATCH = "watch"
    SECCOMP = "seccomp"
    LANDLOCK = "landlock"
    NAMESPACES = "namespaces"


LAYER_ZERO = frozenset({Layer.DESCRIPTORS, Layer.NOT_DUMPABLE, Layer.SUBREAPER, Layer.WATCH})
ALL_LAYERS = frozenset(Layer)


class Operation(enum.StrEnum):
    """An operation of package code that a layer denied or detected."""

    EXEC = "exec"
    FORK = "fork"
    NETWORK = "network"
    WRITE = "write"
    CHANGE_METADATA = "change-metadata"
    INHERITED_DESCRIPTOR = "inherited-descriptor"
    SIGNAL = "signal"
    PTRACE = "ptrace"
    TERMINAL_INPUT = "terminal-input"
    SYSTEM_CALL = "system-call"
    LEFTOVER_PROCESS = "leftover-process"


@dataclass(frozen=True, slots=True)
class LayerState:
    """Whether one layer was active for a run, with a short detail or the reason it was not."""

    layer: Layer
    active: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer.value, "active": self.active, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerState:
        return cls(Layer(data["layer"]), bool(data["active"]), str(data.get("detail", "")))


@dataclass(frozen=True, slots=True)
class SandboxSummary:
    """The layers of one run: what the preview and the `session.start` record show."""

    layers: tuple[LayerState, ...] = ()

    @property
    def active(self) -> tuple[Layer, ...]:
        """The layers that were in force while package code ran."""
        return tuple(state.layer for state in self.layers if state.active)

    def state(self, layer: Layer) -> LayerState | None:
        """Return the state of one layer, or None when it was not requested."""
        return next((state for state in self.layers if state.layer is layer), None)

    def describe(self) -> str:
        """Return one line for the preview, for example `sandbox: seccomp, landlock (ABI 7); off: namespaces (...)`."""
        active = [_with_detail(state) for state in self.layers if state.active]
        inactive = [_with_detail(state) for state in self.layers if not state.active]
        text = "sandbox: " + (", ".join(active) if active else "no layer active")
        if inactive:
            text += "; off: " + ", ".join(inactive)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "active": [layer.value for layer in self.active],
            "layers": [state.to_dict() for state in self.layers],
        }


def _with_detail(state: LayerState) -> str:
    return f"{state.layer.value} ({state.detail})" if state.detail else state.layer.value


@dataclass(frozen=True, slots=True)
class DeniedOperation:
    """One operation package code tried, and the layer that denied or detected it.

    `source` names the package variant or package.py file that was running. The
    child writes it into memory it shares with the guard, so package code can
    forge it: it is a hint for the reader, not evidence. `against_guard` is set
    when the target is the guard itself: its process, its descriptors, or a path
    in its protected folders.
    """

    operation: Operation
    target: str
    layer: Layer
    source: str | None = None
    system_call: str = ""
    count: int = 1
    against_guard: bool = False

    @property
    def key(self) -> tuple[Operation, str, str | None]:
        """What makes two reports the same operation (they are then counted once)."""
        return (self.operation, self.target, self.source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation.value,
            "target": self.target,
            "layer": self.layer.value,
            "source": self.source,
            "system_call": self.system_call,
            "count": self.count,
            "against_guard": self.against_guard,
        }


@dataclass(frozen=True, slots=True)
class SandboxReport:
    """Everything the sandbox observed during one run of the recording child."""

    summary: SandboxSummary = field(default_factory=SandboxSummary)
    denied: tuple[DeniedOperation, ...] = ()
    protected_changes: tuple[str, ...] = ()
    output: str = ""
    output_truncated: bool = False
    denied_dropped: int = 0

    def has_news(self, probed: SandboxSummary) -> bool:
        """True when the report adds to `probed`, the summary that `session.start` recorded.

        That is when something was denied, detected or cut, or when other layers
        were active than the probe found.
        """
        return bool(self.denied or self.protected_changes or self.denied_dropped or self.output_truncated
                    or self.summary.active != probed.active)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary.to_dict(),
            "denied": [operation.to_dict() for operation in self.denied],
            "denied_dropped": self.denied_dropped,
            "protected_changes": list(self.protected_changes),
            "output_truncated": self.output_truncated,
        }


class DenialLog:
    """Collects denied operations, counting repeats, up to a maximum number of distinct ones."""

    def __init__(self, max_distinct: int) -> None:
        self._max_distinct = max_distinct
        self._entries: dict[tuple[Operation, str, str | None], DeniedOperation] = {}
        self.dropped = 0

    def add(self, operation: DeniedOperation) -> None:
        """Record one operation, or count it when the same one was recorded before."""
        previous = self._entries.get(operation.key)
        if previous is not None:
            self._entries[operation.key] = replace(previous, count=previous.count + operation.count)
            return
        if len(self._entries) >= self._max_distinct:
            self.dropped += 1
            return
        self._entries[operation.key] = operation

    def extend(self, operations: Iterable[DeniedOperation]) -> None:
        """Record several operations."""
        for operation in operations:
            self.add(operation)

    def entries(self) -> tuple[DeniedOperation, ...]:
        """Return the operations in the order they were first seen."""
        return tuple(self._entries.values())
