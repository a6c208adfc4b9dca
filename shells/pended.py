"""The value of a variable that prepends and appends grow, kept as unjoined pieces.

Joining a PATH-like value after every prepend or append copies the whole value
each time, so a context of n appends costs time and memory quadratic in n. A
`PendedValue` adds each action's pieces at one end or the other and joins them
only when the template is needed. Since pieces are only ever added at the two
ends, the value after any earlier action is a contiguous run of the current
pieces, which a `PendedTemplate` refers to without copying it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from shells.values import Template, join_templates


class PendedValue:
    """A variable's template as pieces added at both ends, with its entry count kept up to date.

    `separator` must be one character: the count of separators in the joined
    text is then the sum of the counts in the pieces.
    """

    __slots__ = ("_front", "_back", "_separator", "_unknown", "_separators", "_joined")

    def __init__(self, template: Template, separator: str) -> None:
        if len(separator) != 1:
            raise ValueError(f"separator {separator!r} is not one character; keep such a value as a joined template")
        # Prepended pieces are kept last-prepended-last, so adding one is an amortised O(1) list append.
        self._front: list[str | None] = []
        self._back: list[str | None] = []
        self._separator = separator
        self._unknown = 0
        self._separators = 0
        self._joined: tuple[int, int, Template] | None = None
        self.extend((), template)

    def extend(self, front: Sequence[str | None], back: Sequence[str | None]) -> None:
        """Put `front` before the value and `back` after it."""
        self._front.extend(reversed(front))
        self._back.extend(back)
        for piece in (*front, *back):
            if piece is None:
                self._unknown += 1
            else:
                self._separators += piece.count(self._separator)

    @property
    def entries(self) -> int | None:
        """The number of entries the separator splits the text into, or None when part of it is unknown."""
        return None if self._unknown else self._separators + 1

    def template(self) -> Template:
        """Return the current value as a template."""
        return self.template_at(len(self._front), len(self._back))

    def template_at(self, front: int, back: int) -> Template:
        """Return the value when `front` pieces had been prepended and `back` pieces appended (base included)."""
        joined = self._joined
        if joined is not None and joined[0] == front and joined[1] == back:
            return joined[2]
        template = join_templates((reversed(self._front[:front]), self._back[:back]))
        if front == len(self._front) and back == len(self._back):
            self._joined = (front, back, template)
        return template

    def snapshot(self) -> PendedTemplate:
        """Return the current value as a template joined on first use, unchanged by later actions."""
        return PendedTemplate(self, len(self._front), len(self._back))


class PendedTemplate(Sequence[str | None]):
    """The template of a variable after one prepend or append, joined on first use.

    It compares, hashes and prints as the tuple it represents, so a `ValueScan`
    holding one equals a scan holding the joined template.
    """

    __slots__ = ("_value", "_front", "_back", "_template")

    def __init__(self, value: PendedValue, front: int, back: int) -> None:
        self._value = value
        self._front = front
        self._back = back
        self._template: Template | None = None

    def joined(self) -> Template:
        """Return the template as a tuple, joining the pieces the first time."""
        if self._template is None:
            self._template = self._value.template_at(self._front, self._back)
        return self._template

    def __getitem__(self, index: Any) -> Any:
        return self.joined()[index]

    def __len__(self) -> int:
        return len(self.joined())

    def __iter__(self) -> Iterator[str | None]:
        return iter(self.joined())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PendedTemplate):
            return self.joined() == other.joined()
        if isinstance(other, tuple):
            return self.joined() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.joined())

    def __repr__(self) -> str:
        return repr(self.joined())
