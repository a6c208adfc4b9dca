"""The env diff: which variables a plan adds, changes and removes."""

from __future__ import annotations

from collections.abc import Mapping

from guard.fastclass import dataclass
from guard.plan import StartupPlan


@dataclass(frozen=True, slots=True)
class EnvDiff:
    """Variable names added, changed and removed, each sorted."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]

    def summary(self, hide: frozenset[str] = frozenset()) -> str:
        """Return the `+NEW ~CHANGED -REMOVED` line, leaving out hidden names."""
        words = [f"+{name}" for name in self.added if name not in hide]
        words += [f"~{name}" for name in self.changed if name not in hide]
        words += [f"-{name}" for name in self.removed if name not in hide]
        return " ".join(words)

    def to_dict(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "changed": list(self.changed), "removed": list(self.removed)}


def diff_environ(plan: StartupPlan, parent_environ: Mapping[str, str]) -> EnvDiff:
    """Compare the plan's resulting variables with the environment it starts from."""
    added = []
    changed = []
    for name, value in plan.environ.items():
        if name not in parent_environ:
            added.append(name)
        elif parent_environ[name] != value:
            changed.append(name)
    removed = [name for name in plan.unset if name in parent_environ]
    return EnvDiff(tuple(sorted(added)), tuple(sorted(changed)), tuple(sorted(removed)))
