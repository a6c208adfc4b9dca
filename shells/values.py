"""What a shell does with a value: the expansions it performs and the text it produces.

A scan of one value yields a `ValueScan`: the expansions the shell will perform
(shown in the preview before approval), a template of the text the shell will
produce, and a problem when the shell cannot carry the value at all. A template
is a tuple of pieces: a `str` is text the shell produces exactly, `None` is text
the guard cannot predict (a command's output, a process id, a shell variable).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from guard.fastclass import dataclass

Template = tuple[str | None, ...]
# Return the template of a variable at this point of the startup, or None when it is not set.
# Scanners only test the result for None and copy it unchanged into their template: the plan
# analysis passes a marker in place of a variable's own value and relies on this.
Lookup = Callable[[str], "Template | None"]


class ExpansionKind(enum.StrEnum):
    """The shell's treatment of one construct inside a value."""

    VARIABLE = "variable"
    HOME = "home"
    PARAMETER = "parameter"
    OPERATOR = "operator"
    ARITHMETIC = "arithmetic"
    INPUT = "input"
    COMMAND = "command"

    @property
    def runs_code(self) -> bool:
        """True when the construct runs a command or reads input when the shell expands it.

        bash and zsh arithmetic counts: an array subscript inside it runs command substitutions.
        """
        return self in (ExpansionKind.ARITHMETIC, ExpansionKind.INPUT, ExpansionKind.COMMAND)


_KIND_NOTES = {
    ExpansionKind.VARIABLE: "replaced by the variable's value",
    ExpansionKind.HOME: "replaced by the home folder before the shell starts",
    ExpansionKind.PARAMETER: "parameter expansion, result not known before launch",
    ExpansionKind.OPERATOR: "shell syntax, runs as code when the alias is used",
    ExpansionKind.ARITHMETIC: "arithmetic expansion, can run commands through array subscripts",
    ExpansionKind.INPUT: "reads a line from standard input",
    ExpansionKind.COMMAND: "runs a command",
}


@dataclass(frozen=True, slots=True, bulk=True)
class Expansion:
    """One construct the shell expands or executes inside a value.

    `text` is the construct as written in the value; `code` is the command text
    the shell runs, for command substitutions, as the shell receives it.
    """

    kind: ExpansionKind
    text: str
    code: str | None = None

    def describe(self) -> str:
        """Return the construct and what the shell does with it, for the preview."""
        if self.kind is ExpansionKind.COMMAND and self.code is not None:
            return f"{self.text} runs the command: {self.code.strip()}"
        return f"{self.text} ({_KIND_NOTES[self.kind]})"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind.value, "text": self.text}
        if self.code is not None:
            data["code"] = self.code
        return data


@dataclass(frozen=True, slots=True, bulk=True)
class ValueScan:
    """The result of one shell scanning one value: expansions, resulting text, or why it cannot carry it."""

    template: Template
    expansions: tuple[Expansion, ...] = ()
    problem: str | None = None

    @property
    def runs_code(self) -> bool:
        """True when any expansion runs a command or reads input."""
        return any(expansion.kind.runs_code for expansion in self.expansions)

    @property
    def exact(self) -> bool:
        """True when the shell produces the value's own text, with nothing expanded."""
        return not self.expansions and self.problem is None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"expansions": [expansion.to_dict() for expansion in self.expansions]}
        if self.problem is not None:
            data["problem"] = self.problem
        return data


def join_templates(parts: Iterable[Iterable[str | None]]) -> Template:
    """Concatenate templates, merging neighbouring known text and neighbouring unknowns.

    Runs of known text are joined once each, so the time is linear in the total length.
    """
    merged: list[str | None] = []
    text: list[str] = []
    for part in parts:
        for piece in part:
            if piece is None:
                if text:
                    merged.append("".join(text))
                    text.clear()
                    merged.append(None)
                elif not merged or merged[-1] is not None:
                    merged.append(None)
            elif piece:
                text.append(piece)
    if text:
        merged.append("".join(text))
    return tuple(merged) if merged else ("",)


class PieceScanner(Protocol):
    """A shell's scanner for one piece of a value that rez does not write literally."""

    def scan(self) -> None:
        """Read the whole piece."""

    def result(self) -> tuple[Template, tuple[Expansion, ...], str | None]:
        """Return the piece's template, its expansions and the problem found, if any."""


def scan_pieces(strings: list[tuple[bool, str]], home_expansions: tuple[Expansion, ...],
                scanner_for: Callable[[str], PieceScanner],
                literal_problem: Callable[[str], str | None] | None = None) -> ValueScan:
    """Scan rez's (is_literal, text) pieces: a literal piece as its text, any other with `scanner_for(text)`.

    The scan stops at the first piece with a problem: `literal_problem` names one for a literal piece.
    """
    pieces: list[Template] = []
    expansions: list[Expansion] = list(home_expansions)
    for is_literal, text in strings:
        if is_literal:
            problem = literal_problem(text) if literal_problem is not None else None
            template: Template = (text,)
        else:
            scanner = scanner_for(text)
            scanner.scan()
            template, found, problem = scanner.result()
            expansions.extend(found)
        if problem is not None:
            return ValueScan(template=(None,), expansions=tuple(expansions), problem=problem)
        pieces.append(template)
    return ValueScan(template=join_templates(pieces), expansions=tuple(expansions))


def template_text(template: Template) -> str | None:
    """Return the exact text of a template, or None when part of it is unknown."""
    if any(piece is None for piece in template):
        return None
    return "".join(piece for piece in template if piece is not None)


def template_matches(template: Template, value: str) -> bool:
    """Return True when `value` is a text the template allows."""
    text = template_text(template)
    if text is not None:
        return value == text
    pattern = "".join(".*" if piece is None else re.escape(piece) for piece in template)
    return re.fullmatch(pattern, value, flags=re.DOTALL) is not None


def template_display(template: Template) -> str:
    """Return the template as text, with `…` where the shell produces text not known in advance."""
    return "".join("…" if piece is None else piece for piece in template)
