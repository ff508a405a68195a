"""Move detection (``DetectMoves``): which vanished messages reappeared in another box.

Pure decisions; ``syncmail.sync.movescan`` gathers their input and carries them out.
A move found on one side is not carried out by new commands of its own: the box pair
that receives it copies it as a new message, journalled and recovered exactly like any
other copy, only the bytes come from the other side's own copy in the box it left (a
local file) instead of a download; the box pair it left deletes it as a vanished
message.  So a crash at any step leaves what an ordinary copy plus delete would.  A
server that moves (``UID MOVE``, where the channel expunges that side anyway) takes the
original away in the copy's step: the box pair it left then finds it gone on both sides,
which is what its delete would have left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Arrival", "Gone", "Move", "MoveSet", "PairMoves", "match_moves", "order_for_moves",
    "sizes_agree"]


@dataclass(frozen=True)
class Gone:
    """A paired message that vanished from box ``box`` of the side being scanned.

    ``partner_uid`` is its pair's UID on the other side (a file in that side's box
    ``box``); ``size`` is that file's size with any X-TUID line left out, counted in
    the scanned side's line endings; ``object_id`` the server's id it had (EMAILID or
    X-GUID, its kind as a prefix: ``e:``, ``x:``).
    """

    box: str
    uid: int
    partner_uid: int
    message_id: str | None
    size: int
    object_id: str | None = None


@dataclass(frozen=True)
class Arrival:
    """A message new in box ``box`` of the scanned side (no pair in that box's state)."""

    box: str
    uid: int
    message_id: str | None
    size: int
    object_id: str | None = None


@dataclass(frozen=True)
class Move:
    gone: Gone
    arrival: Arrival


def sizes_agree(arrival: int, gone: int, tuid_line: int) -> bool:
    """Whether an arrival of ``arrival`` bytes can be the message whose partner has
    ``gone`` bytes, both counted in the same line endings and one of them with any
    X-TUID line left out: equal, or one X-TUID line (``tuid_line`` bytes) apart, which
    mbsync and syncmail add to the copies they store."""
    return abs(arrival - gone) in (0, tuid_line)


def match_moves(gone: Iterable[Gone], arrivals: Iterable[Arrival], tuid_line: int) -> list[Move]:
    """The moves: first by the server's own id (EMAILID or X-GUID: the same message
    whatever its Message-ID), then, among the rest, a Message-ID that vanished exactly once and
    arrived exactly once on the scanned side.  Always in another box, with an agreeing
    size.  Anything doubtful (no id, duplicates, two candidates, the same box, two
    different server ids) is no move: it is copied and deleted as before."""
    gone = list(gone)
    arrivals = list(arrivals)
    moves = _by_object_id(gone, arrivals, tuid_line)
    moved = {id(m.gone) for m in moves} | {id(m.arrival) for m in moves}
    gone = [g for g in gone if id(g) not in moved]
    arrivals = [a for a in arrivals if id(a) not in moved]
    return moves + _by_message_id(gone, arrivals, tuid_line)


def _by_object_id(gone: list[Gone], arrivals: list[Arrival], tuid_line: int) -> list[Move]:
    gone_count = Counter(g.object_id for g in gone if g.object_id)
    arrival_count = Counter(a.object_id for a in arrivals if a.object_id)
    by_id = {a.object_id: a for a in arrivals if a.object_id}
    moves = []
    for g in gone:
        if not g.object_id or gone_count[g.object_id] != 1 or arrival_count[g.object_id] != 1:
            continue
        a = by_id[g.object_id]
        if a.box != g.box and sizes_agree(a.size, g.size, tuid_line):
            moves.append(Move(g, a))
    return moves


def _by_message_id(gone: list[Gone], arrivals: list[Arrival], tuid_line: int) -> list[Move]:
    gone_count = Counter(g.message_id for g in gone)
    arrival_count = Counter(a.message_id for a in arrivals)
    by_id = {a.message_id: a for a in arrivals}
    moves = []
    for g in gone:
        if not g.message_id or gone_count[g.message_id] != 1:
            continue
        if arrival_count[g.message_id] != 1:
            continue
        a = by_id[g.message_id]
        if a.box == g.box or not sizes_agree(a.size, g.size, tuid_line):
            continue
        if _differ(g.object_id, a.object_id):
            continue  # the server says: another message (a new copy of the same mail)
        moves.append(Move(g, a))
    return moves


def _differ(gone: str | None, arrival: str | None) -> bool:
    """Two server ids of one kind (the prefix up to ``:``, EMAILID or X-GUID) that
    differ.  Ids of two kinds (a server that changed, a ``DisableExtension``) say
    nothing about each other."""
    if not gone or not arrival:
        return False
    return gone.partition(":")[0] == arrival.partition(":")[0] and gone != arrival


@dataclass
class MoveSet:
    """The moves of one channel, as the box pairs use them.

    ``sources``: (side, box, UID) of an arrival -> a file holding its bytes (a hard
    link, in the partner box's ``tmp/``, to the partner file), read instead of
    fetching the arrival when it is copied to the other side.  ``removals``: (side,
    box, UID) of the partners of moved messages, deleted in their box as vanished:
    not counted by the deletion safety rail, and their removal and flag events wait
    for the end of the channel, so that plugins (notmuch) see the new file first.
    """

    sources: dict[tuple[int, str, int], str] = field(default_factory=dict)
    removals: set[tuple[int, str, int]] = field(default_factory=set)
    # (side, box, UID) of an arrival -> (box, UID, Message-ID) of its partner on the
    # other side, a store that copies on its own (``Box.copy_from``): copied there.
    server_sources: dict[tuple[int, str, int], tuple[str, int, str]] = field(
        default_factory=dict
    )
    # Sides whose store moves instead (``UID MOVE``): it offers MOVE and the channel
    # expunges there, so the original's removal needs no \Deleted and expunge.
    server_move: set[int] = field(default_factory=set)

    def server_copies_for(self, side: int, box: str) -> dict[int, tuple[str, int, str]]:
        """UID -> (box, UID, Message-ID) of the partner to copy, for arrivals in ``box``."""
        return {
            uid: src for (s, b, uid), src in self.server_sources.items() if (s, b) == (side, box)
        }

    def stash_for(self, side: int, box: str) -> dict[int, str]:
        """UID -> stashed file, for the arrivals in ``box`` of ``side``."""
        return {uid: path for (s, b, uid), path in self.sources.items() if (s, b) == (side, box)}


@dataclass(frozen=True)
class PairMoves:
    """What one box pair's copies into one side take from the channel's moves:
    ``stash`` (source UID -> local file) and ``server`` (source UID -> (box, UID,
    Message-ID) to copy on the target store, moved there with ``move``), with the
    intent log of server copies."""

    stash: Mapping[int, str]
    server: Mapping[int, tuple[str, int, str]]
    intents: str
    fsync: bool
    move: bool = False


def order_for_moves(
    pairs: Sequence[tuple[str, str, str]], moves: MoveSet
) -> list[tuple[str, str, str]]:
    """The box pairs (name, far box, near box) in the order to sync them: pairs that
    receive server copies first, since the box a message left deletes it when its
    pair is synced.  A server copy whose source pair still comes first (moves both
    ways between two boxes) is dropped from ``moves``: copied and deleted as before."""
    targets = {(side, box) for side, box, _uid in moves.server_sources}
    first = [p for p in pairs if any((side, p[1 + side]) in targets for side in (0, 1))]
    ordered = first + [p for p in pairs if p not in first]
    position = {(side, p[1 + side]): i for i, p in enumerate(ordered) for side in (0, 1)}
    for key, (source, _uid, _mid) in list(moves.server_sources.items()):
        side, box, _ = key
        if position.get((1 - side, source), -1) <= position[(side, box)]:
            del moves.server_sources[key]
    return ordered
