"""The plan view and the rules on path entries as they were before they read each fact once.

These copies check every entry against every package root, read a folder's
permissions each time an entry names it, and rebuild the PATH search order
after every action. The tests in tests/policy/test_rules_linear.py check that
`guard.assess.assess` returns the same findings as `assess_before` on every plan.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from typing import Final

from guard.assess import _order
from guard.fastclass import dataclass
from guard.findings import Finding
from guard.plan import ENV_OPS, Action, Op, Phase, ResolvedVariant, SourcedFile, StartupPlan
from guard.policy import Policy
from guard.rules import aliases, environment, expansion, filesystem, loader, repositories
from guard.rules.catalog import GUARD_COMMAND, GUARD_VARIABLE_PREFIX, GUARD_VARIABLES, LIBRARY_PATH_VARIABLES
from guard.rules.shellwords import PathEntry, is_within, real_path, resolve_entry, split_entries
from guard.rules.view import SETTING_OPS, IndexedAction


def assess_before(plan: StartupPlan, policy: Policy) -> tuple[Finding, ...]:
    """Return the plan's findings as `assess` did before, with the copies below."""
    view = PlanViewBefore(plan, policy)
    families = (guard_self_check, loader.check, environment.check, path_hygiene_check, aliases.check,
                startup_check, expansion.check, repositories.check)
    findings: list[Finding] = []
    for family in families:
        findings.extend(family(view))
    findings.sort(key=_order)
    return tuple(findings)


class PlanViewBefore:
    """A plan and a policy, with the lookups the rules share."""

    def __init__(self, plan: StartupPlan, policy: Policy) -> None:
        self.plan = plan
        self.policy = policy
        self._contents: dict[str, filesystem.FileContent] = {}

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

    def actions(self, *ops: Op) -> Iterator[IndexedAction]:
        """Yield the plan's actions with one of `ops` (all actions when none are given)."""
        for index, action in enumerate(self.plan.actions):
            if not ops or action.op in ops:
                yield IndexedAction(index, action)

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
        return {variant.qualified_name: real_path(variant.root) for variant in self.plan.variants if variant.root}

    @functools.cached_property
    def real_allowed_prefixes(self) -> tuple[str, ...]:
        """The policy's allowed prefixes with links resolved (on most systems /bin is /usr/bin)."""
        prefixes = {os.path.normpath(prefix) for prefix in self.policy.allowed_prefixes}
        prefixes.update(real_path(prefix) for prefix in self.policy.allowed_prefixes)
        return tuple(sorted(prefixes))

    @functools.cached_property
    def trusted_uids(self) -> frozenset[int]:
        """Users whose folders the path rules trust: root, the guard's user, the policy's owners."""
        return filesystem.trusted_uids(self.policy.trusted_owners)

    def variant_of(self, action: Action) -> ResolvedVariant | None:
        """Return the resolved variant that emitted `action`, if any."""
        return self.plan.variant_named(action.variant)

    def path_entries(self, action: Action) -> tuple[PathEntry, ...]:
        """Return the entries the action's value adds to its path-like variable."""
        key = action.key or ""
        return tuple(resolve_entry(entry, key, self.context_variables) for entry in split_entries(action.text))

    def within_own_root(self, path: str, action: Action) -> bool:
        """Return whether `path` (links resolved) lies in the root of the variant that emitted `action`."""
        root = self.real_roots.get(action.variant or "")
        return root is not None and is_within(real_path(path), root)

    def within_any_root(self, path: str) -> bool:
        """Return whether `path` (links resolved) lies in the root of any resolved variant."""
        resolved = real_path(path)
        return any(is_within(resolved, root) for root in self.real_roots.values())

    def within_allowed_prefix(self, path: str) -> bool:
        """Return whether `path` (links resolved) lies under one of the policy's allowed prefixes."""
        resolved = real_path(path)
        return any(is_within(resolved, prefix) for prefix in self.real_allowed_prefixes)

    def resolve_value(self, action: Action) -> PathEntry:
        """Resolve an action's whole value (a sourced path, say) like a single path entry."""
        return resolve_entry(action.text, "", self.context_variables)

    def snapshot_for(self, item: IndexedAction) -> SourcedFile | None:
        """Return the recorded snapshot of the file a source action reads, if any."""
        for snapshot in self.plan.sourced:
            if snapshot.action_index == item.index:
                return snapshot
        return None

    def file_content(self, path: str) -> filesystem.FileContent:
        """Return the current content of a sourced file, read once per assessment."""
        content = self._contents.get(path)
        if content is None:
            content = filesystem.read_regular_file(path)
            self._contents[path] = content
        return content


# These variables have their own rule for entries outside package roots.
_OWN_ROOT_RULES: Final = LIBRARY_PATH_VARIABLES | {"PYTHONPATH"}
_VERSION_SUFFIX: Final = re.compile(r"[0-9.]*\Z")


def path_hygiene_check(view: PlanViewBefore) -> Iterator[Finding]:
    """Yield the path.* findings for every entry of every path-like variable."""
    for item in view.env_actions(frozenset(view.policy.path_variables)):
        for entry in view.path_entries(item.action):
            yield from _check_entry(view, item, entry)
    yield from _shadowing(view)


def _check_entry(view: PlanViewBefore, item: IndexedAction, entry: PathEntry) -> Iterator[Finding]:
    key = item.action.key
    if entry.is_self:
        return
    if entry.text == "":
        yield view.finding(
            "path.empty-entry",
            f"{key} gets an empty entry, which means the current folder, so whatever folder you are in "
            "can supply commands or libraries; remove the empty entry (a doubled or trailing ':')",
            item,
        )
        return
    if entry.resolved is None:
        if key not in _OWN_ROOT_RULES:
            yield view.finding(
                "path.outside-roots",
                f"{key} entry {entry.text!r} depends on {', '.join(entry.unresolved)} from the shell's "
                "environment, so the preview cannot show where it points; use a path inside the package",
                item,
            )
        return

    path = entry.resolved
    if not os.path.isabs(path):
        yield from _relative_entry(view, item, entry)
        return
    if key not in _OWN_ROOT_RULES and not view.within_any_root(path) and not view.within_allowed_prefix(path):
        yield view.finding(
            "path.outside-roots",
            f"{key} entry {path} lies outside every package root and the policy's allowed prefixes; "
            "check where the folder comes from, or add its prefix to the policy",
            item,
        )
    if not os.path.isdir(path):
        yield view.finding(
            "path.missing-dir",
            f"{key} entry {path} does not exist, so anyone who can create it later decides what it "
            "holds; remove the entry or create the folder",
            item,
        )
        return
    writable = filesystem.writable_by_others(path)
    if writable is not None:
        yield view.finding(
            "path.writable-dir",
            f"{key} entry {path}: {writable.path} is writable by its {writable.who}, who can place "
            f"programs or libraries there; run `chmod go-w {writable.path}` or remove the entry",
            item,
        )
    owner = filesystem.owner_uid(path)
    if owner is not None and owner not in view.trusted_uids:
        yield view.finding(
            "path.foreign-owner",
            f"{key} entry {path} belongs to user {filesystem.user_name(owner)}, who can change what it "
            "holds; add the user to the policy's trusted owners if that is expected",
            item,
        )


def _relative_entry(view: PlanViewBefore, item: IndexedAction, entry: PathEntry) -> Iterator[Finding]:
    key = item.action.key
    if os.path.normpath(entry.text) == "." and item.action.phase is Phase.REZ:
        yield view.finding(
            "path.rez-dot-entry",
            f"rez itself appends '.' to {key} (its system path detection found it in the shell's built-in "
            "PATH), so the current folder can supply commands not found elsewhere; set "
            "standard_system_paths in rezconfig to remove it",
            item,
        )
        return
    if os.path.normpath(entry.text) == ".":
        yield view.finding(
            "path.dot-entry",
            f"{key} gets the entry '.', the current folder, so whatever folder you are in can supply "
            "commands or libraries; remove the entry",
            item,
        )
        return
    yield view.finding(
        "path.relative-entry",
        f"{key} entry {entry.text!r} is relative, so it points somewhere else in every folder you "
        "change to; use an absolute path such as {root}/bin",
        item,
    )


@dataclass(frozen=True, slots=True)
class _Placed:
    """A PATH entry in the order the started shell will search, with the action that added it."""

    entry: PathEntry | None  # None stands for the PATH the shell inherits
    item: IndexedAction | None


def _path_order(view: PlanViewBefore) -> list[_Placed]:
    # Replay the PATH actions to learn which entries the shell searches first.
    order: list[_Placed] = [_Placed(None, None)]
    for item in view.env_actions({"PATH"}, frozenset({Op.SETENV, Op.RESETENV, Op.PREPENDENV,
                                                      Op.APPENDENV, Op.UNSETENV})):
        op = item.action.op
        if op is Op.UNSETENV:
            order = []
            continue
        added: list[_Placed] = []
        for entry in view.path_entries(item.action):
            if entry.is_self:
                added.extend(order)
            else:
                added.append(_Placed(entry, item))
        if op is Op.PREPENDENV:
            order = added + order
        elif op is Op.APPENDENV:
            order = order + added
        else:
            order = added
    return order


def _shadowing(view: PlanViewBefore) -> Iterator[Finding]:
    """Yield path.shadows-command for folders searched before the inherited and system PATH."""
    commands = tuple(view.policy.common_commands)
    for placed in _path_order(view):
        entry, item = placed.entry, placed.item
        if entry is None or item is None:
            return
        if entry.resolved is None or not os.path.isabs(entry.resolved):
            continue
        if view.within_allowed_prefix(entry.resolved):
            return
        found = filesystem.executables_in(entry.resolved, commands)
        variant = view.variant_of(item.action)
        shadowed = [name for name in found if variant is None or not _provides(variant.name, name)]
        if shadowed:
            yield view.finding(
                "path.shadows-command",
                f"PATH entry {entry.resolved} comes before the system folders and holds "
                f"{', '.join(shadowed)}, which will run instead of the system's; approve only if the "
                "package is meant to replace them",
                item,
            )


def _provides(package_name: str, command: str) -> bool:
    # A package may ship the command it is named after: python provides python3.11.
    return command.startswith(package_name) and bool(_VERSION_SUFFIX.match(command[len(package_name):]))


def guard_self_check(view: PlanViewBefore) -> Iterator[Finding]:
    """Yield guard.variable, guard.command and guard.tamper findings."""
    yield from _guard_variables(view)
    yield from _guard_commands(view)
    yield from _tampering(view)


def _guard_variables(view: PlanViewBefore) -> Iterator[Finding]:
    for item in view.actions(*ENV_OPS):
        action = item.action
        key = action.key or ""
        if action.phase is Phase.REZ:
            continue
        if key in GUARD_VARIABLES or key.startswith(GUARD_VARIABLE_PREFIX):
            verb = "unsets" if action.op is Op.UNSETENV else "sets"
            yield view.finding(
                "guard.variable",
                f"{action.op} {key}: a package {verb} a variable rez-guard reads to find its policy, trust store "
                "or audit log, so a guard started in this shell could obey the package; deny, and remove it "
                "from the package",
                item,
            )


def _guard_commands(view: PlanViewBefore) -> Iterator[Finding]:
    for item in view.env_actions({"PATH"}):
        for entry in view.path_entries(item.action):
            if entry.resolved and filesystem.executables_in(entry.resolved, (GUARD_COMMAND,)):
                yield view.finding(
                    "guard.command",
                    f"PATH entry {entry.resolved} holds a {GUARD_COMMAND} command, which would replace the real "
                    "guard in this shell and in shells started from it; deny, and remove it from the package",
                    item,
                )
    for item in view.actions(Op.ALIAS):
        if item.action.key == GUARD_COMMAND:
            yield view.finding(
                "guard.command",
                f"alias {GUARD_COMMAND} replaces the real guard in this shell; deny, and remove it from the package",
                item,
            )


def _tampering(view: PlanViewBefore) -> Iterator[Finding]:
    needles = _needles(view)
    for item in view.actions(Op.SOURCE, Op.COMMAND, Op.ALIAS):
        action = item.action
        if action.op is Op.SOURCE:
            resolved = view.resolve_value(action).resolved
            content = view.file_content(resolved).data if resolved else None
            text = "" if content is None else content.decode("utf-8", errors="replace")
            where = f"sourced file {resolved}"
        else:
            text = action.text
            where = f"{action.op} {action.key or action.text!r}"
        mentioned = [needle for needle in needles if needle in text.lower()]
        if mentioned:
            yield view.finding(
                "guard.tamper",
                f"{where} mentions {mentioned[0]!r}, which belongs to rez-guard's own configuration, trust "
                "store or audit log; deny, and find out why the package touches them",
                item,
            )


def _needles(view: PlanViewBefore) -> tuple[str, ...]:
    # NOTE: this is a text search, so it misses code that builds the name at run
    # time (say "rez-" + "guard"). The fingerprint covers the file's hash, so a
    # change to such a file is still asked about again.
    needles = {GUARD_COMMAND, GUARD_COMMAND.replace("-", "_"), GUARD_VARIABLE_PREFIX.lower()}
    needles.update(path.lower() for path in view.policy.protected_paths)
    return tuple(sorted(needles))


def startup_check(view: PlanViewBefore) -> Iterator[Finding]:
    """Yield source.* and command.run findings."""
    for item in view.actions(Op.SOURCE):
        yield from _check_source(view, item)
    for item in view.actions(Op.COMMAND):
        yield view.finding(
            "command.run",
            f"the shell runs {item.action.text!r} as it starts; read the command before you approve",
            item,
        )


def _check_source(view: PlanViewBefore, item: IndexedAction) -> Iterator[Finding]:
    action = item.action
    resolved = view.resolve_value(action)
    path = resolved.resolved
    yield view.finding("source.file", f"the shell sources {path or action.text} as it starts", item)

    if path is None:
        yield view.finding(
            "source.outside-root",
            f"sourced path {action.text!r} depends on {', '.join(resolved.unresolved)} from the shell's "
            "environment, so the preview cannot show which file runs; use a path inside the package",
            item,
        )
        return
    if not view.within_own_root(path, action):
        yield view.finding(
            "source.outside-root",
            f"sourced file {path} lies outside the package's root, so the package does not control "
            "what it runs; check where the file comes from",
            item,
        )

    writable = filesystem.writable_by_others(path)
    if writable is not None:
        yield view.finding(
            "source.writable",
            f"sourced file {path}: {writable.path} is writable by its {writable.who}, who can change "
            f"what the shell runs; run `chmod go-w {writable.path}`",
            item,
        )

    snapshot = view.snapshot_for(item)
    if snapshot is None or snapshot.sha256 is None or snapshot.error:
        reason = "no snapshot was recorded" if snapshot is None else (snapshot.error or "no hash was recorded")
        yield view.finding(
            "source.unreadable",
            f"sourced file {path} could not be read when the plan was recorded ({reason}), so the "
            "preview cannot cover what it runs; make the file readable or remove the source call",
            item,
        )
        return
    current = view.file_content(path)
    if current.sha256 != snapshot.sha256:
        now = current.error or f"sha256 {current.sha256}"
        yield view.finding(
            "source.changed",
            f"sourced file {path} changed after the plan was recorded (recorded sha256 {snapshot.sha256}, "
            f"now {now}); start the launch again to see the new content",
            item,
        )
