"""The companion wheel contains the entry points, pinned metadata and a valid RECORD."""

from __future__ import annotations

import base64
import configparser
import hashlib
import zipfile
from pathlib import Path

from guard import __version__
from guard.intercept.companion import SHELL_PLUGINS, build_wheel, entry_points_text
from guard.intercept.versions import TESTED_REZ_VERSIONS

DIST_INFO = f"rez_guard_hooks-{__version__}.dist-info"


def _read(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_wheel_contains_only_metadata(tmp_path: Path) -> None:
    files = _read(build_wheel(tmp_path))
    assert set(files) == {f"{DIST_INFO}/{name}" for name in ("METADATA", "WHEEL", "entry_points.txt", "RECORD")}


def test_entry_points_name_every_plugin() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(entry_points_text())
    assert dict(parser["rez.plugins.command"]) == {
        "env": "guard.intercept.plugins.env", "guard": "guard.intercept.plugins.guard"}
    assert dict(parser["rez.plugins.shell"]) == {name: f"guard.intercept.plugins.{name}" for name in SHELL_PLUGINS}


def test_entry_point_modules_register_plugins() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(entry_points_text())
    for group in ("rez.plugins.command", "rez.plugins.shell"):
        for name, module_name in parser[group].items():
            module = __import__(module_name, fromlist=["register_plugin"])
            assert module.register_plugin().name() == name


def test_metadata_pins_rez_and_guard(tmp_path: Path) -> None:
    metadata = _read(build_wheel(tmp_path))[f"{DIST_INFO}/METADATA"].decode()
    assert "Name: rez-guard-hooks" in metadata
    assert f"Requires-Dist: rez-guard=={__version__}" in metadata
    assert f"Requires-Dist: rez=={TESTED_REZ_VERSIONS[0]}" in metadata


def test_record_hashes_match(tmp_path: Path) -> None:
    files = _read(build_wheel(tmp_path))
    rows = [line.split(",") for line in files[f"{DIST_INFO}/RECORD"].decode().splitlines()]
    assert {row[0] for row in rows} == set(files)
    for path, digest, size in rows:
        if path.endswith("RECORD"):
            assert (digest, size) == ("", "")
            continue
        expected = base64.urlsafe_b64encode(hashlib.sha256(files[path]).digest()).rstrip(b"=").decode()
        assert digest == f"sha256={expected}"
        assert int(size) == len(files[path])
