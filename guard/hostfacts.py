"""Facts about this host that rez finds by starting a program, found here without one.

rez 3.4 runs a program for three facts on every launch, each a fork of the
guard's large process plus the program (measured on this machine):

- the default shell: `ps -o args= -p PPID`, 6 to 9 ms. The same first word is
  in /proc/PPID/cmdline. Where the two could differ (no command line,
  characters `ps` would replace), the guard lets rez run `ps` as before.
- the operating system name, for the implicit `~os==` request: `lsb_release -a`
  (a Python program on Debian) when /etc/lsb-release does not name the system,
  12 to 15 ms.
- the system paths of the shell: the shell started with PATH unset, 5 to 8 ms.

The last two are kept in the shell cache (shells/cache.py), keyed on what they
are made from: the files and programs involved, identified by inode, size and
times, and the versions of rez and the guard.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from typing import Any

from rez import __version__ as rez_version
from rez.config import config
from rez.shells import get_shell_types
from rez.system import system
from rez.utils.platform_ import platform_

from guard import __version__
from guard.intercept.plain import plain_shell_class
from shells.cache import ShellCache, ShellProgram

logger = logging.getLogger(__name__)

# Names rez's system.shell does not return as found: it maps them to another shell plugin.
_MAPPED_BY_REZ = frozenset({"sh", "dash"})
# Files rez reads to name the operating system, and files lsb_release programs read
# (Debian's reads os-release and debian_version; Red Hat's reads the *-release files).
OS_NAME_FILES = ("/etc/lsb-release", "/etc/os-release", "/usr/lib/os-release", "/etc/debian_version",
                 "/etc/redhat-release", "/etc/system-release", "/etc/centos-release", "/etc/fedora-release")
# A stored fact is used for a day at most, so an input the key does not cover (a file a
# distribution's lsb_release reads besides those above, a shell that failed to start once)
# is read again.
HOST_FACT_MAX_AGE_SECONDS = 24 * 3600
_OS_KEY_PREFIX = "os:"
_PATHS_KEY_PREFIX = "system-paths:"


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
    """Set rez's `system.shell` from /proc when rez would find the same shell; return whether it did.

    When the parent's first word is not the name of one of rez's shell plugins, rez's own search
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


def _file_identity(path: str) -> str:
    try:
        info = os.stat(path)
    except OSError:
        return f"{path} missing"
    return f"{path} {info.st_dev} {info.st_ino} {info.st_size} {info.st_mtime_ns} {info.st_ctime_ns}"


def os_name_key(environ: Mapping[str, str] = os.environ) -> str:
    """Return the cache key of the operating system name, made from every input of rez's detection."""
    program = shutil.which("lsb_release", path=environ.get("PATH"))
    # rez's platform_map setting rewrites the name rez found.
    mapping = json.dumps(config.platform_map, sort_keys=True, default=str)
    parts = [rez_version, __version__, mapping, environ.get("PATH", ""),
             _file_identity(program) if program else "no program",
             *(_file_identity(path) for path in OS_NAME_FILES)]
    return _OS_KEY_PREFIX + hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def find_os_name(cache: ShellCache, clock: Callable[[], float] = time.time) -> bool:
    """Give rez the operating system name from the cache, or let rez find it and store it; True on a cache hit."""
    if "os" in vars(platform_):
        return False
    key = os_name_key()
    name = _fresh(cache.host_fact(key), str, clock)
    if name is not None:
        platform_.os = name
        return True
    name = platform_.os
    # rez 3.4 stores this property under another name, so it would run lsb_release again on each read.
    platform_.os = name
    cache.store_host_fact(key, {"value": name, "time": clock()}, stale=lambda other: other.startswith(_OS_KEY_PREFIX))
    return False


def _fresh(stored: object, kind: type, clock: Callable[[], float]) -> Any:
    # The value of a stored fact younger than the maximum age, or None.
    if not isinstance(stored, dict) or not isinstance(stored.get("time"), float):
        return None
    value = stored.get("value")
    if not isinstance(value, kind) or not 0 <= clock() - stored["time"] < HOST_FACT_MAX_AGE_SECONDS:
        return None
    return value


def find_system_paths(shell: str, cache: ShellCache, clock: Callable[[], float] = time.time) -> bool:
    """Give rez the system paths of `shell` from the cache, or let rez detect them and store them; True on a hit.

    Where rez needs no program (paths set in its configuration) or the shell is
    not on PATH, rez's own detection runs and nothing is stored.
    """
    plugin = plain_shell_class(shell)
    if plugin.syspaths is not None or config.standard_system_paths:
        plugin.get_syspaths()
        return False
    program = ShellProgram.find(plugin.name())
    if program is None:
        plugin.get_syspaths()
        return False
    prefix = f"{_PATHS_KEY_PREFIX}{program.path}\0"
    key = "\0".join((prefix + program.key, rez_version, __version__, os.defpath))
    stored = _fresh(cache.host_fact(key), list, clock)
    if stored is not None and all(isinstance(path, str) for path in stored):
        plugin.syspaths = stored
        return True
    paths = plugin.get_syspaths()
    if program.unchanged():
        cache.store_host_fact(key, {"value": list(paths), "time": clock()},
                              stale=lambda other: other.startswith(prefix))
    return False
