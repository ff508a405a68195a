"""The deletion safety rail as a decision: plan() of a box pair, then rail.stopped().

What counts is a message that gets the Deleted flag because its partner vanished on the
other side; the box's size is what its side lists.  Not counted: the user's own
deletions on a side, Deleted flags copied from the other side, MaxMessages expiry.
"""

from __future__ import annotations

import pytest

from syncmail.flags import SEEN, TRASHED
from syncmail.store.base import MessageInfo
from syncmail.sync.plan import FAR, NEAR, Expiry, Plan, plan
from syncmail.sync.rail import MassDeletion, stopped
from syncmail.sync.state import S_EXPIRE, S_EXPIRED, SyncRecord, SyncState
from tests.unit.plan_tables import ops


def _plan(
    pairs: int,
    *,
    vanish: tuple[int, int] = (0, 0),
    flags: tuple[int, int] = (0, 0),
    marked: tuple[int, int] = (0, 0),
    pull: str = "new upgrade gone flags",
    push: str = "new upgrade gone flags",
    expunge: str = "far near",
    expiry: Expiry | None = None,
) -> Plan:
    """``pairs`` synced pairs (UID i on both sides, flags ``flags[FAR]``... as synced and
    listed); the first ``vanish[t]`` messages of side t are gone from its listing, the
    last ``marked[t]`` of side t carry T there (the user deleted them on that side)."""
    synced = flags[FAR] | flags[NEAR]
    records = [SyncRecord(i, i, synced) for i in range(1, pairs + 1)]
    state = SyncState(1, 1, pairs, pairs, records=records)
    sides: list[dict[int, MessageInfo]] = []
    for t in (FAR, NEAR):
        listing = {}
        for i in range(vanish[t] + 1, pairs + 1):
            f = flags[t] | (TRASHED if i > pairs - marked[t] else 0)
            listing[i] = MessageInfo(i, f)
        sides.append(listing)
    return plan(sides[FAR], sides[NEAR], state, ops(pull, push, expunge), expiry=expiry)


# (what, pairs, vanished far/near, MaxDeletePercent, stopped: (side, deleted, total))
TABLE = [
    ("near emptied: all of far", 30, (0, 30), 50, [(FAR, 30, 30)]),
    ("far emptied: all of near", 30, (30, 0), 50, [(NEAR, 30, 30)]),
    ("a small deletion", 30, (0, 3), 50, []),
    ("exactly half is not more than half", 30, (0, 15), 50, []),
    ("one more than half", 30, (0, 16), 50, [(FAR, 16, 30)]),
    ("a higher limit", 30, (0, 16), 60, []),
    ("100: no rail", 30, (0, 30), 100, []),
    ("0: any deletion of a big box", 30, (0, 1), 0, [(FAR, 1, 30)]),
    ("a box of 20 may be emptied", 20, (0, 20), 50, []),
    ("a box of 21 may not", 21, (0, 21), 50, [(FAR, 21, 21)]),
]


@pytest.mark.parametrize(
    ("pairs", "vanish", "percent", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_rail_table(
    pairs: int, vanish: tuple[int, int], percent: int, expected: list[tuple[int, int, int]]
) -> None:
    p = _plan(pairs, vanish=vanish)
    assert stopped(p, percent) == [MassDeletion(*row) for row in expected]


def test_both_sides_are_reported() -> None:
    # Near lost messages 1-25, far lost 26-50: each side would lose all it still has.
    state = SyncState(1, 1, 50, 50, records=[SyncRecord(i, i, 0) for i in range(1, 51)])
    far = {i: MessageInfo(i, 0) for i in range(1, 26)}
    near = {i: MessageInfo(i, 0) for i in range(26, 51)}
    p = plan(far, near, state, ops(expunge="far near"))
    assert stopped(p, 50) == [MassDeletion(FAR, 25, 25), MassDeletion(NEAR, 25, 25)]


def test_propagated_deletion_counts_without_expunge() -> None:
    # Without Expunge the far copies only get \Deleted, but the next client to expunge
    # (or mbsync with Expunge) removes them: still a mass deletion.
    p = _plan(30, vanish=(0, 30), expunge="")
    assert not p.expunge[FAR]
    assert stopped(p, 50) == [MassDeletion(FAR, 30, 30)]


def test_own_deletions_on_a_side_do_not_count() -> None:
    # The user deleted 25 of 30 near messages in a mail client (T), Expunge Both: near
    # expunges its own, far gets their T as a flag change. Both are deliberate.
    p = _plan(30, marked=(0, 25))
    assert len(p.expunge[NEAR]) == 25 and len(p.expunge[FAR]) == 25
    assert stopped(p, 50) == []


def test_vanished_partner_of_a_message_deleted_on_both_sides_does_not_count() -> None:
    # Far messages 1..25 already carry T (deleted there too): the near disappearance
    # adds nothing to them.
    far_deleted = _plan(30, vanish=(0, 25), marked=(30, 0))
    assert stopped(far_deleted, 50) == []


def test_no_gone_toward_the_side_no_rail() -> None:
    # Sync Pull: near's disappearances are not propagated to far at all.
    p = _plan(30, vanish=(0, 30), push="")
    assert not [op for op in p.flags if op.add & TRASHED]
    assert stopped(p, 50) == []


def test_expiry_is_no_mass_deletion() -> None:
    # MaxMessages 5 expires 25 of 30 seen messages on near: no disappearance involved.
    expiry = Expiry(max_messages=5, expire_unread=True)
    p = _plan(30, flags=(SEEN, SEEN), expiry=expiry)
    assert len([op for op in p.flags if op.side == NEAR and op.add & TRASHED]) == 25
    assert stopped(p, 50) == []


def test_expired_messages_gone_from_near_are_no_mass_deletion() -> None:
    # 25 expired pairs whose near message was expunged: orphaned, far keeps them.
    records = [
        SyncRecord(i, i, SEEN, status=S_EXPIRE | S_EXPIRED if i <= 25 else 0)
        for i in range(1, 31)
    ]
    state = SyncState(1, 1, 30, 30, max_expired=25, records=records)
    far = {i: MessageInfo(i, SEEN) for i in range(1, 31)}
    near = {i: MessageInfo(i, SEEN) for i in range(26, 31)}
    p = plan(far, near, state, ops(expunge="near"), expiry=Expiry(max_messages=5))
    assert len(p.expired_orphans) == 25
    assert stopped(p, 50) == []
