"""Dataclasses whose comparison, hash and repr are shared functions instead of generated code.

`dataclasses.dataclass` writes the source of each method it adds and compiles it
with `exec`: six compilations for a frozen class. A launch imports about 75 of
the guard's dataclasses, and `__eq__`, `__hash__` and `__repr__` alone cost about
9 ms of its CPU time (measured by turning them off). `dataclass` here lets the
standard library make `__init__` and the frozen attribute guards, then adds
comparison, hash and repr functions shared by every class. They read the same
fields in the same order with `operator.attrgetter`, so instances compare, hash
and print as the standard ones do.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
from collections.abc import Callable
from typing import Any, TypeVar

Class = TypeVar("Class", bound=type)


def dataclass(cls: Class | None = None, /, *, frozen: bool = False, slots: bool = False,
              eq: bool = True, repr: bool = True) -> Any:
    """Make `cls` a dataclass like `dataclasses.dataclass(frozen=..., slots=..., eq=..., repr=...)` does."""
    def wrap(target: Class) -> Class:
        own = dict(vars(target))
        made = dataclasses.dataclass(target, frozen=frozen, slots=slots, eq=False, repr=False)
        fields = dataclasses.fields(made)
        if repr and "__repr__" not in own:
            made.__repr__ = _repr_function([field.name for field in fields if field.repr])
        if not eq:
            return made
        if "__eq__" not in own:
            made.__eq__ = _eq_function(_getter([field.name for field in fields if field.compare]))
        # The standard rules: a __hash__ written in the class stays (Python sets it to None
        # itself when the class writes only __eq__). Otherwise a frozen class hashes its
        # compared fields, and a mutable one is unhashable.
        explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
        if not explicit_hash:
            hashed = [field.name for field in fields if field.hash or (field.hash is None and field.compare)]
            made.__hash__ = _hash_function(_getter(hashed)) if frozen else None
        return made

    return wrap if cls is None else wrap(cls)


def _getter(names: list[str]) -> Callable[[object], tuple[Any, ...]]:
    if not names:
        return lambda instance: ()
    if len(names) == 1:
        single = operator.attrgetter(names[0])
        return lambda instance: (single(instance),)
    return operator.attrgetter(*names)


def _eq_function(values: Callable[[object], tuple[Any, ...]]) -> Callable[[object, object], Any]:
    def __eq__(self: object, other: object) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash_function(values: Callable[[object], tuple[Any, ...]]) -> Callable[[object], int]:
    def __hash__(self: object) -> int:
        return hash(values(self))

    return __hash__


def _repr_function(names: list[str]) -> Callable[[object], str]:
    @reprlib.recursive_repr()
    def __repr__(self: object) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__
