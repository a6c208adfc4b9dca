"""The guard's error type and its exit codes.

Every error the guard raises on purpose is a `GuardError`. Its message says what
failed, on which value, and what to do next; the CLI prints it as one line and
exits with the error's `exit_code`. When a shell ran, its own exit code passes
through unchanged instead.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes of rez-guard when no shell ran (listed in the README)."""

    OK = 0
    USAGE = 2
    RESOLVE_FAILED = 3
    PACKAGE_ERROR = 4
    DENIED = 5
    CONFIG_ERROR = 6
    LAUNCH_FAILED = 7
    ALERT = 8
    INTERNAL_ERROR = 70


class GuardError(Exception):
    """An expected failure with a one-line message and an exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(GuardError):
    """The command line is invalid."""

    exit_code = ExitCode.USAGE


class ResolveFailed(GuardError):
    """rez could not resolve the request, or could not load the context file."""

    exit_code = ExitCode.RESOLVE_FAILED


class PackageError(GuardError):
    """A package's definition or commands failed while loading or recording."""

    exit_code = ExitCode.PACKAGE_ERROR


class Denied(GuardError):
    """The launch was denied by the user, the policy or the trust store."""

    exit_code = ExitCode.DENIED


class ConfigError(GuardError):
    """The guard's policy, trust store or audit log cannot be used."""

    exit_code = ExitCode.CONFIG_ERROR


class LaunchFailed(GuardError):
    """The approved shell could not be started as shown."""

    exit_code = ExitCode.LAUNCH_FAILED


class IntegrityAlert(GuardError):
    """Package code changed something the guard relies on (trust, policy, audit)."""

    exit_code = ExitCode.ALERT


class InternalError(GuardError):
    """Something the guard did not expect; a bug to report."""

    exit_code = ExitCode.INTERNAL_ERROR
