"""A quick, conservative test that a box pair needs nothing: every pair present, equal flags.

It stands in for a full ``plan`` where only the answer "empty or not" matters (the
check after a run before writing the ``<state>.syncmail`` notes); when it says no, the
caller plans in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter

from syncmail.flags import TRASHED
from syncmail.store.base import MessageInfo, as_listing
from syncmail.sync.state import SyncState, live_records


def obviously_in_sync(
    state: SyncState, far: Mapping[int, MessageInfo], near: Mapping[int, MessageInfo]
) -> bool:
    """True only if a plan over these listings (no expiry) must be empty.

    That is: every live record is a settled pair (no status marks, no copy under way,
    no deletion flag) whose two messages are listed with exactly the synced flags, and
    the listings hold nothing else.  Anything unusual answers False.
    """
    # Each pair's UIDs must be distinct per side.  A state read from disk or grown by
    # pulls has them in ascending order, and that is checked on the way; only if not
    # are they counted in sets (2 MiB for 31k pairs, at the peak of a pull's memory).
    far_get, near_get = as_listing(far).flags.get, as_listing(near).flags.get
    ascending = True
    last_far = last_near = 0
    count = 0
    for rec in state.records:
        if rec.dead:
            continue
        flags = rec.flags
        if rec.status or rec.tuid is not None or flags & TRASHED:
            return False
        far_uid, near_uid = rec.far_uid, rec.near_uid
        if far_get(far_uid) != flags or near_get(near_uid) != flags:
            return False  # (None when not listed: a record's flags are never None)
        if far_uid <= last_far or near_uid <= last_near:
            ascending = False
        last_far, last_near = far_uid, near_uid
        count += 1
    if not count == len(far) == len(near):
        return False
    if ascending:
        return True
    live = live_records(state.records)
    return len(set(map(_FAR_UID, live))) == len(set(map(_NEAR_UID, live))) == count


_FAR_UID = attrgetter("far_uid")
_NEAR_UID = attrgetter("near_uid")
