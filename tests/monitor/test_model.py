"""The monitor's values and their JSON form."""

from __future__ import annotations

import json

import pytest

from guard.errors import UsageError
from guard.monitor import (
    DEFAULT_POLL_INTERVAL,
    Backend,
    EventKind,
    ExitPolicy,
    Leftover,
    LeftoverAction,
    MonitorOptions,
    MonitorSummary,
    ProcessEvent,
)


def test_options_defaults() -> None:
    options = MonitorOptions()

    assert options.backend is Backend.AUTO
    assert options.exit_policy is ExitPolicy.REPORT
    assert options.interval == DEFAULT_POLL_INTERVAL
    assert options.grace_period == 2.0


@pytest.mark.parametrize("interval", [0, -1, float("nan")])
def test_options_reject_invalid_interval(interval: float) -> None:
    with pytest.raises(UsageError, match="interval"):
        MonitorOptions(interval=interval)


def test_options_reject_negative_grace_period() -> None:
    with pytest.raises(UsageError, match="grace period"):
        MonitorOptions(grace_period=-1)


def test_process_event_to_dict_is_json() -> None:
    event = ProcessEvent(
        kind=EventKind.PROCESS_EXIT,
        pid=10,
        ppid=1,
        start_time=1000.0,
        exe="/bin/true",
        argv=("/bin/true", "\udcff"),
        cwd="/",
        uid=0,
        exit_status=None,
        signal=9,
        lifetime=0.5,
        sampled=True,
    )

    data = event.to_dict()

    assert data["kind"] == "process.exit"
    assert data["argv"] == ["/bin/true", "\udcff"]
    assert json.loads(json.dumps(data)) == data


def test_summary_to_dict_lists_leftovers() -> None:
    leftover = Leftover(pid=5, ppid=1, start_time=None, exe=None, argv=None, action=LeftoverAction.KILLED)
    summary = MonitorSummary(
        backend=Backend.POLL,
        exit_policy=ExitPolicy.TERMINATE,
        processes_seen=3,
        events_emitted=6,
        lost_notices=0,
        emit_errors=0,
        leftovers=(leftover,),
    )

    data = summary.to_dict()

    assert data["leftovers"] == [
        {"pid": 5, "ppid": 1, "start_time": None, "exe": None, "argv": None, "action": "killed"}
    ]
    assert data["backend"] == "poll"
    json.dumps(data)
