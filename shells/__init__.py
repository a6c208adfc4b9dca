"""Per-shell knowledge, one adapter per shell behind `ShellAdapter`.

`adapter_for(name)` returns the adapter of bash, sh, zsh, tcsh or csh. The
adapters know the startup files each shell reads, what the shell expands or
executes inside a value rez writes, which values it cannot carry, and how to
read its environment back once its startup is done.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping

from guard.plan import StartupFile
from shells.base import ShellAdapter, StartupOptions
from shells.bash import BashAdapter
from shells.csh import CshAdapter
from shells.sh import ShAdapter
from shells.tcsh import TcshAdapter
from shells.zsh import ZshAdapter

_ADAPTERS: dict[str, type[ShellAdapter]] = {
    "bash": BashAdapter,
    "sh": ShAdapter,
    "zsh": ZshAdapter,
    "tcsh": TcshAdapter,
    "csh": CshAdapter,
}

__all__ = ["ShellAdapter", "StartupOptions", "adapter_for", "startup_files"]


@functools.cache
def adapter_for(shell: str) -> ShellAdapter:
    """Return the adapter of `shell`; raise KeyError for a shell the guard does not support."""
    return _ADAPTERS[shell]()


def startup_files(shell: str, rcfile: str | None, norc: bool, stdin: bool, command: str | None,
                  environ: Mapping[str, str] | None = None) -> tuple[StartupFile, ...]:
    """Return the files the shell reads at startup besides the context, in the order it reads them."""
    options = StartupOptions(rcfile=rcfile, norc=norc, stdin=stdin, command=command)
    return adapter_for(shell).startup_files(options, os.environ if environ is None else environ)
