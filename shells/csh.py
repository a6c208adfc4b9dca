"""The csh adapter (BSD csh on Debian): what csh reads at startup and does inside rez's quotes."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from guard.plan import StartupFile
from shells import csh_words
from shells.base import ShellAdapter, StartupOptions, collect, rez_order, startup_file
from shells.values import Expansion, Lookup, ValueScan

# NOTE: the system-wide rc file is a compile-time path; this is Debian's and Ubuntu's.
SYSTEM_CSHRC = "/etc/csh.cshrc"


class CshAdapter(ShellAdapter):
    """csh as rez starts it: `csh rez-shell.csh`, then `csh` with HOME pointing at rez's files."""

    name = "csh"
    managed_variables = frozenset({"PWD", "OLDPWD"})
    modifiers = "htreqx"
    tcsh = False
    user_rc_files = ("~/.cshrc",)
    # csh's own rc file as the interactive shell looks for it in rez's HOME.
    interactive_rc = "~/.cshrc"
    interactive_variables = frozenset({"prompt", "prompt2", "prompt3", "history", "histfile", "savehist", "home",
                                       "user", "term", "noclobber", "ignoreeof", "cdpath", "mail", "echo",
                                       "verbose", "noglob", "nonomatch", "notify", "time", "autologout", "loginsh",
                                       "shlvl", "tty", "owd", "cwd", "path", "status", "argv", "shell", "child",
                                       "filec", "hardpaths", "_"})
    variables_query = ("csh", "-f", "-c", "set")
    # BSD csh -n still expands `$?NAME` as a glob pattern and fails on rez's own lines.
    syntax_check_options = ()
    saferefenv_defines = True
    undefined_variable_stops = True
    program_prefix = "\\"
    # BSD csh (Debian 20110502) stops with `Word too long.` past 8,187 characters in one word,
    # quotes included. The cap is half of that, because the reference to the variable and its quotes
    # take a few dozen characters and the rest is margin. tcsh 6.24 read a 2,000,000-character word
    # and keeps this cap all the same, because one line of 4,096 characters replaces dozens of lines.
    max_joined_length = 4096

    @staticmethod
    def parse_variables(output: str) -> frozenset[str]:
        # csh's `set` prints the name, a tab and the value on each line.
        names = set()
        for line in output.splitlines():
            name = line.split("\t", 1)[0]
            if name.isidentifier():
                names.add(name)
        return frozenset(names)

    @functools.cached_property
    def dialect(self) -> csh_words.CshDialect:
        """The quoting rules of this shell, with the variables it defines itself."""
        return csh_words.CshDialect(name=self.name, modifiers=self.modifiers, tcsh=self.tcsh,
                                    shell_variables=self.shell_variables)

    def scan_strings(self, strings: list[tuple[bool, str]], lookup: Lookup,
                     homes: tuple[Expansion, ...]) -> ValueScan:
        return csh_words.scan_segments(strings, self.dialect, lookup, homes)

    def scan_alias(self, body: str) -> ValueScan:
        return csh_words.scan_alias_body(body, self.dialect)

    def startup_files(self, options: StartupOptions, environ: Mapping[str, str]) -> tuple[StartupFile, ...]:
        after = rez_order()
        # Every csh reads the rc files, also the non-interactive one running rez's script.
        files: list[StartupFile | None] = [startup_file(SYSTEM_CSHRC, "before", environ)]
        files.append(self._own_rc_file(environ))
        if options.command is not None:
            if not options.norc:
                for name in ("~/.tcshrc", "~/.cshrc", "~/.login", "~/.cshdirs"):
                    files.append(startup_file(name, after, environ))
            return collect(*files)
        # The interactive (or --stdin) shell reads rez's rc file from rez's HOME: the context,
        # then the user's rc file of the same name.
        files.append(startup_file(SYSTEM_CSHRC, "before", environ))
        if not options.norc:
            files.append(startup_file(self.interactive_rc, after, environ))
        return collect(*files)

    def _own_rc_file(self, environ: Mapping[str, str]) -> StartupFile | None:
        for name in self.user_rc_files:
            found = startup_file(name, "before", environ)
            if found is not None:
                return found
        return None
