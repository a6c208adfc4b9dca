"""The fingerprint: a hash over the canonical plan, the key of the trust store.

It covers the attributed actions, the resolved variants with their roots, the
content hash of every sourced file and the target shell. It leaves out what
changes on every launch without the context changing (rez's timestamps and the
session's temporary file paths) and the user's own environment, because the
plan contains unexpanded values: `$PATH` is the same text whatever the user's
PATH is.
"""

from __future__ import annotations

import hashlib
import json

from guard.plan import Op, StartupPlan

FINGERPRINT_VERSION = 1

# rez sets these to a new value for every launch of the same context.
VOLATILE_REZ_VARIABLES = frozenset({
    "REZ_RXT_FILE",
    "REZ_CONTEXT_FILE",
    "REZ_USED_TIMESTAMP",
    "REZ_SHELL_INIT_TIMESTAMP",
    "REZ_SHELL_INTERACTIVE",
})

# Comments are written into the script but never run; their text is cosmetic.
_IGNORED_OPS = frozenset({Op.COMMENT})


def canonical_plan(plan: StartupPlan) -> dict:
    """Return the part of the plan the fingerprint covers, as JSON-compatible data."""
    actions = [
        action.to_dict() for action in plan.actions
        if action.op not in _IGNORED_OPS and action.key not in VOLATILE_REZ_VARIABLES
    ]
    return {
        "version": FINGERPRINT_VERSION,
        "shell": plan.shell,
        "variants": [[variant.qualified_name, variant.uri, variant.root] for variant in plan.variants],
        "actions": actions,
        "sourced": [[sourced.path, sourced.sha256, sourced.error] for sourced in plan.sourced],
    }


def fingerprint(plan: StartupPlan) -> str:
    """Return the plan's fingerprint: sha256 over its canonical JSON form."""
    # canonical_plan builds fresh lists and dicts, so the circular reference check
    # (about a sixth of the encoding time) can be skipped; the output is the same.
    data = json.dumps(canonical_plan(plan), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      check_circular=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
