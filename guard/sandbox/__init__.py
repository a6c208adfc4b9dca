"""Confinement of the recording child, layer by layer (see docs/sandbox.md).

Layer 0 is always requested: the child drops the guard's descriptors and
terminal, the guard is not dumpable and is a child subreaper, and the guard's
folders are watched. Layers 1-3 (seccomp, Landlock, namespaces) are applied when
the kernel allows them, each probed in the child at run time. `run_isolated` in
`guard.isolation` runs a task under these layers and returns a `SandboxReport`.
"""

from guard.sandbox.options import SandboxOptions, build_options
from guard.sandbox.report import (
    ALL_LAYERS,
    LAYER_ZERO,
    DeniedOperation,
    Layer,
    LayerState,
    Operation,
    SandboxReport,
    SandboxSummary,
)

__all__ = [
    "ALL_LAYERS",
    "LAYER_ZERO",
    "DeniedOperation",
    "Layer",
    "LayerState",
    "Operation",
    "SandboxOptions",
    "SandboxReport",
    "SandboxSummary",
    "build_options",
]
