"""The sh adapter (dash on Debian): what sh reads at startup and does inside rez's quotes."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from guard.plan import StartupFile
from shells import posix_words
from shells.base import ShellAdapter, StartupOptions, collect, rez_order, startup_file
from shells.values import Expansion, Lookup, ValueScan


class PosixAdapter(ShellAdapter):
    """The base adapter of sh, bash and zsh, for which rez writes the same double-quoted words."""

    dialect_options: dict = {}

    @functools.cached_property
    def dialect(self) -> posix_words.PosixDialect:
        """The quoting rules of this shell, with the variables it defines itself."""
        return posix_words.PosixDialect(name=self.name, shell_variables=self.shell_variables, **self.dialect_options)

    def scan_strings(self, strings: list[tuple[bool, str]], lookup: Lookup,
                     homes: tuple[Expansion, ...]) -> ValueScan:
        return posix_words.scan_segments(strings, self.dialect, lookup, homes)

    def scan_alias(self, body: str) -> ValueScan:
        return posix_words.scan_alias_body(body, self.dialect)


class ShAdapter(PosixAdapter):
    """sh as rez starts it: `sh rez-shell.sh`, then an interactive `sh` that reads $ENV."""

    name = "sh"
    managed_variables = frozenset({"PWD", "OLDPWD"})
    interactive_variables = frozenset({"PS1", "PS2", "PS4", "IFS", "OPTIND", "PPID", "PWD", "MAIL", "MAILPATH",
                                       "HISTSIZE", "FCEDIT", "TERM"})
    variables_query = ("sh", "-c", "set")

    @staticmethod
    def parse_variables(output: str) -> frozenset[str]:
        # dash's `set` prints NAME='value', and a value may run over several lines.
        names = set()
        for line in output.splitlines():
            name, separator, _ = line.partition("=")
            if separator and name.isidentifier():
                names.add(name)
        return frozenset(names)

    def startup_files(self, options: StartupOptions, environ: Mapping[str, str]) -> tuple[StartupFile, ...]:
        # A non-interactive sh reads no startup file; rez binds an interactive one through $ENV.
        if options.command is not None or options.stdin:
            return ()
        after = rez_order()
        files: list[StartupFile | None] = []
        if not options.norc:
            files.append(startup_file("~/.profile", after, environ))
        if environ.get("ENV"):
            files.append(startup_file(environ["ENV"], after, environ))
        return collect(*files)
