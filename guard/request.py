"""The launch request: a `rez-env` command line turned into a value.

Every option of rez-env 3.4 has a field here with rez's meaning; the guard's own
options (`--yes`, `--preview`, `--json`, `--monitor`) have theirs. The CLI builds
this value; nothing after the CLI reads argv.
"""

from __future__ import annotations

from dataclasses import field

from guard.fastclass import dataclass

SUPPORTED_SHELLS = ("bash", "sh", "zsh", "tcsh", "csh")


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """A guarded rez-env invocation."""

    packages: tuple[str, ...] = ()
    shell: str = "bash"
    rcfile: str | None = None
    norc: bool = False
    command: str | None = None
    argv: tuple[str, ...] | None = None
    stdin: bool = False
    no_implicit: bool = False
    no_local: bool = False
    build: bool = False
    paths: str | None = None
    time: str | None = None
    max_fails: int = -1
    time_limit: int = -1
    output: str | None = None
    input: str | None = None
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    no_filters: bool = False
    patch: bool = False
    strict: bool = False
    patch_rank: int = 0
    no_cache: bool = False
    quiet: bool = False
    fail_graph: bool = False
    new_session: bool = False
    detached: bool = False
    no_passive: bool = False
    stats: bool = False
    no_pkg_cache: bool = False
    pkg_cache_mode: str | None = None
    pre_command: str | None = None
    verbose: int = 0
    # The guard's own options.
    yes: bool = False
    preview: bool = False
    json: bool = False
    monitor: str | None = None
    show_rez: bool = False
    runargv: tuple[str, ...] = field(default=(), compare=False)

    @property
    def runs_command(self) -> bool:
        """True when the shell runs a command and exits instead of staying interactive."""
        return self.command is not None or self.argv is not None

    @property
    def command_text(self) -> str | None:
        """The command as one string, for the preview and the audit log."""
        if self.argv is not None:
            return " ".join(self.argv)
        return self.command

    @property
    def mode(self) -> str:
        """How the launch ends: preview, output, command or interactive."""
        if self.preview:
            return "preview"
        if self.output:
            return "output"
        if self.runs_command or self.stdin:
            return "command"
        return "interactive"
