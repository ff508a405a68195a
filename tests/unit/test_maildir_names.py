"""Maildir file names and .uidvalidity contents, as mbsync writes and reads them."""

from __future__ import annotations

import pytest

from syncmail import flags as F
from syncmail.store import maildir_names as mn


@pytest.mark.parametrize(
    ("name", "uid"),
    [
        ("1700000000.1234_1.host,U=17:2,S", 17),
        ("1700000000.1234_1.host,U=17", 17),
        ("1700000000.1234_1.host:2,S", 0),
        ("1700000000.1234_1.host,U=:2,S", 0),
        ("1700000000.1234_1.host,U=0:2,S", 0),
        ("a,U=3,U=4:2,", 3),
        ("1700000000.M1P2.host,S=123,W=130,U=9:2,RS", 9),
        ("cur/1.2_3.h,U=42:2,", 42),
        # Found by fuzzing: the bulk reader took non-ASCII digits (ARABIC-INDIC THREE).
        (",U=\u0663", 0),
        ("1.2_3.h,U=4\u0663:2,S", 4),
    ],
)
def test_parse_uid(name: str, uid: int) -> None:
    assert mn.parse_uid(name) == uid
    assert mn.parse_uids([name]) == [uid]


def test_parse_uids_bulk_matches_single_and_survives_newlines() -> None:
    names = ["a,U=1:2,S", "b:2,", "c,U=33", "d", "e,U=x,U=5"]
    assert mn.parse_uids(names) == [mn.parse_uid(n) for n in names] == [1, 0, 33, 0, 0]
    odd = ["a\nb,U=7:2,", "c,U=8"]
    assert mn.parse_uids(odd) == [7, 8]
    assert mn.parse_uids([]) == []


def test_parse_uids_with_another_delimiter() -> None:
    names = ["a,U=12;2,S", "b,U=12:2,S", "c,U=9;", "d,U=;2,", "e,U=\u00b2;2,"]
    expected = [mn.parse_uid(n) for n in names]
    assert expected == [12, 12, 9, 0, 0]
    assert mn.parse_uids(names, ";") == mn.parse_uids(names, ":") == expected


@pytest.mark.parametrize(
    ("name", "prefix", "flags"),
    [
        ("x,U=1:2,FRS", ":2,", F.FLAGGED | F.REPLIED | F.SEEN),
        ("x,U=1:2,DPT", ":2,", F.DRAFT | F.PASSED | F.TRASHED),
        ("x,U=1:2,Sab", ":2,", F.SEEN),
        ("x,U=1:2,", ":2,", 0),
        ("x,U=1", ":2,", 0),
        ("x,U=1;2,S", ";2,", F.SEEN),
        ("x,U=1:2,S", ";2,", 0),
    ],
)
def test_parse_flags(name: str, prefix: str, flags: int) -> None:
    assert mn.parse_flags(name, prefix) == flags
    assert mn.parse_flags_bulk([name], prefix) == [flags]


def test_parse_flags_bulk_with_newline_falls_back() -> None:
    assert mn.parse_flags_bulk(["a\n:2,S", "b:2,F"], ":2,") == [F.SEEN, F.FLAGGED]


@pytest.mark.parametrize(
    ("name", "uid", "delim", "expected"),
    [
        ("1.2_3.host:2,S", 5, ":", "1.2_3.host,U=5:2,S"),
        ("1.2_3.host,U=99:2,S", 5, ":", "1.2_3.host,U=5:2,S"),
        ("1.2_3.host,U=:2,S", 5, ":", "1.2_3.host,U=5:2,S"),
        ("1.2_3.host", 5, ":", "1.2_3.host,U=5"),
        ("1.2_3.host,S=100;2,S", 7, ";", "1.2_3.host,S=100,U=7;2,S"),
    ],
)
def test_with_uid(name: str, uid: int, delim: str, expected: str) -> None:
    assert mn.with_uid(name, uid, delim) == expected


def test_with_flags_keeps_unknown_letters_sorted() -> None:
    assert mn.with_flags("m,U=1:2,Sa", F.FLAGGED | F.SEEN, ":2,") == "m,U=1:2,FSa"
    assert mn.with_flags("m,U=1:2,FSa", F.SEEN, ":2,") == "m,U=1:2,Sa"
    assert mn.with_flags("m,U=1:2,zS", 0, ":2,") == "m,U=1:2,z"
    assert mn.with_flags("m,U=1", F.SEEN | F.DRAFT, ":2,") == "m,U=1:2,DS"
    assert mn.with_flags("m,U=1!2,T", F.REPLIED, "!2,") == "m,U=1!2,R"


def test_make_name_is_mbsync_pattern() -> None:
    base = mn.make_base(1700000000, 4321, 7, "myhost")
    assert base == "1700000000.4321_7.myhost"
    assert mn.make_name(base, 12, F.SEEN | F.FLAGGED, ":") == "1700000000.4321_7.myhost,U=12:2,FS"
    assert mn.make_name(base, 13, 0, ":") == "1700000000.4321_7.myhost,U=13:2,"
    assert mn.make_name(base, None, F.TRASHED, ";") == "1700000000.4321_7.myhost;2,T"


def test_host_part() -> None:
    assert mn.host_part("vm.example.org") == "vm"
    assert mn.host_part("plain") == "plain"
    assert mn.host_part("we/ird:name") == "we\\057ird\\072name"


@pytest.mark.parametrize(
    ("data", "parsed"),
    [
        (b"1700000000\n42\n", (1700000000, 42)),
        (b"1700000000\n0\n", (1700000000, 0)),
        (b"  12 \n 34", (12, 34)),
        (b"12 34 trailing", (12, 34)),
        (b"1234", None),
        (b"12\n", None),
        (b"abc\n1\n", None),
        (b"-1\n2\n", None),
        (b"99999999999\n1\n", None),
    ],
)
def test_parse_uidvalidity(data: bytes, parsed: tuple[int, int] | None) -> None:
    assert mn.parse_uidvalidity(data) == parsed


def test_format_uidvalidity() -> None:
    assert mn.format_uidvalidity(1700000000, 5) == b"1700000000\n5\n"
    assert mn.parse_uidvalidity(mn.format_uidvalidity(3, 4)) == (3, 4)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Seconds: the shorter number is smaller, then numeric.
        ("999999999.1_1.h", "1000000000.1_1.h"),
        ("1700000000.5_1.h", "1700000001.1_1.h"),
        # Same second: PID, then mbsync's _n counter (numerically).
        ("1700000000.100_9.h", "1700000000.200_1.h"),
        ("1700000000.100_2.h", "1700000000.100_10.h"),
        # PID wraparound: a much smaller PID is a later one.
        ("1700000000.30000_1.h", "1700000000.5_1.h"),
        # Dovecot / Courier style sequence fields.
        ("1700000000.M3P1.h", "1700000000.M12P1.h"),
        ("1700000000.#2.h", "1700000000.#10.h"),
        ("1700000000.P7Q2.h", "1700000000.P7Q10.h"),
        # Anything else: plain string order.
        ("1700000000.abc.h", "1700000000.abd.h"),
        ("nodot", "nodotz"),
    ],
)
def test_compare_names_order(first: str, second: str) -> None:
    assert mn.compare_names(first, second) < 0
    assert mn.compare_names(second, first) > 0
    assert sorted([second, first], key=mn.name_order) == [first, second]


def test_compare_names_equal() -> None:
    assert mn.compare_names("1.2_3.h:2,S", "1.2_3.h:2,S") == 0
