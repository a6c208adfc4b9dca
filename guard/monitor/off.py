"""The off backend: no monitoring at all."""

from __future__ import annotations

from guard.monitor.base import Monitor
from guard.monitor.model import Backend, MonitorOptions
from guard.monitor.procfs import ProcessSource
from guard.monitor.recorder import Emit


class OffMonitor(Monitor):
    """Emits nothing and finds no leftovers; `stop()` returns an empty summary."""

    def __init__(self, root_pid: int, options: MonitorOptions, emit: Emit, source: ProcessSource) -> None:
        super().__init__(Backend.OFF, root_pid, options, emit, source, sampled=False)
        self.start_thread()

    def _run(self) -> None:
        self._stop_requested.wait()
