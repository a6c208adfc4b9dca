"""Where rez called a guarded shell's `spawn_shell` from.

rez 3.4's `ResolvedContext.execute_shell` creates the shell, runs the context's
commands through it, writes the context script and calls `spawn_shell`. Its
frame contains the context (for the resolved variants) and the executor (for the
variables rez computed), which the plan needs and `spawn_shell` is not given.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping
from dataclasses import field

from rez.resolved_context import ResolvedContext

from guard.fastclass import dataclass

# execute_shell is wrapped by a decorator that checks the resolve succeeded; the frame is the inner function's.
_EXECUTE_SHELL = inspect.unwrap(ResolvedContext.execute_shell).__code__


@dataclass(frozen=True)
class LaunchSite:
    """The context being launched and the variables rez computed for it, when execute_shell called."""

    context: ResolvedContext | None = None
    environ: Mapping[str, str] = field(default_factory=dict)

    @property
    def from_execute_shell(self) -> bool:
        return self.context is not None


def find_launch_site(shell: object) -> LaunchSite:
    """Find the execute_shell call that created `shell`; an empty LaunchSite when there is none."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _EXECUTE_SHELL and frame.f_locals.get("sh") is shell:
            executor = frame.f_locals.get("executor")
            environ = executor.manager.environ if executor is not None else {}
            return LaunchSite(context=frame.f_locals.get("self"), environ=dict(environ))
        frame = frame.f_back
    return LaunchSite()
