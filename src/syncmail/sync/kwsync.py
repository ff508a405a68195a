"""Keywords of one box pair, after its messages were synced: read, merge, write, note.

Runs once the pair's state is committed and its events delivered (so a plugin has
indexed this run's deliveries).  Each side is an IMAP box (keywords from the listing,
written with ``UID STORE``) or a Maildir box whose keywords a plugin keeps
(``syncmail_keyword_source``, e.g. notmuch tags); a pair of boxes where one side holds
no keywords has nothing to do.  Crash safety needs no journal: the merge is idempotent,
so a run interrupted between writing the keywords and saving the notes merges to the
same result next time (both sides then agree with it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import Any

from syncmail.config.model import ChannelConfig, MaildirStoreConfig, Operations
from syncmail.keywords import KeywordSource, fold
from syncmail.record import record
from syncmail.store.base import Box, KeywordEdit, Listing, MessageInfo, Store, as_listing
from syncmail.sync import kwnotes
from syncmail.sync.keywords import merge, spelled
from syncmail.sync.loads import FAR, NEAR
from syncmail.sync.state import S_PENDING, SyncState

log = logging.getLogger(__name__)

__all__ = ["KeywordSide", "keyword_side", "keywords_changed", "sync_keywords"]


@record
class KeywordSide:
    """One box's keywords: from an IMAP listing, or from a plugin's source by path."""

    box: Box
    listing: Listing
    source: KeywordSource | None = None
    # Source only: keywords by UID, read in one go by ``load``.
    known: dict[int, frozenset[str]] = field(default_factory=dict)

    def allowed(self, keyword: str) -> bool:
        if self.source is not None:
            return self.source.allowed(keyword)
        return self.box.keywords_allowed(keyword)

    def load(self, uids: Sequence[int]) -> None:
        if self.source is None:
            return
        paths = {uid: p for uid in uids if (p := _path_of(self.box, uid)) is not None}
        found = self.source.read(list(paths.values()))
        self.known = {uid: found[p] for uid, p in paths.items() if p in found}

    def get(self, uid: int) -> frozenset[str] | None:
        if self.source is not None:
            return self.known.get(uid)
        # By UID: the listing makes no MessageInfo for this.
        return self.listing.keywords(uid) if uid in self.listing else None

    def write(self, edits: Sequence[KeywordEdit]) -> None:
        if not edits:
            return
        if self.source is None:
            self.box.set_keywords(edits)
            return
        out = []
        for e in edits:
            path = _path_of(self.box, e.uid)
            if path is not None:
                out.append((path, e.add, e.remove))
        self.source.write(out)


def _path_of(box: Box, uid: int) -> str | None:
    path_of = getattr(box, "path_of", None)
    result = path_of(uid) if callable(path_of) else None
    return result if isinstance(result, str) else None


def keyword_side(
    pm: Any, store: Store, box: Box, listing: Mapping[int, MessageInfo]
) -> KeywordSide | None:
    """The keyword side of ``box``, or None when it holds no keywords."""
    if getattr(store, "crlf", False):  # an IMAP store: keywords come with the flags
        return KeywordSide(box, as_listing(listing))
    held = _maildir_keywords(pm, store, box.name)
    return None if held is None else KeywordSide(box, as_listing(listing), held)


def _maildir_keywords(pm: Any, store: Store, name: str) -> KeywordSource | None:
    """Where the keywords of Maildir box ``name`` live (file-name letters, or a plugin's
    source such as notmuch tags); None when nowhere."""
    box_path = _box_path(store, name)
    if box_path is None:
        return None
    cfg = getattr(store, "cfg", None)
    if isinstance(cfg, MaildirStoreConfig) and cfg.keyword_letters:
        from syncmail.store.maildir_keywords import LetterKeywords

        return LetterKeywords(box_path, cfg.info_delimiter + "2,")
    if pm is None:
        return None
    source: KeywordSource | None = pm.hook.syncmail_keyword_source(
        store=store.name, box=name, path=box_path
    )
    return source


def _box_path(store: Store, name: str) -> str | None:
    box_path = getattr(store, "box_path", None)
    result = box_path(name) if callable(box_path) else None
    return result if isinstance(result, str) else None


def keywords_changed(pm: Any, stores: tuple[Store, Store], names: tuple[str, str]) -> bool:
    """Whether a plugin keeping a Maildir side's keywords saw them change (the pair's
    change markers do not show it).  Needs no open box: asked before one is opened."""
    sources: list[KeywordSource | None] = []
    for store, name in zip(stores, names, strict=True):
        if getattr(store, "crlf", False):
            sources.append(None)  # IMAP: a keyword change moves the box's marker
            continue
        held = _maildir_keywords(pm, store, name)
        if held is None:
            return False  # this side holds no keywords: nothing to sync
        sources.append(held)
    return any(s is not None and s.changed() for s in sources)


def sync_keywords(
    pm: Any,
    channel: ChannelConfig,
    ops: Operations,
    stores: tuple[Store, Store],
    boxes: tuple[Box, Box],
    state: SyncState,
    listings: tuple[Mapping[int, MessageInfo], Mapping[int, MessageInfo]],
    fresh_from: tuple[int, int],
    state_path: str,
) -> tuple[int, int]:
    """Merge and write the keywords of every pair; returns the messages changed per side.

    ``fresh_from``: per side, the first UID a copy of this run can have; such a message
    is not in the listing and starts without keywords.
    """
    sides = [keyword_side(pm, stores[t], boxes[t], listings[t]) for t in (FAR, NEAR)]
    far_side, near_side = sides
    if far_side is None or near_side is None:
        return 0, 0
    uv = (boxes[FAR].status.uidvalidity, boxes[NEAR].status.uidvalidity)
    path = kwnotes.notes_path(state_path)
    notes = kwnotes.load(path, uv)
    pairs = [
        (r.far_uid, r.near_uid)
        for r in state.records
        if not r.dead and r.far_uid and r.near_uid and not r.status & S_PENDING
    ]
    far_side.load([f for f, _ in pairs])
    near_side.load([n for _, n in pairs])
    # Keywords go where flags go: push toward far, pull toward near.
    toward = ("flags" in ops.sync.push, "flags" in ops.sync.pull)

    def both_allow(keyword: str) -> bool:
        return far_side.allowed(keyword) and near_side.allowed(keyword)

    edits: tuple[list[KeywordEdit], list[KeywordEdit]] = ([], [])
    new_notes: dict[tuple[int, int], frozenset[str]] = {}
    for pair in pairs:
        now: list[frozenset[str]] = []
        fresh = False
        for t, side in ((FAR, far_side), (NEAR, near_side)):
            value = side.get(pair[t])
            if value is None and pair[t] >= fresh_from[t]:
                value, fresh = frozenset(), True
            if value is None:
                break
            now.append(value)
        if len(now) < 2:
            if notes is not None and pair in notes:
                new_notes[pair] = notes[pair]  # not listed this time: keep its base
            continue
        base = frozenset() if fresh else (None if notes is None else notes.get(pair, frozenset()))
        folded = [frozenset(fold(k) for k in v) for v in now]
        target = merge(
            base,
            folded[FAR],
            folded[NEAR],
            policy=channel.keyword_conflict,
            synced=both_allow,
        )
        new_notes[pair] = target
        names = spelled([*now[FAR], *now[NEAR]])
        for t in (FAR, NEAR):
            if not toward[t]:
                continue
            add = frozenset(names[k] for k in target - folded[t])
            remove = frozenset(k for k in now[t] if fold(k) not in target and both_allow(fold(k)))
            if add or remove:
                edits[t].append(KeywordEdit(pair[t], add, remove))
    far_side.write(edits[FAR])
    near_side.write(edits[NEAR])
    kwnotes.save(path, uv, new_notes)
    if edits[FAR] or edits[NEAR]:
        log.info(
            "channel %s, box %s: keywords of %d far and %d near messages changed",
            channel.name,
            boxes[NEAR].name,
            len(edits[FAR]),
            len(edits[NEAR]),
        )
    return len(edits[FAR]), len(edits[NEAR])
