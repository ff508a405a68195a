"""``@record``: a dataclass that is cheaper to define.

Every run of syncmail imports some eighty dataclasses, and on Python 3.11 defining one
compiles a function for each method it gets: ``__init__``, ``__repr__``, ``__eq__``,
``__hash__``.  That was a quarter of a no-change resync.  A record is a dataclass whose
``__init__`` is still generated (it is the one called per object) while ``__repr__``,
``__eq__`` and ``__hash__`` are shared functions that read the field names the class was
given.  They behave as the dataclass ones do: equal when of the same class with equal
fields (those with ``compare``), hashable when frozen, ``Name(field=value, ...)`` as repr.

Classes made by the hundred thousand and compared in loops (a message's listing entry,
a sync record) stay plain dataclasses: their generated ``__eq__`` is faster per call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

_C = TypeVar("_C", bound=type)

__all__ = ["record"]


@overload
def record(cls: _C, /) -> _C: ...


@overload
def record(*, frozen: bool = False, slots: bool = False) -> Callable[[_C], _C]: ...


@dataclass_transform(field_specifiers=(dataclasses.field,))
def record(
    cls: _C | None = None, /, *, frozen: bool = False, slots: bool = False
) -> _C | Callable[[_C], _C]:
    """Like ``@dataclass`` (and ``@dataclass(frozen=True)``, ``slots=True``)."""

    def wrap(c: _C) -> _C:
        own = vars(c).keys() & {"__repr__", "__eq__", "__hash__"}
        made: Any = dataclasses.dataclass(c, frozen=frozen, slots=slots, repr=False, eq=False)
        _add_methods(made, frozen, own)
        return made  # type: ignore[no-any-return]

    return wrap if cls is None else wrap(cls)


def _key(names: tuple[str, ...]) -> Callable[[Any], Any]:
    if not names:
        return lambda _obj: ()
    get = attrgetter(*names)
    if len(names) == 1:
        return lambda obj: (get(obj),)
    return get


def _add_methods(cls: type, frozen: bool, own: set[str]) -> None:
    fields = dataclasses.fields(cls)
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
