"""The netlink backend on real process trees (needs CAP_NET_ADMIN, as in CI)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from guard.monitor import Backend, EventKind, ExitPolicy, MonitorNotice, MonitorOptions, MonitorRecord
from guard.monitor.netlink import ConnectorReader, NetlinkMonitor, open_connector
from guard.monitor.procfs import LinuxProcfs
from tests.monitor.support import NETLINK_MISSING, ProcessJanitor, Session, make_fifo, release, wait_for

pytestmark = NETLINK_MISSING


def test_netlink_sees_every_short_process(start_session: Callable[..., Session]) -> None:
    session = start_session(Backend.NETLINK, "for i in $(seq 100); do /bin/true $i; done")
    session.finish()

    # Forks and exits come from the kernel, so none may be missing. Whether
    # argv could be read before a process exited depends on timing, so only
    # the count is checked here and the argv share is measured in bench/.
    starts = [event for event in session.events(EventKind.PROCESS_START) if event.pid != session.shell.pid]
    exits = [event for event in session.events(EventKind.PROCESS_EXIT) if event.pid != session.shell.pid]
    assert len(starts) == 101  # 100 runs of /bin/true and the subshell running seq
    assert sorted(event.pid for event in exits) == sorted(event.pid for event in starts)
    assert all(event.exit_status == 0 for event in exits)
    assert all(event.lifetime is not None and event.lifetime >= 0 for event in exits)


def test_netlink_reports_exit_status_and_signal(start_session: Callable[..., Session]) -> None:
    session = start_session(Backend.NETLINK, "sh -c 'exit 3'; sh -c 'kill -TERM $$'; exit 5")
    session.finish()

    # Told apart by order, not argv: a process this short may exit before its argv is read.
    statuses = [(event.exit_status, event.signal) for event in session.events(EventKind.PROCESS_EXIT)]
    assert statuses == [(3, None), (None, signal.SIGTERM), (5, None)]


def test_netlink_follows_double_fork_without_subreaper(
    start_session: Callable[..., Session], tmp_path: Path
) -> None:
    gate = make_fifo(tmp_path, "gate")
    session = start_session(Backend.NETLINK, f"(sleep 30 &); read line < {gate}", policy=ExitPolicy.LEAVE)
    session.wait_event(EventKind.PROCESS_START, ["sleep", "30"])
    release(gate)
    summary = session.finish()

    # The daemon was adopted by init, but it descends from the shell by fork.
    assert [leftover.argv for leftover in summary.leftovers] == [("sleep", "30")]


def test_netlink_rebuilds_tree_after_overflow(janitor: ProcessJanitor, tmp_path: Path) -> None:
    gate = make_fifo(tmp_path, "gate")
    done = tmp_path / "done"
    # A small buffer without a reader overflows while the shell runs 300 processes.
    sock = open_connector(receive_buffer=4096)
    shell = subprocess.Popen(
        ["bash", "-c", f"for i in $(seq 300); do /bin/true; done; sleep 30 & touch {done}; read line < {gate}"]
    )
    janitor.add(shell.pid)
    assert wait_for(done.exists)
    records: list[MonitorRecord] = []
    reader = ConnectorReader(sock, LinuxProcfs())
    monitor = NetlinkMonitor(reader, shell.pid, MonitorOptions(backend=Backend.NETLINK), records.append)
    try:
        assert wait_for(lambda: any(isinstance(record, MonitorNotice) for record in records))
        assert wait_for(lambda: monitor.live_count == 2)  # the shell and sleep 30, from /proc
    finally:
        release(gate)
        shell.wait()
        summary = monitor.stop()
        janitor.add_records(records)

    notices = [record for record in records if isinstance(record, MonitorNotice)]
    assert notices[0].kind == EventKind.EVENTS_LOST
    assert summary.lost_notices == len(notices)
    resynced = [record for record in records if getattr(record, "argv", None) == ("sleep", "30")]
    assert resynced[0].sampled is True
