"""Scan values as sh, bash and zsh read them inside rez's double quotes.

rez writes an expandable piece of a value as `"..."` with `\\` and `"`
escaped, so inside the quotes only `$`, a backquote and a backslash are
special. The scanner reads that quoted text the way the shell does and
returns the expansions and the resulting text. Where it cannot tell where a
construct ends, it treats the rest of the piece as unknown and as the most
dangerous construct that appears in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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

_NAME_START = re.compile(r"[A-Za-z_]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A run of characters that double quotes keep as they are.
_PLAIN_TEXT = re.compile(r"[^\\`$]+")
_SPECIAL_PARAMETERS = "@*#?-$!"
# zsh history modifiers that take no argument; the others (s, g, &, w, W, f, F) are not modelled.
_ZSH_SIMPLE_MODIFIERS = "aAcehlPqQrtux"
_KIND_ORDER = (
    ExpansionKind.VARIABLE,
    ExpansionKind.HOME,
    ExpansionKind.PARAMETER,
    ExpansionKind.OPERATOR,
    ExpansionKind.ARITHMETIC,
    ExpansionKind.INPUT,
    ExpansionKind.COMMAND,
)


@dataclass(frozen=True, slots=True)
class PosixDialect:
    """The double-quote rules of one sh-like shell, and the variables it defines itself."""

    name: str
    bracket_arithmetic: bool = False
    zsh: bool = False
    # Regex of what may follow the parameter name inside `${...}` without a bad substitution.
    brace_operators: str = r"(:?[-=?+]|##?|%%?)"
    brace_prefixes: str = "#"
    shell_variables: frozenset[str] = field(default_factory=frozenset)


def escape_double_quoted(text: str) -> str:
    """Return the text rez writes between double quotes for an expandable piece."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def strongest_kind(kinds: Iterable[ExpansionKind]) -> ExpansionKind:
    """Return the most dangerous kind among `kinds` (VARIABLE for none)."""
    return max(kinds, key=_KIND_ORDER.index, default=ExpansionKind.VARIABLE)


def kind_of_unknown_text(text: str) -> ExpansionKind:
    """Return the strongest kind any construct in shell text could have."""
    kinds = [ExpansionKind.PARAMETER]
    if "$((" in text or "$[" in text:
        kinds.append(ExpansionKind.ARITHMETIC)
    if "$(" in text.replace("$((", "") or "`" in text or "<(" in text or ">(" in text:
        kinds.append(ExpansionKind.COMMAND)
    return strongest_kind(kinds)


def find_closing_paren(text: str, start: int) -> int:
    """Return the index of the `)` closing a `$(` whose body starts at `start`, or -1.

    Quotes, backslashes, nested parentheses and backquotes are skipped; `case`
    patterns with a lone `)` are not understood, so such a body reads as ending early.
    """
    depth = 1
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "'":
            end = text.find("'", index + 1)
            if end < 0:
                return -1
            index = end + 1
            continue
        if char in "\"`":
            end = _find_unescaped(text, char, index + 1)
            if end < 0:
                return -1
            index = end + 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def _find_unescaped(text: str, char: str, start: int) -> int:
    index = start
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == char:
            return index
        index += 1
    return -1


def find_closing_brace(text: str, start: int) -> int:
    """Return the index of the `}` closing a `${` whose body starts at `start`, or -1."""
    depth = 1
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


class DoubleQuotedScanner:
    """Read one double-quoted piece as the shell does and collect pieces and expansions."""

    def __init__(self, quoted: str, dialect: PosixDialect, lookup: Lookup) -> None:
        self.text = quoted
        self.dialect = dialect
        self.lookup = lookup
        self.pieces: list[Template] = []
        self.expansions: list[Expansion] = []
        self.problem: str | None = None

    def scan(self) -> None:
        text = self.text
        index = 0
        while index < len(text) and self.problem is None:
            char = text[index]
            if char == "\\":
                index = self._backslash(index)
            elif char == "`":
                index = self._backquote(index)
            elif char == "$":
                index = self._dollar(index)
            else:
                # Text up to the next special character, as one piece rather than one per character.
                end = _PLAIN_TEXT.match(text, index).end()
                self.pieces.append((text[index:end],))
                index = end

    def _backslash(self, index: int) -> int:
        following = self.text[index + 1:index + 2]
        if following == "\n":
            return index + 2
        if following and following in '$`"\\':
            self.pieces.append((following,))
            return index + 2
        self.pieces.append(("\\",))
        return index + 1

    def _backquote(self, index: int) -> int:
        end = _find_unescaped(self.text, "`", index + 1)
        if end < 0:
            self.problem = f"{self.dialect.name} reads an unterminated backquote command substitution"
            return len(self.text)
        body = self.text[index + 1:end]
        # Inside backquotes within double quotes, a backslash escapes $ ` " and itself.
        code = re.sub(r'\\([$`"\\])', r"\1", body)
        self.expansions.append(Expansion(ExpansionKind.COMMAND, self.text[index:end + 1], code))
        self.pieces.append((None,))
        return end + 1

    def _unknown_rest(self, index: int) -> int:
        rest = self.text[index:]
        self.expansions.append(Expansion(kind_of_unknown_text(rest), rest))
        self.pieces.append((None,))
        return len(self.text)

    def _dollar(self, index: int) -> int:
        text = self.text
        following = text[index + 1:index + 2]
        if following == "(":
            return self._parenthesis(index)
        if following == "[" and self.dialect.bracket_arithmetic:
            end = text.find("]", index + 2)
            if end < 0:
                self.problem = f"{self.dialect.name} reads an unterminated $[ arithmetic expansion"
                return len(text)
            self.expansions.append(Expansion(ExpansionKind.ARITHMETIC, text[index:end + 1]))
            self.pieces.append((None,))
            return end + 1
        if following == "{":
            return self._braced(index)
        if following and (_NAME_START.match(following) or self._zsh_name_char(following)):
            return self._name(index)
        if following and following.isdigit():
            end = index + 2
            if self.dialect.zsh:
                # zsh reads every digit that follows: $10 is the tenth argument.
                while end < len(text) and text[end].isdigit():
                    end += 1
            return self._zsh_suffix(index, end) or self._parameter_at(index, end)
        if self.dialect.zsh and following and following in "#+=~^":
            return self._zsh_flagged(index)
        if following and following in _SPECIAL_PARAMETERS:
            suffix_end = self._zsh_suffix(index, index + 2)
            if suffix_end is not None:
                return suffix_end
            if following == "$" and self.dialect.name == "bash" and not self._bash_pair_closed(index + 1):
                # bash's parser pairs the `$(` of `$$(` (and `${`, `$[`) even though it expands `$$` first.
                self.problem = f"bash reads an unterminated {text[index + 1:index + 3]} after $$"
                return len(text)
            self._parameter(text[index:index + 2])
            return index + 2
        self.pieces.append(("$",))
        return index + 1

    def _bash_pair_closed(self, index: int) -> bool:
        # Whether the `$` at index opens nothing, or opens a pair that is closed.
        opener = self.text[index + 1:index + 2]
        if opener == "(":
            return find_closing_paren(self.text, index + 2) >= 0
        if opener == "{":
            return find_closing_brace(self.text, index + 2) >= 0
        if opener == "[":
            return self.text.find("]", index + 2) >= 0
        return True

    def _parameter_at(self, index: int, end: int) -> int:
        self._parameter(self.text[index:end])
        return end

    def _zsh_suffix(self, index: int, end: int) -> int | None:
        # zsh applies subscripts and history modifiers to any unbraced parameter. Returns
        # where scanning goes on after the parameter, or None when no suffix follows.
        if not self.dialect.zsh:
            return None
        position = end
        while True:
            after = self.text[position:position + 1]
            if after == "[":
                close = self.text.find("]", position)
                if close < 0:
                    self.problem = "zsh reads an unterminated subscript after a parameter"
                    return len(self.text)
                if not re.fullmatch(r"-?\d+(,-?\d+)?", self.text[position + 1:close]):
                    self.problem = f"zsh reads {self.text[position:close + 1]} as a subscript the guard does not model"
                    return len(self.text)
                position = close + 1
            elif after == ":" and re.match(r":[A-Za-z&]", self.text[position:position + 2]):
                modifier = self.text[position + 1]
                if modifier not in _ZSH_SIMPLE_MODIFIERS:
                    self.problem = f"zsh reads :{modifier} after a parameter as a modifier the guard does not model"
                    return len(self.text)
                position += 2
            else:
                break
        if position == end:
            return None
        return self._parameter_at(index, position)

    def _parameter(self, construct: str) -> None:
        self.expansions.append(Expansion(ExpansionKind.PARAMETER, construct))
        self.pieces.append((None,))

    def _zsh_name_char(self, char: str) -> bool:
        # zsh reads letters and digits outside ASCII as part of a parameter name in a UTF-8 locale.
        return self.dialect.zsh and not char.isascii() and char.isalnum()

    def _name_end(self, start: int) -> int:
        index = start
        while index < len(self.text):
            char = self.text[index]
            if char.isascii() and (char.isalnum() or char == "_"):
                index += 1
            elif self._zsh_name_char(char):
                index += 1
            else:
                break
        return index

    def _name(self, index: int) -> int:
        end = self._name_end(index + 1)
        name = self.text[index + 1:end]
        suffix_end = self._zsh_suffix(index, end)
        if suffix_end is not None:
            return suffix_end
        self._variable(self.text[index:end], name)
        return end

    def _variable(self, construct: str, name: str) -> None:
        value = self.lookup(name)
        if value is not None:
            self.expansions.append(Expansion(ExpansionKind.VARIABLE, construct))
            self.pieces.append(value)
            return
        if name in self.dialect.shell_variables:
            self.expansions.append(Expansion(ExpansionKind.PARAMETER, construct))
            self.pieces.append((None,))
            return
        self.expansions.append(Expansion(ExpansionKind.VARIABLE, construct))
        self.pieces.append(("",))

    def _zsh_flagged(self, index: int) -> int:
        # zsh's $#NAME, $+NAME, $=NAME, $~NAME and $^NAME (length, is-set, splitting, globbing,
        # array joining) on a plain parameter; only a bare `$#` is the argument count.
        position = index + 1
        while position < len(self.text) and self.text[position] in "#+=~^":
            position += 1
        following = self.text[position:position + 1]
        if self.text[index + 1] == "#" and position == index + 2 and (following == "" or following.isspace()):
            return self._parameter_at(index, index + 2)
        if following and (_NAME_START.match(following) or self._zsh_name_char(following)):
            end = self._name_end(position)
        elif following.isdigit():
            end = position
            while end < len(self.text) and self.text[end].isdigit():
                end += 1
        elif following and following in _SPECIAL_PARAMETERS:
            end = position + 1
        else:
            self.problem = f"zsh reads {self.text[index:position + 1]} in a way the guard does not model"
            return len(self.text)
        return self._zsh_suffix(index, end) or self._parameter_at(index, end)

    def _parenthesis(self, index: int) -> int:
        end = find_closing_paren(self.text, index + 2)
        if end < 0:
            self.problem = f"{self.dialect.name} reads an unterminated $( command substitution"
            return len(self.text)
        body = self.text[index + 2:end]
        construct = self.text[index:end + 1]
        if body.startswith("(") and body.endswith(")"):
            self.expansions.append(Expansion(ExpansionKind.ARITHMETIC, construct))
        else:
            self.expansions.append(Expansion(ExpansionKind.COMMAND, construct, body))
        self.pieces.append((None,))
        return end + 1

    def _braced(self, index: int) -> int:
        end = find_closing_brace(self.text, index + 2)
        if end < 0:
            self.problem = f"{self.dialect.name} reads an unterminated ${{ parameter expansion"
            return len(self.text)
        body = self.text[index + 2:end]
        construct = self.text[index:end + 1]
        if _NAME.fullmatch(body):
            self._variable(construct, body)
            return end + 1
        if any(char in body for char in "'\"`\\") or "$" in body:
            # Nested quoting or expansions: where the shell ends this construct is not modelled,
            # but the parameter and operator it starts with must be valid.
            if not self._valid_brace_head(body):
                self.problem = f"{self.dialect.name} reports a bad substitution for {construct}"
                return len(self.text)
            return self._unknown_rest(index)
        if not self._valid_brace_body(body):
            self.problem = f"{self.dialect.name} reports a bad substitution for {construct}"
            return len(self.text)
        self.expansions.append(Expansion(ExpansionKind.PARAMETER, construct))
        self.pieces.append((None,))
        return end + 1

    def _valid_brace_head(self, body: str) -> bool:
        # The body starts with a parameter followed by an operator, before any nested construct.
        nested = min((body.find(char) for char in "'\"`\\$" if char in body), default=len(body))
        head = body[:nested]
        return any(self._valid_brace_body(head[:cut]) and cut < len(body) for cut in range(1, len(head) + 1)
                   if self._ends_with_operator(head[:cut]))

    def _ends_with_operator(self, head: str) -> bool:
        return re.search(rf"{self.dialect.brace_operators}$", head) is not None

    def _valid_brace_body(self, body: str) -> bool:
        dialect = self.dialect
        if dialect.zsh:
            if body == "":
                return True
            body = re.sub(r"^\([^)]*\)", "", body)
        prefixes = re.escape(dialect.brace_prefixes)
        parameter = r"([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])"
        pattern = rf"[{prefixes}]*{parameter}({dialect.brace_operators}.*)?" if prefixes else \
            rf"{parameter}({dialect.brace_operators}.*)?"
        return re.fullmatch(pattern, body, flags=re.DOTALL) is not None

    def result(self) -> tuple[Template, tuple[Expansion, ...], str | None]:
        return join_templates(self.pieces), tuple(self.expansions), self.problem


def scan_segments(strings: list[tuple[bool, str]], dialect: PosixDialect, lookup: Lookup,
                  home_expansions: tuple[Expansion, ...] = ()) -> ValueScan:
    """Scan rez's (is_literal, text) pieces after `~` expansion, as the sh-like shell reads them."""
    return scan_pieces(strings, home_expansions,
                       lambda text: DoubleQuotedScanner(escape_double_quoted(text), dialect, lookup))


_ALIAS_OPERATORS = re.compile(r"[<>|;&(){}]")


def scan_alias_body(body: str, dialect: PosixDialect) -> ValueScan:
    """Scan an alias body: shell code rez wraps in a function, run when the alias is used."""
    name = dialect.name
    expansions: list[Expansion] = []
    problem = _alias_problem(body, name)
    words, _ = _quote_walk(body)
    for match in _ALIAS_OPERATORS.finditer(words):
        expansions.append(Expansion(ExpansionKind.OPERATOR, match.group(0)))
    if "$" in words or "`" in words:
        expansions.append(Expansion(kind_of_unknown_text(words), body))
    return ValueScan(template=(body,), expansions=tuple(expansions), problem=problem)


def _quote_walk(body: str) -> tuple[str, bool]:
    # Return the body with quoted parts blanked out, so operators inside quotes are
    # not reported, and whether a quote is left open at the end.
    out = []
    quote_char = None
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and quote_char != "'":
            out.append("  ")
            index += 2
            continue
        if quote_char is None and char in "'\"":
            quote_char = char
            out.append(" ")
        elif quote_char is not None and char == quote_char:
            quote_char = None
            out.append(" ")
        elif quote_char == '"' and char in "$`":
            out.append(char)
        elif quote_char is not None:
            out.append(" ")
        else:
            out.append(char)
        index += 1
    return "".join(out), quote_char is not None


def _alias_problem(body: str, shell: str) -> str | None:
    if "\n" in body:
        return f"{shell} would split an alias body with a newline across several lines of the startup script"
    words, unterminated = _quote_walk(body)
    if unterminated:
        return f"{shell} reads an unterminated quote in the alias body, which swallows the rest of the startup script"
    if re.search(r"(^|[^\\])(\\\\)*\\$", body):
        return f"{shell} reads the backslash that ends the alias body as escaping the arguments rez appends"
    if re.search(r"(^|\s)#", words):
        return f"{shell} reads `#` in the alias body as a comment that hides the end of the function rez writes"
    if re.search(r"(^|[\s;&|])[{}]($|[\s;&|])", words):
        return f"{shell} reads a lone brace in the alias body as the end of the function rez writes"
    return None
