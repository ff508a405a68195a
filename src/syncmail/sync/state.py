"""mbsync's sync state of one box pair, in memory, and its file format (mbsync.md 3.2).

``parse_state`` / ``format_state`` read and write ``.mbsyncstate`` byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Status bits, with mbsync's values (they appear in the journal's "~" lines).
S_EXPIRE = 2  # expiry of this pair is being propagated
S_EXPIRED = 4  # expired on the expire side (the "~" mark in the state file)
S_PENDING = 16  # a copy is under way (not persisted in the state file)
S_DUMMY_FAR = 32  # the far copy is a placeholder ("<" mark)
S_DUMMY_NEAR = 64  # the near copy is a placeholder (">" mark)
S_SKIPPED = 128  # legacy "^" mark, read only
S_PERSISTENT = S_EXPIRE | S_EXPIRED | S_PENDING | S_DUMMY_FAR | S_DUMMY_NEAR | S_SKIPPED


@dataclass(slots=True)
class SyncRecord:
    """One pair: far UID, near UID (0 = no message on that side), synced flags."""

    far_uid: int
    near_uid: int
    flags: int = 0
    status: int = 0
    # Runtime only (journal "#", "%", "^"/"$"): never written to the state file.
    tuid: str | None = None
    pending_flags: int = 0
    dead: bool = False


@dataclass(slots=True)
class SyncState:
    """Everything in one state file.  ``uidvalidity`` 0 means "not known yet"."""

    far_uidvalidity: int = 0
    near_uidvalidity: int = 0
    max_pulled: int = 0
    max_pushed: int = 0
    # MaxExpiredFarUid (ExpireSide Near, the default) or MaxExpiredNearUid.
    max_expired: int = 0
    records: list[SyncRecord] = field(default_factory=list)
