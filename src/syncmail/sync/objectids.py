"""The server's own message ids (RFC 8474 EMAILID, Dovecot's X-GUID; prefixed with
their kind) move detection last listed, per side: ``<state>.syncmail-emailids``.

A message moved on the server is gone from the box it left, and its id with it: only
these notes say which id a vanished UID had.  Kept beside the mbsync state, never in
it; JSON, written by rename.  A side's ids for another UIDVALIDITY are void.  Losing
the file costs only the ids: moves are then matched by Message-ID, as without them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from syncmail import jsontext
from syncmail.sync.statefiles import write_note

log = logging.getLogger(__name__)

SUFFIX = ".syncmail-emailids"
# 2: ids carry their kind ("e:", "x:"); version 1's bare EMAILIDs are dropped.
VERSION = 2


def notes_path(state_path: str) -> str:
    return state_path + SUFFIX


def _read(path: str) -> dict[str, object]:
    try:
        with open(path, "rb") as f:
            doc = jsontext.loads(f.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.debug("%s: unreadable (%s); moves go by Message-ID", path, e)
        return {}
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        return {}
    return doc


def load(path: str, side: str, uidvalidity: int) -> dict[int, str]:
    """UID -> id of side ``side`` ("far"/"near"); empty when there are no valid notes."""
    entry = _read(path).get(side)
    if not isinstance(entry, dict) or entry.get("uidvalidity") != uidvalidity:
        return {}
    ids = entry.get("ids")
    if not isinstance(ids, dict):
        return {}
    try:
        return {int(uid): oid for uid, oid in ids.items() if isinstance(oid, str)}
    except ValueError:
        return {}


def save(path: str, side: str, uidvalidity: int, ids: Mapping[int, str]) -> None:
    """Replace side ``side``'s ids, keeping the other side's."""
    doc = _read(path) or {"version": VERSION}
    doc[side] = {"uidvalidity": uidvalidity, "ids": {str(u): ids[u] for u in sorted(ids)}}
    if (error := write_note(path, json.dumps(doc, separators=(",", ":")).encode())) is not None:
        log.warning("Warning: %s", error)
