"""Layer 0 in the guard: not dumpable, so the user's other processes cannot attach to it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from guard.isolation import run_isolated
from guard.sandbox import libc
from guard.sandbox.options import SandboxOptions
from guard.sandbox.report import Layer

ATTACH_SCRIPT = textwrap.dedent("""
    import ctypes, json, os, sys
    from guard.isolation import run_isolated
    from guard.sandbox.options import SandboxOptions
    from guard.sandbox.report import Layer

    def attach():
        c_library = ctypes.CDLL(None, use_errno=True)
        c_library.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        if c_library.ptrace(16, os.getppid(), None, None) != 0:
            return ctypes.get_errno()
        # Wait for the attach stop (__WALL: the guard is not our child), then detach, dropping the SIGSTOP.
        os.waitpid(os.getppid(), 0x40000000)
        c_library.ptrace(17, os.getppid(), None, None)
        return 0

    layers = {"guarded": {Layer.DESCRIPTORS, Layer.NOT_DUMPABLE}, "unguarded": {Layer.DESCRIPTORS}}[sys.argv[1]]
    print(json.dumps(run_isolated(attach, SandboxOptions(layers=frozenset(layers))).value))
""")


def _yama_scope() -> int:
    try:
        return int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text())
    except OSError:
        return 0


def test_guard_not_dumpable_after_run():
    result = run_isolated(lambda: None, SandboxOptions(layers=frozenset({Layer.NOT_DUMPABLE})))

    assert result.report.summary.state(Layer.NOT_DUMPABLE).active
    assert libc.prctl(libc.PR_GET_DUMPABLE) == 0


@pytest.fixture
def attach_script(world_readable_dir: Path) -> Path:
    """The attach script, where the nobody user can read it."""
    script = world_readable_dir / "attach.py"
    script.write_text(ATTACH_SCRIPT, encoding="utf-8")
    script.chmod(0o644)
    return script


def test_unprivileged_child_cannot_attach_to_guard(attach_script, world_readable_dir, run_as_nobody):
    completed = run_as_nobody(attach_script, world_readable_dir, "guarded")

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == 1  # EPERM


@pytest.mark.skipif(_yama_scope() > 0, reason="Yama stops a child attaching to its parent anyway")
def test_unprivileged_child_attaches_without_layer(attach_script, world_readable_dir, run_as_nobody):
    # The control case: without the layer the same-user child can attach.
    completed = run_as_nobody(attach_script, world_readable_dir, "unguarded")

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == 0
