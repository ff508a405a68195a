"""The keywords each pair had when it was last synced: ``<state>.syncmail-keywords``.

The base of the three-way merge (``syncmail.sync.keywords``).  Kept beside the mbsync
state, never in it (mbsync rejects unknown state keys and drops text it does not know
on rewrite).  JSON, written by rename; the pairs with no keyword are not written (the
notes are complete: a pair of the state missing from them had none).  Notes for other
UIDVALIDITYs are void.  Losing the file costs nothing but the base: every pair then
merges as if first seen (``KeywordConflict``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from syncmail import jsontext
from syncmail.sync.statefiles import write_note

log = logging.getLogger(__name__)

SUFFIX = ".syncmail-keywords"
VERSION = 1

Pair = tuple[int, int]


def notes_path(state_path: str) -> str:
    return state_path + SUFFIX


def load(path: str, uidvalidity: tuple[int, int]) -> dict[Pair, frozenset[str]] | None:
    """The folded keyword sets by (far UID, near UID); None when there are no valid notes."""
    try:
        with open(path, "rb") as f:
            doc = jsontext.loads(f.read())
        if doc.get("version") != VERSION or doc.get("uidvalidity") != list(uidvalidity):
            return None
        out: dict[Pair, frozenset[str]] = {}
        for key, names in doc["pairs"].items():
            far, near = key.split()
            if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
                return None
            out[int(far), int(near)] = frozenset(names)
        return out
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        log.debug("%s: damaged; keywords merge without a base", path)
        return None


def save(path: str, uidvalidity: tuple[int, int], pairs: Mapping[Pair, frozenset[str]]) -> None:
    doc = {
        "version": VERSION,
        "uidvalidity": list(uidvalidity),
        "pairs": {f"{f} {n}": sorted(k) for (f, n), k in sorted(pairs.items()) if k},
    }
    if (error := write_note(path, json.dumps(doc, separators=(",", ":")).encode())) is not None:
        log.warning("Warning: %s", error)

