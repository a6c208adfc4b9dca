"""The trust store: remembered approvals keyed by fingerprint."""

from __future__ import annotations

import enum
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

from guard.errors import ConfigError
from guard.plan import StartupPlan


class TrustState(enum.StrEnum):
    """What the store says about a plan."""

    TRUSTED = "trusted"
    DENIED = "denied"
    UNKNOWN = "unknown"


def context_identity(plan: StartupPlan) -> str:
    """Return the request and resolved variants as one string, the key of deny records."""
    return " ".join(plan.request) + " => " + " ".join(variant.qualified_name for variant in plan.variants)


class TrustStore:
    """A JSON file of approvals. TODO: deny records and the trust CLI."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"approved": {}, "denied": {}}
        except OSError as error:
            raise ConfigError(f"cannot read the trust store {self.path}: {error.strerror}") from error
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"the trust store {self.path} is corrupt ({error}); nothing is trusted") from error

    def lookup(self, fingerprint: str, identity: str) -> TrustState:
        data = self._load()
        if fingerprint in data.get("approved", {}):
            return TrustState.TRUSTED
        if identity in data.get("denied", {}):
            return TrustState.DENIED
        return TrustState.UNKNOWN

    def remember(self, fingerprint: str, identity: str, summary: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):
            data = self._load()
            data.setdefault("approved", {})[fingerprint] = {"identity": identity, **summary}
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".trust.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            os.replace(temp, self.path)
