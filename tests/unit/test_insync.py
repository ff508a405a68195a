"""obviously_in_sync: settled pairs answer yes, anything unusual no."""

from __future__ import annotations

from syncmail.flags import FLAGGED, SEEN, TRASHED
from syncmail.store.base import MessageInfo
from syncmail.sync.insync import obviously_in_sync
from syncmail.sync.state import S_EXPIRED, S_PENDING, SyncRecord, SyncState


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
    state, far, near = in_sync_pair(2, [SEEN, 0])
    state.records[1].status = S_PENDING
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
        assert not obviously_in_sync(state, far, near)


def test_pairs_out_of_uid_order_are_checked_for_duplicates() -> None:
    # Pushed messages interleave near UIDs: distinct UIDs in any order are in sync.
    state, far, near = in_sync_pair(3, [SEEN, SEEN, SEEN])
    state.records[0].near_uid, state.records[2].near_uid = 103, 101
    state.records.reverse()
    assert obviously_in_sync(state, far, near)
    # Out of order and one near message paired twice: the listings hold one unpaired.
    state, far, near = in_sync_pair(3, [SEEN, SEEN, SEEN])
    state.records[0].near_uid = 103
    del near[101]
    near[104] = MessageInfo(104, SEEN)
    assert not obviously_in_sync(state, far, near)
    # The same in ascending far order but a near UID repeated further on.
    state, far, near = in_sync_pair(3, [SEEN, SEEN, SEEN])
    state.records[2].near_uid = 102
    del near[103]
    near[99] = MessageInfo(99, SEEN)
    assert not obviously_in_sync(state, far, near)
