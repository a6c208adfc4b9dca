"""`rez-guard audit`: check the hash chain, list records and sessions, follow the log."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import click

from guard.audit.files import log_files
from guard.audit.reader import LogFollower, RecordFilter, parse_since, read_records, tail_records
from guard.audit.render import render_record, render_summary
from guard.audit.summary import summarize_sessions
from guard.audit.verify import VerifyReport, verify_logs
from guard.errors import ConfigError, GuardError, UsageError
from guard.paths import GuardPaths

# `audit verify` exits with this when the log was changed after it was written.
EXIT_TAMPERED: Final = 1
FOLLOW_INTERVAL_SECONDS: Final = 0.5

Command = TypeVar("Command", bound=Callable[..., Any])


def _exit_on_guard_error(command: Command) -> Command:
    """Print a GuardError as one line on stderr and exit with its code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GuardError as error:
            click.echo(f"rez-guard audit: {error.message}", err=True)
            click.get_current_context().exit(int(error.exit_code))

    return cast(Command, wrapper)


_log_option = click.option(
    "--log",
    "log_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Audit log file; its rotated files beside it are read too. "
    "[default: $XDG_STATE_HOME/rez-guard/audit.jsonl]",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of text.")


@click.group("audit")
def audit() -> None:
    """Check, list and follow the audit log."""


@audit.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@_log_option
@click.option("--schema", "check_schema", is_flag=True, help="Also check each record against the record schema.")
@_exit_on_guard_error
def verify(files: tuple[Path, ...], log_path: Path | None, check_schema: bool) -> None:
    """Check the hash chain of FILES, given oldest first, or of the log and its rotated files.

    Prints each problem as FILE:LINE: KIND: MESSAGE, the first one being the first
    bad record. Exits 1 when a record was edited, removed or reordered, or records
    are missing at the end. A line cut short by a writer that was killed is
    reported as truncated and does not fail the check.
    """
    paths = list(files) if files else _existing_log_files(log_path)
    try:
        report = verify_logs(paths, check_schema=check_schema)
    except OSError as error:
        raise ConfigError(f"reading audit log {error.filename} failed: {error.strerror}") from error

    for problem in report.problems:
        click.echo(str(problem))
    click.echo(_verify_summary(report))
    if not report.ok:
        click.get_current_context().exit(EXIT_TAMPERED)


def _verify_summary(report: VerifyReport) -> str:
    files = f"{len(report.files)} file" + ("s" if len(report.files) != 1 else "")
    first = report.first_break
    if first is not None:
        tampering = sum(problem.kind.is_tampering for problem in report.problems)
        return f"chain broken: first bad record at {first.path}:{first.line}; {tampering} problems in {files}"
    return f"chain intact: {report.records} records in {files}"


@audit.command()
@_log_option
@click.option("--session", "session_prefix", metavar="ID", help="Only the session whose id starts with ID.")
@click.option(
    "--since",
    metavar="TIME",
    help="Only records at or after TIME: an age such as 30m, 2h or 7d, or an ISO 8601 "
    "date or time (local time unless it has a zone).",
)
@click.option(
    "--event",
    "events",
    metavar="KIND",
    multiple=True,
    help="Only records of this event; repeatable. A family such as 'process' matches "
    "process.start and process.exit.",
)
@_json_option
@click.option(
    "--summary",
    is_flag=True,
    help="Print one summary per session (packages, decision, processes, exit) instead of "
    "records; --since and --event then select sessions with a matching record.",
)
@_exit_on_guard_error
def show(
    log_path: Path | None,
    session_prefix: str | None,
    since: str | None,
    events: tuple[str, ...],
    as_json: bool,
    summary: bool,
) -> None:
    """List audit records, one per line, oldest first."""
    since_time = _parse_since_option(since)
    record_filter = RecordFilter(session=session_prefix, since=since_time, events=events)
    paths = _existing_log_files(log_path)

    if not summary:
        for record in read_records(paths):
            if record_filter.matches(record):
                click.echo(_record_text(record, as_json))
        return

    records = list(read_records(paths))
    selected_sessions = {record.get("session") for record in records if record_filter.matches(record)}
    summaries = summarize_sessions(record for record in records if record.get("session") in selected_sessions)
    for index, session_summary in enumerate(summaries):
        if as_json:
            click.echo(json.dumps(session_summary.to_dict(), ensure_ascii=False))
            continue
        if index:
            click.echo()
        click.echo(render_summary(session_summary))


@audit.command()
@_log_option
@click.option(
    "-n",
    "--lines",
    "count",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Number of records to print before following.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing records as they are appended, until interrupted.")
@_json_option
@_exit_on_guard_error
def tail(log_path: Path | None, count: int, follow: bool, as_json: bool) -> None:
    """Print the last records of the log, and with -f the records appended after them."""
    path = _log_path(log_path)
    paths = log_files(path)
    if not paths and not follow:
        raise ConfigError(f"audit log not found: {path}; pass --log with the log file to read")

    records, offset = tail_records(paths, count)
    if path not in paths:
        # Only rotated files exist; follow the log from its first byte once it is created.
        offset = 0
    for record in records:
        click.echo(_record_text(record, as_json))
    if not follow:
        return

    follower = LogFollower(path, offset)
    try:
        while True:
            for record in follower.poll():
                click.echo(_record_text(record, as_json))
            time.sleep(FOLLOW_INTERVAL_SECONDS)
    except KeyboardInterrupt:
        pass
    finally:
        follower.close()


def _record_text(record: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return render_record(record)


def _log_path(log_path: Path | None) -> Path:
    if log_path is not None:
        return log_path
    return GuardPaths.from_environ(os.environ).audit_log


def _existing_log_files(log_path: Path | None) -> list[Path]:
    path = _log_path(log_path)
    paths = log_files(path)
    if not paths:
        raise ConfigError(f"audit log not found: {path}; pass --log with the log file to read")
    return paths


def _parse_since_option(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        return parse_since(since, datetime.now().astimezone())
    except ValueError as error:
        raise UsageError(f"--since: {error}") from None
