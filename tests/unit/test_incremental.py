"""Incremental listings, the pure parts: snapshot file format, patching, VANISHED parsing."""

from __future__ import annotations

import pytest

from syncmail.store.base import BoxChanges
from syncmail.store.imapwire import parse_vanished
from syncmail.sync.snapshot import Snapshot, decode, drop_ranges, encode, patch

KNOWN = {1: 16, 2: 0, 5: 18, 9: 32, 10: 16}


def test_patch_applies_changed_flags_new_uids_and_vanished_ranges() -> None:
    changes = BoxChanges(flags={2: 16, 11: 0, 12: 2}, vanished=[(5, 6), (10, 10)])
    assert patch(KNOWN, changes) == {1: 16, 2: 16, 9: 32, 11: 0, 12: 2}
    assert KNOWN == {1: 16, 2: 0, 5: 18, 9: 32, 10: 16}  # the input is left alone


def test_patch_with_present_uids_drops_the_missing_but_keeps_changed_ones() -> None:
    # A message added after the search is reported as changed: it stays.
    changes = BoxChanges(flags={9: 16, 13: 4}, present={1, 2, 9})
    assert patch(KNOWN, changes) == {1: 16, 2: 0, 9: 16, 13: 4}


def test_patch_without_changes_is_the_snapshot() -> None:
    assert patch(KNOWN, BoxChanges(flags={}, vanished=[])) == KNOWN


def test_a_uid_both_changed_and_vanished_is_gone() -> None:
    assert 11 not in patch(KNOWN, BoxChanges(flags={11: 0}, vanished=[(11, 11)]))


@pytest.mark.parametrize(
    "ranges",
    [[(1, 4_000_000_000)], [(3, 4_000_000), (2, 2)], [(6, 9), (1, 1), (10, 10**9)]],
)
def test_huge_vanished_ranges_are_looked_up_not_expanded(ranges: list[tuple[int, int]]) -> None:
    listing = dict(KNOWN)
    drop_ranges(listing, ranges)
    expected = {u: f for u, f in KNOWN.items() if not any(lo <= u <= hi for lo, hi in ranges)}
    assert listing == expected


def test_small_and_huge_range_paths_agree() -> None:
    listing = {u: u % 7 for u in range(1, 200)}
    ranges = [(3, 9), (50, 50), (100, 150), (198, 300)]
    small = dict(listing)
    drop_ranges(small, ranges)
    huge = dict(listing)
    drop_ranges(huge, [*ranges, (10**6, 10**9)])
    assert small == huge
    assert sorted(set(listing) - set(small)) == [
        *range(3, 10),
        50,
        *range(100, 151),
        198,
        199,
    ]


def test_snapshot_round_trips() -> None:
    snap = Snapshot("store\0INBOX", 1700000000, 4242, dict(KNOWN))
    assert decode(encode(snap)) == snap
    sized = Snapshot("s\0b", 7, 0, {3: 16, 4: 0}, {3: 1234, 4: 99})
    assert decode(encode(sized)) == sized
    empty = Snapshot("s\0b", 7, 12, {})
    assert decode(encode(empty)) == empty


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # cut short by a crash
        lambda b: b"",
        lambda b: b"\x00garbage",
        lambda b: b.replace(b'"version":2', b'"version":3'),
        lambda b: b.replace(b'"count":5', b'"count":6'),
        lambda b: b.replace(b'"uids":[1,', b'"uids":[0,'),  # UIDs must ascend
        lambda b: b.replace(b'"uids":[1,', b'"uids":[-1,'),
        lambda b: b.replace(b'"flags":[16,', b'"flags":["S",'),
        lambda b: b"[1, 2, 3]",
    ],
)
def test_damaged_snapshots_are_refused(damage) -> None:  # type: ignore[no-untyped-def]
    data = encode(Snapshot("k", 1, 2, dict(KNOWN)))
    assert decode(data) is not None
    assert decode(damage(data)) is None


def test_parse_vanished() -> None:
    assert parse_vanished([b"(EARLIER) 4:6,9", b"12", None]) == [(4, 6), (9, 9), (12, 12)]
    assert parse_vanished([b"(earlier) 9:7"]) == [(7, 9)]
    assert parse_vanished([]) == []
    with pytest.raises(ValueError):
        parse_vanished([b"(LATER) 1"])
    with pytest.raises(ValueError):
        parse_vanished([b"1:x"])


# --- the state file's fast paths (used on every incremental run) --------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"007 08 S", (7, 8, 0, 16)),
        (b"1 2 ", (1, 2, 0, 0)),
        (b"1 2 SD", (1, 2, 0, 16)),  # only canonical order counts, as in mbsync
        (b"1 2 DDS", (1, 2, 0, 1)),
        (b"999999999 3 DFPRST", (999999999, 3, 0, 63)),
        (b"4294967295 3 S", (0, 3, 128, 16)),  # the legacy -1: general path
        (b"1 2 <S", (1, 2, 32, 16)),
        (b"1  2 S", (1, 2, 0, 16)),
        (b"1 2", (1, 2, 0, 0)),
    ],
)
def test_state_entries_read_the_same_on_every_path(
    line: bytes, expected: tuple[int, int, int, int]
) -> None:
    from syncmail.sync.state import format_state, parse_state

    header = b"FarUidValidity 1\nNearUidValidity 2\nMaxPulledUid 0\nMaxPushedUid 0\n\n"
    state = parse_state(header + line + b"\n", "x")
    rec = state.records[0]
    assert (rec.far_uid, rec.near_uid, rec.status, rec.flags) == expected
    again = parse_state(format_state(state), "x").records[0]
    assert (again.far_uid, again.near_uid, again.flags) == (rec.far_uid, rec.near_uid, rec.flags)
