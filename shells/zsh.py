"""The zsh adapter: what zsh reads at startup and does inside rez's quotes."""

from __future__ import annotations

from collections.abc import Mapping

from guard.plan import StartupFile
from shells.base import StartupOptions, collect, rez_order, startup_file
from shells.sh import PosixAdapter

# NOTE: the system-wide files are compile-time paths of zsh; these are Debian's and Ubuntu's.
SYSTEM_ZSHENV = "/etc/zsh/zshenv"
SYSTEM_ZSHRC = "/etc/zsh/zshrc"


class ZshAdapter(PosixAdapter):
    """zsh as rez starts it: `zsh rez-shell.sh`, then `zsh` with ZDOTDIR pointing at rez's files."""

    name = "zsh"
    managed_variables = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "LOGNAME"})
    dialect_options = {
        "bracket_arithmetic": True,
        "zsh": True,
        "brace_operators": r"(:?[-=?+]|:?[#%]{1,2}|//?|:[#%]?|\^\^?|,,?|\[|:[A-Za-z&]|\|)",
        "brace_prefixes": "#^=~+!",
    }
    interactive_variables = frozenset({"PS1", "PROMPT", "RPS1", "HISTFILE", "HISTSIZE", "SAVEHIST", "COLUMNS",
                                       "LINES"})
    variables_query = ("zsh", "-f", "-c", "print -rl -- ${(k)parameters}")
    syntax_check_options = ("-f", "-n")

    def startup_files(self, options: StartupOptions, environ: Mapping[str, str]) -> tuple[StartupFile, ...]:
        after = rez_order()
        zdotdir = environ.get("ZDOTDIR") or "~"
        # Every zsh reads the zshenv files, also the non-interactive one running rez's script.
        files: list[StartupFile | None] = [
            startup_file(SYSTEM_ZSHENV, "before", environ),
            startup_file(f"{zdotdir}/.zshenv", "before", environ),
        ]
        if options.command is not None:
            if not options.norc:
                for name in ("~/.zprofile", "~/.zlogin", "~/.zshrc", "~/.zshenv"):
                    files.append(startup_file(name, after, environ))
            return collect(*files)
        # The interactive zsh reads rez's files through ZDOTDIR: a wrapper for ~/.zshenv, the
        # system zshrc, then rez's .zshrc with the context and ~/.zshrc.
        files.append(startup_file(SYSTEM_ZSHENV, "before", environ))
        if not options.norc:
            files.append(startup_file("~/.zshenv", "before", environ))
        if options.stdin:
            # NOTE: `zsh -s` is not interactive and never reads rez's .zshrc, so rez-env (3.4)
            # does not apply the context there; the check after startup reports it.
            return collect(*files)
        files.append(startup_file(SYSTEM_ZSHRC, "before", environ))
        if not options.norc:
            files.append(startup_file("~/.zshrc", after, environ))
        return collect(*files)
