"""The allow-list: what the child may write, and what it may never be allowed to."""

from __future__ import annotations

import os
from pathlib import Path

from guard.paths import GuardPaths
from guard.sandbox.options import allowed_writable, build_options, overlaps


def test_overlaps_ancestor_and_descendant():
    assert overlaps(Path("/home/user"), Path("/home/user/.local/share/rez-guard"))
    assert overlaps(Path("/home/user/.local/share/rez-guard/sub"), Path("/home/user/.local/share/rez-guard"))
    assert overlaps(Path("/a"), Path("/a"))
    assert not overlaps(Path("/home/user2"), Path("/home/user"))


def test_allowed_writable_drops_home(tmp_path):
    protected = tmp_path / "home" / ".local" / "share" / "rez-guard"
    cache = tmp_path / "cache"

    kept = allowed_writable([tmp_path / "home", cache, protected / "inner"], [protected])

    assert kept == (cache,)


def test_allowed_writable_drops_symlink_to_protected(tmp_path):
    protected = tmp_path / "protected"
    protected.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(protected)

    assert allowed_writable([alias], [protected]) == ()


def test_build_options_protects_guard_folders(tmp_path):
    paths = GuardPaths.from_environ(os.environ)

    options = build_options(paths, [str(tmp_path / "repo")], writable_dirs=[tmp_path, tmp_path / "cache"])

    assert options.protected_dirs == paths.protected_dirs
    assert options.readonly_dirs == (tmp_path / "repo",)
    # tmp_path contains every protected folder here, so allowing it would allow them.
    assert options.writable_dirs == (tmp_path / "cache",)


def test_build_options_takes_protected_paths(tmp_path):
    paths = GuardPaths.from_environ(os.environ)
    policy_file = tmp_path / "etc" / "policy.toml"

    options = build_options(paths, [], writable_dirs=[tmp_path / "etc"], protected=[policy_file])

    assert options.protected_dirs == (policy_file,)
    assert options.writable_dirs == ()
