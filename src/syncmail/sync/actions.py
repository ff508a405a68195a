"""What a plan decides for one box pair: the action records ``sync.plan`` returns and
the engine applies (``sync.boxsync``), in the order it applies them."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncmail.record import record
from syncmail.sync.loads import FAR, NEAR, SideLoad

__all__ = [
    "Copy",
    "ExpiredOrphan",
    "NewPair",
    "Plan",
    "Prune",
    "SetFlags",
    "StatusChange",
    "TuidMatch",
    "Upgrade",
    "bump_maxuid",
]


def bump_maxuid(maxuid: int, uid: int) -> int:
    """A copy got ``uid``: it raises the max UID only when it is the very next one."""
    return uid if uid == maxuid + 1 else maxuid


# --- actions ------------------------------------------------------------------------
# Records are named by an index: the records of ``state.records`` as they were planned
# on (0 .. n-1), then the entries split off by ``Plan.upgrades`` (n + k for upgrade k),
# then ``Plan.new_pairs`` (n + len(upgrades) + k).  The engine keeps that list of
# handles itself: a split entry sits right after its parent in the state file.


@record(frozen=True, slots=True)
class Upgrade:
    """A flagged placeholder on ``side`` asks for its real message: journal ``^``.

    ``record`` keeps the real message's side and becomes a pending copy toward ``side``;
    the placeholder moves to a new entry (named ``Plan.split_base + k``) that gets T and
    is purged.  ``pflags`` are the placeholder's flags without Flagged (and without
    Seen, unless the pair was seen): they go to the real message.
    """

    record: int
    side: int
    pflags: int


@record(frozen=True, slots=True)
class TuidMatch:
    """A pending copy of an interrupted run was found: journal ``<``/``>``."""

    record: int
    side: int
    uid: int


@record(frozen=True, slots=True)
class ExpiredOrphan:
    """An expired message vanished from the expire side: journal ``~ status``, then
    orphan the pair (``side``'s UID becomes 0) instead of propagating a deletion."""

    record: int
    status: int
    side: int


@record(frozen=True, slots=True, hot=True)
class NewPair:
    """A new pending pair (``+``); ``doomed`` ones are killed at once (``-``)."""

    far_uid: int
    near_uid: int
    doomed: bool = False


@record(frozen=True, slots=True, hot=True)
class SetFlags:
    """Change flags of ``uid`` on ``side`` (``add``/``remove`` may both be 0), then
    journal ``*`` with ``synced`` unless it is None."""

    side: int
    record: int
    uid: int
    add: int
    remove: int
    synced: int | None
    old_flags: int | None = None
    # Then journal ``~`` with this persistent status (an expiry committed or canceled).
    status: int | None = None
    # The T of a placeholder being upgraded away: journal ``P`` instead of ``*``.
    purge: bool = False


@record(frozen=True, slots=True)
class StatusChange:
    """Journal ``~``: ``record``'s persistent status becomes ``status`` (an expiry
    begins, a new message is expired before it is copied, an expired one is copied
    again)."""

    record: int
    status: int


@record(frozen=True, slots=True, hot=True)
class Copy:
    """Copy ``source_uid`` to side ``target`` for ``record`` (pending)."""

    target: int
    record: int
    source_uid: int
    flags: int
    # Store a placeholder instead (MaxSize): the source's header and a note naming
    # ``size``, the source's size.
    placeholder: bool = False
    size: int = 0
    # The real message of an upgraded placeholder: ``flags`` are the placeholder's
    # plus these changes (journal ``$`` when any), not the source's.
    upgrade: tuple[int, int] | None = None


@record(frozen=True, slots=True)
class Prune:
    """After expunging: ``kill`` the record, or orphan it (``side``'s UID becomes 0)."""

    record: int
    kill: bool
    side: int = NEAR
    # An expired pair dropped because MaxExpired covers it now: applied after the new
    # max UIDs (before them, a resumed run would see its message as new).
    expired: bool = False


@dataclass
class Plan:
    """All actions of one box pair, in the order the engine applies them."""

    loads: tuple[SideLoad, SideLoad]
    # Index of the first entry split off by an upgrade (len(state.records)).
    split_base: int = 0
    tuid_matches: list[TuidMatch] = field(default_factory=list)
    tuid_lost: list[int] = field(default_factory=list)
    kills: list[int] = field(default_factory=list)
    expired_orphans: list[ExpiredOrphan] = field(default_factory=list)
    upgrades: list[Upgrade] = field(default_factory=list)
    new_pairs: list[NewPair] = field(default_factory=list)
    statuses: list[StatusChange] = field(default_factory=list)
    # Records whose copy is to be a placeholder (journal "_"), after the new pairs.
    placeholders: list[int] = field(default_factory=list)
    flags: list[SetFlags] = field(default_factory=list)
    copies: tuple[list[Copy], list[Copy]] = field(default_factory=lambda: ([], []))
    expunge: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    # Of those, what goes to the side's own Trash first (journal "T" each), and what is
    # copied into the *other* store's Trash (TrashRemoteNew) first.
    trash: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    remote_trash: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    new_maxuid: tuple[int, int] = (0, 0)
    prune: list[Prune] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    # (unread, MaxMessages): too many unread messages and ExpireUnread unset; the box
    # pair must be skipped with mbsync's error, nothing applied.
    refusal: tuple[int, int] | None = None
    # For the deletion safety rail (syncmail.sync.rail): per side, the UIDs that get T
    # because their partner vanished from the other side, and how many messages the
    # side's listing has.
    vanished: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    listed: tuple[int, int] = (0, 0)

    def trashed(self, side: int) -> set[int]:
        """The UIDs of side ``side`` that go to a Trash before they are expunged."""
        return {*self.trash[side], *self.remote_trash[side]}

    @property
    def flag_updates(self) -> tuple[int, int]:
        """Number of store flag changes per side."""
        counts = [0, 0]
        for op in self.flags:
            if op.add or op.remove:
                counts[op.side] += 1
        return counts[FAR], counts[NEAR]

    def sides_changed(self) -> tuple[bool, bool]:
        """Per side: whether applying the plan changes messages there (copies to it,
        expunges, stored flags)."""
        stores = self.flag_updates
        return (
            bool(self.copies[FAR] or self.expunge[FAR] or stores[FAR]),
            bool(self.copies[NEAR] or self.expunge[NEAR] or stores[NEAR]),
        )

    @property
    def empty(self) -> bool:
        return not (
            self.tuid_matches
            or self.tuid_lost
            or self.kills
            or self.expired_orphans
            or self.upgrades
            or self.new_pairs
            or self.statuses
            or self.placeholders
            or any(op.add or op.remove or op.status is not None or op.purge for op in self.flags)
            or self.copies[FAR]
            or self.copies[NEAR]
            or self.expunge[FAR]
            or self.expunge[NEAR]
        )
