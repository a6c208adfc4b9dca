"""The interface every shell adapter implements, and what the adapters share.

An adapter contains what the guard must know about one shell to launch exactly
what it previewed. That is the startup files the shell reads in each mode and
whether they run before or after the package commands, what the shell expands
or executes inside a value rez writes, and which values it cannot carry. It
also lists the variables the shell manages itself, and writes the command that
reads its environment back once its startup is done.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from shlex import quote
from typing import ClassVar

from rez.config import config
from rez.rex import EscapedString
from rez.shells import Shell

from guard.fastclass import dataclass
from guard.plan import StartupFile
from shells import rez_script
from shells.cache import ShellCache, ShellProgram, syntax_key
from shells.values import Expansion, ExpansionKind, Lookup, ValueScan

logger = logging.getLogger(__name__)


# Seconds the syntax check and the variable query may take; both only parse a script or list names.
_QUERY_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class StartupOptions:
    """The launch options that decide which startup files a shell reads.

    `command` is None for an interactive shell; an empty string runs nothing
    and exits, as in rez.
    """

    rcfile: str | None = None
    norc: bool = False
    stdin: bool = False
    command: str | None = None


class ShellAdapter:
    """The guard's model of one shell; each subclass sets the class attributes for its shell."""

    name: ClassVar[str]
    # Variables the shell sets or updates in its own environment at startup.
    managed_variables: ClassVar[frozenset[str]] = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
    # Shell variables an interactive shell defines that the non-interactive query does not list.
    interactive_variables: ClassVar[frozenset[str]] = frozenset()
    # The command that lists the variables the shell defines itself, started with an empty environment.
    variables_query: ClassVar[tuple[str, ...]] = ()
    # Options that make the shell parse a script without running it; empty when it has none that works.
    syntax_check_options: ClassVar[tuple[str, ...]] = ("-n",)
    # True when rez's `_saferefenv` line defines an unset variable as empty (csh); sh ignores it.
    saferefenv_defines: ClassVar[bool] = False
    # True when expanding an unset variable stops the startup script (csh), so a reference to a
    # variable that only a sourced file might set cannot be shown as safe.
    undefined_variable_stops: ClassVar[bool] = False
    # Written before a program in the probe line: `command` skips shell functions named like the
    # program, and in csh, which has no functions, a backslash skips aliases.
    program_prefix: ClassVar[str] = "command "
    # The maximum number of characters the renderer writes for the values it joins into one
    # append or prepend line (guard/coalesce.py), or None where the shell reads lines of any length.
    max_joined_length: ClassVar[int | None] = None

    # -- values

    def scan_value(self, value: EscapedString, lookup: Lookup) -> ValueScan:
        """Return what the shell does with a value rez writes as a quoted word."""
        strings, homes = expand_home(value)
        return self.scan_strings(strings, lookup, homes)

    def scan_strings(self, strings: list[tuple[bool, str]], lookup: Lookup,
                     homes: tuple[Expansion, ...]) -> ValueScan:
        """Scan rez's (is_literal, text) pieces after `~` expansion."""
        raise NotImplementedError

    def scan_alias(self, body: str) -> ValueScan:
        """Return what the shell does with an alias body (shell code, run when the alias is used)."""
        raise NotImplementedError

    @functools.cached_property
    def shell_variables(self) -> frozenset[str]:
        """Names the shell defines itself, whose value the guard cannot know in advance."""
        return self.interactive_variables | self._own_variables()

    def _own_variables(self) -> frozenset[str]:
        # The query's output depends only on the shell program, so it is kept across launches.
        if not self.variables_query:
            return frozenset()
        program = ShellProgram.find(self.variables_query[0])
        if program is None:
            return frozenset()
        cache = ShellCache.default()
        names = cache.variables(program, self.variables_query)
        if names is not None:
            return names
        result = _query_variables(program.path, self.variables_query[1:])
        if result is None:
            return frozenset()
        names = self.parse_variables(result.stdout)
        # A failed query is used for this launch only, as the query runs again next time.
        if result.returncode == 0 and program.unchanged():
            cache.store_variables(program, self.variables_query, names)
        return names

    @staticmethod
    def parse_variables(output: str) -> frozenset[str]:
        """Return the names in the output of `variables_query`, one name per line."""
        return frozenset(line.strip() for line in output.splitlines() if line.strip())

    # -- startup

    def startup_files(self, options: StartupOptions, environ: Mapping[str, str]) -> tuple[StartupFile, ...]:
        """Return the files the shell reads at startup besides the context, in the order it reads them."""
        raise NotImplementedError

    # -- launch

    def render_plugin(self) -> Shell:
        """Return rez's plugin for writing the context script, fixed where rez would change a value."""
        return rez_script.render_plugin(self.name)

    def spawn_plugin(self, probe: str | None) -> Shell:
        """Return rez's plugin for starting the shell, with the read-back probe after startup."""
        return rez_script.spawn_plugin(self.name, probe)

    def probe_command(self, target: Path, done: Path) -> str | None:
        """Return the line that writes the environment to `target` once startup is done, then creates `done`.

        It runs `env -0` by absolute path, found on the system's default path
        (`os.defpath`), so the context's PATH cannot replace it. The shell's `:`
        builtin then creates `done`, which marks the file as complete
        without another program (renaming the file with mv cost about 2 ms).
        """
        env_program = shutil.which("env", path=os.defpath)
        if env_program is None:
            logger.warning("env not found on %s; the environment is not read back", os.defpath)
            return None
        return (f"{self.program_prefix}{quote(env_program)} -0 > {quote(str(target))} && "
                f": > {quote(str(done))}")

    def check_syntax(self, script: str, launch_values: Sequence[str] = ()) -> str | None:
        """Parse the script with the shell without running it; return its error output, or None.

        A passed check is kept across launches, keyed on the shell build, the
        guard's version and the script with `launch_values` (the values that change
        between launches, see `shells.cache.launch_values`) masked. A failed check
        is never kept.
        """
        if not self.syntax_check_options:
            return None
        program = ShellProgram.find(self.name)
        if program is None:
            return None
        cache = ShellCache.default()
        key = syntax_key(program, self.syntax_check_options, script, launch_values)
        if key is not None and cache.syntax_passed(key):
            return None
        error = self._run_syntax_check(program.path, script)
        if error is None and key is not None and program.unchanged():
            cache.store_syntax_passed(key)
        return error

    def _run_syntax_check(self, executable: str, script: str) -> str | None:
        with tempfile.NamedTemporaryFile("w", suffix=".guard-check", encoding="utf-8", delete=False) as handle:
            handle.write(script)
            path = handle.name
        command = [executable, *self.syntax_check_options, path]
        logger.debug("checking the context script's syntax: %s", command)
        try:
            # An empty environment keeps BASH_ENV and the user's startup files out of the check.
            result = subprocess.run(command, capture_output=True,
                                    text=True, errors="replace", env={"PATH": os.defpath},
                                    stdin=subprocess.DEVNULL, timeout=_QUERY_TIMEOUT)
        finally:
            os.unlink(path)
        if result.returncode == 0:
            return None
        return (result.stderr.strip() or f"exit status {result.returncode}").replace(path, "<script>")


def expand_home(value: EscapedString) -> tuple[list[tuple[bool, str]], tuple[Expansion, ...]]:
    """Apply rez's `~` expansion to the expandable pieces and report each one it changed.

    rez's plugins call `os.path.expanduser` on each expandable piece before quoting it,
    so the shell receives the home folder and never gets the `~`.
    """
    homes = []
    strings = []
    for is_literal, text in value.strings:
        if not is_literal:
            expanded = os.path.expanduser(text)
            if expanded != text:
                prefix = text.split("/", 1)[0]
                homes.append(Expansion(ExpansionKind.HOME, prefix))
            text = expanded
        strings.append((is_literal, text))
    return strings, tuple(homes)


def startup_file(path: str, order: str, environ: Mapping[str, str]) -> StartupFile | None:
    """Return a StartupFile for `path` (with `~` expanded) when the file exists, else None."""
    expanded = expand_user(path, environ)
    if not os.path.isfile(expanded):
        return None
    return StartupFile(path=expanded, order=order, exists=True)


def expand_user(path: str, environ: Mapping[str, str]) -> str:
    """Expand a leading `~` with the HOME of `environ`."""
    home = environ.get("HOME")
    if home and (path == "~" or path.startswith("~/")):
        return home + path[1:]
    return os.path.expanduser(path)


def rez_order() -> str:
    """Return where files rez itself sources go relative to the package commands."""
    return "after" if config.package_commands_sourced_first else "before"


def collect(*files: StartupFile | None) -> tuple[StartupFile, ...]:
    """Drop the files that do not exist."""
    return tuple(item for item in files if item is not None)


def _query_variables(executable: str, arguments: tuple[str, ...]) -> subprocess.CompletedProcess[str] | None:
    # Runs the program found on the guard's PATH, as rez does to launch it, with an empty environment.
    command = [executable, *arguments]
    logger.debug("listing the variables the shell defines: %s", command)
    try:
        return subprocess.run(command, capture_output=True, text=True, errors="replace",
                              env={"PATH": os.defpath}, stdin=subprocess.DEVNULL, timeout=_QUERY_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("cannot list the variables %s defines: %s", executable, error)
        return None
