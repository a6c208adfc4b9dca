"""Facts about this host that rez finds by starting a program, found here without one.

rez 3.4 picks the default shell by running `ps -o args= -p PPID` and taking the
name of the first word: 6 to 9 ms per launch on this machine (a fork of the
guard's large process and the `ps` program). The same first word is in
/proc/PPID/cmdline. Where the two could differ (no command line, characters
`ps` would replace), the guard lets rez run `ps` as before.
"""

from __future__ import annotations

import logging
import os

from rez.shells import get_shell_types
from rez.system import system

logger = logging.getLogger(__name__)

# Names rez's system.shell does not return as found: it maps them to another shell plugin.
_MAPPED_BY_REZ = frozenset({"sh", "dash"})


def parent_shell_word(pid: int) -> str | None:
    """Return what rez makes of the first word of `ps -o args= -p PID`, read from /proc; None when unsure."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            raw = stream.read()
    except OSError:
        return None
    text = os.fsdecode(raw.rstrip(b"\0").replace(b"\0", b" "))
    # `ps` shows a process without a command line as [name], and writes '?' for characters it cannot print.
    if not text.strip() or not text.isprintable():
        return None
    return os.path.basename(text.split()[0]).replace("-", "")


def find_system_shell() -> bool:
    """Set rez's `system.shell` from /proc when it is the answer rez would find; return whether it did.

    When the parent's first word is not a shell rez knows, rez's own search
    runs as before ($SHELL, then the parents' names). So does it for `sh`,
    which rez maps to another plugin after looking at what /bin/sh links to.
    """
    if "shell" in vars(system) or system.platform != "linux":
        return False
    parent = os.getppid()
    if parent == 0:
        return False
    word = parent_shell_word(parent)
    if word is None or word in _MAPPED_BY_REZ or word not in set(get_shell_types()):
        return False
    system.shell = word
    logger.debug("default shell %s, from /proc/%d/cmdline", word, parent)
    return True
