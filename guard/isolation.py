"""Run package code in a confined, forked child and take back only plain data.

The parent forks after rez is imported and after it has read its policy. The
caller may give work to do while the child runs (a session reads its trust
store then). The child confines itself (see `guard.sandbox`), runs the task,
writes one length-prefixed JSON document to a pipe and exits. The parent never
unpickles or imports anything the child produced, so package code cannot change
the parent's own state. While the child runs, the parent serves its pipes and
seccomp notifications. Afterwards it kills what the child left running and
returns the result with a `SandboxReport`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import struct
import sys
import traceback
from collections.abc import Callable
from dataclasses import field
from typing import Any, NoReturn

from guard.errors import GuardError, InternalError
from guard.fastclass import dataclass
from guard.sandbox import child as sandbox_child
from guard.sandbox.options import SandboxOptions
from guard.sandbox.parent import ParentSide
from guard.sandbox.report import Layer, LayerState, SandboxReport, SandboxSummary
from guard.sandbox.supervisor import Supervisor

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">Q")
# A plan of 5,000 actions is about 2 MB of JSON; anything far past that is a broken or hostile child.
MAX_RESULT_BYTES = 256 * 1024 * 1024
# Exit status of a child that failed before it could report (EX_SOFTWARE).
_CHILD_CRASHED = 70


@dataclass(frozen=True, slots=True)
class ChildFailure:
    """An expected error raised inside the child, carried back as its class name and message."""

    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class ChildResult:
    """The child's result: a value or a failure, and the sandbox's report."""

    value: Any = None
    failure: ChildFailure | None = None
    exit_status: int = 0
    report: SandboxReport = field(default_factory=SandboxReport)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


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


def _run_child(task: Callable[[], Any], plan: sandbox_child.ChildPlan) -> NoReturn:
    status = _CHILD_CRASHED
    try:
        try:
            sandbox_child.enter(plan)
        except BaseException as error:  # package code must not run in a half-built sandbox
            message = f"cannot confine the recording child: {error}; run with -v for details"
            logger.debug("sandbox set-up failed:\n%s", traceback.format_exc())
            data = json.dumps({"failure": {"kind": "InternalError", "message": message}}).encode("utf-8")
            _write_all(plan.result_fd, _HEADER.pack(len(data)) + data)
        else:
            status = _child_main(task, plan.result_fd)
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


@dataclass(frozen=True, slots=True)
class _RawRun:
    data: bytes
    pid: int
    exit_status: int
    report: SandboxReport


def run_isolated(task: Callable[[], Any], options: SandboxOptions | None = None, *,
                 while_child_runs: Callable[[], None] | None = None) -> ChildResult:
    """Run `task` in a confined, forked child and return its JSON-compatible result.

    The task's own exceptions come back as a `ChildFailure`; a child that dies
    or writes nothing valid raises `InternalError` here. `options` selects the
    layers and folders (the default requests every layer, with nothing protected).
    `while_child_runs` is called in the guard right after the fork, before it
    serves the child; an exception from it stops the child and is raised here.
    """
    run = _run(task, options if options is not None else SandboxOptions(), while_child_runs)
    value, failure = _parse_result(run.data, run.pid, run.exit_status)
    return ChildResult(value=value, failure=failure, exit_status=run.exit_status, report=run.report)


def probe_sandbox(options: SandboxOptions | None = None) -> SandboxSummary:
    """Run a child that confines itself and runs nothing; return which layers it got.

    When the probe child cannot be started, every requested layer is reported off with the reason.
    """
    options = options if options is not None else SandboxOptions()
    try:
        return _run(_do_nothing, options).report.summary
    except OSError as error:
        logger.warning("cannot probe the sandbox: %s", error)
        reason = f"probe failed: {error.strerror or error}"
        return SandboxSummary(tuple(LayerState(layer, False, reason) for layer in Layer if layer in options.layers))


def _do_nothing() -> None:
    return None


def _run(task: Callable[[], Any], options: SandboxOptions,
         while_child_runs: Callable[[], None] | None = None) -> _RawRun:
    sys.stdout.flush()
    sys.stderr.flush()
    with ParentSide(options) as parent:
        # Signals wait while the guard forks, so a handler that raises (Ctrl-C) lands
        # after the child's pid is known and the child is stopped below.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        pid = 0
        try:
            pid = os.fork()
            if pid == 0:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                _run_child(task, parent.child_plan())
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            parent.close_child_ends()
            if while_child_runs is not None:
                while_child_runs()
            supervisor = _supervise(parent, pid)
        except BaseException:
            # Ctrl-C or a bug in the loop: stop the child and what it started before passing the error on.
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            if pid > 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                parent.kill_leftovers()
            raise
        _, wait_status = os.waitpid(pid, 0)
        exit_status = os.waitstatus_to_exitcode(wait_status)
        parent.kill_leftovers()
        return _RawRun(bytes(supervisor.transcript.result), pid, exit_status, parent.report(supervisor.transcript))


def _supervise(parent: ParentSide, pid: int) -> Supervisor:
    supervisor = Supervisor(pid, parent.result.read_fd, parent.output.read_fd, parent.control, parent.watch,
                            parent.start_notifications, _HEADER.size + MAX_RESULT_BYTES,
                            parent.options.max_output_bytes)
    supervisor.run()
    return supervisor


def _parse_result(data: bytes, pid: int, exit_status: int) -> tuple[Any, ChildFailure | None]:
    header = data[: _HEADER.size]
    if len(header) == _HEADER.size:
        (size,) = _HEADER.unpack(header)
        if size > MAX_RESULT_BYTES:
            raise InternalError(
                f"the recording child sent {size} bytes, over the limit of {MAX_RESULT_BYTES}; "
                "run with -v to see what the packages printed")
    body = data[_HEADER.size:]
    if len(header) != _HEADER.size or len(body) < _HEADER.unpack(header)[0]:
        raise InternalError(
            f"the recording child (pid {pid}) exited with status {exit_status} before sending its result; "
            "run with -v for details")
    body = body[: _HEADER.unpack(header)[0]]
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InternalError(f"the recording child sent an invalid result: {error}") from error

    failure = payload.get("failure") if isinstance(payload, dict) else None
    if failure is not None:
        return None, ChildFailure(kind=str(failure.get("kind")), message=str(failure.get("message")))
    return payload.get("value"), None
