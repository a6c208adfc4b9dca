"""Choosing a backend with `prepare()` and starting it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from guard.monitor import Backend, MonitorError, MonitorOptions, prepare
from tests.monitor.support import NETLINK_MISSING, WORKTREE, ProcessJanitor

# Runs `prepare` in a child that lacks CAP_NET_ADMIN and CAP_SYS_PTRACE, as an
# unprivileged user would, and prints what it chose.
_UNPRIVILEGED_PROBE = """
import json, sys
from guard.monitor import Backend, MonitorError, MonitorOptions, prepare
results = {}
for backend in ("auto", "netlink", "ptrace"):
    try:
        prepared = prepare(MonitorOptions(backend=Backend(backend)))
    except MonitorError as error:
        results[backend] = ["error", error.message]
    else:
        results[backend] = [prepared.backend.value, prepared.reason]
        if prepared.backend is Backend.PTRACE:
            shell = prepared.spawn(["/bin/true"])
            records = []
            monitor = prepared.start(shell.pid, records.append)
            shell.wait()
            monitor.stop()
            results["ptrace_records"] = [record.kind.value for record in records]
        prepared.close()
print(json.dumps(results))
"""


# Runs `prepare` with the auto backend and prints what it chose.
_AUTO_PROBE = """
import json
from guard.monitor import MonitorOptions, prepare
with prepare(MonitorOptions()) as prepared:
    print(json.dumps([prepared.backend.value, prepared.reason]))
"""


def _unprivileged_prepare() -> dict[str, list[str]]:
    command = [
        "setpriv",
        "--bounding-set=-net_admin,-sys_ptrace",
        "--inh-caps=-net_admin,-sys_ptrace",
        sys.executable,
        "-c",
        _UNPRIVILEGED_PROBE,
    ]
    result = subprocess.run(
        command, env=dict(os.environ, PYTHONPATH=str(WORKTREE)), capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


@NETLINK_MISSING
def test_auto_chooses_netlink_when_permitted() -> None:
    with prepare(MonitorOptions()) as prepared:
        assert prepared.backend is Backend.NETLINK
        assert "netlink" in prepared.reason


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping capabilities with setpriv needs root")
def test_auto_falls_back_to_poll_without_privilege() -> None:
    results = _unprivileged_prepare()

    assert results["auto"][0] == "poll"
    assert "CAP_NET_ADMIN" in results["auto"][1]
    assert results["netlink"][0] == "error"
    assert "choose --monitor poll" in results["netlink"][1]


@NETLINK_MISSING
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="unshare --pid needs root")
def test_auto_falls_back_to_poll_in_pid_namespace() -> None:
    # The proc connector still works in a new pid namespace, but it names
    # processes by their pids in the initial namespace, which the guard cannot match.
    command = ["unshare", "--pid", "--fork", "--kill-child", sys.executable, "-c", _AUTO_PROBE]
    result = subprocess.run(
        command, env=dict(os.environ, PYTHONPATH=str(WORKTREE)), capture_output=True, text=True, check=True
    )
    backend, reason = json.loads(result.stdout)

    assert backend == "poll"
    assert "pid namespace" in reason


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping capabilities with setpriv needs root")
def test_ptrace_works_without_privilege() -> None:
    results = _unprivileged_prepare()

    assert results["ptrace"][0] == "ptrace"
    assert results["ptrace_records"] == ["process.start", "process.exit"]


def test_prepare_states_reason_for_poll_and_off() -> None:
    poll = prepare(MonitorOptions(backend=Backend.POLL, interval=0.2))
    off = prepare(MonitorOptions(backend=Backend.OFF))

    assert poll.backend is Backend.POLL
    assert "0.2 s" in poll.reason
    assert off.backend is Backend.OFF
    assert "off" in off.reason


def test_start_twice_raises(janitor: ProcessJanitor) -> None:
    prepared = prepare(MonitorOptions(backend=Backend.POLL))
    shell = prepared.spawn(["/bin/true"])
    janitor.add(shell.pid)
    monitor = prepared.start(shell.pid, lambda record: None)

    with pytest.raises(MonitorError, match="already started"):
        prepared.start(shell.pid, lambda record: None)
    shell.wait()
    monitor.stop()


def test_spawn_reports_missing_program() -> None:
    prepared = prepare(MonitorOptions(backend=Backend.POLL))

    with pytest.raises(FileNotFoundError):
        prepared.spawn(["/nonexistent/program"])
