"""The keyword decision for one pair of messages: a three-way merge; pure.

Keyword sets are compared by their folded (lower-case) names.  The base is the set the
two sides agreed on the last time this pair was synced (syncmail's notes,
``syncmail.sync.kwnotes``); a keyword one side changed since then goes to the other.
Without a base (a pair synced before keywords were, or notes lost) the two sides
disagree with no way to tell who changed what: ``policy`` decides, ``"add"`` (the
union, no keyword is lost) by default, or ``"far"``/``"near"`` (that side wins).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from syncmail.keywords import fold
from syncmail.record import record

__all__ = ["POLICIES", "KeywordChange", "merge", "spelled"]

POLICIES = ("add", "far", "near")


@record(frozen=True)
class KeywordChange:
    """Keywords to add to and remove from one message (original spelling)."""

    uid: int
    add: frozenset[str]
    remove: frozenset[str]


def spelled(names: Iterable[str]) -> dict[str, str]:
    """Folded name -> a spelling of it (the first one seen)."""
    out: dict[str, str] = {}
    for name in names:
        out.setdefault(fold(name), name)
    return out


def merge(
    base: frozenset[str] | None,
    far: frozenset[str],
    near: frozenset[str],
    *,
    policy: str = "add",
    synced: Callable[[str], bool] = lambda _k: True,
) -> frozenset[str]:
    """The folded keyword set both sides should have now.

    ``base``, ``far``, ``near`` are folded sets.  Only keywords for which ``synced`` is
    true take part (one that a side cannot hold is left alone on both); the result holds
    only those.
    """
    keys = {k for k in far | near | (base or frozenset()) if synced(k)}
    out: set[str] = set()
    for k in keys:
        f, n = k in far, k in near
        if f == n:
            keep = f
        elif base is not None:
            # Exactly one side differs from the base: that side changed it.
            keep = f if n == (k in base) else n
        elif policy == "far":
            keep = f
        elif policy == "near":
            keep = n
        else:
            keep = True
        if keep:
            out.add(k)
    return frozenset(out)
