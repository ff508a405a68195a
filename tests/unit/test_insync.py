"""obviously_in_sync: the column-wise test agrees with the rule written record by record."""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from syncmail.flags import FLAGGED, SEEN, TRASHED
from syncmail.store.base import MessageInfo
from syncmail.sync.insync import obviously_in_sync
from syncmail.sync.state import S_EXPIRED, S_PENDING, SyncRecord, SyncState


def rule(state: SyncState, far: Mapping[int, MessageInfo], near: Mapping[int, MessageInfo]) -> bool:
    """The documented rule, one record at a time."""
    far_uids: set[int] = set()
    near_uids: set[int] = set()
    count = 0
    for rec in state.records:
        if rec.dead:
            continue
        if rec.status or rec.tuid is not None or rec.flags & TRASHED:
            return False
        f, n = far.get(rec.far_uid), near.get(rec.near_uid)
        if f is None or n is None or f.flags != rec.flags or n.flags != rec.flags:
            return False
        far_uids.add(rec.far_uid)
        near_uids.add(rec.near_uid)
        count += 1
    return len(far_uids) == len(near_uids) == count == len(far) == len(near)


def in_sync_pair(n: int, flags: list[int]) -> tuple[SyncState, dict, dict]:
    state = SyncState(
        1, 1, n, n, records=[SyncRecord(u, u + 100, flags[u - 1]) for u in range(1, n + 1)]
    )
    far = {u: MessageInfo(u, flags[u - 1]) for u in range(1, n + 1)}
    near = {u + 100: MessageInfo(u + 100, flags[u - 1]) for u in range(1, n + 1)}
    return state, far, near


def test_settled_pairs_are_in_sync() -> None:
    state, far, near = in_sync_pair(3, [SEEN, 0, SEEN | FLAGGED])
    assert obviously_in_sync(state, far, near)
    state.records.append(SyncRecord(9, 9, dead=True))
    assert obviously_in_sync(state, far, near)


def test_anything_unusual_is_not() -> None:
    cases = []
    state, far, near = in_sync_pair(2, [SEEN, 0])
    state.records[0].tuid = ""  # a copy under way, even with an empty TUID
    cases.append((state, far, near))
    state, far, near = in_sync_pair(2, [SEEN, 0])
    state.records[1].status = S_EXPIRED
    cases.append((state, far, near))
    state, far, near = in_sync_pair(2, [SEEN | TRASHED, 0])
    cases.append((state, far, near))
    state, far, near = in_sync_pair(2, [SEEN, 0])
    near[102] = MessageInfo(102, SEEN)  # flags differ on one side
    cases.append((state, far, near))
    state, far, near = in_sync_pair(2, [SEEN, 0])
    far[7] = MessageInfo(7, 0)  # a message without a record
    cases.append((state, far, near))
    state, far, near = in_sync_pair(2, [0, 0])
    state.records[1].far_uid = 1  # two records, one far message
    del far[2]
    far[3] = MessageInfo(3, 0)
    cases.append((state, far, near))
    for state, far, near in cases:
        assert not rule(state, far, near)
        assert not obviously_in_sync(state, far, near)


small_flags = st.sampled_from([0, SEEN, SEEN | FLAGGED, TRASHED])
records = st.lists(
    st.builds(
        SyncRecord,
        st.integers(0, 6),
        st.integers(0, 6),
        small_flags,
        st.sampled_from([0, 0, 0, S_PENDING]),
        st.sampled_from([None, None, None, "", "t"]),
        st.just(0),
        st.booleans(),
    ),
    max_size=6,
)
listing = st.dictionaries(st.integers(1, 6), small_flags, max_size=6).map(
    lambda d: {u: MessageInfo(u, f) for u, f in d.items()}
)


@given(records, listing, listing)
def test_agrees_with_the_rule(recs: list[SyncRecord], far: dict, near: dict) -> None:
    state = SyncState(1, 1, 6, 6, records=recs)
    assert obviously_in_sync(state, far, near) == rule(state, far, near)


@given(st.lists(small_flags.filter(lambda f: not f & TRASHED), max_size=8), st.data())
def test_agrees_on_nearly_settled_pairs(flags: list[int], data: st.DataObject) -> None:
    # Random records rarely agree; these start settled and get at most one change.
    state, far, near = in_sync_pair(len(flags), flags)
    change = data.draw(st.sampled_from(["none", "flag", "drop", "extra", "dup"]))
    if flags and change == "flag":
        far[1] = MessageInfo(1, far[1].flags ^ SEEN)
    elif flags and change == "drop":
        del near[101]
    elif change == "extra":
        near[99] = MessageInfo(99, 0)
    elif len(flags) > 1 and change == "dup":
        state.records[1].near_uid = 101
    assert obviously_in_sync(state, far, near) == rule(state, far, near)
