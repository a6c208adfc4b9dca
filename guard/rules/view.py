"""Shared lookups for the rules that assess one plan under one policy.

A `PlanView` is built once per assessment. It turns rule ids into findings at
the policy's severity, and caches what several rules ask for: package roots,
the variables the context sets, path entries, sourced files' content, and the
file-system facts of each path (`files`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator

from guard.fastclass import dataclass
from guard.findings import Finding
from guard.plan import ENV_OPS, Action, Op, ResolvedVariant, SourcedFile, StartupPlan
from guard.policy import Policy
from guard.rules import filesystem
from guard.rules.shellwords import PathEntry, is_within, resolve_entry, split_entries

# Operations that give a variable a value; unsetenv removes one.
SETTING_OPS = frozenset({Op.SETENV, Op.RESETENV, Op.PREPENDENV, Op.APPENDENV})


@dataclass(frozen=True, slots=True, bulk=True)
class IndexedAction:
    """An action with its position in `plan.actions`, which findings refer to."""

    index: int
    action: Action


class PlanView:
    """A plan and a policy, with the lookups the rules share."""

    def __init__(self, plan: StartupPlan, policy: Policy) -> None:
        self.plan = plan
        self.policy = policy
        self.files = filesystem.FileFacts()
        self._contents: dict[str, filesystem.FileContent] = {}
        self._entries: dict[tuple[str, str], tuple[PathEntry, ...]] = {}

    def finding(self, rule_id: str, message: str, item: IndexedAction | None = None,
                variant: str | None = None) -> Finding:
        """Return a finding of `rule_id` at the policy's severity, on an action or a variant."""
        if item is not None and variant is None:
            variant = item.action.variant
        return Finding(
            rule=rule_id,
            severity=self.policy.severity(rule_id),
            message=message,
            action_index=None if item is None else item.index,
            variant=variant,
        )

    @functools.cached_property
    def _indexed(self) -> tuple[IndexedAction, ...]:
        # Made once: every rule walks the actions, a large plan has thousands.
        return tuple(IndexedAction(index, action) for index, action in enumerate(self.plan.actions))

    def actions(self, *ops: Op) -> Iterator[IndexedAction]:
        """Yield the plan's actions with one of `ops` (all actions when none are given)."""
        if not ops:
            yield from self._indexed
            return
        for item in self._indexed:
            if item.action.op in ops:
                yield item

    def env_actions(self, keys: frozenset[str] | set[str], ops: frozenset[Op] = SETTING_OPS) -> Iterator[IndexedAction]:
        """Yield environment actions on one of `keys` with one of `ops`."""
        for item in self.actions(*ops):
            if item.action.key in keys:
                yield item

    @functools.cached_property
    def context_variables(self) -> dict[str, str]:
        """The values of the variables the context sets, for resolving references to them."""
        names = {action.key for action in self.plan.actions if action.op in ENV_OPS and action.key}
        return {name: self.plan.environ[name] for name in names if name in self.plan.environ}

    @functools.cached_property
    def real_roots(self) -> dict[str, str]:
        """Each resolved variant's root with links resolved, by qualified name."""
        return {variant.qualified_name: self.files.real_path(variant.root)
                for variant in self.plan.variants if variant.root}

    @functools.cached_property
    def _root_set(self) -> frozenset[str]:
        return frozenset(self.real_roots.values())

    @functools.cached_property
    def _variants_by_name(self) -> dict[str, ResolvedVariant]:
        variants: dict[str, ResolvedVariant] = {}
        for variant in self.plan.variants:
            variants.setdefault(variant.qualified_name, variant)
        return variants

    @functools.cached_property
    def _snapshots_by_index(self) -> dict[int | None, SourcedFile]:
        snapshots: dict[int | None, SourcedFile] = {}
        for snapshot in self.plan.sourced:
            snapshots.setdefault(snapshot.action_index, snapshot)
        return snapshots

    @functools.cached_property
    def real_allowed_prefixes(self) -> tuple[str, ...]:
        """The policy's allowed prefixes with links resolved (on most systems /bin is /usr/bin)."""
        prefixes = {os.path.normpath(prefix) for prefix in self.policy.allowed_prefixes}
        prefixes.update(self.files.real_path(prefix) for prefix in self.policy.allowed_prefixes)
        return tuple(sorted(prefixes))

    @functools.cached_property
    def trusted_uids(self) -> frozenset[int]:
        """Users whose folders the path rules trust: root, the guard's user, the policy's owners."""
        return filesystem.trusted_uids(self.policy.trusted_owners)

    def variant_of(self, action: Action) -> ResolvedVariant | None:
        """Return the resolved variant that emitted `action`, if any."""
        if action.variant is None:
            return None
        return self._variants_by_name.get(action.variant)

    def path_entries(self, action: Action) -> tuple[PathEntry, ...]:
        """Return the entries the action's value adds to its path-like variable, resolved once per value."""
        key = action.key or ""
        text = action.text
        entries = self._entries.get((key, text))
        if entries is None:
            entries = tuple(resolve_entry(entry, key, self.context_variables) for entry in split_entries(text))
            self._entries[(key, text)] = entries
        return entries

    def within_own_root(self, path: str, action: Action) -> bool:
        """Return whether `path` (links resolved) lies in the root of the variant that emitted `action`."""
        root = self.real_roots.get(action.variant or "")
        return root is not None and is_within(self.files.real_path(path), root)

    def within_any_root(self, path: str) -> bool:
        """Return whether `path` (links resolved) lies in the root of any resolved variant."""
        # Real paths are absolute and normalized, so a root contains the path when it is the path or
        # one of its parents: a walk up the path replaces a comparison with every root.
        roots = self._root_set
        if not roots:
            return False
        folder = self.files.real_path(path)
        while folder not in roots:
            parent = os.path.dirname(folder)
            if parent == folder:
                return False
            folder = parent
        return True

    def within_allowed_prefix(self, path: str) -> bool:
        """Return whether `path` (links resolved) lies under one of the policy's allowed prefixes."""
        resolved = self.files.real_path(path)
        return any(is_within(resolved, prefix) for prefix in self.real_allowed_prefixes)

    def resolve_value(self, action: Action) -> PathEntry:
        """Resolve an action's whole value (a sourced path, say) like a single path entry."""
        return resolve_entry(action.text, "", self.context_variables)

    def snapshot_for(self, item: IndexedAction) -> SourcedFile | None:
        """Return the recorded snapshot of the file a source action reads, if any."""
        return self._snapshots_by_index.get(item.index)

    def file_content(self, path: str) -> filesystem.FileContent:
        """Return the current content of a sourced file, read once per assessment."""
        content = self._contents.get(path)
        if content is None:
            content = filesystem.read_regular_file(path)
            self._contents[path] = content
        return content
