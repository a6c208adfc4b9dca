"""rez's own work that the sandbox would deny, done before the fork or turned off in the child.

- rez 3.4 finds the operating system name for the implicit `~os==` request by
  running `lsb_release -a` when /etc/lsb-release is missing. The guard computes
  it, and the other `rez.system` values a resolve reads, before the fork. rez
  caches them, so the child runs no program for them. (System paths for the
  shell are detected the same way, by `guard.hostfacts.find_system_paths`.)
- Adding variants to rez's package cache starts `rez-pkg-cache`; the child does
  not write the package cache. Reading it is unchanged.
- The memcached resolve cache and context tracking (AMQP) need the network; the
  child uses neither. They only speed up or report a resolve, so the resolved
  context is the same.
- `ResolvedContext` asks `getpass.getuser()` for the user name. Without USER or
  LOGNAME in the environment, that reads the passwd database, and glibc may
  open a socket for it (to nscd or sssd), which the sandbox denies. In the
  child, `getpass.getuser` returns the name the parent found for `rez.system`.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
import tempfile
from pathlib import Path

from rez.config import config
from rez.system import system

logger = logging.getLogger(__name__)

# The rez.system values that ResolvedContext and the implicit packages read.
_SYSTEM_VALUES = ("platform", "arch", "os", "variant", "hostname", "user", "home")
# rez settings the child turns off, and the value it sets.
# NOTE: context tracking is then never sent for the guarded launch, and the package
# cache is not filled; neither is done after the child either.
_CHILD_OVERRIDES = {
    "write_package_cache": False,
    "memcached_uri": [],
    "context_tracking_host": "",
}


def prepare_in_parent() -> None:
    """Compute and cache the rez system values a resolve needs, so the child starts no program for them."""
    for name in _SYSTEM_VALUES:
        getattr(system, name)


def configure_child(scratch: Path | None) -> None:
    """Turn off rez features that need a program, a socket or the network, and point TMPDIR at the scratch folder."""
    for key, value in _CHILD_OVERRIDES.items():
        config.override(key, value)
    # Python would try to write bytecode next to imported modules; those writes
    # would be denied and reported as if package code had tried them.
    sys.dont_write_bytecode = True
    try:
        user = system.user
    except (KeyError, OSError) as error:
        # No name for this user: rez's own call fails the same way later, with rez's message.
        logger.debug("no user name for the recording child: %s", error)
    else:
        getpass.getuser = lambda: user
    if scratch is not None:
        os.environ["TMPDIR"] = str(scratch)
        tempfile.tempdir = str(scratch)
