"""Fuzzing Maildir file-name parsing: any name gives a UID, flags and an order, never an error;
the bulk parsers agree with the one-name ones."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncmail.store import maildir_names as mn

# Pieces real names are made of, and some that only a hostile or broken writer puts there.
PIECES = [
    "1700000000", "0", ".", "_", "12345", ",U=", ",U=7", ":2,", "!2,", "2,", ",", ":", "S", "RS",
    "DFPRST", "a", "host", "M", "#", "P", "Q", "-", "+", " ", "\u0663", "\uff11", "\u00b2",
    "\n", "\udcff", "U=",
]  # fmt: skip
name = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.text(max_size=60),
).filter(lambda s: len(s) <= 255)  # a file name has at most 255 bytes (NAME_MAX)
delimiter = st.sampled_from([":", "!", ";", ","])
flags = st.integers(0, 63)


@given(st.lists(name, max_size=8), delimiter)
def test_bulk_parsing_agrees_with_one_by_one(names: list[str], delim: str) -> None:
    prefix = mn.info_prefix(delim)
    uids = [mn.parse_uid(n) for n in names]
    assert all(isinstance(u, int) and u >= 0 for u in uids)
    assert mn.parse_uids(names) == uids
    assert mn.parse_flags_bulk(names, prefix) == [mn.parse_flags(n, prefix) for n in names]


@given(name, delimiter, st.integers(1, mn.UINT_MAX), flags)
def test_uid_and_flags_written_are_read_back(
    base: str, delim: str, uid: int, bits: int
) -> None:
    prefix = mn.info_prefix(delim)
    named = mn.with_uid(base, uid, delim)
    assert mn.parse_uid(named) == uid
    assert mn.parse_flags(mn.with_flags(named, bits, prefix), prefix) == bits
    if mn.UID_TAG not in base:  # a new name's base is mbsync's <time>.<pid>_<n>.<host>
        assert mn.parse_uid(mn.make_name(base, uid, bits, delim)) == uid


@given(name, name, name)
def test_arrival_order_is_consistent(a: str, b: str, c: str) -> None:
    def sign(n: int) -> int:
        return (n > 0) - (n < 0)

    assert mn.compare_names(a, a) == 0
    assert sign(mn.compare_names(a, b)) == -sign(mn.compare_names(b, a))
    sorted([a, b, c], key=mn.name_order)


@given(st.one_of(st.binary(max_size=40), st.builds(
    lambda a, b, sep: f"{a}{sep}{b}".encode(), st.integers(0, 2**40), st.integers(0, 2**40),
    st.sampled_from(["\n", " ", "", "\n\n", "x"]))))
def test_uidvalidity_file(data: bytes) -> None:
    parsed = mn.parse_uidvalidity(data)
    if parsed is not None:
        assert all(0 <= v <= mn.UINT_MAX for v in parsed)
        assert mn.parse_uidvalidity(mn.format_uidvalidity(*parsed)) == parsed
