"""The .mbsyncstate format: mbsync-written samples round-trip byte for byte; legacy input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from syncmail.errors import StateError
from syncmail.flags import FLAGGED, REPLIED, SEEN
from syncmail.sync.state import (
    S_DUMMY_FAR,
    S_DUMMY_NEAR,
    S_EXPIRE,
    S_EXPIRED,
    S_SKIPPED,
    SyncRecord,
    SyncState,
    format_state,
    parse_state,
    state_chunks,
)

DATA = Path(__file__).parent / "data"
# Written by the installed mbsync 1.4.4 on Maildir<->Maildir channels (SyncState *,
# a global SyncState directory, MaxSize placeholders, MaxMessages expiry).
SAMPLES = sorted(DATA.glob("mbsync144_*.state"))


def test_samples_exist() -> None:
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_mbsync_samples_round_trip_byte_for_byte(sample: Path) -> None:
    data = sample.read_bytes()
    assert format_state(parse_state(data, str(sample))) == data


def test_sample_contents() -> None:
    st = parse_state((DATA / "mbsync144_star_inbox.state").read_bytes(), "x")
    assert (st.far_uidvalidity, st.near_uidvalidity) == (1795642015, 1795642015)
    assert (st.max_pulled, st.max_pushed, st.max_expired) == (8, 7, 0)
    assert [(r.far_uid, r.near_uid, r.flags) for r in st.records][:2] == [
        (2, 2, SEEN),
        (3, 3, FLAGGED | REPLIED | SEEN),
    ]
    ph = parse_state((DATA / "mbsync144_placeholder.state").read_bytes(), "x")
    assert [r.status for r in ph.records if r.far_uid == 7] == [S_DUMMY_NEAR]
    ex = parse_state((DATA / "mbsync144_expired.state").read_bytes(), "x")
    assert ex.max_expired == 6
    assert ex.records[0].status == S_EXPIRE | S_EXPIRED
    orphan = parse_state((DATA / "mbsync144_global_orphan.state").read_bytes(), "x")
    assert (orphan.records[0].far_uid, orphan.records[0].near_uid) == (0, 1)


def test_format_exact_bytes() -> None:
    st = SyncState(1, 2, 30, 40, 0)
    st.records = [
        SyncRecord(17, 0),
        SyncRecord(18, 19, flags=SEEN | FLAGGED),
        SyncRecord(20, 21, status=S_DUMMY_FAR, flags=SEEN),
        SyncRecord(22, 23, status=S_EXPIRE | S_EXPIRED, flags=SEEN),
        SyncRecord(24, 25, status=S_DUMMY_NEAR | S_EXPIRED),
        SyncRecord(26, 27, dead=True),
    ]
    assert format_state(st) == (
        b"FarUidValidity 1\nNearUidValidity 2\nMaxPulledUid 30\nMaxPushedUid 40\n\n"
        b"17 0 \n18 19 FS\n20 21 <S\n22 23 ~S\n24 25 >~\n"
    )


def test_plain_states_are_written_as_the_general_path_writes_them() -> None:
    # A state of plain pairs only takes a shorter path (dead records dropped first); a
    # mark sends the records down the general one, and the bytes of the pairs must agree.
    plain = [SyncRecord(3, 4, SEEN | FLAGGED), SyncRecord(5, 0), SyncRecord(0, 6, REPLIED)]
    expected = b"3 4 FS\n5 0 \n0 6 R\n"
    for max_expired in (0, 9):
        st = SyncState(1, 2, 30, 40, max_expired, records=list(plain))
        fast = format_state(st)
        st.records.append(SyncRecord(7, 8, dead=True))
        assert format_state(st) == fast
        assert fast.endswith(b"\n\n" + expected)
        assert (b"MaxExpiredFarUid 9\n" in fast) == bool(max_expired)
    # Flags beyond the six letters (never in a file mbsync wrote) also go the long way.
    odd = SyncState(1, 2, 3, 4, records=[SyncRecord(1, 1, SEEN | 64)])
    assert format_state(odd).endswith(b"\n\n1 1 S\n")


def test_a_big_state_is_written_in_pieces_that_join_to_its_bytes() -> None:
    # Several pieces of entries; flags beyond the six letters deep in a later piece send
    # that piece the general way, and a dead record is left out of its piece.
    records = [SyncRecord(u, u + 1, SEEN if u % 3 else 0) for u in range(1, 10001)]
    expected = b"".join(b"%d %d %s\n" % (u, u + 1, b"S" if u % 3 else b"") for u in range(1, 10001))
    st = SyncState(1, 2, 10000, 10001, records=records)
    pieces = list(state_chunks(st))
    assert len(pieces) > 3
    assert b"".join(pieces) == format_state(st)
    assert format_state(st).endswith(b"\n\n" + expected)
    records[9000].flags |= 64
    assert format_state(st).endswith(b"\n\n" + expected)
    records.insert(5, SyncRecord(99999, 99999, dead=True))
    assert format_state(st).endswith(b"\n\n" + expected)


def test_max_expired_key_follows_expire_side() -> None:
    st = SyncState(1, 2, 3, 4, 5)
    near = format_state(st)
    far = format_state(st, expire_side="far")
    assert b"MaxExpiredFarUid 5\n\n" in near
    assert b"MaxExpiredNearUid 5\n\n" in far
    assert parse_state(far, "s", expire_side="far").max_expired == 5
    with pytest.raises(StateError, match=r"^channel c, box b: s:5: state file does not match"):
        parse_state(far, "s", channel="c", box="b")
    with pytest.raises(StateError, match="does not match ExpireSide setting"):
        parse_state(near, "s", expire_side="far")


def test_header_any_order_and_legacy_names() -> None:
    data = (
        b"MaxPushedUid 4\nSlaveUidValidity 2\nMaxExpiredMasterUid 9\n"
        b"MasterUidValidity 1\nMaxPulledUid 3\n\n5 6 RS\n"
    )
    st = parse_state(data, "s")
    assert (st.far_uidvalidity, st.near_uidvalidity, st.max_pulled, st.max_pushed) == (1, 2, 3, 4)
    assert st.max_expired == 9
    assert format_state(st) == (
        b"FarUidValidity 1\nNearUidValidity 2\nMaxPulledUid 3\nMaxPushedUid 4\n"
        b"MaxExpiredFarUid 9\n\n5 6 RS\n"
    )


def test_pre_1_1_header() -> None:
    st = parse_state(b"111:5 222:0:7\n1 1 S\n2 3 \n", "s")
    assert (st.far_uidvalidity, st.max_pulled, st.near_uidvalidity, st.max_pushed) == (
        111,
        5,
        222,
        7,
    )
    assert st.max_expired == 0
    assert len(st.records) == 2
    with pytest.raises(StateError, match="s:1: invalid sync state header"):
        parse_state(b"111:5 222:7\n", "s")


def test_pre_1_3_near_expiry_bound_is_converted() -> None:
    # Near UIDs <= 4 were expired; the lowest far UID still needed is 12.
    data = b"MaxExpiredSlaveUid 4\n\n10 3 S\n11 0 ~\n12 5 \n13 6 \n"
    st = parse_state(data, "s")
    assert st.max_expired == 11
    with pytest.raises(StateError, match="does not match ExpireSide"):
        parse_state(data, "s", expire_side="far")
    legacy = parse_state(b"1:2 3:4:5\n10 3 S\n12 5 \n", "s")
    assert legacy.max_expired == 11


def test_legacy_entries() -> None:
    st = parse_state(b"FarUidValidity 1\n\n-1 5 S\n6 -1 \n7 8 XS\n9 10 ^\n", "s")
    assert [(r.far_uid, r.near_uid, r.status) for r in st.records] == [
        (0, 5, S_SKIPPED),
        (6, 0, S_SKIPPED),
        (7, 8, S_EXPIRE | S_EXPIRED),
        (9, 10, S_SKIPPED),
    ]
    assert format_state(st).endswith(b"\n\n0 5 ^S\n6 0 ^\n7 8 ~S\n9 10 ^\n")


def test_flags_only_in_canonical_order() -> None:
    # mbsync's reader walks DFPRST once: a letter out of order is not seen.
    st = parse_state(b"FarUidValidity 1\n\n1 2 SF\n3 4 <FS\n", "s")
    assert st.records[0].flags == SEEN
    assert st.records[1].flags == FLAGGED | SEEN


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"Bogus 1\n\n", "s:1: unrecognized sync state header entry"),
        (b"FarUidValidity 1\nMaxPulledUid x\n\n", "s:2: malformed sync state header entry"),
        (b"FarUidValidity 1\n", "s:1: unterminated sync state header"),
        (b"", "s:0: unterminated sync state header"),
        (b"FarUidValidity 1", "s:1: incomplete sync state header entry"),
        (b"FarUidValidity 1\n\n1 2 S\n3 4", "s:4: incomplete sync state entry"),
        (b"FarUidValidity 1\n\n1 2 S\nfoo\n", "s:4: invalid sync state entry"),
        (b"FarUidValidity 1\n\n7\n", "s:3: invalid sync state entry"),
        (b"FarUidValidity 1\n\n1 2 " + b"S" * 130 + b"\n", "s:3: incomplete sync state entry"),
        (b"X" * 140 + b" 1\n\n", "s:1: incomplete sync state header entry"),
    ],
)
def test_errors_name_path_and_line(data: bytes, where: str) -> None:
    with pytest.raises(StateError) as info:
        parse_state(data, "s", channel="ch", box="INBOX")
    assert str(info.value) == f"channel ch, box INBOX: {where}"
    assert info.value.path == "s"


def test_line_length_limit_is_mbsyncs() -> None:
    # 127 bytes with the newline fit mbsync's 128-byte fgets buffer; 128 do not.
    head = b"FarUidValidity 1\n\n1 2 "
    ok = head + b"S" * (127 - len(b"1 2 ") - 1) + b"\n"
    parse_state(ok, "s")
    with pytest.raises(StateError):
        parse_state(head + b"S" * (128 - len(b"1 2 ") - 1) + b"\n", "s")


def test_random_states_round_trip() -> None:
    rng = random.Random(5)
    statuses = [0, S_DUMMY_FAR, S_DUMMY_NEAR, S_EXPIRE | S_EXPIRED, S_SKIPPED]
    statuses += [S_DUMMY_FAR | S_EXPIRE | S_EXPIRED, S_DUMMY_NEAR | S_SKIPPED]
    for _ in range(200):
        st = SyncState(*(rng.choice([0, 1, rng.randrange(2**32)]) for _ in range(5)))
        st.records = [
            SyncRecord(rng.randrange(2**32), rng.randrange(2**32), rng.randrange(64), s)
            for s in rng.choices(statuses, k=rng.randrange(6))
        ]
        for side in ("near", "far"):
            data = format_state(st, expire_side=side)
            assert parse_state(data, "s", expire_side=side) == st
            assert format_state(parse_state(data, "s", expire_side=side), expire_side=side) == data
