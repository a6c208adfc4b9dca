"""A Python API for launchers: start a program in a guarded rez environment.

Launchers that would call `ResolvedContext.execute_command()`, or take
`get_environ()` and start their own process, bypass every rez shell plugin,
so no hook can guard them. `launch()` runs the same isolated pipeline as
`rez-guard env`: resolve and record in a forked child, preview, decide, start
the command in the approved shell, monitor and audit.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from guard.cli.env import default_shell, load_collaborators
from guard.errors import UsageError
from guard.request import SUPPORTED_SHELLS, LaunchRequest
from guard.session import LaunchUI, run_session

# LaunchRequest fields that launch() sets itself from its own arguments.
_SET_BY_LAUNCH = frozenset({"packages", "command", "argv", "shell", "runargv"})


def launch(
    packages: Sequence[str],
    command: Sequence[str] | str,
    *,
    shell: str | None = None,
    ui: LaunchUI | None = None,
    interactive: bool | None = None,
    **options: Any,
) -> int:
    """Resolve `packages`, run `command` in the approved shell, and return its exit code.

    `command` is a list of words (run as they are) or one shell command line.
    `options` are LaunchRequest fields with rez-env's meaning (`paths`,
    `no_implicit`, `input`, `yes`, `time`, ...). `ui` shows the preview and asks
    (default: the terminal on stderr and stdin), and `interactive` says whether
    it may ask (default: whether stdin is a terminal). Without a terminal the
    policy's non-interactive rule decides. The shell starts from this
    process's environment, as with rez-env.

    Blocks until the command exits, and while the shell runs this process is
    a child subreaper, as `rez-guard env` is. Raises a GuardError subclass
    when the launch is denied (Denied), cannot resolve, or fails, with the
    cause in its message.
    """
    allowed = {field.name for field in fields(LaunchRequest)} - _SET_BY_LAUNCH
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise UsageError(f"launch() got unknown or reserved options {', '.join(unknown)}; "
                         "pass LaunchRequest fields other than packages, command, argv, shell and runargv")
    shell = shell or default_shell()
    if shell not in SUPPORTED_SHELLS:
        raise UsageError(f"unsupported shell {shell!r}; use one of {', '.join(SUPPORTED_SHELLS)}")
    if isinstance(command, str):
        command_line, argv = command, None
    else:
        command_line, argv = None, tuple(command)
    request = LaunchRequest(
        packages=tuple(packages),
        shell=shell,
        command=command_line,
        argv=argv,
        runargv=tuple(sys.argv),
        **options,
    )
    parts = load_collaborators(request)
    changes: dict[str, Any] = {}
    if ui is not None:
        changes["ui"] = ui
    if interactive is not None:
        changes["interactive"] = interactive
    return run_session(request, replace(parts, **changes))
