"""run_isolated and probe_sandbox with every layer: results, failures, interruption and the probe."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from guard.errors import InternalError
from guard.isolation import probe_sandbox, run_isolated
from guard.sandbox.options import SandboxOptions
from guard.sandbox.report import ALL_LAYERS, Layer, SandboxSummary


class Interrupted(Exception):
    """Raised by the test's signal handler, standing in for Ctrl-C."""


def test_result_comes_back_as_data():
    result = run_isolated(lambda: {"pid": os.getpid(), "items": [1, "two"]})

    assert result.failure is None
    assert result.value["items"] == [1, "two"]
    assert result.value["pid"] != os.getpid()
    assert result.exit_status == 0


def test_task_failure_comes_back():
    def fail() -> None:
        raise ValueError("broken package")

    result = run_isolated(fail)

    assert result.failure is not None
    assert result.failure.kind == "InternalError"
    assert "broken package" in result.failure.message


def test_child_that_dies_raises():
    with pytest.raises(InternalError, match="before sending its result"):
        run_isolated(lambda: os._exit(3))


def test_probe_lists_every_layer():
    summary = probe_sandbox(SandboxOptions())

    assert {state.layer for state in summary.layers} == set(ALL_LAYERS)
    assert summary.state(Layer.DESCRIPTORS).active
    assert summary.describe().startswith("sandbox: descriptors")


def test_probe_only_requested_layers():
    summary = probe_sandbox(SandboxOptions(layers=frozenset({Layer.LANDLOCK})))

    assert [state.layer for state in summary.layers] == [Layer.LANDLOCK]


def test_interrupted_run_kills_child():
    finished = threading.Event()
    children_before = {process.pid for process in psutil.Process().children(recursive=True)}

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    def send_signal() -> None:
        # Wait until the child exists, so the signal lands while the guard serves it.
        while len(psutil.Process().children()) <= len(children_before):
            if finished.wait(0.01):
                return
        os.kill(os.getpid(), signal.SIGUSR1)

    # The handler stays installed until the sender has stopped, so a late signal cannot end the test process.
    previous = signal.signal(signal.SIGUSR1, interrupt)
    sender = threading.Thread(target=send_signal)
    try:
        sender.start()
        with pytest.raises(Interrupted):
            run_isolated(lambda: time.sleep(600))
    finally:
        finished.set()
        sender.join()
        signal.signal(signal.SIGUSR1, previous)

    children_after = {process.pid for process in psutil.Process().children(recursive=True)}
    assert children_after <= children_before


def test_report_news_only_beyond_probe():
    probed = probe_sandbox(SandboxOptions())

    quiet = run_isolated(lambda: None).report
    loud = run_isolated(lambda: os.kill(os.getppid(), 0)).report

    assert not quiet.has_news(probed)
    assert loud.has_news(probed)
    assert quiet.has_news(SandboxSummary(()))
