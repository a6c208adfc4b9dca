"""The audit trail: a hash-chained JSON Lines log of every guarded launch, and its sinks.

`open_audit_log` opens the log, and an `AuditSession` writes the records of one
launch. `verify_logs` checks the chain. `validate_record` checks one record
against the schema that docs/audit.md documents.
"""

from guard.audit.log import AuditLog, AuditOptions, AuditWriteError, open_audit_log
from guard.audit.schema import SCHEMA_VERSION, validate_record
from guard.audit.session import AuditSession, redact_values
from guard.audit.syslog import SinkSpec, Transport
from guard.audit.verify import VerifyReport, verify_logs

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
