"""Attribution of denied calls to the package code that was running in the child.

The child wraps the two rez 3.4 entry points of package code: loading a
package.py file (`rez.serialise._load_file`, which also runs `@early` functions)
and running a function such as `commands()` or a `@late` attribute
(`rez.utils.sourcecode.SourceCode.exec_`). Each writes the running package into a
page of memory shared with the guard, which reads it when a call is denied.
Package code can overwrite that page, so the name is a hint, never evidence.
"""

from __future__ import annotations

import functools
import mmap
import struct
from collections.abc import Callable
from typing import Any

from rez import serialise
from rez.utils import sourcecode

_SIZE = 4096
_LENGTH = struct.Struct("=I")


class SourceSlot:
    """A page shared by the guard and the child, holding the name of the running package code."""

    def __init__(self) -> None:
        # An anonymous mapping is shared with the child after fork (MAP_SHARED is mmap's default).
        self._map = mmap.mmap(-1, _SIZE)

    def write(self, text: str | None) -> None:
        """Store `text` (None clears the slot); called in the child."""
        data = (text or "").encode("utf-8", "replace")[: _SIZE - _LENGTH.size]
        self._map[_LENGTH.size:_LENGTH.size + len(data)] = data
        self._map[: _LENGTH.size] = _LENGTH.pack(len(data))

    def read(self) -> str | None:
        """Return the stored text, or None when the slot is empty; called in the guard."""
        (length,) = _LENGTH.unpack(self._map[: _LENGTH.size])
        length = min(length, _SIZE - _LENGTH.size)
        text = self._map[_LENGTH.size:_LENGTH.size + length].decode("utf-8", "replace")
        return text or None

    def close(self) -> None:
        """Unmap the page."""
        self._map.close()


def _attributed(slot: SourceSlot, function: Callable[..., Any], label: Callable[..., str | None]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        previous = slot.read()
        slot.write(label(*args, **kwargs))
        try:
            return function(*args, **kwargs)
        finally:
            slot.write(previous)

    return wrapper


def _source_code_label(code: sourcecode.SourceCode, *_: Any, **__: Any) -> str | None:
    package = code.package
    if package is not None:
        return str(package.qualified_name)
    return code.filepath


def _file_label(filepath: str, *_: Any, **__: Any) -> str:
    return str(filepath)


def install_rez_hooks(slot: SourceSlot) -> None:
    """Wrap rez's package code entry points so they name themselves in `slot`; call in the child only."""
    sourcecode.SourceCode.exec_ = _attributed(slot, sourcecode.SourceCode.exec_, _source_code_label)
    serialise._load_file = _attributed(slot, serialise._load_file, _file_label)
