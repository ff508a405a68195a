"""A quick, conservative test that a box pair needs nothing: every pair present, equal flags.

It stands in for a full ``plan`` where only the answer "empty or not" matters (the
check after a run before writing the ``<state>.syncmail`` notes); when it says no, the
caller plans in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter

from syncmail.flags import TRASHED
from syncmail.store.base import MessageInfo
from syncmail.sync.state import SyncState

_far_uid = attrgetter("far_uid")
_near_uid = attrgetter("near_uid")
_flags = attrgetter("flags")
_status = attrgetter("status")
_tuid = attrgetter("tuid")
_dead = attrgetter("dead")


def obviously_in_sync(
    state: SyncState, far: Mapping[int, MessageInfo], near: Mapping[int, MessageInfo]
) -> bool:
    """True only if a plan over these listings (no expiry) must be empty.

    That is: every live record is a settled pair (no status marks, no copy under way,
    no deletion flag) whose two messages are listed with exactly the synced flags, and
    the listings hold nothing else.  Anything unusual answers False.

    Every test is a whole-column operation that runs in C (a big box has a record per
    message, and this runs after every run that changed the pair).
    """
    records = state.records
    if any(map(_dead, records)):
        records = [rec for rec in records if not rec.dead]
    count = len(records)
    if count != len(far) or count != len(near):
        return False
    if any(map(_status, records)) or list(map(_tuid, records)).count(None) != count:
        return False
    flags = list(map(_flags, records))
    if any(f & TRASHED for f in set(flags)):
        return False
    # Each side: the records' UIDs are distinct and exactly the listed ones, and each
    # listed message carries its record's flags.
    for listing, uid_of in ((far, _far_uid), (near, _near_uid)):
        uids = list(map(uid_of, records))
        if len(set(uids)) != count or not listing.keys() >= set(uids):
            return False
        if list(map(_flags, map(listing.__getitem__, uids))) != flags:
            return False
    return True
