"""Glue between the process monitor and the audit log, shared by every launch route."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable

from guard.audit import AuditSession
from guard.monitor import Backend, ExitPolicy, MonitorOptions, MonitorRecord, MonitorSummary, PreparedMonitor
from guard.policy import Policy

logger = logging.getLogger(__name__)


def monitor_options(requested_backend: str | None, policy: Policy) -> MonitorOptions:
    """Return the monitor options: `--monitor` if given, else the policy's backend, and the policy's exit policy."""
    return MonitorOptions(
        backend=Backend(requested_backend or policy.monitor_backend),
        exit_policy=ExitPolicy(policy.monitor_exit_policy),
    )


def audit_emitter(audit: AuditSession) -> Callable[[MonitorRecord], None]:
    """Return the monitor's `emit` callback: one audit record per process event or notice."""

    def emit(record: MonitorRecord) -> None:
        fields = record.to_dict()
        event = fields.pop("kind")
        if isinstance(fields.get("signal"), int):
            fields["signal"] = signal_name(fields["signal"])
        try:
            audit.emit(event, **fields)
        except Exception:  # the monitor thread must keep running when one record fails
            logger.exception("cannot write the %s record", event)

    return emit


def record_monitor_start(audit: AuditSession, prepared: PreparedMonitor, options: MonitorOptions) -> None:
    """Write which backend watches the shell and why (auto explains its choice)."""
    audit.emit("monitor.start", backend=prepared.backend.value, reason=prepared.reason,
               exit_policy=options.exit_policy.value, interval=options.interval)


def record_monitor_stop(audit: AuditSession, summary: MonitorSummary) -> None:
    """Write what the monitor saw and what it did to processes left running."""
    audit.emit("monitor.stop", **summary.to_dict())


def signal_name(number: int | None) -> str | None:
    """Return a signal's name (SIGTERM) for the audit log, or None."""
    if number is None:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"SIG{number}"
