"""Where the guard keeps its configuration, trust store and audit log.

The folders follow the XDG base directory specification. They are read from the
guard's own environment once, before any package code runs, so a context can
never move them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from guard.fastclass import dataclass

APP_NAME = "rez-guard"
SYSTEM_POLICY_FILE = Path("/etc/rez-guard/policy.toml")


def _xdg_dir(environ: Mapping[str, str], variable: str, default: str) -> Path:
    # The XDG spec says a relative path in these variables is invalid and must be ignored.
    value = environ.get(variable, "")
    if value and os.path.isabs(value):
        return Path(value)
    home = environ.get("HOME") or os.path.expanduser("~")
    return Path(home) / default


@dataclass(frozen=True, slots=True)
class GuardPaths:
    """The guard's folders and files for one user."""

    config_dir: Path
    data_dir: Path
    state_dir: Path
    system_policy: Path

    @property
    def user_policy(self) -> Path:
        return self.config_dir / "policy.toml"

    @property
    def trust_store(self) -> Path:
        return self.data_dir / "trust.json"

    @property
    def audit_log(self) -> Path:
        return self.state_dir / "audit.jsonl"

    @property
    def protected_dirs(self) -> tuple[Path, ...]:
        """Folders that package code must not change while it runs."""
        return (self.config_dir, self.data_dir, self.state_dir)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GuardPaths:
        """Build the paths from an environment (normally the guard's own, at start)."""
        system_policy = environ.get("REZ_GUARD_POLICY") or str(SYSTEM_POLICY_FILE)
        return cls(
            config_dir=_xdg_dir(environ, "XDG_CONFIG_HOME", ".config") / APP_NAME,
            data_dir=_xdg_dir(environ, "XDG_DATA_HOME", ".local/share") / APP_NAME,
            state_dir=_xdg_dir(environ, "XDG_STATE_HOME", ".local/state") / APP_NAME,
            system_policy=Path(system_policy),
        )
