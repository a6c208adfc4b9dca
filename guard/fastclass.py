"""Dataclasses made without the standard library's generated code, so that importing the guard stays quick.

`dataclasses.dataclass` writes the source of each method it adds and compiles
it with `exec`, and `slots=True` creates each class a second time. For the 75
classes a launch imports, that took about 14 ms of CPU time (docs/benchmarks.md).
`dataclass` here reads the class body as the standard one does and records the
same `dataclasses.Field` objects in `__dataclass_fields__`, so
`dataclasses.fields`, `replace` and `asdict` work. It creates each class once and
makes its methods from closures:

- `__init__` takes the fields in order, by position or keyword, fills defaults
  and default factories, and calls `__post_init__`. It raises `TypeError` for an
  argument that is missing, given twice, unknown or one too many. A frozen
  class's `__init__` sets its fields through `object.__setattr__`, as the
  standard one does;
- comparison, hash and repr read the same fields in the same order with
  `operator.attrgetter`, so instances compare, hash and print as the standard
  ones do;
- a frozen class gets guards that let each field be set once, which is what
  `copy` and `pickle` do, and raise `FrozenInstanceError` for any later
  assignment or deletion, as the standard guards do.

The closure `__init__` costs about 0.35 microseconds more per instance than a
compiled one (six fields). Classes made by the thousand in a large context
(plan actions, value scans, findings, monitor events) pass `bulk=True`, which
compiles `__init__`: about 50 microseconds once, against the standard library's
300 for such a class.

Not supported, and rejected with `TypeError`: `InitVar`, `KW_ONLY` and `kw_only`
fields, a frozen class that writes its own `__setattr__` or `__delattr__`, and a
frozen field that `__init__` does not take and that has no default. A standard
dataclass cannot inherit from these classes: it reads parameters the standard
library keeps in a private attribute.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

Class = TypeVar("Class", bound=type)

_MISSING = dataclasses.MISSING
# A field the class declares; the standard library marks ClassVar and InitVar pseudo-fields otherwise.
_REGULAR_FIELD = dataclasses._FIELD  # pylint: disable=protected-access
# The default of a parameter whose field has a default factory.
_FACTORY_MARKER = object()


def dataclass(cls: Class | None = None, /, *, frozen: bool = False, slots: bool = False,
              eq: bool = True, repr: bool = True, bulk: bool = False) -> Any:
    """Make `cls` a dataclass like `dataclasses.dataclass(frozen=..., slots=..., eq=..., repr=...)` does.

    `bulk` compiles `__init__`, for classes whose instances are made by the thousand.
    """
    def wrap(target: Class) -> Class:
        own = dict(vars(target))
        fields = _collect_fields(target, own)
        if frozen:
            _check_frozen(target, own, fields.values())
        data_class = _build(target, own, fields, frozen=frozen, slots=slots, bulk=bulk)
        _add_methods(data_class, own, list(fields.values()), frozen=frozen, eq=eq, repr=repr)
        return data_class

    return wrap if cls is None else wrap(cls)


def _check_frozen(target: type, own: dict[str, Any], fields: Iterable[dataclasses.Field[Any]]) -> None:
    for name in ("__setattr__", "__delattr__"):
        if name in own:
            raise TypeError(f"cannot overwrite attribute {name} in frozen class {target.__name__}")
    for field in fields:
        # The frozen guards let a field be set once, so __init__ must be the one that sets it.
        if not field.init and not _has_default(field):
            raise TypeError(f"{target.__qualname__}.{field.name}: a frozen field that __init__ does not take "
                            "needs a default")


def _build(target: Class, own: dict[str, Any], fields: dict[str, dataclasses.Field[Any]], *,
           frozen: bool, slots: bool, bulk: bool) -> Class:
    namespace = dict(own) if slots else {}
    for name in fields.keys() & own.keys():
        if slots:
            del namespace[name]
        elif isinstance(own[name], dataclasses.Field):
            # As in the standard library: the class attribute is the default, or is removed.
            if fields[name].default is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, fields[name].default)
    namespace["__dataclass_fields__"] = fields
    if "__init__" not in own:
        make_init = _compiled_init if bulk else _init_function
        # As in the standard library, a field __init__ does not take keeps a plain default in the class,
        # unless slots leave no room for it there. A frozen instance gets its own copy, so the guards see it set.
        filled = [field for field in fields.values() if field.init or field.default_factory is not _MISSING
                  or ((slots or frozen) and field.default is not _MISSING)]
        namespace["__init__"] = make_init(target, filled, frozen)
    if "__match_args__" not in own:
        namespace["__match_args__"] = tuple(name for name, field in fields.items() if field.init)
    if not slots:
        for name, value in namespace.items():
            setattr(target, name, value)
        return target
    if "__slots__" in own:
        raise TypeError(f"{target.__name__} already specifies __slots__")
    inherited = {slot for base in target.__mro__[1:-1] for slot in _slots_of(base)}
    namespace["__slots__"] = tuple(name for name in fields if name not in inherited)
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    namespace["__qualname__"] = target.__qualname__
    return type(target)(target.__name__, target.__bases__, namespace)


def _collect_fields(target: type, own: dict[str, Any]) -> dict[str, dataclasses.Field[Any]]:
    fields: dict[str, dataclasses.Field[Any]] = {}
    for base in target.__mro__[-1:0:-1]:
        fields.update(getattr(base, "__dataclass_fields__", {}))
    for name, annotation in own.get("__annotations__", {}).items():
        kind = _annotation_kind(annotation)
        if kind == "ClassVar":
            continue
        if kind is not None:
            raise TypeError(f"{target.__qualname__}.{name}: guard.fastclass does not support {kind}; "
                            "use dataclasses.dataclass for this class")
        default = own.get(name, _MISSING)
        field = default if isinstance(default, dataclasses.Field) else dataclasses.field(default=default)
        if field.kw_only is True:
            raise TypeError(f"{target.__qualname__}.{name}: guard.fastclass does not support kw_only fields; "
                            "use dataclasses.dataclass for this class")
        if field.default is not _MISSING and type(field.default).__hash__ is None:
            raise ValueError(f"mutable default {type(field.default)} for field {name} is not allowed: "
                             "use default_factory")
        field.name, field.type, field.kw_only = name, annotation, False
        field._field_type = _REGULAR_FIELD  # pylint: disable=protected-access
        fields[name] = field
    _check_default_order(fields.values())
    return fields


def _annotation_kind(annotation: object) -> str | None:
    # The name of a special annotation (ClassVar, InitVar, KW_ONLY) or None for a field.
    if isinstance(annotation, str):
        name = annotation.split("[", 1)[0].strip().rpartition(".")[2]
    elif annotation is dataclasses.KW_ONLY:
        name = "KW_ONLY"
    else:
        name = getattr(getattr(annotation, "__origin__", annotation), "_name", None) or type(annotation).__name__
    return name if name in ("ClassVar", "InitVar", "KW_ONLY") else None


def _check_default_order(fields: Iterable[dataclasses.Field[Any]]) -> None:
    seen_default = False
    for field in fields:
        if not field.init:
            continue
        if _has_default(field):
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {field.name!r} follows default argument")


def _slots_of(cls: type) -> tuple[str, ...]:
    slots = vars(cls).get("__slots__", ())
    return (slots,) if isinstance(slots, str) else tuple(slots)


def _init_function(target: type, fields: list[dataclasses.Field[Any]], frozen: bool) -> Callable[..., None]:
    # (name, default, default is a factory) for the arguments, and for the fields __init__ fills on its own.
    arguments = tuple(_initial_value(field) for field in fields if field.init)
    extras = tuple(_initial_value(field) for field in fields if not field.init)
    names = frozenset(name for name, _, _ in arguments)
    size = len(arguments)
    post_init = hasattr(target, "__post_init__")
    # A frozen __init__ sets through object, as the standard one does. A mutable one sets through the class.
    assign = object.__setattr__ if frozen else setattr
    qualname = target.__qualname__

    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        if len(args) > size:
            raise TypeError(f"{qualname}.__init__() takes {size + 1} positional arguments "
                            f"but {len(args) + 1} were given")
        for (name, _, _), value in zip(arguments, args):
            if name in kwargs:
                raise TypeError(f"{qualname}.__init__() got multiple values for argument {name!r}")
            assign(self, name, value)
        missing = []
        for name, default, factory in arguments[len(args):]:
            if name in kwargs:
                assign(self, name, kwargs[name])
            elif default is _MISSING:
                missing.append(name)
            else:
                assign(self, name, default() if factory else default)
        if missing:
            raise TypeError(f"{qualname}.__init__() missing {len(missing)} required argument(s): "
                            + ", ".join(repr(name) for name in missing))
        if kwargs and not names.issuperset(kwargs):
            unknown = sorted(set(kwargs) - names)
            raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument {unknown[0]!r}")
        for name, default, factory in extras:
            assign(self, name, default() if factory else default)
        if post_init:
            self.__post_init__()

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


def _compiled_init(target: type, fields: list[dataclasses.Field[Any]], frozen: bool) -> Callable[..., None]:
    # The source of an __init__ with one parameter per field, compiled once: about 50 microseconds
    # here, against about 0.35 microseconds saved on each instance. Defaults and factories come from the
    # scope by field name, so no value is ever written into the source.
    parameters, lines = ["_fastclass_self"], []
    for field in fields:
        name = field.name
        if field.init:
            if field.default_factory is not _MISSING:
                parameters.append(f"{name}=_fastclass_marker")
                value = f"_fastclass_factories[{name!r}]() if {name} is _fastclass_marker else {name}"
            elif field.default is not _MISSING:
                parameters.append(f"{name}=_fastclass_defaults[{name!r}]")
                value = name
            else:
                parameters.append(name)
                value = name
        elif field.default_factory is not _MISSING:
            value = f"_fastclass_factories[{name!r}]()"
        else:
            value = f"_fastclass_defaults[{name!r}]"
        lines.append(f"_fastclass_assign(_fastclass_self, {name!r}, {value})" if frozen
                     else f"_fastclass_self.{name} = {value}")
    if hasattr(target, "__post_init__"):
        lines.append("_fastclass_self.__post_init__()")

    body = "\n        ".join(lines or ["pass"])
    scope_names = "_fastclass_assign, _fastclass_marker, _fastclass_defaults, _fastclass_factories"
    source = (f"def _fastclass_make({scope_names}):\n"
              f"    def __init__({', '.join(parameters)}):\n        {body}\n    return __init__\n")

    scope: dict[str, Any] = {}
    exec(compile(source, f"<fastclass {target.__qualname__}>", "exec"), scope)  # pylint: disable=exec-used
    make = scope["_fastclass_make"]
    init = make(object.__setattr__, _FACTORY_MARKER, {field.name: field.default for field in fields},
                {field.name: field.default_factory for field in fields})
    init.__qualname__ = f"{target.__qualname__}.__init__"
    return init


def _initial_value(field: dataclasses.Field[Any]) -> tuple[str, Any, bool]:
    if field.default_factory is not _MISSING:
        return field.name, field.default_factory, True
    return field.name, field.default, False


def _has_default(field: dataclasses.Field[Any]) -> bool:
    return field.default is not _MISSING or field.default_factory is not _MISSING


def _add_methods(data_class: type, own: dict[str, Any], fields: list[dataclasses.Field[Any]], *,
                 frozen: bool, eq: bool, repr: bool) -> None:
    if frozen:
        data_class.__setattr__, data_class.__delattr__ = _frozen_guards(
            data_class, frozenset(field.name for field in fields))
    if repr and "__repr__" not in own:
        data_class.__repr__ = _repr_function([field.name for field in fields if field.repr])
    if not eq:
        return
    if "__eq__" not in own:
        data_class.__eq__ = _eq_function(_getter([field.name for field in fields if field.compare]))
    # The standard rules: a __hash__ written in the class stays (Python sets it to None
    # itself when the class writes only __eq__). Otherwise a frozen class hashes its
    # compared fields, and a mutable one is unhashable.
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    if not explicit_hash:
        hashed = [field.name for field in fields if field.hash or (field.hash is None and field.compare)]
        data_class.__hash__ = _hash_function(_getter(hashed)) if frozen else None


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
        fields_text = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({fields_text})"

    return __repr__


def _frozen_guards(cls: type, names: frozenset[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    def __setattr__(self: object, name: str, value: Any) -> None:
        if name in names:
            try:
                _current(self, name)
            except (AttributeError, KeyError):
                # Not set yet: __init__ (or copy, or unpickling) is setting it.
                object.__setattr__(self, name, value)
                return
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        if type(self) is cls:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: object, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__


def _current(instance: object, name: str) -> Any:
    # The instance's own value: a slot, or its __dict__ (a class default does not count).
    instance_dict = getattr(instance, "__dict__", None)
    if instance_dict is not None:
        return instance_dict[name]
    return object.__getattribute__(instance, name)
