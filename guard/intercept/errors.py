"""Errors raised inside rez's own processes: each is both a GuardError and a RezError.

rez's command line prints a RezError as one `ERROR` line and exits 1, and API
callers can catch it as a RezError. Any other exception type gives them a
traceback instead.
"""

from __future__ import annotations

from rez.exceptions import RezError

from guard.errors import ExitCode, GuardError


class InterceptError(GuardError, RezError):
    """A launch that reached rez-guard through rez's plugins failed; the message gives the cause.

    GuardError's constructor passes the message on to RezError, which keeps it
    as `value`, so str() and rez's `ERROR` line show the message.
    """


class LaunchVetoed(InterceptError):
    """rez-guard denied a shell launch that reached it through rez's shell plugins."""

    exit_code = ExitCode.DENIED


class UntestedRezVersion(InterceptError):
    """The installed rez is not one the interception hooks were tested with."""

    exit_code = ExitCode.CONFIG_ERROR


class HooksError(InterceptError):
    """Installing or removing the hooks failed."""

    exit_code = ExitCode.CONFIG_ERROR
