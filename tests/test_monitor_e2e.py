"""The process monitor inside a real guarded launch: records, backends, exit policy, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import EXAMPLE_PACKAGES
from tests.guard_run import GUARD, last_session, run_guard

EXAMPLES = ["--paths", str(EXAMPLE_PACKAGES)]


def _events(records: list[dict], kind: str) -> list[dict]:
    return [record for record in records if record["event"] == kind]


@pytest.mark.parametrize("backend", ["poll", "ptrace", "netlink"])
def test_backend_records_child_process(backend: str) -> None:
    if backend == "netlink" and os.geteuid() != 0:
        pytest.skip("the netlink backend needs root or CAP_NET_ADMIN")
    result = run_guard("env", *EXAMPLES, "studio_app", "--yes", "--monitor", backend,
                       "-c", "sleep 0.4; exit 3")
    assert result.returncode == 3, result.stderr
    records = last_session()
    start = _events(records, "monitor.start")
    assert [record["backend"] for record in start] == [backend]
    argvs = [record["argv"] for record in _events(records, "process.start") + _events(records, "process.exec")]
    assert ["sleep", "0.4"] in argvs
    stop = _events(records, "monitor.stop")
    assert stop[0]["processes_seen"] >= 2
    assert records[-1]["event"] == "session.end"
    assert records[-1]["process_count"] == stop[0]["processes_seen"]


def test_auto_says_why() -> None:
    result = run_guard("env", *EXAMPLES, "studio_app", "--yes", "-c", "true")
    assert result.returncode == 0, result.stderr
    (start,) = _events(last_session(), "monitor.start")
    assert start["backend"] in ("poll", "netlink")
    assert start["reason"]


def test_monitor_off_records_no_processes() -> None:
    result = run_guard("env", *EXAMPLES, "studio_app", "--yes", "--monitor", "off", "-c", "sleep 0.2")
    assert result.returncode == 0, result.stderr
    records = last_session()
    assert _events(records, "process.start") == []
    assert _events(records, "monitor.start")[0]["backend"] == "off"


def test_leftover_terminated_by_policy(tmp_path: Path) -> None:
    policy = Path(os.environ["XDG_CONFIG_HOME"]) / "rez-guard" / "policy.toml"
    policy.parent.mkdir(parents=True)
    policy.write_text('[monitor]\nexit_policy = "terminate"\n', encoding="utf-8")
    pid_file = tmp_path / "daemon.pid"
    # A double-forked daemon that outlives the shell: the guard, as subreaper, adopts it.
    result = run_guard("env", *EXAMPLES, "studio_app", "--yes", "--monitor", "poll",
                       "-c", f"(sleep 60 & echo $! > {pid_file}) ; sleep 0.5")
    assert result.returncode == 0, result.stderr
    daemon_pid = int(pid_file.read_text())
    assert not psutil.pid_exists(daemon_pid) or psutil.Process(daemon_pid).status() == psutil.STATUS_ZOMBIE
    (stop,) = _events(last_session(), "monitor.stop")
    assert stop["exit_policy"] == "terminate"
    leftover = next(item for item in stop["leftovers"] if item["pid"] == daemon_pid)
    assert leftover["action"] in ("terminated", "killed")


def test_sigterm_to_guard_still_ends_session(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    guard = subprocess.Popen([*GUARD, "env", *EXAMPLES, "studio_app", "--yes", "--monitor", "poll",
                              "-c", f"touch {ready}; sleep 30"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert time.monotonic() < deadline, "the guarded shell did not start"
            assert guard.poll() is None, guard.stderr.read() if guard.stderr else ""
            time.sleep(0.05)
        guard.send_signal(signal.SIGTERM)
        guard.wait(timeout=60)
    finally:
        if guard.poll() is None:
            guard.kill()
            guard.wait()
    assert guard.returncode == 128 + signal.SIGTERM
    records = last_session()
    assert records[-1]["event"] == "session.end"
    assert _events(records, "monitor.stop")


def test_ptrace_preview_warns_about_debuggers() -> None:
    result = run_guard("env", *EXAMPLES, "studio_app", "--preview", "--monitor", "ptrace")
    assert result.returncode == 0, result.stderr
    assert "debuggers and strace cannot attach" in result.stderr
    plain = run_guard("env", *EXAMPLES, "studio_app", "--preview", "--monitor", "poll")
    assert "strace" not in plain.stderr
