"""Per-shell knowledge, one adapter per shell behind `ShellAdapter`.

`adapter_for(name)` returns the adapter of bash, sh, zsh, tcsh or csh. The
adapters know the startup files each shell reads, what the shell expands or
executes inside a value rez writes, which values it cannot carry, and how to
read its environment back once its startup is done.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Mapping

from guard.plan import StartupFile
from shells.base import ShellAdapter, StartupOptions

# Each adapter's module and class. A module is imported the first time its shell is requested,
# because a launch uses one shell. The session requests it before it forks.
_ADAPTERS: dict[str, tuple[str, str]] = {
    "bash": ("shells.bash", "BashAdapter"),
    "sh": ("shells.sh", "ShAdapter"),
    "zsh": ("shells.zsh", "ZshAdapter"),
    "tcsh": ("shells.tcsh", "TcshAdapter"),
    "csh": ("shells.csh", "CshAdapter"),
}

__all__ = ["ShellAdapter", "StartupOptions", "adapter_for", "startup_files"]


@functools.cache
def adapter_for(shell: str) -> ShellAdapter:
    """Return the adapter of `shell`; raise KeyError for a shell the guard does not support."""
    module_name, class_name = _ADAPTERS[shell]
    return getattr(importlib.import_module(module_name), class_name)()


def startup_files(shell: str, rcfile: str | None, norc: bool, stdin: bool, command: str | None,
                  environ: Mapping[str, str] | None = None) -> tuple[StartupFile, ...]:
    """Return the files the shell reads at startup besides the context, in the order it reads them."""
    options = StartupOptions(rcfile=rcfile, norc=norc, stdin=stdin, command=command)
    return adapter_for(shell).startup_files(options, os.environ if environ is None else environ)
