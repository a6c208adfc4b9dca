"""Record a resolved context's startup actions once, for one shell.

This module runs in the forked child only: evaluating `commands()` runs package
code. It drives rez's own executor (`ResolvedContext._execute`, pinned to rez
3.4) with an interpreter that forwards the calls to rez's shell plugin and
keeps an attributed copy of them (here setenv is only recorded: see
`RecordingInterpreter.setenv`). The parent later replays that copy (see
render.py), so the script the shell runs is made from exactly the recorded
calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rez.config import config
from rez.resolved_context import ResolvedContext
from rez.rex import ActionInterpreter, EscapedString, OutputStyle

from guard.executor import PendingRexExecutor
from guard.fastclass import dataclass
from guard.intercept.plain import create_plain_shell
from guard.plan import Action, Op, Phase, ResolvedVariant, Segment, StartupPlan

_PHASE_HEADERS = {phase.value: phase for phase in (Phase.PRE_COMMANDS, Phase.COMMANDS, Phase.POST_COMMANDS)}


def _segments(value: Any) -> tuple[Segment, ...]:
    if isinstance(value, EscapedString):
        return tuple(Segment(text, bool(is_literal)) for is_literal, text in value.strings)
    return (Segment(str(value), False),)


class _Attribution:
    """The variant and phase emitting actions right now."""

    def __init__(self) -> None:
        self.phase = Phase.REZ
        self.variant: str | None = None
        self.in_package_code = False


class RecordingInterpreter(ActionInterpreter):
    """An interpreter that records each call and forwards it to rez's shell plugin.

    With `writes_script` False (the recording child, whose plugin script nobody
    reads), setenv is recorded without being forwarded.
    """

    def __init__(self, shell: ActionInterpreter, attribution: _Attribution, writes_script: bool = True) -> None:
        self._shell = shell
        self._attribution = attribution
        self._writes_script = writes_script
        self._fallback_key: str | None = None
        self.actions: list[Action] = []
        self.pathsep = shell.pathsep
        self.expand_env_vars = shell.expand_env_vars

    def _record(self, op: Op, key: str | None = None, value: Any = None, argv: Any = None) -> None:
        attribution = self._attribution
        phase = attribution.phase if attribution.in_package_code else Phase.REZ
        variant = attribution.variant if attribution.in_package_code else None
        self.actions.append(Action(
            op=op,
            phase=phase,
            variant=variant,
            key=None if key is None else str(key),
            value=() if value is None else _segments(value),
            argv=None if argv is None else tuple(str(word) for word in argv),
        ))

    def _pend(self, op: Op, key: str, value: Any) -> None:
        forward = self._shell.prependenv if op is Op.PREPENDENV else self._shell.appendenv
        try:
            forward(key, value)
        except NotImplementedError:
            # rez's executor now calls setenv with the joined value; render.py
            # rebuilds that join, so the fallback setenv is not recorded.
            self._fallback_key = key
            self._record(op, key, value)
            raise
        self._record(op, key, value)

    def setenv(self, key, value):
        # Without `writes_script` the plugin's line would be thrown away, and the parent's render
        # passes the same value to the same plugin method, which raises there if it cannot write
        # it. This is the most frequent call (5 ms of 29 on a 100-package context).
        if self._writes_script:
            self._shell.setenv(key, value)
        if self._fallback_key == key:
            self._fallback_key = None
            return
        self._record(Op.SETENV, key, value)

    def unsetenv(self, key):
        self._shell.unsetenv(key)
        self._record(Op.UNSETENV, key)

    def resetenv(self, key, value, friends=None):
        self._shell.resetenv(key, value, friends)
        self._record(Op.RESETENV, key, value)

    def prependenv(self, key, value):
        self._pend(Op.PREPENDENV, key, value)

    def appendenv(self, key, value):
        self._pend(Op.APPENDENV, key, value)

    def alias(self, key, value):
        self._shell.alias(key, value)
        self._record(Op.ALIAS, key, value)

    def info(self, value):
        self._shell.info(value)
        self._record(Op.INFO, value=value)

    def error(self, value):
        self._shell.error(value)
        self._record(Op.ERROR, value=value)

    def command(self, value):
        self._shell.command(value)
        if isinstance(value, (str, EscapedString)):
            self._record(Op.COMMAND, value=value)
        else:
            self._record(Op.COMMAND, argv=value)

    def comment(self, value):
        self._shell.comment(value)
        text = str(value)
        if not self._attribution.in_package_code and text in _PHASE_HEADERS:
            self._attribution.phase = _PHASE_HEADERS[text]
        self._record(Op.COMMENT, value=value)

    def source(self, value):
        self._shell.source(value)
        self._record(Op.SOURCE, value=value)

    def shebang(self):
        self._shell.shebang()
        self._record(Op.SHEBANG)

    def _saferefenv(self, key):
        self._shell._saferefenv(key)
        self._record(Op.SAFEREFENV, key)

    def get_key_token(self, key):
        return self._shell.get_key_token(key)

    def escape_string(self, value, is_path=False):
        return self._shell.escape_string(value, is_path=is_path)

    def normalize_path(self, path):
        return self._shell.normalize_path(path)

    def normalize_paths(self, value):
        return self._shell.normalize_paths(value)

    def get_syspaths(self):
        return self._shell.get_syspaths()

    def get_output(self, style=OutputStyle.file):
        return self._shell.get_output(style)


class _RecordingExecutor(PendingRexExecutor):
    """rez's executor (with linear prepends and appends), marking when package code runs and for which variant."""

    def __init__(self, attribution: _Attribution, **kwargs: Any) -> None:
        self._attribution = attribution
        super().__init__(**kwargs)

    def execute_code(self, code, filename=None):
        package = getattr(code, "package", None)
        self._attribution.variant = None if package is None else package.qualified_name
        self._attribution.in_package_code = True
        try:
            return super().execute_code(code, filename)
        finally:
            self._attribution.in_package_code = False
            self._attribution.variant = None

    def append_system_paths(self):
        # rez takes system paths from the interpreter only when it is a Shell;
        # the recorder forwards the shell plugin's (detected before the fork).
        for path in self.interpreter.get_syspaths():
            self.env.PATH.append(path)


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    """The recording's inputs besides the context: the shell and the session's files."""

    shell: str
    rxt_file: str
    context_file: str
    interactive: bool
    parent_environ: Mapping[str, str]


def describe_variants(context: ResolvedContext) -> tuple[ResolvedVariant, ...]:
    """Describe each resolved variant as plain data."""
    variants = []
    for variant in context.resolved_packages or ():
        variants.append(ResolvedVariant(
            qualified_name=variant.qualified_name,
            name=variant.name,
            version=str(variant.version),
            uri=variant.uri,
            root=str(variant.root),
            repository=str(variant.resource.location),
            is_local=bool(variant.is_local),
        ))
    return tuple(variants)


def record_plan(
    context: ResolvedContext,
    settings: RecordingSettings,
    clock: Callable[[], float],
) -> StartupPlan:
    """Evaluate the context's commands once for `settings.shell` and return the plan."""
    attribution = _Attribution()
    recorder = RecordingInterpreter(create_plain_shell(settings.shell), attribution, writes_script=False)
    parent_variables = True if config.all_parent_variables else config.parent_variables
    executor = _RecordingExecutor(
        attribution,
        interpreter=recorder,
        parent_environ=dict(settings.parent_environ),
        parent_variables=parent_variables,
    )

    # The same steps, in the same order, as ResolvedContext.execute_shell in rez 3.4.
    executor.env.REZ_RXT_FILE = settings.rxt_file
    executor.env.REZ_CONTEXT_FILE = settings.context_file
    context._execute(executor)
    executor.env.REZ_SHELL_INIT_TIMESTAMP = str(int(clock()))
    executor.env.REZ_SHELL_INTERACTIVE = "1" if settings.interactive else "0"
    context._execute_bundle_post_actions_callback(executor)
    return build_plan(context, settings.shell, recorder.actions, executor.manager.environ)


def build_plan(
    context: ResolvedContext,
    shell: str,
    actions: Sequence[Action],
    environ: Mapping[str, str],
) -> StartupPlan:
    """Return the plan of recorded actions, given the variables rez computed for them."""
    unset = tuple(sorted(
        action.key for action in actions
        if action.op is Op.UNSETENV and action.key is not None and action.key not in environ
    ))
    return StartupPlan(
        shell=shell,
        request=tuple(str(request) for request in context.requested_packages(include_implicit=False)),
        variants=describe_variants(context),
        actions=tuple(actions),
        environ={str(key): str(value) for key, value in environ.items()},
        unset=unset,
        package_paths=tuple(str(path) for path in context.package_paths),
    )


def detect_system_paths(shell: str) -> None:
    """Run rez's system path detection now, so the child never has to start a process."""
    create_plain_shell(shell).get_syspaths()

