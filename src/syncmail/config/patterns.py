"""mbsync's ``Patterns`` semantics: IMAP wildcards, ``!`` exclusions, last match decides.

Also the box-name order mbsync uses everywhere (INBOX and its children first, then
byte order) and which parts of a store a pattern list makes it list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from syncmail.record import record


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append("[^/]*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def matches(name: str, pattern: str) -> bool:
    """Whether ``name`` matches one pattern (without ``!``): ``*`` anything, ``%`` no ``/``."""
    return _compile(pattern).fullmatch(name) is not None


def is_inbox(name: str) -> bool:
    """``INBOX`` or a box below it (``INBOX/...``)."""
    return name == "INBOX" or name.startswith("INBOX/")


def box_sort_key(name: str) -> tuple[int, str]:
    """mbsync's ``cmp_box_names``: INBOX and its children first, then ``strcmp`` order.

    Comparing ``str`` by code point gives the same order as ``strcmp`` on UTF-8.
    """
    return (0 if is_inbox(name) else 1, name)


def pattern_decides(name: str, patterns: Sequence[str]) -> bool:
    """Whether ``name`` is selected: the last pattern that matches decides; none = excluded."""
    for pattern in reversed(patterns):
        negated = pattern.startswith("!")
        if matches(name, pattern[1:] if negated else pattern):
            return not negated
    return False


def filter_boxes(
    names: Iterable[str], patterns: Sequence[str], *, prefix: str = ""
) -> list[str]:
    """The names selected by ``patterns``, sorted INBOX first, then by name.

    With ``prefix`` (the channel's Far/Near box), names not starting with it are dropped
    and the rest are matched and returned without it, as mbsync does.
    """
    selected: set[str] = set()
    for name in names:
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        if pattern_decides(rest, patterns):
            selected.add(rest)
    return sorted(selected, key=box_sort_key)


@record(frozen=True)
class ListScope:
    """Which parts of a store the patterns need listed (mbsync's ``LIST_*`` flags)."""

    inbox: bool = False
    path: bool = False
    # INBOX-like wildcard (``INBOX*``): list Path too if the store has one.
    path_maybe: bool = False


def list_scope(patterns: Sequence[str], prefix: str = "", *, flattened: bool = False) -> ListScope:
    """What a store must list for ``patterns`` (``!`` patterns do not count).

    Only patterns that start with ``INBOX`` list the real INBOX; ``*`` alone does not
    (the INBOX is then only found when it lives under Path).
    """
    inbox = path = maybe = False
    for pattern in patterns:
        if pattern.startswith("!"):
            continue
        full = prefix + pattern
        if not full.startswith("INBOX"):
            path = True
            continue
        after = full[5:6]
        if after == "":
            inbox = True
        elif after == "/":
            if flattened:
                path = True
            else:
                inbox = True
        elif after in ("*", "%"):
            inbox = maybe = True
        else:
            path = True
    return ListScope(inbox=inbox, path=path, path_maybe=maybe)
