"""A box pair whose boxes are open: list, plan, apply journalled, commit, settle.

``syncmail.sync.boxsync`` opens the pair (or finds that nothing changed and stops
there); what follows is mbsync's order of work, described there.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from syncmail.config.model import ChannelConfig, Operations
from syncmail.errors import (
    BoxError,
    MassDeletionError,
    MessageError,
    UidValidityError,
)
from syncmail.events import BoxResult, FlagsChanged, MessageRemoved
from syncmail.flags import to_letters
from syncmail.store.base import (
    Box,
    FlagChange,
    Listing,
    ListRequest,
    OutgoingMessage,
    Store,
)
from syncmail.sync import snapshot
from syncmail.sync.boxsync import (
    FAKE_EXPUNGE_ENV,
    RunContext,
    start_lookahead,
)
from syncmail.sync.copying import NewMessages, _assign, _path_of, copies_to_make, copy_new
from syncmail.sync.journal import Journal
from syncmail.sync.kwsync import sync_keywords
from syncmail.sync.loads import _expiry
from syncmail.sync.msgcvt import convert_chunks, make_tuid
from syncmail.sync.plan import FAR, NEAR, NOTHING, SIDES, Plan, Prune, load_specs, plan
from syncmail.sync.rail import NO_RAIL, stopped
from syncmail.sync.sidecar import Sidecar, plan_settings, settle
from syncmail.sync.state import S_PERSISTENT, SyncRecord, SyncState
from syncmail.sync.statefiles import (
    StateFiles,
    intents_path,
    remove_note,
)

if TYPE_CHECKING:
    from syncmail.sync.moves import PairMoves

log = logging.getLogger(__name__)


def sync_open_pair(
    r: RunContext,
    channel: ChannelConfig,
    ops: Operations,
    stores: tuple[Store, Store],
    boxes: tuple[Box, Box],
    sf: StateFiles,
    state: SyncState,
    label: str,
) -> BoxResult:
    journal = sf.journal()
    r.crash.install(journal)
    uv = (boxes[FAR].status.uidvalidity, boxes[NEAR].status.uidvalidity)
    if state.far_uidvalidity or state.near_uidvalidity:
        old = (state.far_uidvalidity, state.near_uidvalidity)
        changed = [t for t in (FAR, NEAR) if old[t] != uv[t]]
        if changed:
            _recover_uidvalidity(channel, boxes, state, changed, label)
            journal.uidvalidity(state, uv[FAR], uv[NEAR])
    else:
        journal.uidvalidity(state, uv[FAR], uv[NEAR])

    statuses = (boxes[FAR].status, boxes[NEAR].status)
    sidecar = Sidecar(
        sf.paths.state + ".syncmail", ops, statuses, plan_settings(r.config, channel)
    )
    expiry = _expiry(r.config, channel)
    loads = load_specs(state, ops, saved_uidnext=sf.saved_uidnext, expiry=expiry)
    listings: list[Listing] = []
    for t in (FAR, NEAR):
        if loads[t].listed:
            listings.append(
                snapshot.list_box(
                    stores[t],
                    boxes[t],
                    loads[t].request(),
                    snapshot.snapshot_path(sf.paths.state, t),
                    save_notes=not r.dry_run,
                )
            )
        else:
            listings.append(Listing())
    intents = intents_path(sf.paths.state)
    if not sf.replayed:
        remove_note(intents)  # left by a run that ended after its commit
    elif os.path.exists(intents):
        from syncmail.sync.movescan import adopt_server_copies, read_intents

        adopt_server_copies(boxes, listings, state, sf.saved_uidnext, read_intents(intents))
    p = plan(
        listings[FAR],
        listings[NEAR],
        state,
        ops,
        loads=loads,
        start_maxuid=sf.new_maxuid,
        trashed=sf.trashed,
        expiry=expiry,
        fake_expunge=os.environ.get(FAKE_EXPUNGE_ENV) == "1",
    )
    if p.refusal is not None:
        if not r.dry_run:
            # mbsync refuses only after journalling the new pairs (and what came before
            # them), leaving that journal and an empty .new for the next run to replay.
            _journal_decisions(journal, state, list(state.records), p)
        unread, most = p.refusal
        xbox = boxes[FAR if channel.expire_side == "far" else NEAR].name
        raise BoxError(
            channel.name,
            label,
            f"{xbox}: {unread} unread messages in excess of MaxMessages ({most}). "
            "Please set ExpireUnread to decide outcome. Skipping mailbox.",
        )
    _deletion_rail(r, channel, boxes, p, label)
    for notice in p.notices:
        log.info("Notice: %s", notice)
    if r.dry_run:
        return _dry_result(r, channel, label, p)
    errors_before = len(r.errors)
    fresh_from = (boxes[FAR].status.uidnext, boxes[NEAR].status.uidnext)
    # What the end of the run asks of the plan, taken now: the plan goes once applied.
    # It holds a copy and a new pair per new message, and settle lists the Maildir
    # again beside the listings this run has; an initial pull would hold both at once.
    empty, sides_changed = p.empty, p.sides_changed()
    trashed_into_itself = _trashed_into_itself(r, stores, boxes, p)
    result = _apply(r, channel, stores, boxes, sf, state, journal, p, label)
    del p
    if len(r.errors) == errors_before:
        _sync_keywords(r, channel, ops, stores, boxes, state, listings, fresh_from, sf, label)
    if len(r.errors) == errors_before:
        if empty:
            sidecar.save()
        elif not sf.committed or trashed_into_itself:
            # Only pre-commit changes (a kill, an orphaning): the state on disk is not
            # the one this run ended with, so the next run must decide them again.
            # Messages trashed into their own box (the Trash synced as a box) are new
            # files the next run must number, as mbsync does, not this run's notes.
            Sidecar.discard(sidecar.path)
        else:
            settle(
                channel, ops, stores, boxes, state, (listings[FAR], listings[NEAR]), sides_changed,
                sidecar, expiry,
            )  # fmt: skip
    return result


def _trashed_into_itself(
    r: RunContext, stores: tuple[Store, Store], boxes: tuple[Box, Box], p: Plan
) -> bool:
    """Whether a side moved messages into its own store's Trash while that Trash is the
    box being synced."""
    return any(
        p.trash[t] and r.config.stores[stores[t].name].trash == boxes[t].name
        for t in (FAR, NEAR)
    )


def _sync_keywords(
    r: RunContext,
    channel: ChannelConfig,
    ops: Operations,
    stores: tuple[Store, Store],
    boxes: tuple[Box, Box],
    state: SyncState,
    listings: list[Listing],
    fresh_from: tuple[int, int],
    sf: StateFiles,
    label: str,
) -> None:
    try:
        done = sync_keywords(
            r.pm, channel, ops, stores, boxes, state, (listings[FAR], listings[NEAR]),
            fresh_from, sf.paths.state,
        )  # fmt: skip
    except (MessageError, BoxError) as e:
        r.errors.append(e)
        log.error("%s", e)
        return
    for t in (FAR, NEAR):
        if done[t]:
            r.changed[t] = True


def _deletion_rail(
    r: RunContext, channel: ChannelConfig, boxes: tuple[Box, Box], p: Plan, label: str
) -> None:
    """Refuse the pair (before anything is changed, also in a dry run, which so shows
    what a real run would stop) when it would delete most of a box by propagation."""
    limit = NO_RAIL if r.force else channel.max_delete_percent
    moves = r.moves.removals if r.moves is not None else set()
    moved = [{u for u in p.vanished[t] if (t, boxes[t].name, u) in moves} for t in (FAR, NEAR)]
    found = stopped(p, limit, (moved[FAR], moved[NEAR]))
    if not found:
        return
    texts = [
        f"{m.deleted} of the {m.total} messages of {SIDES[m.side]} box {boxes[m.side].name} "
        f"would be deleted because they vanished from {SIDES[1 - m.side]} box "
        f"{boxes[1 - m.side].name}"
        for m in found
    ]
    first = found[0]
    raise MassDeletionError(
        channel.name,
        label,
        SIDES[first.side],
        first.deleted,
        first.total,
        f"{'; '.join(texts)}: more than MaxDeletePercent ({limit}%), so nothing of this "
        "box pair was synced. If the deletion is wanted, run with --force or raise "
        "MaxDeletePercent (100: no limit).",
    )


def _recover_uidvalidity(
    channel: ChannelConfig,
    boxes: tuple[Box, Box],
    state: SyncState,
    changed: list[int],
    label: str,
) -> None:
    """Accept a changed UIDVALIDITY when the paired messages are still the same ones.

    mbsync's rule: every present pair must agree on its Message-ID, and at least 20
    pairs (or 80% of them) must be confirmed; otherwise UidValidityError.
    """
    names = [boxes[FAR].name, boxes[NEAR].name]
    if len(changed) == 2:
        raise UidValidityError(
            channel.name,
            label,
            f"UIDVALIDITY of both far side {names[FAR]} and near side {names[NEAR]} changed",
        )
    t = changed[0]
    live = [rec for rec in state.records if not rec.dead]
    ids: list[dict[int, str | None]] = []
    for side in (FAR, NEAR):
        uids = frozenset(rec.far_uid if side == FAR else rec.near_uid for rec in live) - {0}
        request = ListRequest(min_uid=NOTHING, extra_uids=uids, message_id_uids=uids)
        listing = boxes[side].list_messages(request) if uids else {}
        ids.append({uid: m.message_id for uid, m in listing.items()})
    need = got = 0
    for rec in live:
        need += 1
        uid = (rec.far_uid, rec.near_uid)
        mine, partner = ids[t], ids[1 - t]
        if uid[t] not in mine or not mine[uid[t]]:
            continue  # gone, or no Message-ID to compare
        if uid[1 - t] not in partner:
            continue
        if partner[uid[1 - t]] != mine[uid[t]]:
            raise UidValidityError(
                channel.name,
                label,
                f"{SIDES[t]} box {names[t]}: UIDVALIDITY genuinely changed (at UID {uid[t]})",
            )
        got += 1
    if got < 20 and got * 5 < need * 4:
        raise UidValidityError(
            channel.name,
            label,
            f"{SIDES[t]} box {names[t]}: Unable to recover from UIDVALIDITY change",
        )
    log.info(
        "Notice: channel %s, %s box %s: Recovered from change of UIDVALIDITY.",
        channel.name,
        SIDES[t],
        names[t],
    )


def _dry_result(r: RunContext, channel: ChannelConfig, label: str, p: Plan) -> BoxResult:
    fl = p.flag_updates
    for t, sp in ((FAR, r.progress.far), (NEAR, r.progress.near)):
        sp.new_total += len(p.copies[t])
        sp.flags_total += fl[t]
        sp.expunged_total += len(p.expunge[t])
    return BoxResult(
        channel.name,
        label,
        pulled_new=len(p.copies[NEAR]),
        pushed_new=len(p.copies[FAR]),
        pulled_flags=fl[NEAR],
        pushed_flags=fl[FAR],
        expunged_far=len(p.expunge[FAR]),
        expunged_near=len(p.expunge[NEAR]),
        trashed_far=len(p.trashed(FAR)),
        trashed_near=len(p.trashed(NEAR)),
    )


def _apply(
    r: RunContext,
    channel: ChannelConfig,
    stores: tuple[Store, Store],
    boxes: tuple[Box, Box],
    sf: StateFiles,
    state: SyncState,
    journal: Journal,
    p: Plan,
    label: str,
) -> BoxResult:
    # The plan names records by index: these handles, not state.records, which gets
    # the entries split off by upgrades inserted after their parents.
    recs = list(state.records)
    events: list[tuple[str, Any]] = []
    # Events of moved messages' old files: delivered at the end of the channel.
    held: list[tuple[str, Any]] = []
    side_progress = (r.progress.far, r.progress.near)
    _journal_decisions(journal, state, recs, p)
    # Journalled, the new pairs are records now; their plan entries (one per message
    # of an initial pull) would only take room while the messages are copied.
    p.new_pairs.clear()

    # Flags, one store call per side, then the journal.
    flag_counts = [0, 0]
    for t in (FAR, NEAR):
        ops_t = [op for op in p.flags if op.side == t]
        changes = [FlagChange(op.uid, op.add, op.remove) for op in ops_t if op.add or op.remove]
        side_progress[t].flags_total += len(changes)
        if changes:
            if stores[t].remote:
                # A server applying flag changes is a long wait with few answers: the
                # next pair's local files are read meanwhile (not while bodies come:
                # those answers are many, each handled in Python, and nothing is won).
                start_lookahead(r)
            try:
                boxes[t].set_flags(changes)
            except MessageError as e:
                r.errors.append(e)
                log.error("%s", e)
                continue
            r.changed[t] = True
            flag_counts[t] = len(changes)
            side_progress[t].flags_done += len(changes)
        for op in ops_t:
            if op.purge:
                journal.purged(recs[op.record])
            if op.synced is not None:
                journal.flags(recs[op.record], op.synced)
            if op.status is not None:
                journal.status(recs[op.record], op.status, state=state)
            if (op.add or op.remove) and op.old_flags is not None:
                new = (op.old_flags | op.add) & ~op.remove
                # The deletion mark on a moved message's old file: after the new file.
                moved = r.moves is not None and (t, boxes[t].name, op.uid) in r.moves.removals
                (held if moved else events).append(
                    (
                        "syncmail_flags_changed",
                        FlagsChanged(
                            channel.name,
                            label,
                            SIDES[t],
                            stores[t].name,
                            op.uid,
                            to_letters(op.old_flags),
                            to_letters(new),
                            SIDES[1 - t],
                            _path_of(boxes[t], op.uid),
                        ),
                    )
                )
    r.report()

    # New messages: UIDNEXT and TUIDs first, made durable, then the copies.
    for t in (FAR, NEAR):
        if p.copies[t]:
            journal.uidnext(SIDES[t], boxes[t].status.uidnext)
    any_copies = bool(p.copies[FAR] or p.copies[NEAR])
    if any_copies:
        with journal.held():
            for t in (FAR, NEAR):
                for c in p.copies[t]:
                    journal.tuid(recs[c.record], make_tuid())
        journal.sync()
    r.progress.copies = copies_to_make(p.copies[FAR] + p.copies[NEAR])
    new_counts = [0, 0]
    move_counts = [0, 0]
    newmax = list(p.new_maxuid)
    for t in (FAR, NEAR):
        if p.copies[t]:
            new_counts[t], move_counts[t] = copy_new(
                r, channel, stores, boxes, recs, journal, p.copies[t], t, label, events, newmax,
                _pair_moves(r, boxes, 1 - t, sf),
            )  # fmt: skip

    # Expunge.
    for t in (FAR, NEAR):
        uids = p.expunge[t]
        if not uids:
            continue
        side_progress[t].expunged_total += len(uids)
        paths = {uid: _path_of(boxes[t], uid) for uid in uids}
        trashed = p.trashed(t)
        _trash(r, channel, stores, boxes, journal, p, t)
        if os.environ.get(FAKE_EXPUNGE_ENV) == "1":
            continue
        boxes[t].expunge(uids)
        r.changed[t] = True
        side_progress[t].expunged_done += len(uids)
        for uid in uids:
            removed = MessageRemoved(
                channel.name, label, SIDES[t], stores[t].name, uid, uid in trashed, paths[uid]
            )
            moved = r.moves is not None and (t, boxes[t].name, uid) in r.moves.removals
            (held if moved else events).append(("syncmail_message_removed", removed))
    r.report()

    # Finish: prune, maxuids, commit; events only once the state is safe.
    # Pre-commit lines, as in mbsync (PC_JLOG): a run whose only changes are these (an
    # orphaning, a kill, a raised max UID, or expunges) does not save the state, and
    # the next run decides them again (mbsync.md section 3.3).
    _prune(journal, recs, [pr for pr in p.prune if not pr.expired])
    # The max UIDs after that: replayed after a crash, they shrink what the next run
    # lists, so what was decided on the old range must be in the journal before them.
    for t in (FAR, NEAR):
        old = state.max_pulled if t == FAR else state.max_pushed
        if newmax[t] != old:
            journal.maxuid(state, SIDES[t], newmax[t], pre_commit=True)
    # Expired pairs last: until the max UIDs cover them, their entry is what keeps
    # their message from looking new.
    _prune(journal, recs, [pr for pr in p.prune if pr.expired])
    if sf.changed:
        # The sidecar's markers describe the boxes before this run changed them.
        Sidecar.discard(sf.paths.state + ".syncmail")
    sf.commit(state)
    remove_note(intents_path(sf.paths.state))
    r.deferred_events.extend(held)
    if r.pm is not None:
        from syncmail.plugins import deliver

        for hook, event in events:
            if isinstance(event, NewMessages):
                for one in event.events():
                    deliver(r.pm, hook, event=one)
            else:
                deliver(r.pm, hook, event=event)
    return BoxResult(
        channel.name,
        label,
        pulled_new=new_counts[NEAR],
        pushed_new=new_counts[FAR],
        pulled_flags=flag_counts[NEAR],
        pushed_flags=flag_counts[FAR],
        expunged_far=len(p.expunge[FAR]),
        expunged_near=len(p.expunge[NEAR]),
        trashed_far=len(p.trashed(FAR)),  # of the expunged (the plan's trash is a part)
        trashed_near=len(p.trashed(NEAR)),
        moved=sum(move_counts),
    )


def _pair_moves(r: RunContext, boxes: tuple[Box, Box], s: int, sf: StateFiles) -> PairMoves | None:
    """The moves whose copies come from side ``s``'s box of this pair (DetectMoves)."""
    if r.moves is None:
        return None
    from syncmail.sync.moves import PairMoves

    name = boxes[s].name
    return PairMoves(
        r.moves.stash_for(s, name),
        r.moves.server_copies_for(s, name),
        intents_path(sf.paths.state),
        r.config.globals.fsync,
        move=(1 - s) in r.moves.server_move,
    )


def _trash(
    r: RunContext,
    channel: ChannelConfig,
    stores: tuple[Store, Store],
    boxes: tuple[Box, Box],
    journal: Journal,
    p: Plan,
    t: int,
) -> None:
    """Side ``t``'s messages to trash before the expunge: moved into its own store's
    Trash, or (TrashRemoteNew) copied into the other store's.  Each is journalled
    ("T") so that a resumed run does not trash it twice."""
    local, remote = p.trash[t], p.remote_trash[t]
    if local:
        name = r.config.stores[stores[t].name].trash
        assert name is not None
        boxes[t].trash_messages(local, name)
        for uid in local:
            journal.trashed(SIDES[t], uid)
    if not remote:
        return
    name = r.config.stores[stores[1 - t].name].trash
    assert name is not None
    done: deque[int] = deque()

    def outgoing(spool_dir: str | None) -> Iterator[OutgoingMessage]:
        fetched = boxes[t].fetch_messages(
            remote, spool_dir, dates=bool(channel.copy_arrival_date)
        )
        for fm in fetched:
            chunks = convert_chunks(
                fm.body_chunks(), source_crlf=stores[t].crlf, target_crlf=stores[1 - t].crlf
            )
            done.append(fm.uid)
            date = fm.date if channel.copy_arrival_date else None
            # Flags as they are, T included (mbsync's trash copies keep it).
            if fm.spool is None:
                yield OutgoingMessage(b"".join(chunks), fm.flags, date)
            else:
                yield OutgoingMessage(b"", fm.flags, date, chunks=chunks)

    for _stored in stores[1 - t].store_in_trash(name, outgoing):
        journal.trashed(SIDES[t], done.popleft())


def _journal_decisions(
    journal: Journal, state: SyncState, recs: list[SyncRecord], p: Plan
) -> None:
    """Journal what the plan decided before touching any message (steps 4 and 5):
    found copies, kills, orphaned expired pairs, upgrades, new pairs and statuses.
    Nothing changes in a mailbox meanwhile, so the lines go out together."""
    with journal.held():
        for m in p.tuid_matches:
            _assign(journal, recs[m.record], m.side, m.uid)
        for index in p.tuid_lost:
            journal.tuid_lost(recs[index])
        for index in p.kills:
            if index < len(recs) and not recs[index].dead:
                journal.kill(recs[index])
        for eo in p.expired_orphans:
            rec = recs[eo.record]
            if rec.status & S_PERSISTENT != eo.status & S_PERSISTENT:
                journal.status(rec, eo.status, state=state)
            _assign(journal, rec, eo.side, 0)
        for up in p.upgrades:
            recs.append(journal.upgrade(state, recs[up.record], up.pflags))
        for pair in p.new_pairs:
            rec = journal.new_pair(state, pair.far_uid, pair.near_uid)
            recs.append(rec)
            if pair.doomed:
                journal.kill(rec)
        for index in p.placeholders:
            journal.placeholder(recs[index])
        for sc in p.statuses:
            journal.status(recs[sc.record], sc.status, state=state)


def _prune(journal: Journal, recs: list[SyncRecord], prunes: list[Prune]) -> None:
    for pr in prunes:
        rec = recs[pr.record]
        if rec.dead:
            continue
        if pr.kill:
            journal.kill(rec, pre_commit=True)
        else:
            _assign(journal, rec, pr.side, 0, pre_commit=True)
