"""guard.fastclass.dataclass behaves as dataclasses.dataclass: __init__, equality, hash, repr and frozen fields."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any, ClassVar

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from guard.fastclass import dataclass

_VALUES = st.one_of(st.integers(-3, 3), st.text(max_size=3), st.tuples(st.integers(0, 2)), st.none())
_FIELD = st.fixed_dictionaries({
    "compare": st.booleans(),
    "hash": st.sampled_from([None, True, False]),
    "repr": st.booleans(),
    "init": st.booleans(),
    "default": st.sampled_from(["none", "value", "factory"]),
})
_SPEC = st.fixed_dictionaries({
    "fields": st.lists(_FIELD, max_size=4),
    "frozen": st.booleans(),
    "slots": st.booleans(),
    "eq": st.booleans(),
    "repr": st.booleans(),
    "bulk": st.booleans(),
    "post_init": st.booleans(),
})
_CALL = st.fixed_dictionaries({
    "positional": st.integers(0, 5),
    "keywords": st.lists(st.sampled_from(["f0", "f1", "f2", "f3", "other"]), max_size=3, unique=True),
})


def _field(options: dict[str, Any], index: int) -> Any:
    defaults = {"none": {}, "value": {"default": index}, "factory": {"default_factory": lambda: [index]}}
    flags = {key: options[key] for key in ("compare", "hash", "repr", "init")}
    return dataclasses.field(**flags, **defaults[options["default"]])


def _make(decorator: Any, spec: dict[str, Any], post_init_calls: list[tuple[Any, ...]]) -> Any:
    """Return the class `decorator` makes from `spec`, or the type of the error it raised."""
    names = [f"f{index}" for index in range(len(spec["fields"]))]
    namespace: dict[str, Any] = {"__annotations__": {name: "Any" for name in names}, "__qualname__": "Sample"}
    for index, (name, options) in enumerate(zip(names, spec["fields"])):
        namespace[name] = _field(options, index)
    if spec["post_init"]:
        def __post_init__(self: Any) -> None:
            post_init_calls.append(tuple(getattr(self, name, "unset") for name in names))
        namespace["__post_init__"] = __post_init__
    cls = type("Sample", (), namespace)
    options = {"frozen": spec["frozen"], "slots": spec["slots"], "eq": spec["eq"], "repr": spec["repr"]}
    if decorator is dataclass:
        options["bulk"] = spec["bulk"]
    try:
        return decorator(cls, **options)
    except (TypeError, ValueError) as error:
        return type(error)


def _construct(cls: type, call: dict[str, Any], values: list[Any], names: list[str]) -> object:
    """Return the field values of an instance made with `call`'s arguments, or the type of the error raised."""
    keywords = {name: values[index] for index, name in enumerate(call["keywords"])}
    try:
        instance = cls(*values[: call["positional"]], **keywords)
    except TypeError as error:
        return type(error)
    return [getattr(instance, name, "unset") for name in names]


def _every_field_filled(spec: dict[str, Any]) -> bool:
    # A field __init__ neither takes nor fills stays unset, and then comparison and repr fail in both.
    # guard.fastclass rejects such a field in a frozen class (see the test below).
    return not any(not field["init"] and field["default"] == "none" for field in spec["fields"])


def _names(spec: dict[str, Any]) -> list[str]:
    return [f"f{index}" for index in range(len(spec["fields"]))]


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


@settings(max_examples=300, deadline=None)
@given(spec=_SPEC, call=_CALL, first=st.lists(_VALUES, min_size=5, max_size=5),
       second=st.lists(_VALUES, min_size=5, max_size=5))
def test_fast_class_behaves_as_dataclass(spec: dict[str, Any], call: dict[str, Any], first: list[Any],
                                         second: list[Any]):
    assume(_every_field_filled(spec))
    standard_calls: list[tuple[Any, ...]] = []
    fast_calls: list[tuple[Any, ...]] = []
    standard, fast = _make(dataclasses.dataclass, spec, standard_calls), _make(dataclass, spec, fast_calls)
    assert isinstance(fast, type) and isinstance(standard, type)
    if issubclass(standard, Exception):
        # Both reject the class: a field without a default after one with it.
        assert fast is standard
        return
    # Both accept or reject the same arguments, and fill the same defaults.
    assert _construct(fast, call, first, _names(spec)) == _construct(standard, call, first, _names(spec))
    count = sum(1 for field in spec["fields"] if field["init"])
    pairs = [(cls(*first[:count]), cls(*second[:count])) for cls in (standard, fast)]
    (standard_a, standard_b), (fast_a, fast_b) = pairs
    assert fast_calls == standard_calls
    assert [getattr(fast_a, name, "unset") for name in _names(spec)] == [
        getattr(standard_a, name, "unset") for name in _names(spec)]

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
    assert fast.__match_args__ == standard.__match_args__

    # Frozen or not, both accept or reject the same changes after __init__.
    for name in _names(spec):
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


@pytest.mark.parametrize("body", [
    pytest.param({"size": dataclasses.field(init=False)}, id="frozen field without init or default"),
    pytest.param({"size": dataclasses.field(kw_only=True)}, id="keyword-only field"),
    pytest.param({"__setattr__": lambda self, name, value: None}, id="frozen class with its own __setattr__"),
])
def test_fast_class_rejects_unsupported(body: dict[str, Any]):
    cls = type("Refused", (), {"__annotations__": {"size": "int"}, **body})
    with pytest.raises(TypeError, match="Refused"):
        dataclass(cls, frozen=True)


@pytest.mark.parametrize("annotation", ["InitVar[int]", "dataclasses.KW_ONLY", dataclasses.InitVar(int),
                                        dataclasses.KW_ONLY], ids=["InitVar text", "KW_ONLY text", "InitVar",
                                                                   "KW_ONLY"])
def test_fast_class_rejects_special_annotations(annotation: Any):
    cls = type("Refused", (), {"__annotations__": {"size": annotation}})
    with pytest.raises(TypeError, match="does not support"):
        dataclass(cls)


@pytest.mark.parametrize("annotation", ["ClassVar[int]", "typing.ClassVar[int]", ClassVar[int], ClassVar],
                         ids=["text", "qualified text", "subscripted", "bare"])
def test_fast_class_skips_class_variable_forms(annotation: Any):
    cls = type("Counted", (), {"__annotations__": {"size": "int", "total": annotation}, "total": 3})
    assert [field.name for field in dataclasses.fields(dataclass(cls))] == ["size"]


def test_fast_class_skips_class_variables():
    cls = type("Counted", (), {"__annotations__": {"size": "int", "total": "ClassVar[int]"}, "total": 3})
    counted = dataclass(cls)(1)
    assert [field.name for field in dataclasses.fields(counted)] == ["size"]
    assert counted.total == 3


def test_fast_class_rejects_mutable_default():
    cls = type("Refused", (), {"__annotations__": {"names": "list[str]"}, "names": []})
    with pytest.raises(ValueError, match="default_factory"):
        dataclass(cls)
