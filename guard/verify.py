"""Stage 8, verify: read back the started shell's environment and compare it with the approved plan.

The shell's adapter adds a probe line at the end of rez's startup script, after
the context and the user's startup files: `env -0` writes the environment to a
file in the session folder, renamed into place once complete. A thread waits
for that file while the shell runs and compares it with what the plan's
analysis expects. A difference is drift: a startup file, a sourced script or a
command changed the environment beyond the approved plan.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from guard.fastclass import dataclass
from shells import ShellAdapter
from shells.analysis import PlanAnalysis
from shells.values import template_matches

logger = logging.getLogger(__name__)

PROBE_FILE = "startup-environ"
_POLL_SECONDS = 0.05

# Variables every shell updates on its own, whatever the plan sets.
DYNAMIC_VARIABLES = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
# Variables rez's own startup wrapper sets or removes around the context: the
# prompt, the redirection of the rc files and the history file (rez 3.4).
REZ_WRAPPER_VARIABLES = frozenset({
    "REZ_ENV_PROMPT", "REZ_STORED_PROMPT_SH", "REZ_STORED_PROMPT_CSH", "PS1", "ZDOTDIR", "HISTFILE", "histfile",
    "ENV", "BASH_ENV",
})
# bash exports each function rez writes for an alias as a variable of this form.
_BASH_FUNCTION_PREFIX = "BASH_FUNC_"


class Change(enum.StrEnum):
    """The kind of difference between a variable and the approved plan."""

    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Drift:
    """The variables whose value after startup differs from the approved plan.

    `variables` is empty when the environment could not be read back; `detail` gives the reason.
    """

    variables: tuple[str, ...]
    changes: tuple[Change, ...]
    detail: str

    def line(self) -> str:
        """Return the one line shown on stderr."""
        if not self.variables:
            return f"rez-guard: drift not checked: {self.detail}"
        named = ", ".join(f"{name} ({change.value})" for name, change in zip(self.variables, self.changes))
        return f"rez-guard: drift after startup: {named}; the environment differs from the approved plan"


def parse_environ(data: bytes) -> dict[str, str]:
    """Parse the output of `env -0` into a mapping, decoding bytes as os.environ does."""
    environ = {}
    for entry in data.split(b"\0"):
        if not entry:
            continue
        name, separator, value = entry.partition(b"=")
        if separator:
            environ[name.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return environ


def compare_environ(
    analysis: PlanAnalysis,
    start_environ: Mapping[str, str],
    actual: Mapping[str, str],
    adapter: ShellAdapter,
) -> Drift | None:
    """Return the drift between the environment read back and the one the plan leads to, or None."""
    names = []
    changes = []
    touched = analysis.touched
    for name in sorted(set(start_environ) | set(actual) | set(analysis.expected) | analysis.removed):
        change = _change_of(name, analysis, touched, start_environ, actual, adapter)
        if change is not None:
            names.append(name)
            changes.append(change)
    if not names:
        return None
    planned = sum(1 for name in names if name in touched)
    detail = (f"{len(names)} variables differ from the approved plan after startup ({planned} set or removed by "
              "the plan, the others outside it); a startup file, sourced script or command changed them")
    return Drift(tuple(names), tuple(changes), detail)


def _change_of(name: str, analysis: PlanAnalysis, touched_names: frozenset[str], start_environ: Mapping[str, str],
               actual: Mapping[str, str], adapter: ShellAdapter) -> Change | None:
    if name in DYNAMIC_VARIABLES or name.startswith(_BASH_FUNCTION_PREFIX):
        return None
    touched = name in touched_names
    if not touched and (name in adapter.managed_variables or name in REZ_WRAPPER_VARIABLES):
        return None
    if not touched and not name.isidentifier():
        # A shell may drop a variable whose name it cannot use, so it is not the plan's business.
        return None
    have = actual.get(name)
    if name in analysis.expected:
        if have is None:
            return Change.REMOVED
        return None if template_matches(analysis.expected[name], have) else Change.CHANGED
    if name in analysis.removed:
        return None if have is None else Change.ADDED
    want = start_environ.get(name)
    if want is None:
        return None if have is None else Change.ADDED
    if have is None:
        return Change.REMOVED
    return None if have == want else Change.CHANGED


class StartupCheck:
    """Waits for the shell's environment after startup, compares it and reports drift once."""

    def __init__(self, folder: Path, analysis: PlanAnalysis, start_environ: Mapping[str, str],
                 adapter: ShellAdapter, report: Callable[[Drift], None]) -> None:
        self._final = folder / PROBE_FILE
        self._analysis = analysis
        self._start_environ = dict(start_environ)
        self._adapter = adapter
        self._report = report
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._wait, name="rez-guard-verify", daemon=True)
        self._finished = False
        self._marker = folder / f"{PROBE_FILE}.done"
        self.probe = adapter.probe_command(self._final, self._marker)

    def start(self) -> None:
        """Start waiting for the read-back in a thread."""
        if self.probe is not None:
            self._thread.start()

    def stop(self) -> None:
        """Finish the check once the shell exited: compare what arrived, or report that nothing did."""
        if self.probe is None:
            return
        self._stopped.set()
        self._thread.join()
        if not self._finished:
            self._check_once(final=True)

    def _wait(self) -> None:
        while not self._stopped.wait(_POLL_SECONDS):
            if self._check_once(final=False):
                return

    def _check_once(self, final: bool) -> bool:
        # The marker appears once env has written the whole file.
        if not self._marker.exists():
            if final:
                self._deliver(Drift((), (), "the shell exited before its startup finished, so its environment "
                                            "was not read back"))
            return False
        try:
            data = self._final.read_bytes()
        except OSError as error:
            self._deliver(Drift((), (), f"cannot read the shell's environment back ({error.strerror})"))
            return True
        actual = parse_environ(data)
        drift = compare_environ(self._analysis, self._start_environ, actual, self._adapter)
        if drift is None:
            logger.debug("the environment after startup matches the approved plan")
            self._finished = True
        else:
            self._deliver(drift)
        return True

    def _deliver(self, drift: Drift) -> None:
        self._finished = True
        try:
            self._report(drift)
        except Exception:  # the check must not take the session down; the shell keeps running
            logger.exception("cannot report drift of %s", ", ".join(drift.variables) or "an unread environment")
