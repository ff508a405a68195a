"""Incremental listings: a box's last full listing, kept up to date with CONDSTORE/QRESYNC.

``<state>.syncmail-far`` (``-near``) holds the UID -> flags (and keywords) listing of an
IMAP box with the UIDVALIDITY and HIGHESTMODSEQ of the SELECT before it.  The next run asks only for
what changed since that mod-sequence (``Box.list_changes``) and patches the listing; the
result equals a full listing.  Anything doubtful (other UIDVALIDITY, a lower or no
HIGHESTMODSEQ, a missing or damaged file, a listing the request cannot be answered
from) means a full listing.  The notes describe the server's box only, not the sync
state, so a run of mbsync in between does not void them: its changes are changes since.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import cast

from syncmail import jsontext
from syncmail.keywords import NO_KEYWORDS
from syncmail.record import record
from syncmail.store.base import Box, BoxChanges, Listing, ListRequest, MessageInfo, Store
from syncmail.sync.statefiles import remove_note, write_note

log = logging.getLogger(__name__)

# 2: keywords too (a version 1 file would read as a box without any).
VERSION = 2
SUFFIXES = (".syncmail-far", ".syncmail-near")


@record
class Snapshot:
    """One box's listing as of mod-sequence ``modseq`` (sizes only if they were listed)."""

    key: str
    uidvalidity: int
    modseq: int
    flags: dict[int, int]
    sizes: dict[int, int] | None = None
    # Non-empty keyword sets only.
    keywords: dict[int, frozenset[str]] = field(default_factory=dict)


def snapshot_path(state_path: str, side: int) -> str:
    return state_path + SUFFIXES[side]


# --- the file ---------------------------------------------------------------------------


def encode(snap: Snapshot) -> bytes:
    """The file's bytes: JSON, UIDs ascending and delta-coded (short, quick to read)."""
    uids = sorted(snap.flags)
    deltas = [b - a for a, b in zip([0, *uids], uids, strict=False)]
    doc: dict[str, object] = {
        "version": VERSION,
        "key": snap.key,
        "uidvalidity": snap.uidvalidity,
        "modseq": snap.modseq,
        "count": len(uids),
        "uids": deltas,
        "flags": [snap.flags[u] for u in uids],
    }
    doc["keywords"] = {str(u): sorted(k) for u, k in snap.keywords.items() if k}
    if snap.sizes is not None:
        doc["sizes"] = [snap.sizes.get(u, 0) for u in uids]
    return json.dumps(doc, separators=(",", ":")).encode("ascii")


def decode(data: bytes) -> Snapshot | None:
    """The snapshot in ``data``, or None when it is not a complete, valid one."""
    try:
        doc = jsontext.loads(data)
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            return None
        key, uv, modseq, count = doc["key"], doc["uidvalidity"], doc["modseq"], doc["count"]
        deltas, flag_list = doc["uids"], doc["flags"]
        sizes = doc.get("sizes")
        if not (isinstance(key, str) and _ints([uv, modseq, count])):
            return None
        if not (isinstance(deltas, list) and isinstance(flag_list, list)):
            return None
        if len(deltas) != count or len(flag_list) != count or not _ints(deltas + flag_list):
            return None
        if sizes is not None and not (
            isinstance(sizes, list) and len(sizes) == count and _ints(sizes)
        ):
            return None
        kw_doc = doc.get("keywords", {})
        if not isinstance(kw_doc, dict) or not all(
            isinstance(v, list) and all(isinstance(k, str) for k in v) for v in kw_doc.values()
        ):
            return None
        keywords = {int(u): frozenset(v) for u, v in kw_doc.items()}
        if deltas and min(deltas) <= 0:
            return None
        uids = list(itertools.accumulate(deltas))
        known_uids = set(uids)
        return Snapshot(
            key,
            uv,
            modseq,
            dict(zip(uids, flag_list, strict=True)),
            None if sizes is None else dict(zip(uids, sizes, strict=True)),
            {u: k for u, k in keywords.items() if u in known_uids},
        )
    except (ValueError, KeyError, TypeError):
        return None


def _ints(values: Sequence[object]) -> bool:
    # Whole listings pass through here: the checks run in C, not per value in Python.
    if not values:
        return True
    return set(map(type, values)) == {int} and min(cast("Sequence[int]", values)) >= 0


def load(path: str) -> Snapshot | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    snap = decode(data)
    if snap is None:
        log.debug("%s: damaged, listing in full", path)
    return snap


def save(path: str, snap: Snapshot) -> None:
    """Write by rename; a failure only costs the next run a full listing."""
    if (error := write_note(path, encode(snap))) is not None:
        log.debug("%s", error)
        remove_note(path)


# --- patching (pure) ----------------------------------------------------------------------


def patch_keywords(
    known: Mapping[int, frozenset[str]], listing: Mapping[int, int], changes: BoxChanges
) -> dict[int, frozenset[str]]:
    """``known`` keywords with ``changes`` applied, for the UIDs of the patched ``listing``."""
    out = {u: k for u, k in known.items() if u in listing and u not in changes.flags}
    out.update((u, k) for u, k in changes.keywords.items() if k and u in listing)
    return out


def patch(known: Mapping[int, int], changes: BoxChanges) -> dict[int, int]:
    """The listing ``known`` with ``changes`` applied: UID -> flags of the box now."""
    if changes.present is not None:
        present = changes.present
        out = {u: f for u, f in known.items() if u in present}
    else:
        out = dict(known)
    out.update(changes.flags)
    if changes.vanished:
        drop_ranges(out, changes.vanished)
    return out


def drop_ranges(listing: dict[int, int], ranges: Sequence[tuple[int, int]]) -> None:
    """Remove the UIDs inside any of the inclusive ``ranges`` from ``listing``."""
    span = sum(hi - lo + 1 for lo, hi in ranges)
    if span <= 4 * len(listing):
        for lo, hi in ranges:
            for uid in range(lo, hi + 1):
                listing.pop(uid, None)
        return
    # Huge ranges (a server may answer with a superset): look the known UIDs up instead.
    merged = sorted(ranges)
    starts = [lo for lo, _ in merged]
    reach: list[int] = []
    top = 0
    for _, hi in merged:
        top = max(top, hi)
        reach.append(top)
    for uid in list(listing):
        i = bisect.bisect_right(starts, uid) - 1
        if i >= 0 and reach[i] >= uid:
            del listing[uid]


# --- listing a box ----------------------------------------------------------------------


def incremental(store: Store) -> bool:
    """Whether boxes of ``store`` get snapshots (a CONDSTORE mod-sequence as marker)."""
    return bool(store.capabilities & {"condstore", "qresync"})


def list_box(
    store: Store, box: Box, request: ListRequest, path: str, *, save_notes: bool = True
) -> Listing:
    """``box.list_messages(request)``, answered from the snapshot at ``path`` plus the
    changes since when that is possible; the snapshot is renewed (``save_notes``)."""
    if not incremental(store):
        return box.list_messages(request)
    status = box.status
    # Read before listing: changes after this point come back next time, which is safe.
    marker = status.change_marker
    modseq = int(marker) if marker is not None and marker.isdigit() else None
    key = f"{store.name}\0{box.name}"
    simple = request.tuid_from is None and not request.message_id_uids and not request.want_date
    known = load(path) if simple and modseq is not None else None
    listing: dict[int, int] | None = None
    sizes: dict[int, int] | None = None
    keywords: dict[int, frozenset[str]] = {}
    if (
        known is not None
        and modseq is not None
        and known.key == key
        and known.uidvalidity == status.uidvalidity
        and known.modseq <= modseq
        and (known.sizes is not None or not request.want_size)
    ):
        changes = box.list_changes(str(known.modseq), want_size=request.want_size)
        if changes is not None:
            listing = patch(known.flags, changes)
            keywords = patch_keywords(known.keywords, listing, changes)
            if request.want_size and known.sizes is not None:
                sizes = {u: known.sizes.get(u, 0) for u in listing}
                sizes.update(changes.sizes)
            log.debug(
                "store %s, box %s: %d changed since modseq %d",
                store.name,
                box.name,
                len(changes.flags),
                known.modseq,
            )
    if listing is None:
        out = box.list_messages(request)
        if save_notes and modseq is not None and request.min_uid <= 1:
            # By UID, not by MessageInfo: the listing makes none for these.
            full_sizes = {u: out.size(u) for u in out} if request.want_size else None
            snap = Snapshot(
                key,
                status.uidvalidity,
                modseq,
                out.flags,
                full_sizes,
                {u: k for u in out if (k := out.keywords(u))},
            )
            save(path, snap)
        return out
    if save_notes and modseq is not None:
        save(path, Snapshot(key, status.uidvalidity, modseq, listing, sizes, keywords))
    min_uid, extra = request.min_uid, request.extra_uids
    if sizes is None and min_uid <= 1 and not extra:
        # Flags and keywords only: no object per message (see ``Listing``).
        return Listing(listing, keywords=keywords, no_keywords=NO_KEYWORDS)
    # Positional (uid, flags, size, tuid, message_id, path, date, keywords): a quarter
    # quicker than keywords.
    return Listing.of({
        u: MessageInfo(
            u, f, sizes.get(u, 0) if sizes is not None else 0, None, None, None, None,
            keywords.get(u, NO_KEYWORDS),
        )
        for u, f in listing.items()
        if u >= min_uid or u in extra
    })  # fmt: skip
