"""The audit trail: a hash-chained JSON Lines log of every guarded launch, and its sinks.

`open_audit_log` opens the log, and an `AuditSession` writes the records of one
launch. `verify_logs` checks the chain. `validate_record` checks one record
against the schema that docs/audit.md documents.
"""

from guard.audit.log import AuditLog, AuditOptions, AuditWriteError, open_audit_log
from guard.audit.schema import SCHEMA_VERSION, validate_record
from guard.audit.session import AuditSession, redact_values
from guard.audit.syslog import SinkSpec, Transport

# Only `rez-guard audit` verifies logs, so a launch does not import the verifier.
_LAZY = {"VerifyReport", "verify_logs"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from guard.audit import verify

        return getattr(verify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SCHEMA_VERSION",
    "AuditLog",
    "AuditOptions",
    "AuditSession",
    "AuditWriteError",
    "SinkSpec",
    "Transport",
    "VerifyReport",
    "open_audit_log",
    "redact_values",
    "validate_record",
    "verify_logs",
]
