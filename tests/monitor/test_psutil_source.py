"""Reading process facts through psutil, compared with /proc."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from guard.monitor.procfs import LinuxProcfs
from guard.monitor.psutil_source import PsutilSource
from tests.monitor.support import wait_for

pytestmark = pytest.mark.skipif(not LinuxProcfs.available(), reason="needs Linux /proc with children files")


def test_psutil_source_matches_procfs(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "30"], cwd=tmp_path)
    try:
        assert wait_for(lambda: LinuxProcfs().info(child.pid).argv is not None)
        psutil_source = PsutilSource()
        psutil_source.refresh()
        from_psutil = (psutil_source.stat(child.pid), psutil_source.info(child.pid), psutil_source.children(os.getpid()))
        procfs = LinuxProcfs()
        from_procfs = (procfs.stat(child.pid), procfs.info(child.pid))
    finally:
        child.kill()
        child.wait()

    assert from_psutil[0] is not None and from_procfs[0] is not None
    assert from_psutil[0].ppid == from_procfs[0].ppid
    assert from_psutil[0].start_time == pytest.approx(from_procfs[0].start_time, abs=1.0)
    assert from_psutil[1] == from_procfs[1]
    assert child.pid in from_psutil[2]
