"""Build the preview text: the summary line and the per-package sections.

Pure: takes the plan and what was computed from it, returns text. Every value
goes through `printable`, so a control character or terminal escape sequence in
a package's value is shown escaped and never reaches the terminal raw.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from guard.envdiff import EnvDiff
from guard.fastclass import dataclass
from guard.findings import Finding
from guard.plan import Action, Op, SourcedFile, StartupPlan
from shells.analysis import PlanAnalysis

REZ_PREFIX = "REZ_"
_OP_LABELS = {
    Op.SETENV: "set",
    Op.RESETENV: "reset",
    Op.PREPENDENV: "prepend",
    Op.APPENDENV: "append",
    Op.UNSETENV: "unset",
}
_SHOWN_OPS = frozenset(_OP_LABELS) | {Op.ALIAS, Op.SOURCE, Op.COMMAND, Op.INFO, Op.ERROR}
_NAMED_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}


def printable(text: str) -> str:
    """Escape control, format and non-ASCII space characters so the text is safe on a terminal."""
    # str.isprintable() is False exactly for the characters escape_each changes,
    # but the backslash: Unicode categories C* and Z* other than the ASCII space.
    if text.isprintable() and "\\" not in text:
        return text
    return escape_each(text)


def escape_each(text: str) -> str:
    """Escape the text character by character; `printable` returns the same, faster."""
    out = []
    for char in text:
        if char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
            continue
        category = unicodedata.category(char)
        invisible = category[0] in "CZ" and char != " "
        if invisible:
            out.append(_escape_code_point(ord(char)))
        else:
            out.append(char)
    return "".join(out)


def _escape_code_point(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


@dataclass(frozen=True, slots=True)
class PreviewOptions:
    """How much the preview shows."""

    show_rez: bool = False
    fingerprint: str = ""


def summary_line(plan: StartupPlan, diff: EnvDiff, fingerprint: str, show_rez: bool = False) -> str:
    """Return the one-line summary: packages, shell, fingerprint and `+NEW ~CHANGED -REMOVED`."""
    rez_names = frozenset() if show_rez else frozenset(
        name for name in (*diff.added, *diff.changed, *diff.removed) if name.startswith(REZ_PREFIX))
    changes = diff.summary(hide=rez_names)
    if rez_names:
        changes = f"{changes} (+{len(rez_names)} REZ_*)".strip()
    count = len(plan.variants)
    noun = "package" if count == 1 else "packages"
    return printable(f"rez-guard: {count} {noun}, {plan.shell}, fingerprint {fingerprint[:12]}: {changes or 'no changes'}")


def _describe(action: Action, sourced: SourcedFile | None = None) -> str:
    if action.op in _OP_LABELS:
        if action.op is Op.UNSETENV:
            return f"{action.key}  unset"
        return f"{action.key}  {_OP_LABELS[action.op]}  {action.text}"
    if action.op is Op.ALIAS:
        return f"alias {action.key} = {action.text}"
    if action.op is Op.SOURCE:
        return f"source {action.text}{_sourced_detail(sourced)}"
    if action.op is Op.COMMAND:
        return f"command {action.text}"
    return f"{action.op.value} {action.text}"


def _sourced_detail(sourced: SourcedFile | None) -> str:
    if sourced is None:
        return ""
    if sourced.error:
        return f"  ({sourced.path}: {sourced.error})"
    return f"  ({sourced.path}, {sourced.size} bytes, sha256 {sourced.sha256})"


def _sections(plan: StartupPlan) -> dict[str | None, list[tuple[int, Action]]]:
    sections: dict[str | None, list[tuple[int, Action]]] = {variant.qualified_name: [] for variant in plan.variants}
    sections[None] = []
    for index, action in enumerate(plan.actions):
        if action.op in _SHOWN_OPS:
            sections.setdefault(action.variant, []).append((index, action))
    return sections


def _shell_lines(index: int, analysis: PlanAnalysis | None) -> list[str]:
    # What the shell expands or runs inside the value, and why it cannot carry it, under the action.
    scan = analysis.scans.get(index) if analysis is not None else None
    if scan is None:
        return []
    lines = [f"      {analysis.shell}: {printable(expansion.describe())}" for expansion in scan.expansions]
    if scan.problem is not None:
        lines.append(f"      cannot start: {printable(scan.problem)}")
    return lines


def _rez_lines(entries: Sequence[tuple[int, Action]], show_rez: bool, analysis: PlanAnalysis | None) -> list[str]:
    hidden = 0
    lines = []
    for index, action in entries:
        if not show_rez and action.key and action.key.startswith(REZ_PREFIX):
            hidden += 1
            continue
        lines.append(f"    {printable(_describe(action))}")
        lines.extend(_shell_lines(index, analysis))
    if hidden:
        lines.append(f"    ({hidden} REZ_* variables; --show-rez lists them)")
    return lines


def render_preview(
    plan: StartupPlan,
    diff: EnvDiff,
    findings: Iterable[Finding],
    options: PreviewOptions,
    analysis: PlanAnalysis | None = None,
) -> str:
    """Return the full preview: summary, per-package sections, startup files, PATH-like entries and findings.

    With the plan's `analysis`, each value shows what its shell expands or runs inside it.
    """
    lines = [summary_line(plan, diff, options.fingerprint, options.show_rez)]
    sections = _sections(plan)
    sourced = {snapshot.action_index: snapshot for snapshot in plan.sourced}
    for variant in plan.variants:
        entries = sections.get(variant.qualified_name, [])
        lines.append(printable(f"  {variant.qualified_name}  ({variant.repository})"))
        if not entries:
            lines.append("    (no commands)")
        current_phase = None
        for index, action in entries:
            if action.phase is not current_phase:
                lines.append(f"   {action.phase.value}:")
                current_phase = action.phase
            lines.append(f"    {printable(_describe(action, sourced.get(index)))}")
            lines.extend(_shell_lines(index, analysis))
    lines.append("  rez:")
    lines.extend(_rez_lines(sections[None], options.show_rez, analysis))
    if plan.startup_files:
        lines.append("  startup files:")
        for startup in plan.startup_files:
            state = "" if startup.exists else " (missing)"
            lines.append(printable(f"    {startup.order} package commands: {startup.path}{state}"))
    lines.extend(_path_lines(analysis))
    findings = list(findings)
    if findings:
        lines.append("  findings:")
        for finding in sorted(findings, key=lambda item: -item.severity):
            where = f"{finding.variant}: " if finding.variant else ""
            lines.append(printable(f"    {finding.severity.name:<5} {finding.rule}  {where}{finding.message}"))
    return "\n".join(lines)


def _path_lines(analysis: PlanAnalysis | None) -> list[str]:
    if analysis is None or not (analysis.path_entries or analysis.dropped_entries):
        return []
    lines = ["  path entries:"]
    for entry in analysis.path_entries:
        lines.append(printable(f"    {entry.describe()}"))
    for key, dropped in sorted(analysis.dropped_entries.items()):
        lines.append(printable(f"    {key}  drops {len(dropped)} entries of the parent environment: "
                               f"{', '.join(dropped)}"))
    return lines
