"""Layer 0 in the guard: changes to the protected folders while the child runs."""

from __future__ import annotations

import os

from guard.isolation import run_isolated
from guard.sandbox.options import SandboxOptions
from guard.sandbox.report import Layer
from guard.sandbox.watch import ProtectedWatch


def watch_only(guard_paths) -> SandboxOptions:
    """Options with only the watch, so the child can change what the watch should notice."""
    return SandboxOptions(layers=frozenset({Layer.WATCH}), protected_dirs=guard_paths.protected_dirs)


def test_watch_sees_transient_file(guard_paths):
    transient = guard_paths.data_dir / "transient.json"

    def task() -> None:
        transient.write_text("{}")
        transient.unlink()

    result = run_isolated(task, watch_only(guard_paths))

    assert f"{transient}: created" in result.report.protected_changes
    assert f"{transient}: deleted" in result.report.protected_changes
    assert not transient.exists()


def test_watch_sees_open_for_writing(guard_paths):
    trust = guard_paths.trust_store

    result = run_isolated(lambda: os.close(os.open(trust, os.O_WRONLY)), watch_only(guard_paths))

    assert result.report.protected_changes == (f"{trust}: closed after writing",)


def test_watch_ignores_audit_log(guard_paths):
    audit_log = guard_paths.audit_log
    head = audit_log.with_name(audit_log.name + ".head")

    def task() -> None:
        audit_log.open("a").write("{}\n")
        head.write_text("0 0")

    result = run_isolated(task, watch_only(guard_paths))

    assert result.report.protected_changes == ()


def test_watch_covers_subfolders(guard_paths):
    nested = guard_paths.config_dir / "nested"
    nested.mkdir()
    watch = ProtectedWatch(guard_paths.protected_dirs)
    try:
        (nested / "file").write_text("x")
        changes = watch.read_changes()
    finally:
        watch.close()

    assert f"{nested / 'file'}: created" in changes
    assert watch.layer.active
