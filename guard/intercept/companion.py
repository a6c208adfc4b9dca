"""The companion distribution `rez-guard-hooks`: entry points that hook rez-guard into rez.

rez loads plugins from the `rez.plugins.<type>` entry-point groups after its
built-in ones, and one of the same name replaces the built-in class. This works
even with `REZ_CONFIG_FILE=/dev/null` and an empty `REZ_PLUGIN_PATH`, which a
user could otherwise set to drop plugins found through rez's configuration.

The entry points live in a distribution of their own, not in rez-guard's:
installing rez-guard (a developer's virtual environment, CI) then never
changes how rez behaves, and removing the hooks leaves rez-guard installed.
`install` builds a wheel that holds nothing but metadata and installs it with
pip into the environment of the running interpreter, which is rez's (rez-guard
depends on rez), so pip records every file and `pip uninstall` removes them.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from guard import __version__
from guard.fastclass import dataclass
from guard.intercept.errors import HooksError
from guard.intercept.versions import TESTED_REZ_VERSIONS, check_rez_version

logger = logging.getLogger(__name__)

DISTRIBUTION = "rez-guard-hooks"
_WHEEL_NAME = DISTRIBUTION.replace("-", "_")

SHELL_PLUGINS = ("bash", "sh", "zsh", "csh", "tcsh")
COMMAND_PLUGINS = ("env", "guard")
PLUGIN_PACKAGE = "guard.intercept.plugins"


@dataclass(frozen=True, slots=True)
class InstalledHooks:
    """The installed companion distribution: its version and where pip put it."""

    version: str
    location: str


def entry_points_text() -> str:
    """Return the entry_points.txt of the companion distribution."""
    lines = ["[rez.plugins.command]"]
    lines += [f"{name} = {PLUGIN_PACKAGE}.{name}" for name in COMMAND_PLUGINS]
    lines += ["", "[rez.plugins.shell]"]
    lines += [f"{name} = {PLUGIN_PACKAGE}.{name}" for name in SHELL_PLUGINS]
    return "\n".join(lines) + "\n"


def _rez_requirement() -> str:
    versions = sorted(TESTED_REZ_VERSIONS)
    if len(versions) == 1:
        return f"rez=={versions[0]}"
    return f"rez>={versions[0]},<={versions[-1]}"


def metadata_text() -> str:
    """Return the METADATA file: the pins let `pip check` report a rez or rez-guard that no longer matches."""
    return "\n".join([
        "Metadata-Version: 2.1",
        f"Name: {DISTRIBUTION}",
        f"Version: {__version__}",
        "Summary: Entry points that route rez's env command and Unix shell plugins through rez-guard",
        f"Requires-Dist: rez-guard=={__version__}",
        f"Requires-Dist: {_rez_requirement()}",
        "",
    ])


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(folder: Path) -> Path:
    """Write the companion wheel (metadata and entry points only) into `folder`; return its path."""
    dist_info = f"{_WHEEL_NAME}-{__version__}.dist-info"
    files = {
        f"{dist_info}/METADATA": metadata_text(),
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: rez-guard\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": entry_points_text(),
    }
    record = [_record_line(path, text.encode("utf-8")) for path, text in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"

    wheel = folder / f"{_WHEEL_NAME}-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def installed_hooks() -> InstalledHooks | None:
    """Return the companion distribution installed in this environment, or None."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    return InstalledHooks(version=distribution.version, location=str(distribution.locate_file("")))


def _run_pip(arguments: list[str]) -> None:
    argv = [sys.executable, "-m", "pip", *arguments, "--disable-pip-version-check", "--quiet"]
    logger.debug("running %s", argv)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    except OSError as error:
        raise HooksError(f"cannot run pip with {sys.executable}: {error.strerror}") from error
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise HooksError(f"pip {arguments[0]} of {DISTRIBUTION} failed in {sys.prefix}: {detail}; "
                         f"pip must be available there (python -m ensurepip)")


def install() -> InstalledHooks:
    """Install the companion distribution into this interpreter's environment and return it."""
    check_rez_version()
    with tempfile.TemporaryDirectory(prefix="rez-guard-hooks_") as folder:
        wheel = build_wheel(Path(folder))
        _run_pip(["install", "--no-index", "--no-deps", "--force-reinstall", str(wheel)])
    importlib.invalidate_caches()
    installed = installed_hooks()
    if installed is None:
        raise HooksError(f"pip installed {DISTRIBUTION} but this interpreter cannot find it in {sys.path}; "
                         "check for a pip configuration that installs elsewhere (--user, --target)")
    return installed


def uninstall() -> InstalledHooks | None:
    """Remove the companion distribution from this environment; return what was removed, or None."""
    installed = installed_hooks()
    if installed is None:
        return None
    _run_pip(["uninstall", "--yes", DISTRIBUTION])
    return installed


def neutral_environ() -> dict[str, str]:
    """Return this process's environment without PYTHONPATH, as a rez command started elsewhere would have it."""
    environ = dict(os.environ)
    environ.pop("PYTHONPATH", None)
    return environ
