"""rez's bash, sh, zsh, csh and tcsh shell plugins with rez-guard in front of every launch.

Each class subclasses rez's own plugin class and is registered under the same
name, so every `create_shell` in rez returns it. While rez's executor writes a
context through it, each interpreter call goes to guard.record's
RecordingInterpreter, which writes the script with a plain instance of rez's
class and keeps an attributed copy of the call. When rez then calls
`spawn_shell`, the copy is the plan that rez-guard shows, decides on and
launches (see inprocess.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any, ClassVar

from rez.rex import OutputStyle
from rez.shells import Shell
from rezplugins.shell.bash import Bash
from rezplugins.shell.csh import CSH
from rezplugins.shell.sh import SH
from rezplugins.shell.tcsh import TCSH
from rezplugins.shell.zsh import Zsh

from guard.intercept.attribution import StackAttribution
from guard.intercept.inprocess import SpawnArguments, launch_in_process
from guard.intercept.site import find_launch_site
from guard.plan import Action
from guard.record import RecordingInterpreter


class GuardedShell:
    """Mixin placed before one of rez's Unix shell classes; see the module docstring."""

    guard_plain_class: ClassVar[type[Shell]]

    def __init__(self) -> None:
        super().__init__()
        self._recorder = RecordingInterpreter(self.guard_plain_class(), StackAttribution())

    @property
    def recorded_actions(self) -> tuple[Action, ...]:
        """Every interpreter call recorded on this instance so far, in order."""
        return tuple(self._recorder.actions)

    def setenv(self, key, value):
        self._recorder.setenv(key, value)

    def unsetenv(self, key):
        self._recorder.unsetenv(key)

    def resetenv(self, key, value, friends=None):
        self._recorder.resetenv(key, value, friends)

    def prependenv(self, key, value):
        self._recorder.prependenv(key, value)

    def appendenv(self, key, value):
        self._recorder.appendenv(key, value)

    def alias(self, key, value):
        self._recorder.alias(key, value)

    def info(self, value):
        self._recorder.info(value)

    def error(self, value):
        self._recorder.error(value)

    def command(self, value):
        self._recorder.command(value)

    def comment(self, value):
        self._recorder.comment(value)

    def source(self, value):
        self._recorder.source(value)

    def shebang(self):
        self._recorder.shebang()

    def _saferefenv(self, key):
        self._recorder._saferefenv(key)

    def get_output(self, style=OutputStyle.file):
        return self._recorder.get_output(style)

    def spawn_shell(
        self,
        context_file: str,
        tmpdir: str,
        rcfile: str | None = None,
        norc: bool = False,
        stdin: Any = False,
        command: str | None = None,
        env: Mapping[str, str] | None = None,
        quiet: bool = False,
        pre_command: str | list[str] | None = None,
        add_rez: bool = True,
        package_commands_sourced_first: bool | None = None,
        **popen_args: Any,
    ) -> subprocess.Popen:
        """Show the recorded plan, decide, and start the shell only when approved; raise LaunchVetoed if not."""
        spawn = SpawnArguments(
            shell=self.name(),
            context_file=context_file,
            tmpdir=tmpdir,
            rcfile=rcfile,
            norc=norc,
            stdin=stdin,
            command=command,
            env=env,
            quiet=quiet,
            pre_command=pre_command,
            add_rez=add_rez,
            package_commands_sourced_first=package_commands_sourced_first,
            popen_args=dict(popen_args),
        )
        return launch_in_process(spawn, self.recorded_actions, find_launch_site(self))


class GuardedBash(GuardedShell, Bash):
    """rez's bash plugin behind rez-guard."""

    guard_plain_class = Bash


class GuardedSH(GuardedShell, SH):
    """rez's sh plugin behind rez-guard."""

    guard_plain_class = SH


class GuardedZsh(GuardedShell, Zsh):
    """rez's zsh plugin behind rez-guard."""

    guard_plain_class = Zsh


class GuardedCSH(GuardedShell, CSH):
    """rez's csh plugin behind rez-guard."""

    guard_plain_class = CSH


class GuardedTCSH(GuardedShell, TCSH):
    """rez's tcsh plugin behind rez-guard."""

    guard_plain_class = TCSH


GUARDED_SHELLS: dict[str, type[GuardedShell]] = {
    "bash": GuardedBash,
    "sh": GuardedSH,
    "zsh": GuardedZsh,
    "csh": GuardedCSH,
    "tcsh": GuardedTCSH,
}
