"""Checking a chain: which record was edited, removed, reordered or cut off."""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from guard.audit.chain import ChainHead, line_hash, read_head
from guard.audit.schema import GENESIS_HASH, validate_record
from guard.fastclass import dataclass


class ProblemKind(enum.StrEnum):
    """A kind of problem that verify finds in a log."""

    # A line cut short by a writer that stopped mid-write; the chain skips it.
    TRUNCATED_LINE = "truncated_line"
    # The first record links to a file that was not checked (a rotated file not given).
    EARLIER_FILE_MISSING = "earlier_file_missing"
    # A record does not link to the line before it: that line was edited, or records were removed.
    BROKEN_LINK = "broken_link"
    # A record links to a line elsewhere in the files: records were moved or copied.
    REORDERED = "reordered"
    # The record of the last append, named by the head file, is not in the log:
    # records were removed from its end, the last one was edited, or the file was replaced.
    MISSING_AT_END = "missing_at_end"
    # The head file's record is in the log but ends at another offset: records before it
    # were removed, added or changed in length.
    HEAD_MISMATCH = "head_mismatch"
    # A writer found the log changed outside the guard and wrote a log.changed record.
    LOG_CHANGED = "log_changed"
    # The head file beside the log is not a valid head.
    HEAD_INVALID = "head_invalid"
    # A record breaks the schema (only with check_schema).
    SCHEMA = "schema"

    @property
    def is_tampering(self) -> bool:
        """Whether this problem means the log was changed after it was written."""
        return self not in (ProblemKind.TRUNCATED_LINE, ProblemKind.EARLIER_FILE_MISSING)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One problem at one line of one file (line numbers start at 1)."""

    kind: ProblemKind
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind.value}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of checking one chain across one or more files."""

    files: tuple[Path, ...]
    records: int
    problems: tuple[ChainProblem, ...]

    @property
    def ok(self) -> bool:
        """True when no problem means tampering (truncated lines are allowed)."""
        return not any(problem.kind.is_tampering for problem in self.problems)

    @property
    def first_break(self) -> ChainProblem | None:
        """The first problem that means tampering, in file order."""
        return next((problem for problem in self.problems if problem.kind.is_tampering), None)


@dataclass(frozen=True, slots=True)
class _Position:
    file_index: int
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(slots=True)
class _Break:
    at: _Position
    prev: str
    before: _Position | None
    invalid_lines: list[_Position]


@dataclass(slots=True)
class _ChainState:
    """The state of the walk over the lines of all files."""

    last_hash: str | None = None
    last_position: _Position | None = None
    records: int = 0
    # NOTE: one entry per line of every file checked (roughly 200 bytes each), so
    # checking millions of records at once takes hundreds of MiB of memory.
    positions: dict[str, _Position] = field(default_factory=dict)
    breaks: list[_Break] = field(default_factory=list)
    invalid_lines: list[_Position] = field(default_factory=list)
    problems: list[ChainProblem] = field(default_factory=list)


def verify_logs(paths: Sequence[Path], check_schema: bool = False) -> VerifyReport:
    """Check the chain through `paths`, given oldest first (rotated files, then the log).

    Raises OSError when a file cannot be read.
    """
    state = _ChainState()
    for file_index, path in enumerate(paths):
        _verify_file(file_index, Path(path), state, check_schema)

    for invalid in state.invalid_lines:
        state.problems.append(
            ChainProblem(ProblemKind.BROKEN_LINK, invalid.path, invalid.line, "not a valid record, and no record follows it")
        )
    for chain_break in state.breaks:
        state.problems.append(_classify(chain_break, state.positions))

    ordered = sorted(state.problems, key=lambda problem: (_file_order(paths, problem.path), problem.line))
    return VerifyReport(files=tuple(Path(path) for path in paths), records=state.records, problems=tuple(ordered))


def _file_order(paths: Sequence[Path], path: Path) -> int:
    return [Path(candidate) for candidate in paths].index(path)


def _verify_file(file_index: int, path: Path, state: _ChainState, check_schema: bool) -> None:
    # Read the head before the log. Writers only append, so the log read next is
    # at least as long as the head records, unless records were removed.
    head, head_problem = _read_head_checked(path)
    if head_problem is not None:
        state.problems.append(head_problem)
    head_record_end: int | None = None
    first_prev: str | None = None

    with open(path, "rb") as stream:
        inode = os.fstat(stream.fileno()).st_ino
        offset = 0
        line_number = 0
        for line_number, raw in enumerate(stream, start=1):
            position = _Position(file_index, path, line_number)
            offset += len(raw)
            if not raw.endswith(b"\n"):
                state.problems.append(
                    ChainProblem(
                        ProblemKind.TRUNCATED_LINE,
                        path,
                        line_number,
                        f"partial line of {len(raw)} bytes at the end of the file (a writer stopped mid-write)",
                    )
                )
                break
            line = raw[:-1]
            record = _parse_record(line)
            if record is None:
                state.invalid_lines.append(position)
                continue

            digest = line_hash(line)
            if first_prev is None:
                first_prev = record["prev"]
            _check_link(record, position, state)
            state.positions.setdefault(digest, position)
            state.last_hash, state.last_position = digest, position
            state.records += 1
            if head is not None and digest == head.last:
                head_record_end = offset
            _check_record(record, position, state, check_schema)

    if head is not None:
        problem = _check_head(head, path, inode, line_number, offset, head_record_end, first_prev, state)
        if problem is not None:
            state.problems.append(problem)


def _check_head(
    head: ChainHead,
    path: Path,
    inode: int,
    last_line: int,
    size: int,
    head_record_end: int | None,
    first_prev: str | None,
    state: _ChainState,
) -> ChainProblem | None:
    if head.inode != inode:
        # The head was written before a rotation: its record is in a rotated file
        # given before this one, or this file's first record links to it.
        if size == 0 or head.last in state.positions or first_prev == head.last:
            return None
    elif head_record_end == head.size:
        return None
    elif head_record_end is not None:
        return ChainProblem(
            ProblemKind.HEAD_MISMATCH,
            path,
            last_line,
            f"the record of the last append ({head.last[:12]}) ends at byte {head_record_end}, but the head "
            f"file recorded byte {head.size}: records before it were removed, added or changed in length",
        )
    return ChainProblem(
        ProblemKind.MISSING_AT_END,
        path,
        last_line,
        f"the record of the last append ({head.last[:12]}, ending at byte {head.size}) is not in the file "
        f"of {size} bytes: records were removed from the end, the last record was edited, or the file "
        "was replaced",
    )


def _read_head_checked(path: Path) -> tuple[ChainHead | None, ChainProblem | None]:
    head = read_head(path)
    if head is not None:
        return head, None
    head_file = path.with_name(path.name + ".head")
    if head_file.exists() and head_file.stat().st_size > 0:
        message = f"head file {head_file} is not valid JSON with inode, size and last"
        return None, ChainProblem(ProblemKind.HEAD_INVALID, path, 0, message)
    return None, None


def _parse_record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("prev"), str):
        return None
    return record


def _check_link(record: dict[str, Any], position: _Position, state: _ChainState) -> None:
    prev = record["prev"]
    if state.last_hash is None:
        if prev != GENESIS_HASH:
            state.problems.append(
                ChainProblem(
                    ProblemKind.EARLIER_FILE_MISSING,
                    position.path,
                    position.line,
                    f"the chain starts in an earlier file (prev {prev[:12]}); pass the rotated files, "
                    "oldest first, to check that link",
                )
            )
    elif prev != state.last_hash:
        state.breaks.append(_Break(position, prev, state.last_position, state.invalid_lines))
    else:
        # The record links past the invalid lines before it, so they were never
        # records of the chain: writes cut short and ended by the next writer.
        for invalid in state.invalid_lines:
            state.problems.append(
                ChainProblem(
                    ProblemKind.TRUNCATED_LINE,
                    invalid.path,
                    invalid.line,
                    "partial line from a write cut short; the next record links past it",
                )
            )
    state.invalid_lines = []


def _check_record(record: dict[str, Any], position: _Position, state: _ChainState, check_schema: bool) -> None:
    if record.get("event") == "log.changed":
        state.problems.append(
            ChainProblem(
                ProblemKind.LOG_CHANGED,
                position.path,
                position.line,
                f"a writer found the log changed before this line: the record of the last append did not "
                f"end at byte {record.get('head_size')} of the {record.get('size')} bytes then in the file",
            )
        )
    if check_schema:
        for problem in validate_record(record):
            state.problems.append(ChainProblem(ProblemKind.SCHEMA, position.path, position.line, problem))


def _classify(chain_break: _Break, positions: dict[str, _Position]) -> ChainProblem:
    at = chain_break.at
    linked = positions.get(chain_break.prev)
    if linked is not None and (linked.file_index, linked.line) > (at.file_index, at.line):
        message = f"links to {linked}, which comes after it: records were reordered"
        return ChainProblem(ProblemKind.REORDERED, at.path, at.line, message)
    if linked is not None:
        message = f"links to {linked} instead of {chain_break.before}: records were reordered or copied"
        return ChainProblem(ProblemKind.REORDERED, at.path, at.line, message)
    if chain_break.invalid_lines:
        invalid = ", ".join(str(position) for position in chain_break.invalid_lines)
        message = f"does not link to {chain_break.before}; {invalid} is not a valid record: a record there was edited"
        return ChainProblem(ProblemKind.BROKEN_LINK, at.path, at.line, message)
    message = (
        f"does not link to the record before it ({chain_break.before}): that record was edited, "
        "or records between them were removed"
    )
    return ChainProblem(ProblemKind.BROKEN_LINK, at.path, at.line, message)
