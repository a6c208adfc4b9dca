"""The lines rez writes for an action into a shell script, and the plugin classes the guard uses.

`action_value` rebuilds the `EscapedString` rez's shell plugin receives for a
recorded action, so the analysis scans exactly what the renderer writes.
`render_plugin` and `spawn_plugin` return rez's own shell plugin, subclassed
only where the guard must differ: values rez would change silently (a `%` in
zsh, a literal `!` in csh) and the read-back of the environment once startup
is done.
"""

from __future__ import annotations

from shlex import quote

from rez.config import config
from rez.rex import EscapedString
from rez.shells import Shell

from guard.intercept.plain import plain_shell_class
from guard.plan import Action, Op, Segment


def escaped(segments: tuple[Segment, ...]) -> EscapedString:
    """Rebuild rez's EscapedString from recorded segments."""
    if not segments:
        return EscapedString("")
    value = EscapedString(segments[0].text, segments[0].literal)
    for segment in segments[1:]:
        value = value.literal(segment.text) if segment.literal else value.expandable(segment.text)
    return value


def pend_separator(shell: Shell, key: str) -> str:
    """Return the separator rez puts between a prepended or appended value and the old one."""
    return config.env_var_separators.get(key, shell.pathsep)


def action_value(shell: Shell, action: Action) -> EscapedString | None:
    """Return the value rez's plugin receives for an action, or None for actions without one.

    rez's Unix shells have no prependenv or appendenv: rez's executor joins the
    value with a reference to the variable and calls setenv, as done here.
    """
    if action.op in (Op.SETENV, Op.RESETENV, Op.SOURCE, Op.INFO, Op.ERROR):
        return escaped(action.value)
    if action.op in (Op.PREPENDENV, Op.APPENDENV):
        value = escaped(action.value)
        token = shell.get_key_token(action.key)
        parts = [value, token] if action.op is Op.PREPENDENV else [token, value]
        return EscapedString.join(pend_separator(shell, action.key), parts)
    return None


def _quote_csh_literal(text: str) -> str:
    # Inside single quotes an interactive csh still substitutes `!` from its
    # history, so each `!` goes outside the quotes with a backslash.
    pieces = []
    for piece in text.split("!"):
        quoted = quote(piece) if piece else ""
        if quoted and not quoted.startswith("'"):
            quoted = f"'{quoted}'"
        pieces.append(quoted)
    return "\\!".join(pieces)


def _zsh_escape(self: Shell, value: str | EscapedString, is_path: bool = False) -> str:
    # rez's zsh plugin doubles `%` in expandable text, but zsh keeps `%%` as
    # two characters inside double quotes, so this writes `%` unchanged.
    value = EscapedString.promote(value).expanduser()
    result = ""
    for is_literal, text in value.strings:
        if is_literal:
            quoted = quote(text)
            result += quoted if quoted.startswith("'") else f"'{quoted}'"
            continue
        if is_path:
            text = self.normalize_paths(text)
        text = text.replace("\\", "\\\\").replace('"', '\\"')
        result += f'"{text}"'
    return result


def _csh_escape(self: Shell, value: str | EscapedString, is_path: bool = False) -> str:
    value = EscapedString.promote(value).expanduser()
    result = ""
    for is_literal, text in value.strings:
        if is_literal:
            result += _quote_csh_literal(text)
            continue
        if is_path:
            text = self.normalize_paths(text)
        text = text.replace('"', '"\\""').replace("!", "\\!")
        result += f'"{text}"'
    return result


_RENDER_ESCAPES = {"zsh": _zsh_escape, "csh": _csh_escape, "tcsh": _csh_escape}


def render_plugin(shell: str) -> Shell:
    """Return a fresh rez shell plugin that writes every value so the shell keeps it intact."""
    base = plain_shell_class(shell)
    escape = _RENDER_ESCAPES.get(shell)
    if escape is None:
        return base()
    cls = type(f"Guarded{base.__name__}", (base,), {"escape_string": escape})
    return cls()


def spawn_plugin(shell: str, probe: str | None) -> Shell:
    """Return rez's shell plugin, adding `probe` once the shell's startup is done.

    rez calls `_bind_interactive_rez` at the end of the startup script that
    binds the context, after the context and the user's startup files, in
    every mode: the probe line goes right after it.
    """
    base = plain_shell_class(shell)
    if probe is None:
        return base()

    def bind_then_probe(self: Shell) -> None:
        base._bind_interactive_rez(self)
        self._addline(probe)

    cls = type(f"Verified{base.__name__}", (base,), {"_bind_interactive_rez": bind_then_probe})
    return cls()
