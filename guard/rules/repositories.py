"""The rule on where packages come from: only repositories the policy trusts."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Final

from guard.findings import Finding
from guard.plan import ResolvedVariant
from guard.policy import Policy
from guard.rules.view import PlanView

# rez names repositories "type@location", such as filesystem@/studio/packages.
_REPOSITORY_TYPE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*@")


def check(view: PlanView) -> Iterator[Finding]:
    """Yield one repo.untrusted finding per variant from an untrusted repository."""
    for variant in view.plan.variants:
        if is_trusted(variant, view.policy):
            continue
        where = "your local packages" if variant.is_local else variant.repository
        yield view.finding(
            "repo.untrusted",
            f"{variant.qualified_name} comes from {where}, which the policy does not list as trusted; "
            "release the package to a trusted repository or ask for the repository to be trusted",
            variant=variant.qualified_name,
        )


def is_trusted(variant: ResolvedVariant, policy: Policy) -> bool:
    """Return whether the policy trusts the repository `variant` was loaded from."""
    if variant.is_local and not policy.trust_local_packages:
        return False
    if policy.trusted_repositories is None:
        return True
    location = normalize_repository(variant.repository)
    return any(normalize_repository(trusted) == location for trusted in policy.trusted_repositories)


def normalize_repository(repository: str) -> str:
    """Return a repository's location without rez's `type@` prefix, as a normalized path."""
    match = _REPOSITORY_TYPE.match(repository)
    location = repository[match.end():] if match else repository
    return os.path.normpath(location) if location else location
