"""A quick, conservative test that a box pair needs nothing: every pair present, equal flags.

It stands in for a full ``plan`` where only the answer "empty or not" matters (the
check after a run before writing the ``<state>.syncmail`` notes); when it says no, the
caller plans in full.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncmail.flags import TRASHED
from syncmail.store.base import MessageInfo
from syncmail.sync.state import SyncState


def obviously_in_sync(
    state: SyncState, far: Mapping[int, MessageInfo], near: Mapping[int, MessageInfo]
) -> bool:
    """True only if a plan over these listings (no expiry) must be empty.

    That is: every live record is a settled pair (no status marks, no copy under way,
    no deletion flag) whose two messages are listed with exactly the synced flags, and
    the listings hold nothing else.  Anything unusual answers False.
    """
    far_uids: set[int] = set()
    near_uids: set[int] = set()
    count = 0
    for rec in state.records:
        if rec.dead:
            continue
        flags = rec.flags
        if rec.status or rec.tuid is not None or flags & TRASHED:
            return False
        f = far.get(rec.far_uid)
        n = near.get(rec.near_uid)
        if f is None or n is None or f.flags != flags or n.flags != flags:
            return False
        far_uids.add(rec.far_uid)
        near_uids.add(rec.near_uid)
        count += 1
    return len(far_uids) == len(near_uids) == count == len(far) == len(near)
