"""Snapshots of the guard's own folders, to notice package code changing them.

Package code runs in the recording child with the user's permissions, so it can
write into the trust, policy and audit folders. The parent snapshots them
before the fork and compares after the child exits; any change denies the
launch with an `alert` audit record.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from guard.fastclass import dataclass

# The audit log grows while the guard runs; a change to it is checked by the
# audit chain, not here.
_GROWING_FILES = frozenset({"audit.jsonl"})


@dataclass(frozen=True, slots=True)
class FileState:
    """The compared state of one file or folder."""

    kind: str
    size: int
    mtime_ns: int
    ctime_ns: int
    mode: int
    sha256: str | None


def _file_state(path: Path) -> FileState:
    info = path.lstat()
    digest = None
    if path.is_file() and not path.is_symlink():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if path.is_symlink():
        kind = "link"
    elif path.is_dir():
        kind = "dir"
    else:
        kind = "file"
    return FileState(kind, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode, digest)


def snapshot(folders: Iterable[Path]) -> dict[str, FileState]:
    """Return the state of every entry under the folders (missing folders give no entries)."""
    states: dict[str, FileState] = {}
    for folder in folders:
        if not folder.exists():
            continue
        states[str(folder)] = _file_state(folder)
        for root, dirs, files in os.walk(folder):
            for name in [*dirs, *files]:
                if name in _GROWING_FILES or name.endswith(".lock"):
                    continue
                path = Path(root) / name
                try:
                    states[str(path)] = _file_state(path)
                except OSError:
                    continue
    return states


def changed_paths(before: dict[str, FileState], after: dict[str, FileState]) -> list[str]:
    """Return the paths added, removed or changed between two snapshots, deepest first.

    A new file also changes its folder; listing the deepest paths first names the file.
    """
    changed = [path for path in before.keys() | after.keys() if before.get(path) != after.get(path)]
    return deepest_first(changed)


def deepest_first(paths: Iterable[str]) -> list[str]:
    """Return the distinct paths with the deepest first, so a file comes before its folder."""
    return sorted(set(paths), key=lambda path: (-path.count(os.sep), path))
