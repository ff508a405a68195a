"""MaxMessages expiry beyond isync's scenarios (those are in tests/unit/scenarios.py,
run by test_scenarios_e2e.py): the "set ExpireUnread" refusal."""

from __future__ import annotations

from pathlib import Path

from syncmail.flags import SEEN
from syncmail.store.base import MessageInfo
from syncmail.sync.plan import Expiry, plan
from syncmail.sync.state import SyncRecord, SyncState
from tests.unit.engine_support import deliver, snapshot, sync, write_config
from tests.unit.plan_tables import ops


def test_too_many_unread_refuses() -> None:
    # Four unread pairs beyond MaxMessages 2 and ExpireUnread unset: mbsync skips the box.
    state = SyncState(1, 1, 6, 6, records=[SyncRecord(u, u, 0) for u in range(1, 7)])
    msgs = {u: MessageInfo(u, 0) for u in range(1, 7)}
    p = plan(msgs, msgs, state, ops(), expiry=Expiry(max_messages=2))
    assert p.refusal == (4, 2)
    # ExpireUnread no keeps them all; yes expires the four oldest.
    p = plan(msgs, msgs, state, ops(), expiry=Expiry(max_messages=2, expire_unread=False))
    assert p.refusal is None and not p.statuses
    p = plan(msgs, msgs, state, ops(), expiry=Expiry(max_messages=2, expire_unread=True))
    assert [sc.record for sc in p.statuses] == [0, 1, 2, 3]
    seen = {u: MessageInfo(u, SEEN) for u in range(1, 7)}
    assert plan(seen, seen, state, ops(), expiry=Expiry(max_messages=2)).refusal is None


def test_too_many_unread_skips_the_box(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both\nMaxMessages 2")
    for subject in "ABCDEF":
        deliver(tmp_path, "far", subject)
    result = sync(cfg)
    assert [str(e) for e in result.errors] == [
        "channel test, box INBOX: INBOX: 4 unread messages in excess of MaxMessages (2). "
        "Please set ExpireUnread to decide outcome. Skipping mailbox."
    ]
    assert snapshot(tmp_path, "near") == {}
    # Deciding it makes the box sync: ExpireUnread no keeps all six.
    cfg = write_config(tmp_path, "Create Both\nMaxMessages 2\nExpireUnread no")
    assert not sync(cfg).errors
    assert set(snapshot(tmp_path, "near")) == set("ABCDEF")
