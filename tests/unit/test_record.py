"""``@record`` behaves as ``@dataclass`` does for equality, hashing and repr."""

from __future__ import annotations

import dataclasses
from dataclasses import field

import pytest

from syncmail.record import record


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    note: str = field(default="", compare=False, repr=False)


@record(frozen=True)
class Point3(Point):
    z: int = 0


@record
class Box:
    items: list[int] = field(default_factory=list)


@record(frozen=True)
class Own:
    a: int

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


@record(slots=True)
class Slotted:
    a: int


@dataclasses.dataclass(frozen=True)
class PlainPoint:
    x: int
    y: int = 0
    note: str = field(default="", compare=False, repr=False)


def test_equality_by_fields_of_the_same_class() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(1, 3)
    assert Point(1, 2, note="a") == Point(1, 2, note="b")  # compare=False
    assert Point(1, 2) != Point3(1, 2)  # another class, as with dataclasses
    assert Point(1, 2) != (1, 2)
    assert Slotted(1) == Slotted(1) and Slotted(1) != Slotted(2)


def test_hash_follows_equality_and_mutability() -> None:
    assert hash(Point(1, 2, "a")) == hash(Point(1, 2, "b"))
    assert len({Point(1, 2), Point(1, 2), Point(2, 1)}) == 2
    with pytest.raises(TypeError):
        hash(Box())
    with pytest.raises(dataclasses.FrozenInstanceError):
        Point(1).x = 2  # type: ignore[misc]


def test_repr_as_dataclass() -> None:
    assert repr(Point(1, 2, "x")) == repr(PlainPoint(1, 2, "x")).replace("PlainPoint", "Point")
    assert repr(Point3(1, 2, z=3)) == "Point3(x=1, y=2, z=3)"
    assert repr(Box([1])) == "Box(items=[1])"


def test_methods_of_the_class_win() -> None:
    assert Own(1) == Own(2)
    assert Own.__hash__ is object.__hash__


def test_still_a_dataclass() -> None:
    assert [f.name for f in dataclasses.fields(Point3)] == ["x", "y", "note", "z"]
    assert dataclasses.replace(Point(1, 2), y=5) == Point(1, 5)
    assert dataclasses.asdict(Box([3])) == {"items": [3]}
    assert Box().items is not Box().items


@record(frozen=True, slots=True)
class FrozenSlotted:
    a: int
    b: list[int] = field(default_factory=list)


@record
class Counted:
    a: int
    doubled: int = 0

    def __post_init__(self) -> None:
        self.doubled = 2 * self.a


def test_init_takes_positional_and_keyword_arguments_as_dataclass() -> None:
    assert Point(1, note="n", y=2) == Point(x=1, y=2) and Point(1, 2, "n").note == "n"
    assert Point3(1, z=4).z == 4 and Point3(1).y == 0
    for bad in (lambda: Point(), lambda: Point(1, x=2), lambda: Point(1, w=2),
                lambda: Point(1, 2, "n", 3)):
        with pytest.raises(TypeError):
            bad()
    assert Counted(3).doubled == 6
    assert Point.__match_args__ == ("x", "y", "note")


def test_frozen_and_slots_as_dataclass() -> None:
    import copy
    import pickle

    value = FrozenSlotted(1, [2])
    assert not hasattr(value, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.a = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del value.a  # type: ignore[misc]
    assert copy.deepcopy(value) == value and pickle.loads(pickle.dumps(value)) == value
    assert FrozenSlotted.__qualname__ == "FrozenSlotted"
    with pytest.raises(AttributeError):
        Slotted(1).other = 2  # type: ignore[attr-defined]


def test_definition_errors_as_dataclass() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b'"):

        @record
        class Late:
            a: int = 0
            b: int

    with pytest.raises(ValueError, match="mutable default"):

        @record
        class Shared:
            a: list[int] = []  # noqa: RUF012


def test_defining_a_record_compiles_nothing() -> None:
    # The point of @record: its methods are shared code, not one exec per class.
    for method in ("__init__", "__setattr__", "__eq__", "__repr__"):
        assert getattr(Point, method).__code__ is getattr(FrozenSlotted, method).__code__


@record(frozen=True, slots=True, hot=True)
class HotPoint:
    x: int
    y: int = 0
    note: str = field(default="", compare=False, repr=False)


def test_a_hot_record_behaves_as_a_record_with_dataclasss_init() -> None:
    p = HotPoint(1, y=2, note="n")
    assert p == HotPoint(1, 2) and p != HotPoint(1, 3) and hash(p) == hash(HotPoint(1, 2))
    assert repr(p) == "HotPoint(x=1, y=2)"
    assert HotPoint.__init__.__qualname__.endswith("HotPoint.__init__")  # compiled for it
    assert not hasattr(p, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 5  # type: ignore[misc]
    assert dataclasses.replace(p, x=7) == HotPoint(7, 2)
