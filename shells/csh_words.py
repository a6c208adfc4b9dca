"""Scan values as csh and tcsh read them inside rez's double quotes.

rez writes an expandable piece as `"..."`, with `"` written as `"\\""` and `!`
as `\\!`, so inside the quotes only `$` and a backquote are special. Unlike sh,
csh stops the whole startup script on a variable it cannot expand. That is an
undefined variable, a `$` at the end of a value or before a character that
cannot start a name, or a `:` that is not a known modifier. Those are reported
as problems, because the launch could not show what was approved.
"""

from __future__ import annotations

import re
from dataclasses import field

from guard.fastclass import dataclass
from shells.values import (
    Expansion,
    ExpansionKind,
    Lookup,
    Template,
    ValueScan,
    join_templates,
    scan_pieces,
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A run of characters that csh keeps as they are inside double quotes.
_PLAIN_TEXT = re.compile(r"[^\n`$\\]+")


@dataclass(frozen=True, slots=True)
class CshDialect:
    """The double-quote rules of csh or tcsh, and the variables the shell defines itself."""

    name: str
    modifiers: str
    # tcsh's $%NAME (length), and $? and $# on their own (status, argument count).
    tcsh: bool = False
    shell_variables: frozenset[str] = field(default_factory=frozenset)


class CshScanner:
    """Read one double-quoted piece as csh does and collect pieces and expansions."""

    def __init__(self, text: str, dialect: CshDialect, lookup: Lookup) -> None:
        self.text = text
        self.dialect = dialect
        self.lookup = lookup
        self.pieces: list[Template] = []
        self.expansions: list[Expansion] = []
        self.problem: str | None = None
        # Where the last unbraced variable or argument ended: csh reads a `$` right after one oddly.
        self._unbraced_end = -1

    def fail(self, why: str) -> int:
        self.problem = f"{self.dialect.name} stops the startup script: {why}"
        return len(self.text)

    def scan(self) -> None:
        index = 0
        while index < len(self.text) and self.problem is None:
            char = self.text[index]
            if char == "\n":
                index = self.fail("csh cannot carry a newline inside a quoted value")
            elif char == "`":
                index = self._backquote(index)
            elif char == "\\" and self.text.startswith("$", index + 1):
                index = self.fail("csh reads a backslash before `$` inside double quotes in ways that differ "
                                  "from one value to the next, so the guard cannot show the result")
            elif char == "$":
                index = self._dollar(index)
            elif char == "\\":
                self.pieces.append((char,))
                index += 1
            else:
                # Text up to the next character csh may read specially, as one piece.
                end = _PLAIN_TEXT.match(self.text, index).end()
                self.pieces.append((self.text[index:end],))
                index = end

    def _backquote(self, index: int) -> int:
        end = self.text.find("`", index + 1)
        if end < 0:
            return self.fail("unmatched backquote")
        construct = self.text[index:end + 1]
        self.expansions.append(Expansion(ExpansionKind.COMMAND, construct, self.text[index + 1:end]))
        self.pieces.append((None,))
        return end + 1

    def _dollar(self, index: int) -> int:
        text = self.text
        following = text[index + 1:index + 2]
        if index == self._unbraced_end and not (_NAME.match(following) or following == "{"):
            # Right after an unbraced variable csh reads `$ ` or a final `$$` as an illegal name.
            return self.fail(f"csh cannot read `${following}` right after a variable without braces")
        if following in (" ", "\t"):
            self.pieces.append(("$",))
            return index + 1
        if following == "":
            return self.fail("a `$` at the end of a value is an illegal variable name")
        if following == "{":
            return self._braced(index)
        if _NAME.match(following):
            return self._name(index, index + 1)
        if not following.isascii():
            return self.fail(f"`${following}` is an illegal variable name")
        if following in "?#%":
            return self._query(index, following)
        if following.isdigit() or following == "*":
            return self._argument(index)
        if following == "$":
            self._parameter("$$")
            return index + 2
        if following == "<":
            self.expansions.append(Expansion(ExpansionKind.INPUT, "$<"))
            self.pieces.append((None,))
            return index + 2
        return self.fail(f"`${following}` is an illegal variable name")

    def _argument(self, index: int) -> int:
        # $0, $1, ... and $* read the shell's arguments, and take modifiers like any variable.
        if not self.dialect.tcsh:
            return self.fail(f"`{self.text[index:index + 2]}` refers to an argument, which an interactive csh "
                             "does not have")
        end = index + 2
        while self.text[index + 1].isdigit() and end < len(self.text) and self.text[end].isdigit():
            end += 1
        if self.text.startswith("[", end):
            return self.fail(f"a subscript after {self.text[index:end]} is not modelled")
        modifiers_end = self._modifiers(self.text, end, self.text[index:end])
        if modifiers_end is None:
            return len(self.text)
        self._parameter(self.text[index:modifiers_end])
        self._unbraced_end = modifiers_end
        return modifiers_end

    def _parameter(self, construct: str) -> None:
        self.expansions.append(Expansion(ExpansionKind.PARAMETER, construct))
        self.pieces.append((None,))

    def _query(self, index: int, operator: str) -> int:
        # $?NAME is 1 when NAME is set, $#NAME the number of its words, $%NAME its length (tcsh).
        match = _NAME.match(self.text, index + 2)
        if operator == "%" and not self.dialect.tcsh:
            return self.fail("`$%` is an illegal variable name")
        if match is None:
            following = self.text[index + 2:index + 3]
            if self.dialect.tcsh and operator in "?#" and following in ("", " ", "\t"):
                self._parameter(self.text[index:index + 2])
                return index + 2
            return self.fail(f"`${operator}` is an illegal variable name")
        name = match.group(0)
        if self._non_ascii_follows(match.end()):
            return self.fail(f"{self.dialect.name} may read the non-ASCII character after ${operator}{name} "
                             "as part of the name")
        if operator != "?" and not self._defined(name):
            return self.fail(f"${operator}{name} refers to {name}, which is not known to be set at this point "
                             "(csh reports an undefined variable)")
        if self.text.startswith(("[", ":"), match.end()):
            return self.fail(f"a subscript or modifier after ${operator}{name} is not modelled")
        self._parameter(self.text[index:match.end()])
        return match.end()

    def _non_ascii_follows(self, index: int) -> bool:
        following = self.text[index:index + 1]
        return self.dialect.tcsh and bool(following) and not following.isascii()

    def _defined(self, name: str) -> bool:
        return self.lookup(name) is not None or name in self.dialect.shell_variables

    def _name(self, index: int, start: int) -> int:
        match = _NAME.match(self.text, start)
        name = match.group(0)
        end = match.end()
        if self._non_ascii_follows(end):
            return self.fail(f"tcsh may read the non-ASCII character after ${name} as part of the name")
        if not self._defined(name):
            return self.fail(f"${name} refers to {name}, which is not known to be set at this point "
                             "(csh reports an undefined variable)")
        if self.text.startswith("[", end):
            return self.fail(f"csh reads the `[` after ${name} as a subscript, which the guard does not model")

        modifiers_end = self._modifiers(self.text, end, f"${name}")
        if modifiers_end is None:
            return len(self.text)
        # A shell variable or a modifier gives text the guard cannot know in advance.
        known = name not in self.dialect.shell_variables and modifiers_end == end
        self._resolved(self.text[index:modifiers_end], name, known)
        self._unbraced_end = modifiers_end
        return modifiers_end

    def _modifiers(self, text: str, index: int, construct: str) -> int | None:
        # Returns the end of a chain of `:h`-style modifiers in text, or None after reporting a problem.
        while text.startswith(":", index):
            modifier = text[index + 1:index + 2]
            if modifier in ("g", "a"):
                modifier = text[index + 2:index + 3]
                width = 3
            else:
                width = 2
            if modifier and modifier in self.dialect.modifiers:
                index += width
                continue
            shown = text[index:index + width] or ":"
            self.fail(f"`{shown}` after {construct} is read as a variable modifier that "
                      f"{self.dialect.name} does not know")
            return None
        return index

    def _resolved(self, construct: str, name: str, known: bool) -> None:
        value = self.lookup(name) if known else None
        if value is None:
            self._parameter(construct)
            return
        self.expansions.append(Expansion(ExpansionKind.VARIABLE, construct))
        self.pieces.append(value)

    def _braced(self, index: int) -> int:
        end = self.text.find("}", index + 2)
        if end < 0:
            return self.fail("missing `}` after `${`")
        body = self.text[index + 2:end]
        construct = self.text[index:end + 1]
        operator = body[:1] if body[:1] in "?#%" else ""
        match = _NAME.match(body, len(operator))
        if match is None:
            return self.fail(f"`{construct}` is an illegal variable name")
        name = match.group(0)
        rest = body[match.end():]
        if operator == "%" and not self.dialect.tcsh:
            return self.fail(f"`{construct}` is an illegal variable name")
        if operator != "?" and not self._defined(name):
            return self.fail(f"{construct} refers to {name}, which is not known to be set at this point "
                             "(csh reports an undefined variable)")

        if operator:
            if rest:
                return self.fail(f"`{construct}` is an illegal variable name")
            self._parameter(construct)
            return end + 1
        if rest.startswith("["):
            return self.fail(f"csh reads the `[` in {construct} as a subscript, which the guard does not model")
        if rest:
            modifiers_end = self._modifiers(rest, 0, construct)
            if modifiers_end is None:
                return len(self.text)
            if modifiers_end != len(rest):
                return self.fail(f"`{construct}` is an illegal variable name")
            self._parameter(construct)
            return end + 1
        self._resolved(construct, name, name not in self.dialect.shell_variables)
        return end + 1

    def result(self) -> tuple[Template, tuple[Expansion, ...], str | None]:
        return join_templates(self.pieces), tuple(self.expansions), self.problem


def scan_segments(strings: list[tuple[bool, str]], dialect: CshDialect, lookup: Lookup,
                  home_expansions: tuple[Expansion, ...] = ()) -> ValueScan:
    """Scan rez's (is_literal, text) pieces after `~` expansion, as csh reads them."""
    def newline_problem(text: str) -> str | None:
        return f"{dialect.name} cannot carry a newline inside a quoted value" if "\n" in text else None

    return scan_pieces(strings, home_expansions, lambda text: CshScanner(text, dialect, lookup), newline_problem)


_ALIAS_OPERATORS = re.compile(r"[<>|;&()]")


def scan_alias_body(body: str, dialect: CshDialect) -> ValueScan:
    """Scan an alias body: rez writes it between single quotes, as code run when the alias is used."""
    name = dialect.name
    problem = None
    if "\n" in body:
        problem = f"{name} cannot carry a newline in an alias body"
    elif "'" in body:
        problem = f"{name} reads the `'` in the alias body as the end of the quotes rez writes around it"
    elif re.search(r"(^|[^\\])!(?![\s=(]|$)", body):
        problem = f"an interactive {name} substitutes the `!` in the alias body from its history"
    expansions = [Expansion(ExpansionKind.OPERATOR, match.group(0)) for match in _ALIAS_OPERATORS.finditer(body)]
    if "`" in body:
        expansions.append(Expansion(ExpansionKind.COMMAND, body))
    elif "$" in body:
        expansions.append(Expansion(ExpansionKind.PARAMETER, body))
    return ValueScan(template=(body,), expansions=tuple(expansions), problem=problem)
