"""Render an approved plan into the shell's startup script.

Nothing is evaluated again: each recorded action is replayed, in order, on a
fresh instance of rez's shell plugin, which writes the same line rez-env would.
"""

from __future__ import annotations

from rez.config import config
from rez.rex import EscapedString
from rez.shells import Shell

from guard.intercept.plain import create_plain_shell
from guard.plan import Action, Op, Segment, StartupPlan


def _escaped(segments: tuple[Segment, ...]) -> EscapedString:
    if not segments:
        return EscapedString("")
    value = EscapedString(segments[0].text, segments[0].literal)
    for segment in segments[1:]:
        value = value.literal(segment.text) if segment.literal else value.expandable(segment.text)
    return value


def _pend(shell: Shell, action: Action) -> None:
    # rez's Unix shell plugins have no prependenv/appendenv: rez's executor joins
    # the segment with a reference to the variable and calls setenv, as done here.
    key = action.key
    value = _escaped(action.value)
    forward = shell.prependenv if action.op is Op.PREPENDENV else shell.appendenv
    try:
        forward(key, value)
        return
    except NotImplementedError:
        pass
    separator = config.env_var_separators.get(key, shell.pathsep)
    token = shell.get_key_token(key)
    parts = [value, token] if action.op is Op.PREPENDENV else [token, value]
    shell.setenv(key, EscapedString.join(separator, parts))


def _replay(shell: Shell, action: Action) -> None:
    op = action.op
    if op is Op.SETENV:
        shell.setenv(action.key, _escaped(action.value))
    elif op is Op.UNSETENV:
        shell.unsetenv(action.key)
    elif op is Op.RESETENV:
        shell.resetenv(action.key, _escaped(action.value))
    elif op in (Op.PREPENDENV, Op.APPENDENV):
        _pend(shell, action)
    elif op is Op.ALIAS:
        shell.alias(action.key, action.text)
    elif op is Op.SOURCE:
        shell.source(_escaped(action.value))
    elif op is Op.COMMAND:
        # rez passes commands on unformatted and its shells reject an EscapedString here.
        shell.command(list(action.argv) if action.argv is not None else action.text)
    elif op is Op.INFO:
        shell.info(_escaped(action.value))
    elif op is Op.ERROR:
        shell.error(_escaped(action.value))
    elif op is Op.COMMENT:
        shell.comment(action.text)
    elif op is Op.SHEBANG:
        shell.shebang()
    elif op is Op.SAFEREFENV:
        shell._saferefenv(action.key)


def render_script(plan: StartupPlan) -> str:
    """Return the context script for the plan's shell, made only from its recorded actions."""
    shell = create_plain_shell(plan.shell)
    for action in plan.actions:
        _replay(shell, action)
    return shell.get_output()
