"""The deletion safety rail: a box pair whose run would delete much of one box only because
its messages vanished from the other box (a mistaken ``rm``, a server box emptied) is not
synced.  Pure: it reads a ``Plan``; the engine refuses the box pair (``MassDeletionError``).

What counts is a propagated disappearance: a message of side t that gets the Deleted flag
because its partner vanished on the other side (and so, with Expunge, is removed).  Not
counted: deletions the user made on side t itself (T set there, expunged there), Deleted
flags copied over from the other side (a mail client's explicit deletion), and MaxMessages
expiry.  The box's size is the number of messages listed on side t.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from syncmail.record import record
from syncmail.sync.plan import FAR, NEAR, Plan

__all__ = ["MIN_MESSAGES", "NO_RAIL", "MassDeletion", "stopped"]

# MaxDeletePercent that turns the rail off (and what --force amounts to).
NO_RAIL = 100
# A box with at most this many messages may lose them all: small boxes are emptied on
# purpose often enough, and a rail that fires then would train users to use --force.
MIN_MESSAGES = 20


@record(frozen=True)
class MassDeletion:
    """Side ``side`` would lose ``deleted`` of its ``total`` messages by propagation."""

    side: int
    deleted: int
    total: int


def stopped(
    p: Plan, max_percent: int, moved: tuple[AbstractSet[int], AbstractSet[int]] = (set(), set())
) -> list[MassDeletion]:
    """The sides of ``p`` on which the rail stops the run: more than ``max_percent`` % of a
    box of more than ``MIN_MESSAGES`` messages would be deleted by propagation.

    ``moved``: per side, UIDs whose partner did not vanish but moved to another box
    (DetectMoves): they are not counted, a mass move is no mass deletion."""
    found = []
    for t in (FAR, NEAR):
        deleted = len(set(p.vanished[t]) - moved[t])
        # A message outside the listing may get its T too: never more than all of them.
        total = max(p.listed[t], deleted)
        if total > MIN_MESSAGES and deleted * 100 > max_percent * total:
            found.append(MassDeletion(t, deleted, total))
    return found
