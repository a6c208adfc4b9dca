"""The options of one sandboxed run, and the allow-list of paths the child may write.

The child may read everything its user can read: rez needs the package
repositories, its configuration and the Python installation, so reads are never
restricted and the guard's trust store stays readable. Writes are denied
everywhere except in the allow-list:

- a private scratch folder the guard creates for each run and sets as TMPDIR,
- `/dev/null` (writes only, no metadata changes),
- any folder the caller adds with `writable_dirs`.

No allowed folder may be an ancestor of, equal to, or inside one of the guard's
protected folders: allowing a folder allows everything beneath it, so allowing
HOME would allow the trust store. `build_options` drops such entries.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from rez.config import config

from guard.fastclass import dataclass
from guard.paths import GuardPaths
from guard.sandbox.report import ALL_LAYERS, Layer

logger = logging.getLogger(__name__)

DEV_NULL = Path("/dev/null")
# Files in the protected folders that change while any guard runs, because another
# session may append to the audit log (and its head and rotated files) or take a
# lock. The watch ignores them; the audit log's own checks cover it.
WATCH_IGNORED_PREFIXES = ("audit.jsonl",)
WATCH_IGNORED_SUFFIXES = (".lock",)


@dataclass(frozen=True, slots=True)
class SandboxOptions:
    """The layers to use and the folders each layer protects or allows, for one run."""

    layers: frozenset[Layer] = ALL_LAYERS
    protected_dirs: tuple[Path, ...] = ()
    writable_dirs: tuple[Path, ...] = ()
    readonly_dirs: tuple[Path, ...] = ()
    max_output_bytes: int = 1 << 20
    max_denied: int = 200

    def with_layers(self, layers: Iterable[Layer]) -> SandboxOptions:
        """Return a copy that requests only the given layers."""
        return SandboxOptions(frozenset(layers), self.protected_dirs, self.writable_dirs, self.readonly_dirs,
                              self.max_output_bytes, self.max_denied)


def _absolute(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(os.path.expanduser(path)))


def overlaps(first: Path, second: Path) -> bool:
    """True when one path is the other or lies beneath it."""
    return first == second or first.is_relative_to(second) or second.is_relative_to(first)


def allowed_writable(candidates: Iterable[Path], protected: Iterable[Path]) -> tuple[Path, ...]:
    """Return the candidates that overlap no protected folder, logging each one dropped."""
    protected = tuple(_absolute(path) for path in protected)
    resolved_protected = tuple(path.resolve() for path in protected)
    allowed = []
    for candidate in candidates:
        path = _absolute(candidate)
        real = path.resolve()
        clash = next((p for p in (*protected, *resolved_protected) if overlaps(path, p) or overlaps(real, p)), None)
        if clash is not None:
            logger.warning("not allowing writes in %s: it overlaps the guard's folder %s", path, clash)
            continue
        allowed.append(path)
    return tuple(allowed)


def build_options(
    paths: GuardPaths,
    package_paths: Iterable[str] | None,
    writable_dirs: Iterable[str | os.PathLike[str]] = (),
    layers: Iterable[Layer] = ALL_LAYERS,
    protected: Iterable[str | os.PathLike[str]] | None = None,
) -> SandboxOptions:
    """Build the options for a recording child: the guard's folders protected, the repositories read-only.

    `package_paths` None means rez's configured `packages_path`; `protected` None
    means the guard's own folders (`paths.protected_dirs`).
    """
    if package_paths is None:
        package_paths = config.packages_path
    protected = tuple(_absolute(path) for path in (paths.protected_dirs if protected is None else protected))
    writable = allowed_writable((_absolute(path) for path in writable_dirs), protected)
    readonly = tuple(dict.fromkeys(_absolute(path) for path in package_paths if path))
    return SandboxOptions(
        layers=frozenset(layers),
        protected_dirs=protected,
        writable_dirs=writable,
        readonly_dirs=readonly,
    )
