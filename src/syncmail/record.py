"""``@record``: a dataclass that is cheaper to define.

Every run of syncmail defines some eighty dataclasses, and on Python 3.11
``@dataclass`` compiles a function with ``exec`` for each method a class gets
(``__init__``, ``__repr__``, ``__eq__``, and ``__setattr__``/``__delattr__`` when
frozen): a quarter of a no-change resync.  A record gets the same methods as shared
functions that read the field list the class was given, so defining one compiles
nothing.  They behave as the dataclass ones do: positional and keyword arguments,
defaults and ``default_factory``, ``__post_init__``; equal when of the same class with
equal fields (those with ``compare``), hashable when frozen, ``Name(field=value, ...)``
as repr; ``frozen`` and ``slots`` as with ``@dataclass``.

``__dataclass_fields__`` holds real ``dataclasses.Field`` objects, so
``dataclasses.fields``, ``replace`` and ``asdict`` work on records (plugins may use them
on events).  Not supported, and refused when the class is defined: ``init=False``,
``kw_only`` and ``InitVar`` fields.

The shared ``__init__`` is slower per object than a generated one, so classes made by
the hundred thousand and compared in loops (a message's listing entry, a sync record)
stay plain dataclasses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import MISSING, Field, FrozenInstanceError
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

_C = TypeVar("_C", bound=type)

__all__ = ["record"]

# What marks a Field as a real field (not a ClassVar or InitVar) for dataclasses.fields().
# Private to dataclasses, but the same object since Python 3.7; test_record checks that
# fields(), replace() and asdict() still see our fields.
_FIELD_TYPE = dataclasses._FIELD  # type: ignore[attr-defined]


@overload
def record(cls: _C, /) -> _C: ...


@overload
def record(
    *, frozen: bool = False, slots: bool = False, hot: bool = False
) -> Callable[[_C], _C]: ...


@dataclass_transform(field_specifiers=(dataclasses.field,))
def record(
    cls: _C | None = None, /, *, frozen: bool = False, slots: bool = False, hot: bool = False
) -> _C | Callable[[_C], _C]:
    """Like ``@dataclass`` (and ``@dataclass(frozen=True)``, ``slots=True``).

    ``hot``: made once per message of a big pull (a plan's copies, the new-message
    events): the class gets dataclass's own compiled ``__init__``, three times as fast
    per object as the shared one, for the cost of compiling it when it is defined.
    """

    def wrap(c: _C) -> _C:
        if hot:
            return _make_hot(c, frozen, slots)  # type: ignore[return-value]
        return _make_record(c, frozen, slots)  # type: ignore[return-value]

    return wrap if cls is None else wrap(cls)


def _make_hot(cls: type, frozen: bool, slots: bool) -> type:
    own = set(vars(cls))
    made: type = dataclasses.dataclass(cls, frozen=frozen, slots=slots, repr=False, eq=False)
    _add_methods(made, list(dataclasses.fields(made)), frozen, own)
    return made


def _make_record(cls: type, frozen: bool, slots: bool) -> type:
    own = set(vars(cls))
    fields = _collect_fields(cls)
    if slots:
        cls = _with_slots(cls, fields, frozen)
    cls.__dataclass_fields__ = {f.name: f for f in fields}  # type: ignore[attr-defined]
    names = tuple(f.name for f in fields)
    if "__init__" not in own:
        post_init = hasattr(cls, "__post_init__")
        cls.__init__ = _init(cls.__qualname__, fields, frozen, post_init)  # type: ignore[misc]
    if "__match_args__" not in own:
        cls.__match_args__ = names  # type: ignore[attr-defined,misc]
    if frozen:
        _add_frozen(cls, names, own)
    _add_methods(cls, fields, frozen, own)
    return cls


def _collect_fields(cls: type) -> list[Field[Any]]:
    """The fields of the bases that are dataclasses, then the class's own, as dataclass does."""
    fields: dict[str, Field[Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        fields.update(getattr(base, "__dataclass_fields__", {}))
    for name, annotation in vars(cls).get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        fields[name] = _own_field(cls, name, annotation)
    required_after = None
    for f in reversed(fields.values()):
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if not has_default:
            required_after = f.name
        elif required_after is not None:
            raise TypeError(f"non-default argument {required_after!r} follows default argument")
    return list(fields.values())


def _is_classvar(annotation: Any) -> bool:
    return _spelled(annotation).startswith(("ClassVar", "typing.ClassVar"))


def _is_initvar(annotation: Any) -> bool:
    return _spelled(annotation).startswith(("InitVar", "dataclasses.InitVar"))


def _spelled(annotation: Any) -> str:
    # Annotations are strings here (``from __future__ import annotations``), as a rule.
    return annotation if isinstance(annotation, str) else repr(annotation)


def _own_field(cls: type, name: str, annotation: Any) -> Field[Any]:
    default = vars(cls).get(name, MISSING)
    if isinstance(default, Field):
        f = default
        # As dataclass: the class attribute becomes the plain default, or goes.
        if f.default is MISSING:
            delattr(cls, name)
        else:
            setattr(cls, name, f.default)
    else:
        f = dataclasses.field(default=default)
    if not f.init or f.kw_only is True or _is_initvar(annotation):
        raise TypeError(f"{cls.__qualname__}.{name}: @record has no init=False, kw_only, InitVar")
    if f.default is not MISSING and f.default.__class__.__hash__ is None:
        raise ValueError(
            f"mutable default {type(f.default)} for field {name} is not allowed: "
            "use default_factory"
        )
    f.name = name
    f.type = annotation
    f.kw_only = False
    f._field_type = _FIELD_TYPE  # type: ignore[attr-defined]
    return f


def _with_slots(cls: type, fields: list[Field[Any]], frozen: bool) -> type:
    """A copy of ``cls`` with ``__slots__`` (a class's slots are fixed when it is made)."""
    if "__slots__" in vars(cls):
        raise TypeError(f"{cls.__name__} already specifies __slots__")
    names = [f.name for f in fields]
    inherited = {name for base in cls.__mro__[1:-1] for name in _slots(base)}
    body = dict(vars(cls))
    body["__slots__"] = tuple(name for name in names if name not in inherited)
    for name in (*names, "__dict__", "__weakref__"):
        body.pop(name, None)
    made = type(cls)(cls.__name__, cls.__bases__, body)
    made.__qualname__ = cls.__qualname__
    if frozen:
        # Without them copy and pickle would assign the slots and hit the frozen __setattr__.
        if "__getstate__" not in body:
            made.__getstate__ = _getstate  # type: ignore[method-assign,assignment]
        if "__setstate__" not in body:
            made.__setstate__ = _setstate  # type: ignore[attr-defined]
    return made


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in dataclasses.fields(self)]


def _setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(dataclasses.fields(self), state, strict=True):
        object.__setattr__(self, f.name, value)


def _slots(cls: type) -> tuple[str, ...]:
    slots = vars(cls).get("__slots__", ())
    return (slots,) if isinstance(slots, str) else tuple(slots)


def _init(
    qualname: str, fields: list[Field[Any]], frozen: bool, post_init: bool
) -> Callable[..., None]:
    names = tuple(f.name for f in fields)
    count = len(names)
    rest = tuple((f.name, f.default, f.default_factory) for f in fields)
    assign = object.__setattr__ if frozen else setattr

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        given = len(args)
        if given > count:
            raise TypeError(
                f"{qualname}.__init__() takes {count + 1} positional arguments "
                f"but {given + 1} were given"
            )
        for name, value in zip(names, args, strict=False):
            assign(self, name, value)
        for name, default, factory in rest[given:]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif default is not MISSING:
                value = default
            elif factory is not MISSING:
                value = factory()
            else:
                raise TypeError(f"{qualname}.__init__() missing required argument: {name!r}")
            assign(self, name, value)
        if kwargs:
            name = next(iter(kwargs))
            why = "got multiple values for argument" if name in names else (
                "got an unexpected keyword argument"
            )
            raise TypeError(f"{qualname}.__init__() {why} {name!r}")
        if post_init:
            self.__post_init__()

    return __init__


def _add_frozen(cls: type, names: tuple[str, ...], own: set[str]) -> None:
    if own & {"__setattr__", "__delattr__"}:
        raise TypeError(f"{cls.__qualname__}: a frozen record cannot define __setattr__")

    owner: Any = cls

    # As dataclass: a subclass that is not a record may set attributes of its own.
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if self.__class__ is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(owner, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if self.__class__ is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(owner, self).__delattr__(name)

    cls.__setattr__ = __setattr__  # type: ignore[method-assign,assignment]
    cls.__delattr__ = __delattr__  # type: ignore[method-assign,assignment]


def _key(names: tuple[str, ...]) -> Callable[[Any], Any]:
    if not names:
        return lambda _obj: ()
    get = attrgetter(*names)
    if len(names) == 1:
        return lambda obj: (get(obj),)
    return get


def _add_methods(cls: type, fields: list[Field[Any]], frozen: bool, own: set[str]) -> None:
    compared = _key(tuple(f.name for f in fields if f.compare))
    hashed = _key(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))
    shown = tuple(f.name for f in fields if f.repr)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(compared(self) == compared(other))
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(hashed(self))

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({inner})"

    if "__eq__" not in own:
        cls.__eq__ = __eq__  # type: ignore[method-assign,assignment]
        if "__hash__" not in own:
            # As a dataclass: a frozen record hashes by value, a mutable one not at all.
            cls.__hash__ = __hash__ if frozen else None  # type: ignore[method-assign,assignment]
    if "__repr__" not in own:
        cls.__repr__ = __repr__  # type: ignore[method-assign,assignment]
