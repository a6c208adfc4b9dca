"""The rez versions the interception hooks were tested with.

Replacing a built-in rez plugin by registering one of the same name through an
entry point is undocumented rez behaviour, and the shell hooks read rez's call
stack (see attribution.py and site.py). Both are pinned to these versions.
"""

from __future__ import annotations

import rez

from guard.intercept.errors import UntestedRezVersion

TESTED_REZ_VERSIONS = ("3.4.0",)


def installed_rez_version() -> str:
    """Return the version of the rez that this process imported."""
    return str(rez.__version__)


def is_tested(version: str) -> bool:
    """True when the hooks were tested with this rez version."""
    return version in TESTED_REZ_VERSIONS


def check_rez_version(version: str | None = None) -> None:
    """Raise UntestedRezVersion unless the hooks were tested with this rez version."""
    version = installed_rez_version() if version is None else version
    if is_tested(version):
        return
    raise UntestedRezVersion(
        f"rez-guard's hooks were tested with rez {', '.join(TESTED_REZ_VERSIONS)} only and rez {version} "
        "is installed, so launches through the hooks are denied; install a tested rez, or upgrade rez-guard, "
        "or remove the hooks with `rez-guard hooks uninstall`")
