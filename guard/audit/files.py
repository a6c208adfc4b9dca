"""Names of a log's rotated files, listed in the order they were written."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path


# Rotated files are named `<log>.<UTC time>` so that name order is write order.
_ROTATED_SUFFIX = re.compile(r"\.(\d{8}T\d{12}Z)(?:-(\d+))?")
_ROTATED_TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"


def rotated_name(log_path: Path, now: datetime) -> Path:
    """Return a free name for the rotated copy of a log, stamped with `now` (UTC)."""
    stamp = now.astimezone(UTC).strftime(_ROTATED_TIME_FORMAT)
    candidate = log_path.with_name(f"{log_path.name}.{stamp}")
    counter = 1
    while candidate.exists():
        candidate = log_path.with_name(f"{log_path.name}.{stamp}-{counter}")
        counter += 1
    return candidate


def rotated_files(log_path: Path) -> list[Path]:
    """Return the rotated files of a log, oldest first."""
    if not log_path.parent.is_dir():
        return []
    found = []
    prefix = log_path.name
    for candidate in log_path.parent.iterdir():
        name = candidate.name
        if not name.startswith(prefix):
            continue
        match = _ROTATED_SUFFIX.fullmatch(name[len(prefix) :])
        if match:
            found.append((match.group(1), int(match.group(2) or 0), candidate))
    return [path for _, _, path in sorted(found)]


def log_files(log_path: Path) -> list[Path]:
    """Return a log's rotated files, oldest first, then the log itself if it exists."""
    files = rotated_files(log_path)
    if log_path.exists():
        files.append(log_path)
    return files

