"""Which package variant and phase is emitting a shell action, read from rez's call stack.

In the recording child the guard runs rez's executor itself and marks when
package code runs (guard/record.py). A launch through rez's shell plugins runs
rez's own executor in the caller's process, so the guarded shell reads the call
stack instead. Package code runs inside `RexExecutor.execute_code`, whose `code`
argument names the package and the function (commands, pre_commands,
pre_build_commands, ...). Pinned to rez 3.4, like the rest of the hooks.
"""

from __future__ import annotations

import inspect
import sys
from types import FrameType
from typing import Any

from rez.resolved_context import ResolvedContext
from rez.rex import RexExecutor

from guard.fastclass import dataclass
from guard.plan import Phase

_EXECUTE_CODE = RexExecutor.execute_code.__code__
# ResolvedContext._execute runs each package function with the function's name in its local `attr`.
_CONTEXT_EXECUTE = inspect.unwrap(ResolvedContext._execute).__code__
_PHASES = {phase.value: phase for phase in Phase if phase is not Phase.REZ}


@dataclass(frozen=True, slots=True)
class CodeOrigin:
    """The package function running right now, or none when rez itself is writing."""

    in_package_code: bool
    variant: str | None = None
    phase: Phase = Phase.REZ


def _execute_code_frame() -> FrameType | None:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _EXECUTE_CODE:
            return frame
        frame = frame.f_back
    return None


def _variant_name(code: Any, executor: Any) -> str | None:
    # rez's own loop sets the variant on the code; rez-build and rez-test bind it as `this` instead.
    package = getattr(code, "package", None)
    if package is None:
        package = getattr(executor, "globals", {}).get("this")
    name = getattr(package, "qualified_name", None)
    return None if name is None else str(name)


def code_origin() -> CodeOrigin:
    """Return which package function, if any, is on the call stack."""
    frame = _execute_code_frame()
    if frame is None:
        return CodeOrigin(in_package_code=False)
    code = frame.f_locals.get("code")
    executor = frame.f_locals.get("self")
    caller = frame.f_back
    if caller is not None and caller.f_code is _CONTEXT_EXECUTE:
        function_name = caller.f_locals.get("attr")
    else:
        function_name = getattr(code, "funcname", None)
    phase = _PHASES.get(str(function_name or ""), Phase.COMMANDS)
    return CodeOrigin(in_package_code=True, variant=_variant_name(code, executor), phase=phase)


class StackAttribution:
    """The attribution that guard.record's RecordingInterpreter reads, taken from the call stack.

    RecordingInterpreter sets `phase` from rez's header comments; here the phase
    comes from the running package function instead, so that value is ignored.
    """

    @property
    def in_package_code(self) -> bool:
        return code_origin().in_package_code

    @property
    def variant(self) -> str | None:
        return code_origin().variant

    @property
    def phase(self) -> Phase:
        return code_origin().phase

    @phase.setter
    def phase(self, value: Phase) -> None:
        del value
