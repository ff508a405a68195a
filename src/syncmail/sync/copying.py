"""Copying new messages to the other side: fetched, converted and stored in batches,
journalled; copies a store names no UID for are found by X-TUID, as in mbsync.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from syncmail.config.model import ChannelConfig
from syncmail.errors import MessageError
from syncmail.events import CopyProgress, NewMessage
from syncmail.flags import ALL, to_letters
from syncmail.store.base import (
    Box,
    FlagChange,
    ListRequest,
    OutgoingMessage,
    Store,
    StoredMessage,
)
from syncmail.sync.boxsync import NO_UIDPLUS_ENV
from syncmail.sync.journal import Journal
from syncmail.sync.msgcvt import convert_chunks, convert_message, header_value, make_placeholder
from syncmail.sync.plan import FAR, SIDES, Copy, bump_maxuid
from syncmail.sync.state import SyncRecord

if TYPE_CHECKING:
    from syncmail.sync.boxsync import RunContext
    from syncmail.sync.moves import PairMoves

log = logging.getLogger(__name__)


def _assign(
    journal: Journal, rec: SyncRecord, side: int, uid: int, pre_commit: bool = False
) -> None:
    if side == FAR:
        journal.far_uid(rec, uid, pre_commit=pre_commit)
    else:
        journal.near_uid(rec, uid, pre_commit=pre_commit)


def _new_path(box: Box, stored: StoredMessage) -> str | None:
    """Absolute file of a message just stored in a Maildir box (None for IMAP)."""
    path = _path_of(box, stored.uid) if stored.uid else None
    base = getattr(box, "path", None)
    if path is None and stored.path and isinstance(base, str):
        path = os.path.join(base, stored.path)
    return path


def _path_of(box: Box, uid: int) -> str | None:
    path_of = getattr(box, "path_of", None)
    if not callable(path_of):
        return None
    result = path_of(uid)
    return result if isinstance(result, str) else None


class NewMessages:
    """The ``NewMessage`` events of one ``copy_new`` call, made as they are delivered.

    Per copy only what the store and the source gave is kept (UID, file, Message-ID):
    a pull of 100,000 messages would otherwise hold 100,000 events, and their paths,
    until its box is done.  The path is the file's when the event is made (after the
    box's state was saved), so a flag change later in the run is already in it.
    """

    __slots__ = (
        "box", "channel", "copies", "label", "message_ids", "rels", "side", "store", "uids",
    )  # fmt: skip

    def __init__(self, channel: str, label: str, side: int, store: str, box: Box) -> None:
        self.channel, self.label, self.side, self.store, self.box = channel, label, side, store, box
        # One list per field rather than a tuple per copy: 1.7 MiB less for 31k copies.
        self.copies: list[Copy] = []
        self.uids: list[int | None] = []
        self.rels: list[str | None] = []
        self.message_ids: list[str | None] = []

    def add(self, c: Copy, stored: StoredMessage, message_id: str | None) -> None:
        self.copies.append(c)
        self.uids.append(stored.uid)
        self.rels.append(stored.path)
        self.message_ids.append(message_id)

    def events(self) -> Iterator[NewMessage]:
        for c, uid, rel, message_id in zip(
            self.copies, self.uids, self.rels, self.message_ids, strict=True
        ):
            yield NewMessage(
                self.channel,
                self.label,
                SIDES[self.side],
                self.store,
                uid,
                to_letters(c.flags),
                message_id=message_id,
                path=_new_path(self.box, StoredMessage(uid, rel)),
                source_uid=c.source_uid,
            )


def copies_to_make(copies: list[Copy]) -> CopyProgress:
    """The progress bar's totals: the copies, and their bytes when every size was listed
    (a listed size is never 0: a message has at least a header)."""
    sized = all(c.size > 0 for c in copies)
    return CopyProgress(
        total=len(copies), bytes_total=sum(c.size for c in copies) if sized else None
    )


def copy_new(
    r: RunContext,
    channel: ChannelConfig,
    stores: tuple[Store, Store],
    boxes: tuple[Box, Box],
    recs: list[SyncRecord],
    journal: Journal,
    copies: list[Copy],
    t: int,
    label: str,
    events: list[tuple[str, Any]],
    newmax: list[int],
    moves: PairMoves | None = None,
) -> tuple[int, int]:
    """Fetch from the other side, convert, store on side ``t``; returns the copies made,
    and how many of them were moves.

    ``moves`` (DetectMoves): sources whose bytes are read from a local file instead,
    and sources copied on side ``t``'s own store instead of uploaded.

    A message that cannot be read or stored (MessageError) costs only itself, as in
    mbsync: copies that made it all the same are found by X-TUID, the failed pair is
    dropped (it is tried again as an old message with ``Sync Old`` only) and the error
    is reported.  The rest goes on in batches when the error names its message, else
    one message at a time.
    """
    s = 1 - t
    crlf = (stores[s].crlf, stores[t].crlf)
    dates = bool(channel.copy_arrival_date)
    progress = r.progress.far if t == FAR else r.progress.near
    progress.new_total += len(copies)
    unfound: list[SyncRecord] = []
    counter = [0, 0]  # copies, moves
    moved = set(moves.stash) | set(moves.server) if moves is not None else set()
    hide_uids = os.environ.get(NO_UIDPLUS_ENV) == "1"
    stash = moves.stash if moves is not None else None
    feed = _Feed(boxes, s, recs, journal, crlf, dates, stash)
    message_ids, sizes = feed.message_ids, feed.sizes

    def landed(c: Copy, stored: StoredMessage) -> None:
        rec = recs[c.record]
        if stored.uid and not hide_uids:
            _assign(journal, rec, t, stored.uid)
            newmax[t] = bump_maxuid(newmax[t], stored.uid)
        else:
            unfound.append(rec)
        counter[0] += 1
        counter[1] += c.source_uid in moved
        progress.new_done += 1
        r.progress.copies.done += 1
        r.progress.copies.bytes_done += sizes.pop(c.record, c.size)
        r.changed[t] = True
        news.add(c, stored, message_ids.pop(c.record, None))
        # Per message: the callback limits its redraws itself.
        r.report()

    news = NewMessages(channel.name, label, t, stores[t].name, boxes[t])
    events.append(("syncmail_new_message", news))
    if moves is not None and moves.server and not hide_uids:
        copies = _copy_on_server(r, boxes, recs, journal, copies, t, moves, landed, message_ids)
    todo, pos, size = copies, 0, boxes[t].store_batch
    while pos < len(todo):
        batch = todo[pos : pos + size]
        pos += len(batch)
        retry: list[Copy] = []
        try:
            feed.store(batch, landed)
        except MessageError as e:
            r.errors.append(e)
            log.error("%s", e)
            # The message that failed is not tried again: its error is said once.
            source = boxes[1 - t].name
            failed = next((c for c in batch if e.box == source and c.source_uid == e.uid), None)
            if failed is not None:
                journal.kill(recs[failed.record])
                # The error named its message: the rest goes on in batches.
                retry = _adopt_stored(boxes[t], recs, journal, batch, t, unfound, landed)
            else:
                _copy_singly(r, feed, batch, t, unfound, landed)
        # Sources that vanished meanwhile: their pairs die (mbsync's COPY_GONE).
        waiting = {id(rec) for rec in unfound} | {id(recs[c.record]) for c in retry}
        for c in batch:
            rec = recs[c.record]
            if rec.tuid is not None and id(rec) not in waiting and not rec.dead:
                journal.kill(rec)
        if retry:
            todo, pos = retry + todo[pos:], 0
        r.report()
    if unfound:
        _find_by_tuid(boxes[t], journal, unfound, t, newmax)
    return counter[0], counter[1]


def _copy_on_server(
    r: RunContext,
    boxes: tuple[Box, Box],
    recs: list[SyncRecord],
    journal: Journal,
    copies: list[Copy],
    t: int,
    moves: PairMoves,
    landed: Callable[[Copy, StoredMessage], None],
    message_ids: dict[int, str | None],
) -> list[Copy]:
    """Moved messages copied on side ``t``'s store from the box they left (no upload);
    returns the copies left to do the ordinary way.

    Order, for a crash at any point: the intent log (TUID -> Message-ID, synced), the
    pending flags, the server COPY (or MOVE), the flags the copy must have, then its UID
    in the journal.  A resumed run finds a copy made but not journalled by its
    Message-ID (``movescan.adopt_server_copies``); after a MOVE that is the only copy
    left, and the box it left sees it gone on both sides (nothing to delete)."""
    chosen = [
        c
        for c in copies
        if c.source_uid in moves.server
        and not c.placeholder
        and c.upgrade is None
        and recs[c.record].tuid is not None
    ]
    if not chosen:
        return copies
    from syncmail.sync.movescan import log_intents

    log_intents(
        moves.intents,
        [(SIDES[t], str(recs[c.record].tuid), moves.server[c.source_uid][2]) for c in chosen],
        moves.fsync,
    )
    for c in chosen:
        if c.flags:
            journal.pending_flags(recs[c.record], c.flags)
    by_box: dict[str, list[Copy]] = {}
    for c in chosen:
        by_box.setdefault(moves.server[c.source_uid][0], []).append(c)
    made: list[tuple[Copy, int]] = []
    for source, group in by_box.items():
        uids = [moves.server[c.source_uid][1] for c in group]
        done = boxes[t].copy_from(source, uids, move=moves.move)
        made.extend((c, done[moves.server[c.source_uid][1]]) for c in group
                    if moves.server[c.source_uid][1] in done)  # fmt: skip
    # The copy has the flags its original had; the pair's are the moved file's.
    boxes[t].set_flags([FlagChange(uid, c.flags, ALL & ~c.flags) for c, uid in made])
    for c, uid in made:
        message_ids[c.record] = moves.server[c.source_uid][2]
        landed(c, StoredMessage(uid))
    copied = {id(c) for c, _ in made}
    return [c for c in copies if id(c) not in copied]


def _adopt_stored(
    target: Box,
    recs: list[SyncRecord],
    journal: Journal,
    batch: list[Copy],
    t: int,
    unfound: list[SyncRecord],
    landed: Callable[[Copy, StoredMessage], None],
) -> list[Copy]:
    """After a failed batch: its copies that were stored all the same are adopted (found
    by X-TUID); returns those still to make."""
    waiting = {id(rec) for rec in unfound}
    left = [
        c
        for c in batch
        if recs[c.record].tuid is not None
        and id(recs[c.record]) not in waiting
        and not recs[c.record].dead
    ]
    if not left:
        return []
    start = journal.saved_uidnext.get(SIDES[t], 1)
    listing = target.list_messages(ListRequest(min_uid=start, tuid_from=start))
    by_tuid = {m.tuid: uid for uid, m in sorted(listing.items()) if m.tuid}
    still: list[Copy] = []
    for c in left:
        tuid = recs[c.record].tuid
        uid = by_tuid.get(tuid) if tuid else None
        if uid is not None:
            landed(c, StoredMessage(uid))
        else:
            still.append(c)
    return still


def _copy_singly(
    r: RunContext,
    feed: _Feed,
    batch: list[Copy],
    t: int,
    unfound: list[SyncRecord],
    landed: Callable[[Copy, StoredMessage], None],
) -> None:
    """After a batch failed on a message the error does not name: what was stored is
    adopted, the rest is copied one message at a time (a failure costs only itself)."""
    recs, journal = feed.recs, feed.journal
    for c in _adopt_stored(feed.boxes[t], recs, journal, batch, t, unfound, landed):
        try:
            feed.store([c], landed)
        except MessageError as e:
            r.errors.append(e)
            log.error("%s", e)
            journal.kill(recs[c.record])


class _Feed:
    """Where the bytes of one side's copies come from, and what is noted on the way:
    each copy's Message-ID (for its plugin event) and size (the progress bar's bytes),
    by record index."""

    def __init__(
        self,
        boxes: tuple[Box, Box],
        s: int,
        recs: list[SyncRecord],
        journal: Journal,
        crlf: tuple[bool, bool],
        dates: bool,
        stash: Mapping[int, str] | None,
    ) -> None:
        self.boxes, self.s, self.recs, self.journal = boxes, s, recs, journal
        self.crlf, self.dates, self.stash = crlf, dates, stash
        self.message_ids: dict[int, str | None] = {}
        self.sizes: dict[int, int] = {}

    def store(self, batch: list[Copy], landed: Callable[[Copy, StoredMessage], None]) -> None:
        """Store ``batch`` on the other side, in one call; ``landed`` hears of each copy."""
        sent: deque[Copy] = deque()
        for stored in self.boxes[1 - self.s].store_messages(self._outgoing(batch, sent)):
            landed(sent.popleft(), stored)

    def _outgoing(self, batch: list[Copy], sent: deque[Copy]) -> Iterator[OutgoingMessage]:
        """The converted messages of ``batch``, fetched lazily (memory stays bounded);
        each one goes into ``sent`` as it is handed over.

        ``dates``: CopyArrivalDate, the copy gets the source's arrival date (IMAP
        INTERNALDATE / Maildir mtime); otherwise the target's store sets it (now), as in
        mbsync.
        """
        boxes, s, recs, journal = self.boxes, self.s, self.recs, self.journal
        crlf, dates, stash = self.crlf, self.dates, self.stash
        message_ids, sizes = self.message_ids, self.sizes
        by_uid = {c.source_uid: c for c in batch}
        source, target = boxes[s], boxes[1 - s]
        uids = [c.source_uid for c in batch]
        if stash:
            # DetectMoves: some bodies come from a local file instead of the source.
            from syncmail.sync.movescan import fetch_sources

            bodies = fetch_sources(source, uids, target.spool_dir(), dates, stash, crlf[0])
        else:
            listed = {c.source_uid: c.size for c in batch}
            bodies = source.fetch_messages(uids, target.spool_dir(), dates=dates, sizes=listed)
        for fm in bodies:
            c = by_uid.get(fm.uid)
            if c is None:
                continue
            rec = recs[c.record]
            if c.upgrade is not None:
                if c.upgrade != (0, 0):
                    journal.upgrade_flags(rec, *c.upgrade)
            elif c.flags:
                journal.pending_flags(rec, c.flags)
            message_ids[c.record] = header_value(fm.head(), b"message-id")
            sent.append(c)
            # A placeholder's source counts whole, as in the total (its listed size).
            fetched = fm.spool.size if fm.spool is not None else len(fm.data)
            sizes[c.record] = c.size if c.placeholder else fetched
            date = fm.date if dates else None
            if fm.spool is not None and not c.placeholder:
                chunks = convert_chunks(
                    fm.body_chunks(), source_crlf=crlf[0], target_crlf=crlf[1], tuid=rec.tuid
                )
                yield OutgoingMessage(b"", c.flags, date, rec.tuid, chunks=chunks)
                continue
            data = convert_message(
                fm.head(), source_crlf=crlf[0], target_crlf=crlf[1], tuid=rec.tuid
            )
            if c.placeholder:
                # mbsync drops Flagged before it writes the placeholder, so its "flagged
                # as important" line never appears; neither does it here.
                data = make_placeholder(data, c.size, crlf=crlf[1])
            yield OutgoingMessage(data, c.flags, date, rec.tuid)


def _find_by_tuid(
    box: Box, journal: Journal, recs: list[SyncRecord], t: int, newmax: list[int]
) -> None:
    """The target gave no UIDs (no UIDPLUS): find the copies by X-TUID, as mbsync does."""
    start = journal.saved_uidnext.get(SIDES[t], 1)
    listing = box.list_messages(ListRequest(min_uid=start, tuid_from=start))
    by_tuid = {m.tuid: uid for uid, m in sorted(listing.items()) if m.tuid}
    lost = 0
    for rec in recs:
        uid = by_tuid.get(rec.tuid) if rec.tuid else None
        if uid is None:
            journal.tuid_lost(rec)
            lost += 1
        else:
            _assign(journal, rec, t, uid)
            newmax[t] = bump_maxuid(newmax[t], uid)
    if lost:
        verb = "push" if t == FAR else "pull"
        log.warning("Warning: lost track of %d %sed message(s)", lost, verb)
