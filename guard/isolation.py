"""Run package code in a forked child and take back only plain data.

The parent forks after rez is imported and after it has read its policy and
trust store. The child runs the task, writes one length-prefixed JSON document
to a pipe and exits. The parent never unpickles or imports anything the child
produced, so package code cannot change the parent's own state.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from guard.errors import GuardError, InternalError

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">Q")
# A plan of 5,000 actions is about 2 MB of JSON; anything far past that is a broken or hostile child.
MAX_RESULT_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ChildFailure:
    """An expected error raised inside the child, carried back as its class name and message."""

    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class ChildResult:
    """What came back from the child: a value, or a failure."""

    value: Any = None
    failure: ChildFailure | None = None
    exit_status: int = 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _child_main(task: Callable[[], Any], result_fd: int) -> int:
    try:
        payload: dict[str, Any] = {"value": task()}
        status = 0
    except GuardError as error:
        payload = {"failure": {"kind": type(error).__name__, "message": error.message}}
        status = 1
    except BaseException as error:  # the child reports every failure, then exits
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        payload = {"failure": {"kind": "InternalError", "message": detail}}
        logger.debug("recording child failed:\n%s", traceback.format_exc())
        status = 1
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    _write_all(result_fd, _HEADER.pack(len(data)) + data)
    return status


def run_isolated(task: Callable[[], Any]) -> ChildResult:
    """Run `task` in a forked child and return its JSON-compatible result.

    The task's own exceptions come back as a `ChildFailure`; a child that dies
    or writes nothing valid raises `InternalError` here.
    """
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        status = 70
        try:
            status = _child_main(task, write_fd)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)

    os.close(write_fd)
    try:
        header = _read_exactly(read_fd, _HEADER.size)
        body = b""
        if len(header) == _HEADER.size:
            (size,) = _HEADER.unpack(header)
            if size > MAX_RESULT_BYTES:
                raise InternalError(
                    f"the recording child sent {size} bytes, over the limit of {MAX_RESULT_BYTES}; "
                    "run with -v to see what the packages printed")
            body = _read_exactly(read_fd, size)
    finally:
        os.close(read_fd)
        _, wait_status = os.waitpid(pid, 0)
    exit_status = os.waitstatus_to_exitcode(wait_status)

    if len(header) != _HEADER.size or len(body) != _HEADER.unpack(header)[0]:
        raise InternalError(
            f"the recording child (pid {pid}) exited with status {exit_status} before sending its result; "
            "run with -v for details")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InternalError(f"the recording child sent an invalid result: {error}") from error

    failure = payload.get("failure") if isinstance(payload, dict) else None
    if failure is not None:
        return ChildResult(
            failure=ChildFailure(kind=str(failure.get("kind")), message=str(failure.get("message"))),
            exit_status=exit_status,
        )
    return ChildResult(value=payload.get("value"), exit_status=exit_status)
