"""Launch the approved shell through rez's shell plugin.

The parent writes the rendered context script and the rxt file into the
session's temporary folder and hands them to rez's `spawn_shell`, which adds
the shell's own startup wiring (rc files, prompt) and starts the process.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import select
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from rez import shells as rez_shells
from rez.config import config
from rez.shells import Shell

from guard.errors import LaunchFailed
from guard.fastclass import dataclass
from guard.intercept.plain import create_plain_shell
from guard.monitor import ShellProcess
from guard.plan import Op, SourcedFile, StartupPlan
from guard.request import LaunchRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionDir:
    """The session's temporary folder and the files rez puts in it."""

    path: Path
    rxt_file: Path
    context_file: Path

    @classmethod
    def create(cls, shell: str) -> SessionDir:
        root = config.context_tmpdir or None
        path = Path(tempfile.mkdtemp(prefix="rez-guard_", dir=root))
        extension = create_plain_shell(shell).file_extension()
        return cls(path=path, rxt_file=path / "context.rxt", context_file=path / f"context.{extension}")

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def _expand(text: str, environ: Mapping[str, str]) -> str:
    # The shell expands $VAR, ${VAR} and a leading ~ in a sourced path; unknown variables stay as written.
    def substitute(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        return environ.get(name, match.group(0))

    expanded = _VARIABLE.sub(substitute, text)
    if expanded.startswith("~"):
        home = environ.get("HOME")
        if home and (expanded == "~" or expanded.startswith("~/")):
            expanded = home + expanded[1:]
    return expanded


def _hash_file(path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def snapshot_sourced_files(plan: StartupPlan, parent_environ: Mapping[str, str]) -> tuple[SourcedFile, ...]:
    """Take path, size and sha256 of every file the plan sources."""
    environ = {**parent_environ, **plan.environ}
    snapshots = []
    for index, action in enumerate(plan.actions):
        if action.op is not Op.SOURCE:
            continue
        path = _expand(action.text, environ)
        try:
            size, sha256 = _hash_file(path)
            snapshots.append(SourcedFile(index, path, size, sha256))
        except OSError as error:
            snapshots.append(SourcedFile(index, path, None, None, error.strerror or str(error)))
    return tuple(snapshots)


def with_sourced_files(plan: StartupPlan, parent_environ: Mapping[str, str]) -> StartupPlan:
    """Return the plan with its sourced-file snapshots filled in."""
    return replace(plan, sourced=snapshot_sourced_files(plan, parent_environ))


def check_sourced_unchanged(plan: StartupPlan) -> None:
    """Raise LaunchFailed when a sourced file changed since it was approved."""
    for snapshot in plan.sourced:
        if snapshot.sha256 is None:
            continue
        try:
            _, sha256 = _hash_file(snapshot.path)
        except OSError as error:
            raise LaunchFailed(
                f"sourced file {snapshot.path} became unreadable after approval ({error.strerror}); "
                "launch again to review it") from error
        if sha256 != snapshot.sha256:
            raise LaunchFailed(
                f"sourced file {snapshot.path} changed after approval (sha256 {sha256[:12]}, "
                f"approved {snapshot.sha256[:12]}); launch again to review the new content")


def stdin_has_data(wanted: bool) -> bool:
    """Apply rez-env's rule: --stdin counts only when standard input has data waiting."""
    if not wanted:
        return False
    try:
        return bool(select.select([sys.stdin], [], [], 0.0)[0])
    except (OSError, ValueError):
        return False


def spawn_shell(
    plan: StartupPlan,
    request: LaunchRequest,
    session_dir: SessionDir,
    script: str,
    rxt_text: str,
    rxt_file: str,
    spawn: Callable[..., ShellProcess] | None = None,
    plugin: Shell | None = None,
) -> ShellProcess:
    """Write the session files and start the shell through `plugin` (rez's own by default); return its process.

    `spawn` replaces `subprocess.Popen` for the shell itself, for a monitor that
    must start the shell (ptrace).
    """
    session_dir.context_file.write_text(script, encoding="utf-8")
    if rxt_file == str(session_dir.rxt_file):
        session_dir.rxt_file.write_text(rxt_text, encoding="utf-8")

    shell = plugin if plugin is not None else create_plain_shell(plan.shell)
    command: str | None = request.command
    if request.argv is not None:
        command = shell.join(list(request.argv)) if request.argv else ""
    popen_args = dict(config.new_session_popen_args) if request.new_session else {}
    pre_command = request.pre_command
    if request.detached and config.terminal_emulator_command:
        pre_command = config.terminal_emulator_command.strip().split()
    quiet = request.quiet or bool(command)
    logger.debug("spawning %s with context %s", plan.shell, session_dir.context_file)
    try:
        with _shell_started_by(spawn):
            return shell.spawn_shell(
                str(session_dir.context_file),
                str(session_dir.path),
                rcfile=request.rcfile,
                norc=request.norc,
                stdin=stdin_has_data(request.stdin),
                command=command,
                env=None,
                quiet=quiet,
                pre_command=pre_command,
                **popen_args,
            )
    except Exception as error:  # rez wraps OS errors in RezSystemError; both end the launch
        raise LaunchFailed(f"cannot start {plan.shell}: {error}") from error


@contextlib.contextmanager
def _shell_started_by(spawn: Callable[..., ShellProcess] | None) -> Iterator[None]:
    """Make rez's spawn_shell start the shell with `spawn` instead of its Popen, for the call's duration.

    NOTE: rez 3.4's spawn_shell writes its startup files and then calls the name
    `Popen` of module rez.shells; replacing that name is the only way in. The guard
    calls spawn_shell from one thread, so the swap affects no other launch.
    """
    if spawn is None:
        yield
        return

    def start(args: list[str], env: Mapping[str, str] | None = None, **popen_args: object) -> ShellProcess:
        return spawn(args, env=env, stdin=popen_args.get("stdin"), stdout=popen_args.get("stdout"),
                     stderr=popen_args.get("stderr"),
                     start_new_session=bool(popen_args.get("start_new_session", False)))

    original = rez_shells.Popen
    rez_shells.Popen = start
    try:
        yield
    finally:
        rez_shells.Popen = original
