"""The bash adapter: what bash reads at startup and does inside rez's quotes."""

from __future__ import annotations

from collections.abc import Mapping

from guard.plan import StartupFile
from shells.base import StartupOptions, collect, rez_order, startup_file
from shells.sh import PosixAdapter

# NOTE: the system-wide rc file is a compile-time path of bash; this is Debian's and Ubuntu's.
SYSTEM_BASHRC = "/etc/bash.bashrc"


class BashAdapter(PosixAdapter):
    """bash as rez starts it: `bash rez-shell.sh`, then `bash` or `bash --rcfile FILE` when interactive."""

    name = "bash"
    dialect_options = {
        "bracket_arithmetic": True,
        "brace_operators": r"(:?[-=?+]|##?|%%?|//?|/[#%]|\^\^?|,,?|@[QEPAaUuLK]|:|\[)",
        "brace_prefixes": "#!",
    }
    interactive_variables = frozenset({"PS1", "PS2", "PS3", "HISTFILE", "HISTSIZE", "HISTFILESIZE", "HISTCONTROL",
                                       "COLUMNS", "LINES", "MAILCHECK", "BASH_COMPLETION_VERSINFO", "COMP_WORDBREAKS",
                                       "TERM", "SHELL", "HOSTNAME"})
    variables_query = ("bash", "--norc", "--noprofile", "-c", "compgen -v")

    def startup_files(self, options: StartupOptions, environ: Mapping[str, str]) -> tuple[StartupFile, ...]:
        after = rez_order()
        # bash runs rez's startup script non-interactively, so it reads $BASH_ENV first in every mode.
        bash_env = environ.get("BASH_ENV")
        files: list[StartupFile | None] = [startup_file(bash_env, "before", environ) if bash_env else None]
        if options.command is not None or options.stdin:
            # rez sources $BASH_ENV again inside its script.
            files.append(startup_file(bash_env, after, environ) if bash_env else None)
            return collect(*files)
        # The interactive bash reads the system rc file even with --rcfile, the way rez applies --norc.
        files.append(startup_file(SYSTEM_BASHRC, "before", environ))
        if options.norc:
            return collect(*files)
        if options.rcfile:
            files.append(startup_file(options.rcfile, after, environ))
        else:
            files.append(startup_file("~/.bashrc", after, environ))
        return collect(*files)
