"""Move detection (``DetectMoves``): which vanished messages reappeared in another box.

Pure decisions; ``syncmail.sync.movescan`` gathers their input and carries them out.
A move found on one side is not carried out by new commands of its own: the box pair
that receives it copies it as a new message, journalled and recovered exactly like any
other copy, only the bytes come from the other side's own copy in the box it left (a
local file) instead of a download; the box pair it left deletes it as a vanished
message.  So a crash at any step leaves what an ordinary copy plus delete would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Arrival", "Gone", "Move", "MoveSet", "match_moves", "sizes_agree"]


@dataclass(frozen=True)
class Gone:
    """A paired message that vanished from box ``box`` of the side being scanned.

    ``partner_uid`` is its pair's UID on the other side (a file in that side's box
    ``box``); ``size`` is that file's size with any X-TUID line left out, counted in
    the scanned side's line endings.
    """

    box: str
    uid: int
    partner_uid: int
    message_id: str | None
    size: int


@dataclass(frozen=True)
class Arrival:
    """A message new in box ``box`` of the scanned side (no pair in that box's state)."""

    box: str
    uid: int
    message_id: str | None
    size: int


@dataclass(frozen=True)
class Move:
    gone: Gone
    arrival: Arrival


def sizes_agree(arrival: int, gone: int, tuid_line: int) -> bool:
    """Whether an arrival of ``arrival`` bytes can be the message whose partner has
    ``gone`` bytes (X-TUID left out): equal, or one X-TUID line (``tuid_line`` bytes)
    more, which mbsync and syncmail add to the copies they store."""
    return arrival - gone in (0, tuid_line)


def match_moves(gone: Iterable[Gone], arrivals: Iterable[Arrival], tuid_line: int) -> list[Move]:
    """The moves: a Message-ID that vanished exactly once and arrived exactly once on
    the scanned side, in another box, with an agreeing size.  Anything doubtful
    (no Message-ID, duplicates, two candidates, the same box) is no move: it is copied
    and deleted as before."""
    gone = list(gone)
    arrivals = list(arrivals)
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
        moves.append(Move(g, a))
    return moves


@dataclass
class MoveSet:
    """The moves of one channel, as the box pairs use them.

    ``sources``: (side, box, UID) of an arrival -> a file holding its bytes (a hard
    link, in the partner box's ``tmp/``, to the partner file), read instead of
    fetching the arrival when it is copied to the other side.  ``removals``: (side,
    box, UID) of partner files whose removal and flag events wait for the end of the
    channel,
    so that plugins (notmuch) see the new file before the old one goes.
    """

    sources: dict[tuple[int, str, int], str] = field(default_factory=dict)
    removals: set[tuple[int, str, int]] = field(default_factory=set)

    def stash_for(self, side: int, box: str) -> dict[int, str]:
        """UID -> stashed file, for the arrivals in ``box`` of ``side``."""
        return {uid: path for (s, b, uid), path in self.sources.items() if (s, b) == (side, box)}
