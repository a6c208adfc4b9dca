"""guard.fastclass.dataclass behaves as dataclasses.dataclass: equality, hash, repr and frozen fields."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guard.fastclass import dataclass

_VALUES = st.one_of(st.integers(-3, 3), st.text(max_size=3), st.tuples(st.integers(0, 2)), st.none())
_FIELD = st.fixed_dictionaries({
    "compare": st.booleans(),
    "hash": st.sampled_from([None, True, False]),
    "repr": st.booleans(),
})
_SPEC = st.fixed_dictionaries({
    "fields": st.lists(_FIELD, max_size=4),
    "frozen": st.booleans(),
    "slots": st.booleans(),
    "eq": st.booleans(),
    "repr": st.booleans(),
    "bulk": st.booleans(),
})


def _make(decorator: Any, spec: dict[str, Any]) -> type:
    names = [f"f{index}" for index in range(len(spec["fields"]))]
    namespace: dict[str, Any] = {"__annotations__": {name: "Any" for name in names}, "__qualname__": "Sample"}
    for name, options in zip(names, spec["fields"]):
        namespace[name] = dataclasses.field(**options)
    cls = type("Sample", (), namespace)
    options = {"frozen": spec["frozen"], "slots": spec["slots"], "eq": spec["eq"], "repr": spec["repr"]}
    if decorator is dataclass:
        options["bulk"] = spec["bulk"]
    return decorator(cls, **options)


def _outcome(action: Any) -> object:
    # The type of the exception an action raises, or None.
    try:
        action()
    except Exception as error:  # every outcome is compared, whatever its type
        return type(error)
    return None


@dataclass(frozen=True, slots=True)
class Pickled:
    """A module-level class, so pickle can find it."""

    size: int
    names: tuple[str, ...] = ()


def _field_options(cls: type) -> list[tuple[Any, ...]]:
    return [(field.name, field.compare, field.hash, field.repr) for field in dataclasses.fields(cls)]


def _hash_or_error(instance: object) -> object:
    try:
        return hash(instance)
    except TypeError as error:
        return type(error)


def _hash_is_identity(instance: object) -> bool:
    return type(instance).__hash__ is object.__hash__


@settings(max_examples=200, deadline=None)
@given(spec=_SPEC, first=st.lists(_VALUES, min_size=4, max_size=4), second=st.lists(_VALUES, min_size=4, max_size=4))
def test_fast_class_behaves_as_dataclass(spec: dict[str, Any], first: list[Any], second: list[Any]):
    count = len(spec["fields"])
    standard, fast = _make(dataclasses.dataclass, spec), _make(dataclass, spec)
    pairs = [(cls(*first[:count]), cls(*second[:count])) for cls in (standard, fast)]
    (standard_a, standard_b), (fast_a, fast_b) = pairs

    assert (fast_a == fast_b) == (standard_a == standard_b)
    assert (fast_a == fast_a) == (standard_a == standard_a)
    assert (fast_a != fast_b) == (standard_a != standard_b)
    if spec["repr"]:
        assert repr(fast_a) == repr(standard_a)
    assert _hash_is_identity(fast_a) == _hash_is_identity(standard_a)
    if not _hash_is_identity(standard_a):
        assert _hash_or_error(fast_a) == _hash_or_error(standard_a)
    assert _field_options(fast) == _field_options(standard)
    assert hasattr(fast_a, "__dict__") == hasattr(standard_a, "__dict__")

    # Frozen or not, both accept or reject the same changes after __init__.
    for name in [f"f{index}" for index in range(count)]:
        assert _outcome(lambda: setattr(fast_a, name, 9)) == _outcome(lambda: setattr(standard_a, name, 9))
        assert _outcome(lambda: delattr(fast_b, name)) == _outcome(lambda: delattr(standard_b, name))
    # Python 3.11's frozen slots guards fail with TypeError on a name that is not a field, because their
    # super() call names the class from before slots were added. Both still reject the change.
    assert (_outcome(lambda: setattr(fast_a, "other", 9)) is None) == (
        _outcome(lambda: setattr(standard_a, "other", 9)) is None)
    # Copies rebuild the instance through the same guards.
    if spec["repr"]:
        assert repr(copy.copy(fast_a)) == repr(fast_a)
        assert repr(copy.deepcopy(fast_a)) == repr(fast_a)


def test_fast_class_pickles_and_stays_frozen():
    restored = pickle.loads(pickle.dumps(Pickled(1, ("a",))))
    assert restored == Pickled(1, ("a",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        restored.size = 2  # type: ignore[misc]


def test_fast_class_frozen_field_cannot_change():
    @dataclass(frozen=True, slots=True)
    class Point:
        """A point."""

        x: int
        y: int = 0

    point = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 2  # type: ignore[misc]
    assert dataclasses.replace(point, y=3) == Point(1, 3)
    assert {Point(1), Point(1, 0)} == {Point(1)}


def test_fast_class_keeps_methods_written_in_class():
    @dataclass(frozen=True)
    class Named:
        """A name compared without case."""

        name: str

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Named) and self.name.lower() == other.name.lower()

        def __hash__(self) -> int:
            return hash(self.name.lower())

        def __repr__(self) -> str:
            return f"<{self.name}>"

    assert Named("A") == Named("a")
    assert hash(Named("A")) == hash(Named("a"))
    assert repr(Named("A")) == "<A>"


def test_fast_class_repr_of_itself_does_not_recurse():
    @dataclass
    class Node:
        """A node that may hold itself."""

        child: object = None

    node = Node()
    node.child = node
    assert repr(node).endswith("Node(child=...)")
