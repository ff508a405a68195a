"""One box pair of a channel: open (Create/Remove), list, plan, apply journalled, commit.

Order of work (mbsync's): TUID matches, killed pairs, new pairs (``_`` placeholders,
``~`` expiry starts); flag changes (one store call per side, then ``*`` and ``~``);
``F`` UIDNEXT and ``#`` TUIDs, journal synced, then copies in batches (``%``, store,
``<``/``>``; copies without a UID are found by X-TUID); per side trash (``T``) then
expunge; pruning, max UIDs, pruning of expired pairs; commit; only then plugin events
(at least once across a crash).  Unlike mbsync, pruning (orphaning after an expunge)
and the max UIDs are journalled, so a run whose only change they are still saves the
state; their order keeps every prefix of the journal a state a resumed run can start
from.

``<state>.syncmail`` (``syncmail.sync.sidecar``) lets a run skip listing a box pair when
the boxes' change markers, the state file, the operations and the channel's and stores'
plan settings are what they were the last time nothing was to be done.  New messages
are copied by ``syncmail.sync.copying``.

Test hook: with the environment variable ``SYNCMAIL_TEST_CRASH_AFTER=N`` the process
ends with ``os._exit(100)`` right after the N-th journal line of the run (mbsync's
``-Ts<N>``), so tests can interrupt a sync at every step and check the resume.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import field
from typing import TYPE_CHECKING, Any

from syncmail.config.model import ChannelConfig, Config, Operations
from syncmail.errors import (
    BoxError,
    MassDeletionError,
    MessageError,
    StoreError,
    SyncmailError,
    UidValidityError,
)
from syncmail.events import BoxResult, CopyProgress, FlagsChanged, MessageRemoved, Progress
from syncmail.flags import to_letters
from syncmail.record import record
from syncmail.store.base import (
    Box,
    BoxMissing,
    FlagChange,
    ListRequest,
    MessageInfo,
    OutgoingMessage,
    Store,
)
from syncmail.sync import snapshot
from syncmail.sync.copying import NO_UIDPLUS_ENV, _assign, _path_of, copies_to_make, copy_new
from syncmail.sync.journal import Journal
from syncmail.sync.kwsync import keywords_changed, sync_keywords
from syncmail.sync.loads import _expiry
from syncmail.sync.msgcvt import convert_chunks, make_tuid
from syncmail.sync.plan import FAR, NEAR, NOTHING, SIDES, Plan, Prune, load_specs, plan
from syncmail.sync.rail import NO_RAIL, stopped
from syncmail.sync.sidecar import Sidecar, plan_settings, settle
from syncmail.sync.state import S_PERSISTENT, SyncRecord, SyncState
from syncmail.sync.statefiles import (
    StateFiles,
    StatePaths,
    intents_path,
    remove_note,
    state_paths,
)

__all__ = [
    "CRASH_ENV",
    "FORCE_JOURNAL_ENV",
    "FAKE_EXPUNGE_ENV",
    "NO_UIDPLUS_ENV",
    "CrashHook",
    "RunContext",
    "sync_box",
]

if TYPE_CHECKING:
    from syncmail.sync.moves import MoveSet, PairMoves

log = logging.getLogger(__name__)

CRASH_ENV = "SYNCMAIL_TEST_CRASH_AFTER"
# Tests only (mbsync's -Tx): decide expunges but do not make them.
FAKE_EXPUNGE_ENV = "SYNCMAIL_TEST_FAKE_EXPUNGE"
# Tests only (mbsync's -TJ, which run-tests.pl uses): pre-commit lines are journalled
# too, so a run whose only changes are pre-commit ones saves the state.
FORCE_JOURNAL_ENV = "SYNCMAIL_TEST_FORCE_JOURNAL"


class CrashHook:
    """Counts journal lines across the run; exits the process at the limit (tests only)."""

    def __init__(self) -> None:
        value = os.environ.get(CRASH_ENV)
        self.limit = int(value) if value and value.isdigit() else 0
        self.count = 0

    def install(self, journal: Journal) -> None:
        if not self.limit:
            return
        inner = journal._log  # noqa: SLF001 - the test hook wraps the one line writer

        def log_and_count(line: str, pre_commit: bool = False) -> None:
            before = journal.lines_written
            inner(line, pre_commit)
            if journal.lines_written > before:
                self.count += 1
                if self.count >= self.limit:
                    os._exit(100)

        setattr(journal, "_log", log_and_count)  # noqa: B010


@record
class RunContext:
    """What one run carries from box pair to box pair: errors, counts, progress."""

    config: Config
    pm: Any
    dry_run: bool = False
    progress_cb: Callable[[Progress], None] | None = None
    # --force: the deletion safety rail is off.
    force: bool = False
    stores: dict[str, Store | StoreError] = field(default_factory=dict)
    errors: list[SyncmailError] = field(default_factory=list)
    boxes: list[BoxResult] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)
    changed: list[bool] = field(default_factory=lambda: [False, False])
    crash: CrashHook = field(default_factory=CrashHook)
    # Stores connected at least once this run (a lost one is worth reaching again).
    reached: set[str] = field(default_factory=set)
    # Channel -> retries it took to connect its stores and list its boxes.
    reconnects: dict[str, int] = field(default_factory=dict)
    # Asked between box pairs: True ends the run there.
    should_stop: Callable[[], bool] | None = None
    # RunOptions.trust_listed_status.
    trust_listed_status: bool = True
    # DetectMoves: the moves of the channel being synced (syncmail.sync.moves).
    moves: MoveSet | None = None
    # Plugin events held back until the channel's box pairs are done (removals of the
    # files of moved messages: the new file is announced first).
    deferred_events: list[tuple[str, Any]] = field(default_factory=list)

    def report(self) -> None:
        if self.progress_cb is not None:
            self.progress_cb(self.progress)


def _on_store(store: Store, name: str) -> str:
    on_store = getattr(store, "on_store_name", None)
    return str(on_store(name)) if callable(on_store) else name


def pair_state_paths(
    config: Config, channel: ChannelConfig, far: Store, near: Store, far_name: str, near_name: str
) -> StatePaths:
    """The state files of the box pair ``far_name`` / ``near_name`` of ``channel``."""
    from syncmail.store.maildir import MaildirStore

    near_dir = near.box_path(near_name) if isinstance(near, MaildirStore) else None
    return state_paths(
        config,
        channel,
        far.name,
        _on_store(far, far_name),
        near.name,
        _on_store(near, near_name),
        near_dir,
    )


def sync_box(
    r: RunContext,
    channel: ChannelConfig,
    ops: Operations,
    far: Store,
    near: Store,
    name: str,
    far_name: str,
    near_name: str,
) -> BoxResult:
    label = name or near_name
    r.progress.channel, r.progress.box = channel.name, label
    r.progress.copies = CopyProgress()
    paths = pair_state_paths(r.config, channel, far, near, far_name, near_name)
    sf = StateFiles(
        paths,
        fsync=r.config.globals.fsync,
        channel=channel.name,
        box=label,
        dry_run=r.dry_run,
        expire_side=channel.expire_side,
    )
    opened: list[Box | None] = [None, None]
    with sf:
        # Locked by load() when a state exists, else once both boxes are there: a box
        # that is missing and not created gets no directory for a lock file.
        try:
            stores = (far, near)
            names = (far_name, near_name)
            # A status the box listing gave (LIST-STATUS) spares opening the box when
            # nothing changed; the others are opened now.
            statuses = [stores[t].peek_status(names[t]) for t in (FAR, NEAR)]
            for t in (FAR, NEAR):
                if statuses[t] is None:
                    box = opened[t] = _try_open(stores[t], names[t])
                    statuses[t] = box.status if box is not None else None
            if os.path.exists(paths.state):
                sf.lock()  # mbsync or another syncmail may be at work on this pair
            fs, ns = statuses
            if (
                fs is not None
                and ns is not None
                and not os.path.exists(paths.journal)
                and Sidecar(
                    paths.state + ".syncmail", ops, (fs, ns), plan_settings(r.config, channel)
                ).unchanged()
                and not keywords_changed(r.pm, (far, near), (far_name, near_name))
            ):
                # Not even the state needs reading.
                log.debug(
                    "channel %s, box %s: nothing changed since the last run", channel.name, label
                )
                return BoxResult(channel.name, label)
            for t in (FAR, NEAR):
                if opened[t] is None and statuses[t] is not None:
                    opened[t] = _try_open(stores[t], names[t])
            state = sf.load()
            missing = [t for t in (FAR, NEAR) if opened[t] is None]
            if missing:
                done = _missing_boxes(r, channel, ops, stores, names, opened, sf, missing, label)
                if done is not None:
                    return done
            fbox, nbox = opened
            assert fbox is not None and nbox is not None
            sf.lock()
            return _sync_open(r, channel, ops, stores, (fbox, nbox), sf, state, label)
        finally:
            for box in opened:
                if box is not None:
                    box.close()


def _try_open(store: Store, name: str) -> Box | None:
    try:
        return store.open_box(name)
    except BoxMissing:
        return None


def _missing_boxes(
    r: RunContext,
    channel: ChannelConfig,
    ops: Operations,
    stores: tuple[Store, Store],
    names: tuple[str, str],
    opened: list[Box | None],
    sf: StateFiles,
    missing: list[int],
    label: str,
) -> BoxResult | None:
    """mbsync's rules for absent boxes: Create, Remove, or an error.

    Returns the result when the pair is finished, None when both boxes are open now.
    """
    if len(missing) == 2:
        if not sf.existing:
            raise BoxError(
                channel.name,
                label,
                f"both far side {names[FAR]} and near side {names[NEAR]} cannot be opened",
            )
        # Both gone: an interrupted deletion propagation; the state goes too.
        sf.delete()
        return BoxResult(channel.name, label)
    t = missing[0]
    other = opened[1 - t]
    assert other is not None
    if sf.existing:
        if SIDES[1 - t] not in ops.remove:
            raise BoxError(
                channel.name, label, f"{SIDES[t]} box {names[t]} cannot be opened anymore"
            )
        if not other.is_empty():
            log.warning(
                "Warning: channel %s: %s box %s cannot be opened anymore, and %s box %s "
                "is not empty.",
                channel.name,
                SIDES[t],
                names[t],
                SIDES[1 - t],
                names[1 - t],
            )
            return BoxResult(channel.name, label)
        log.info("Deleting %s box %s...", SIDES[1 - t], names[1 - t])
        if r.dry_run:
            return BoxResult(channel.name, label)
        other.close()
        opened[1 - t] = None
        stores[1 - t].delete_box(names[1 - t])
        r.changed[1 - t] = True
        sf.delete()
        stores[1 - t].finish_delete_box(names[1 - t])
        return BoxResult(channel.name, label)
    if SIDES[t] not in ops.create:
        raise BoxError(channel.name, label, f"{SIDES[t]} box {names[t]} cannot be opened")
    log.info("Creating %s box %s...", SIDES[t], names[t])
    if r.dry_run:
        return BoxResult(channel.name, label)
    opened[t] = stores[t].open_box(names[t], create=True)
    r.changed[t] = True
    return None


def _sync_open(
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
    listings = []
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
            listings.append({})
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
    result = _apply(r, channel, stores, boxes, sf, state, journal, p, label)
    if len(r.errors) == errors_before:
        _sync_keywords(r, channel, ops, stores, boxes, state, listings, fresh_from, sf, label)
    if len(r.errors) == errors_before:
        if p.empty:
            sidecar.save()
        elif not sf.committed or _trashed_into_itself(r, stores, boxes, p):
            # Only pre-commit changes (a kill, an orphaning): the state on disk is not
            # the one this run ended with, so the next run must decide them again.
            # Messages trashed into their own box (the Trash synced as a box) are new
            # files the next run must number, as mbsync does, not this run's notes.
            Sidecar.discard(sidecar.path)
        else:
            settle(
                channel, ops, stores, boxes, state, (listings[FAR], listings[NEAR]), p, sidecar,
                expiry,
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
    listings: list[dict[int, MessageInfo]],
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

    # Flags, one store call per side, then the journal.
    flag_counts = [0, 0]
    for t in (FAR, NEAR):
        ops_t = [op for op in p.flags if op.side == t]
        changes = [FlagChange(op.uid, op.add, op.remove) for op in ops_t if op.add or op.remove]
        side_progress[t].flags_total += len(changes)
        if changes:
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
        _trash(r, channel, stores, boxes, journal, p, t)
        if os.environ.get(FAKE_EXPUNGE_ENV) == "1":
            continue
        boxes[t].expunge(uids)
        r.changed[t] = True
        side_progress[t].expunged_done += len(uids)
        for uid in uids:
            removed = MessageRemoved(
                channel.name, label, SIDES[t], stores[t].name, uid, path=paths[uid]
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
    found copies, kills, orphaned expired pairs, upgrades, new pairs and statuses."""
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
