"""Write small real rez packages into a test's temporary repository."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_package(repository: Path, name: str, version: str, body: str, requires: tuple[str, ...] = ()) -> Path:
    """Write `<repository>/<name>/<version>/package.py` with `body` as its functions; return the package folder."""
    folder = repository / name / version
    folder.mkdir(parents=True, exist_ok=True)
    header = f"name = {name!r}\nversion = {version!r}\n"
    if requires:
        header += f"requires = {list(requires)!r}\n"
    (folder / "package.py").write_text(header + "\n" + textwrap.dedent(body), encoding="utf-8")
    return folder
