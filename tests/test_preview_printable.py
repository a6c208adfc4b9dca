"""The fast path of `printable` returns what escaping character by character returns."""

from __future__ import annotations

import sys

from guard.preview import escape_each, printable


def test_printable_matches_escape_each_on_every_code_point() -> None:
    differing = [code for code in range(sys.maxunicode + 1) if printable(chr(code)) != escape_each(chr(code))]
    assert differing == []


def test_printable_keeps_plain_text() -> None:
    text = "/opt/studio/bin:${PATH} é ü 漢字 \"quoted\" 'single'"
    assert printable(text) == text


def test_printable_escapes_backslash_and_controls() -> None:
    assert printable("a\\b") == "a\\\\b"
    assert printable("a\nb\tc\rd") == "a\\nb\\tc\\rd"
    assert printable("\x1b[31mred") == "\\x1b[31mred"
    assert printable("zero\u200bwidth") == "zero\\u200bwidth"
    assert printable("line\u2028sep") == "line\\u2028sep"
    assert printable("nb\u00a0sp") == "nb\\xa0sp"
