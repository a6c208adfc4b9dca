"""Per-shell knowledge: which startup files a shell reads besides the context.

TODO: one adapter per shell with the files each shell reads on its own
(zsh's ~/.zshenv, system files under /etc); today this asks rez's shell
plugin, which lists only the user files rez itself sources.
"""

from __future__ import annotations

import os

from rez.config import config
from rez.shells import create_shell

from guard.plan import StartupFile


def startup_files(shell: str, rcfile: str | None, norc: bool, stdin: bool, command: str | None) -> tuple[StartupFile, ...]:
    """Return the files the shell reads at startup besides the context, in order."""
    sequence = create_shell(shell).get_startup_sequence(rcfile, norc, stdin, command)
    order = "after" if config.package_commands_sourced_first else "before"
    files = []
    for path in sequence["files"]:
        expanded = os.path.expanduser(path)
        files.append(StartupFile(path=expanded, order=order, exists=os.path.exists(expanded)))
    if sequence["envvar"] and sequence["command"] is None and not sequence["stdin"]:
        value = os.environ.get(sequence["envvar"])
        if value and not any(item.path == os.path.expanduser(value) for item in files):
            files.append(StartupFile(path=os.path.expanduser(value), order=order, exists=os.path.exists(value)))
    return tuple(files)
