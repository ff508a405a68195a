"""The sync decision for one box pair: a pure function of the listings, the state and the ops.

This is mbsync's ``box_loaded`` / ``box_closed_p2`` (what to do), mbsync.md section 4,
without I/O: ``plan`` returns the actions in the order the engine applies them (what
each side must list first, ``load_specs``, is in ``syncmail.sync.loads``).  Deliberate
differences from mbsync 1.5:

- not implemented: supported-flag masking (every store is taken to support all six);
- an expired message that is copied again (Sync Old) logs ``~ F N 16`` like mbsync,
  and its status becomes exactly that also in the live run (mbsync keeps the expiry
  bits live but not on replay);
- doomed new messages (T while a side expunges) get their ``+``/``-`` pair like in
  mbsync, so MaxPulled/MaxPushed move past them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from itertools import filterfalse
from typing import TypeAlias, TypeVar

from syncmail.config.model import Operations
from syncmail.flags import ALL, FLAGGED, SEEN, TRASHED
from syncmail.store.base import Listing, MessageInfo, as_listing
from syncmail.sync.actions import (
    Copy,
    ExpiredOrphan,
    NewPair,
    Plan,
    Prune,
    SetFlags,
    StatusChange,
    TuidMatch,
    Upgrade,
    bump_maxuid,
)
from syncmail.sync.loads import (
    FAR,
    NEAR,
    NOTHING,
    SIDES,
    Expiry,
    SideLoad,
    _expunges,
    _solo,
    _toward,
    load_specs,
    upgrade_masked,
)
from syncmail.sync.state import (
    S_DUMMY_FAR,
    S_DUMMY_NEAR,
    S_EXPIRE,
    S_EXPIRED,
    S_PENDING,
    S_PERSISTENT,
    S_PURGE,
    S_PURGED,
    S_SKIPPED,
    S_UPGRADE,
    SyncState,
)

__all__ = [
    "FAR",
    "NEAR",
    "NOTHING",
    "SIDES",
    "Copy",
    "ExpiredOrphan",
    "Expiry",
    "NewPair",
    "Plan",
    "Prune",
    "SetFlags",
    "SideLoad",
    "StatusChange",
    "TuidMatch",
    "Upgrade",
    "bump_maxuid",
    "load_specs",
    "plan",
    "upgrade_masked",
]

_DUMMY = (S_DUMMY_FAR, S_DUMMY_NEAR)


_V = TypeVar("_V")
# A value per side: a list once set, a shared immutable pair before (see ``_put``).
_Pair: TypeAlias = list[_V] | tuple[_V, _V]


@dataclass(slots=True)
class _Work:
    """One record as the decision goes along (mbsync's sync_rec_t runtime fields)."""

    index: int
    uid: list[int]
    flags: int
    pending: bool
    tuid: str | None
    msg: list[MessageInfo | None] = field(default_factory=lambda: [None, None])
    # Per-side pairs that most entries never change: they share one immutable pair
    # until ``_put`` sets a side (a big box has a ``_Work`` per message).
    gone: _Pair[bool] = (False, False)
    deleted: _Pair[bool] = (False, False)
    aflags: _Pair[int] = (0, 0)
    dflags: _Pair[int] = (0, 0)
    delete: bool = False
    dead: bool = False
    status: int = 0
    nexpire: bool = False  # mbsync's S_NEXPIRE: expiry wants this pair expired
    pflags: int = 0  # an upgrade's placeholder flags (journal "^")


def _put(w: _Work, pair: str, t: int, value: int) -> None:
    """Side ``t`` of ``w``'s per-side ``pair`` (gone, deleted, aflags, dflags) := value."""
    values = getattr(w, pair)
    if type(values) is tuple:
        values = list(values)
        setattr(w, pair, values)
    values[t] = value


# Stands for every clean pair in ``plan``: paired on both sides, nothing to do.
_CLEAN = _Work(-1, [-1, -1], 0, False, None)


def _agree(flags: int, far: MessageInfo | None, near: MessageInfo | None) -> bool:
    """Both copies are listed and carry exactly the synced ``flags``, which have no T:
    with nothing under way, steps 4 and 7 have nothing to do for such a (clean) pair.
    Most pairs of a big box are like this."""
    return (
        far is not None
        and near is not None
        and not flags & TRASHED
        and far.flags & ALL == flags == near.flags & ALL
    )


def plan(
    far: Mapping[int, MessageInfo],
    near: Mapping[int, MessageInfo],
    state: SyncState,
    ops: Operations,
    *,
    far_expunge: bool | None = None,
    near_expunge: bool | None = None,
    saved_uidnext: Mapping[str, int] | None = None,
    loads: tuple[SideLoad, SideLoad] | None = None,
    start_maxuid: Mapping[str, int] | None = None,
    expire_side: str = "near",
    expiry: Expiry | None = None,
    trashed: Collection[tuple[str, int]] = (),
    fake_expunge: bool = False,
) -> Plan:
    """Decide everything for one box pair.  ``far``/``near`` may hold more messages than
    ``load_specs`` asked for; those outside the window are ignored, as mbsync never
    sees them.  ``far_expunge``/``near_expunge`` default to ``ops.expunge``.
    ``start_maxuid`` is where the new max UIDs start (after a journal replay:
    ``StateFiles.new_maxuid``), else the state's.

    ``fake_expunge`` (tests only, mbsync's -Tx): the expunges are decided as usual, but
    the engine will not make them, so no message counts as gone afterwards.

    ``Plan.new_maxuid`` does not yet count the copies the engine is about to store: a
    copy that gets exactly the next UID of its side raises it further (mbsync's
    ``assign_uid``), see ``bump_maxuid``.

    The steps below follow mbsync.md section 4 in mbsync's order; each decides one
    thing and hands the rest on in ``_Sync``.
    """
    if expiry is None:
        expiry = Expiry(side=expire_side)
    sync = _start(
        far, near, state, ops, far_expunge=far_expunge, near_expunge=near_expunge,
        saved_uidnext=saved_uidnext, loads=loads, start_maxuid=start_maxuid,
        expiry=expiry, trashed=trashed, fake_expunge=fake_expunge,
    )  # fmt: skip
    # Step 3: entries matched with messages, by UID and after a crash by X-TUID.
    clean_uids = _entries_to_decide(sync)
    _match_tuids(sync)
    _index_by_uid(sync, clean_uids)
    # Step 4: old entries (deletions, flags, placeholder upgrades).
    _decide_old_entries(sync)
    # Step 5: new messages; pushes (target far) first, as mbsync.
    for t in (FAR, NEAR):
        _decide_new_messages(sync, t)
    # Step 6: MaxMessages.
    if expiry.expiring(sync.ops):
        sync.maxxf = _expire(sync.work, sync.xt, expiry, sync.result, sync.maxxf)
        if sync.result.refusal is not None:
            return sync.result
    _schedule_copies(sync)
    # Step 7 (the flag half; the copies are made by the engine), 8 and 9.
    _decide_flag_stores(sync)
    _decide_expunges(sync)
    _finish(sync)
    return sync.result


# --- the steps of ``plan`` -------------------------------------------------------------


@dataclass(slots=True)
class _Sync:
    """One box pair's decision under way (mbsync's sync_vars_t): what every step reads,
    and what the steps hand on to the next ones.  Lists of two are per side."""

    state: SyncState
    ops: Operations  # Upgrade masked toward sides without placeholders
    loads: tuple[SideLoad, SideLoad]
    expiry: Expiry
    xt: int  # the expire side
    expunge: list[bool]
    solo: list[bool]  # ExpungeSolo
    msgs: list[Listing]  # what each side lists, within its load window
    result: Plan
    maxuid: list[int]  # the state's MaxPulled / MaxPushed
    newmax: list[int]  # the new ones, raised as messages are found
    maxxf: int  # MaxExpired, raised when an expiry is committed
    trashed: Collection[tuple[str, int]]  # already in a Trash (a resumed run)
    fake_expunge: bool
    # The entries that need a decision (clean pairs only when expiry counts them),
    # the entries split off by upgrades, then the new pairs.
    work: list[_Work] = field(default_factory=list)
    # Per side, UID -> its entry (``_CLEAN`` for a clean pair not in ``work``).
    by_uid: list[dict[int, _Work]] = field(default_factory=lambda: [{}, {}])
    # Copies decided in step 5, made unless expiry drops their entry (step 6); the
    # entry is None for a plain new copy (``_plain_new_copy``).
    copies: list[tuple[_Work | None, Copy]] = field(default_factory=list)
    # Per side, the UIDs of the clean pairs (``_CLEAN`` in ``by_uid`` unless a
    # duplicate UID's entry took the place).
    clean: list[list[int]] = field(default_factory=lambda: [[], []])
    # Per side, UID -> flags as they will be after step 7's stores, for the messages
    # whose flags these change (the others keep their listed flags).
    cur: list[dict[int, int]] = field(default_factory=lambda: [{}, {}])


def _start(
    far: Mapping[int, MessageInfo],
    near: Mapping[int, MessageInfo],
    state: SyncState,
    ops: Operations,
    *,
    far_expunge: bool | None,
    near_expunge: bool | None,
    saved_uidnext: Mapping[str, int] | None,
    loads: tuple[SideLoad, SideLoad] | None,
    start_maxuid: Mapping[str, int] | None,
    expiry: Expiry,
    trashed: Collection[tuple[str, int]],
    fake_expunge: bool,
) -> _Sync:
    """Steps 1-3 as far as they are decisions: the operations in force (Upgrade masked
    as mbsync does), what each side lists, who expunges, where the max UIDs start."""
    ops = upgrade_masked(state, ops)
    if loads is None:
        loads = load_specs(state, ops, saved_uidnext=saved_uidnext, expiry=expiry)
    expunge = [
        _expunges(ops, FAR) if far_expunge is None else far_expunge,
        _expunges(ops, NEAR) if near_expunge is None else near_expunge,
    ]
    solo = [
        _solo(ops, FAR) and far_expunge is not False,
        _solo(ops, NEAR) and near_expunge is not False,
    ]
    msgs = [_visible(far, loads[FAR]), _visible(near, loads[NEAR])]
    result = Plan(
        loads=loads, split_base=len(state.records), listed=(len(msgs[FAR]), len(msgs[NEAR]))
    )
    maxuid = [state.max_pulled, state.max_pushed]
    newmax = list(maxuid)
    if start_maxuid:
        newmax = [start_maxuid.get("far", maxuid[FAR]), start_maxuid.get("near", maxuid[NEAR])]
    return _Sync(
        state, ops, loads, expiry, expiry.xt, expunge, solo, msgs, result, maxuid, newmax,
        state.max_expired, trashed, fake_expunge,
    )  # fmt: skip


def _entries_to_decide(sync: _Sync) -> list[list[int]]:
    """Step 3: the live state entries that need a decision go to ``sync.work``, with
    the runtime flags of an interrupted upgrade.  Returns, per side, the UIDs of the
    clean pairs left out (both copies listed with the synced flags, nothing under
    way), most pairs of a big box; they are left out only when expiry does not count
    pairs."""
    clean_uids: list[list[int]] = [[], []]
    clean_far, clean_near = clean_uids
    work = sync.work
    shortcut = not sync.expiry.expiring(sync.ops)
    far_get, near_get = sync.msgs[FAR].flags.get, sync.msgs[NEAR].flags.get
    for i, r in enumerate(sync.state.records):
        if r.dead:
            continue
        if shortcut and not r.status and r.tuid is None and not r.flags & TRASHED:
            # ``_agree``, inline: this runs for every pair of a big box.
            far, near = far_get(r.far_uid), near_get(r.near_uid)
            if far is not None and near is not None and far & ALL == r.flags == near & ALL:
                clean_far.append(r.far_uid)
                clean_near.append(r.near_uid)
                continue
        pending = bool(r.status & S_PENDING)
        work.append(_Work(i, [r.far_uid, r.near_uid], r.flags, pending, r.tuid, status=r.status))
    for w in work:
        rec = sync.state.records[w.index]
        if rec.status & S_PURGE:
            # Split off by an interrupted upgrade: its placeholder still needs T.
            _put(w, "aflags", NEAR if not rec.far_uid else FAR, TRASHED)
        elif rec.status & S_UPGRADE:
            t = FAR if not rec.far_uid else NEAR
            w.pflags = rec.pending_flags
            _put(w, "aflags", t, rec.upgrade_add)
            _put(w, "dflags", t, rec.upgrade_del)
    return clean_uids


def _match_tuids(sync: _Sync) -> None:
    """Step 3 (mbsync's match_tuids): a copy an interrupted run made is found by its
    X-TUID among the side's messages from the saved UIDNEXT on, and adopted (journal
    ``<``/``>``); a pending copy not found is lost and will be made again."""
    for t in (FAR, NEAR):
        start = sync.loads[t].tuid_from
        by_tuid: dict[str, int] = {}
        if start is not None:
            for uid in sorted(sync.msgs[t]):
                tuid = sync.msgs[t][uid].tuid
                if uid >= start and tuid and tuid not in by_tuid:
                    by_tuid[tuid] = uid
        for w in sync.work:
            if w.uid[t] or not w.tuid or not w.pending:
                continue
            found = by_tuid.pop(w.tuid, None)
            if found is None:
                sync.result.tuid_lost.append(w.index)
            else:
                sync.result.tuid_matches.append(TuidMatch(w.index, t, found))
                sync.newmax[t] = bump_maxuid(sync.newmax[t], found)
                w.uid[t] = found
                w.pending = False
                if w.status & S_UPGRADE:
                    w.flags = (w.flags | w.aflags[t]) & ~w.dflags[t]
                    _put(w, "aflags", t, 0)
                    _put(w, "dflags", t, 0)
                    w.status &= ~(S_PENDING | S_UPGRADE)
                else:
                    w.flags = sync.state.records[w.index].pending_flags
            w.tuid = None


def _index_by_uid(sync: _Sync, clean_uids: list[list[int]]) -> None:
    """Step 3: messages are matched to their entries by UID (mbsync's hash)."""
    sync.by_uid = [dict.fromkeys(clean_uids[FAR], _CLEAN), dict.fromkeys(clean_uids[NEAR], _CLEAN)]
    sync.clean = clean_uids
    for w in sync.work:
        for t in (FAR, NEAR):
            if w.uid[t]:
                sync.by_uid[t][w.uid[t]] = w
                w.msg[t] = sync.msgs[t].get(w.uid[t])


def _decide_old_entries(sync: _Sync) -> None:
    """Step 4, each live pair: killed when both messages are gone; else a flagged
    placeholder asks for its upgrade, and then each direction is decided (a deletion
    or the flags to propagate, ``_old_entry_toward``)."""
    splits: list[_Work] = []
    loads = sync.loads
    for w in sync.work:
        if not w.status and not w.pending and _agree(w.flags, *w.msg):
            continue  # clean, but kept for expiry to count
        no = [w.msg[t] is None and loads[t].paired for t in (FAR, NEAR)]
        if no[FAR] and no[NEAR]:
            w.dead = True
            sync.result.kills.append(w.index)
            continue
        gone_now = [no[t] and w.uid[t] != 0 for t in (FAR, NEAR)]
        for t in (FAR, NEAR):
            m = w.msg[t]
            if m is not None and m.flags & TRASHED and loads[t].flags:
                # Without its flags listed a side's T is not seen (mbsync's S_DEL).
                _put(w, "deleted", t, True)
        # Upgrades before the flags, so that these see the upgraded state on both
        # sides (as a replay would).
        if w.status & (S_DUMMY_FAR | S_DUMMY_NEAR):
            for t in (FAR, NEAR):
                _upgrade_if_flagged(sync, w, t, splits)
        for t in (FAR, NEAR):
            _old_entry_toward(sync, w, t, gone_now)
    sync.work.extend(splits)


def _upgrade_if_flagged(sync: _Sync, w: _Work, t: int, splits: list[_Work]) -> None:
    """Step 4, placeholder upgrade: a placeholder on side ``t`` that the user flagged
    asks for its real message (with Upgrade toward ``t``).  The entry becomes a
    pending copy toward ``t``; the placeholder moves to a new entry (in ``splits``)
    that gets T and is purged (journal ``^``)."""
    m = w.msg[t]
    if not (
        "upgrade" in _toward(sync.ops, t)
        and w.status & _DUMMY[t]
        and w.uid[1 - t]
        and m is not None
        and m.flags & FLAGGED
    ):
        return
    result = sync.result
    w.pflags = m.flags & ALL & (~(SEEN | FLAGGED) | (w.flags & SEEN))
    split = _Work(result.split_base + len(result.upgrades), [0, 0], 0, False, None, status=S_PURGE)
    split.uid[t], w.uid[t] = w.uid[t], 0
    split.msg[t], w.msg[t] = m, None
    split.deleted = list(w.deleted)
    _put(split, "aflags", t, TRASHED)
    sync.by_uid[t][split.uid[t]] = split
    splits.append(split)
    w.status = (w.status & ~(S_DUMMY_FAR | S_DUMMY_NEAR)) | S_PENDING | S_UPGRADE
    w.pending = True
    result.upgrades.append(Upgrade(w.index, t, w.pflags))


def _old_entry_toward(sync: _Sync, w: _Work, t: int, gone_now: list[bool]) -> None:
    """Step 4, one direction of a live pair: what side ``t``'s copy gets.  Its own
    message gone: marked gone.  The other one gone: an expired one orphans the pair,
    else T when Gone goes toward ``t``.  Otherwise the source's flags are propagated
    (``_propagate_flags``); an upgrade propagates the placeholder's saved flags."""
    s = 1 - t
    src = w.msg[s]
    sflags: int | None = None
    if w.status & S_UPGRADE:
        # Toward the real message the placeholder's saved flags count (it is detached
        # already); toward the copy to make, the real message's.
        if w.uid[t]:
            sflags = w.pflags
        elif src is not None:
            sflags = src.flags & ALL
    elif gone_now[t]:
        _put(w, "gone", t, True)
    elif not w.uid[t]:
        pass
    elif gone_now[s] and t != sync.xt and w.status & (S_EXPIRE | S_EXPIRED):
        # The expire side lost an expired message: that is no deletion to propagate
        # (it would delete the far copy); the pair is orphaned.
        w.status |= S_EXPIRE | S_EXPIRED
        sync.result.expired_orphans.append(ExpiredOrphan(w.index, w.status, sync.xt))
        w.uid[sync.xt] = 0
    elif gone_now[s]:
        m = w.msg[t]
        if m is not None and (
            (m.flags & ~TRASHED) != (w.flags & ~TRASHED)
            or (not m.flags & TRASHED and w.flags & TRASHED)
        ):
            sync.result.notices.append(f"conflicting changes in ({w.uid[FAR]},{w.uid[NEAR]})")
        if "gone" in _toward(sync.ops, t):
            _put(w, "aflags", t, TRASHED)
            w.delete = True
    elif src is not None:
        sflags = src.flags & ALL
    if sflags is not None and "flags" in _toward(sync.ops, t):
        _propagate_flags(sync, w, t, sflags)


def _propagate_flags(sync: _Sync, w: _Work, t: int, sflags: int) -> None:
    """Step 4, flags toward side ``t``: ``add = src & ~synced``, ``del = ~src & synced``
    (both directions against the same synced flags, so changes merge per flag), with
    what must not travel masked out: an expiry's T, a placeholder's Seen and Flagged."""
    s = 1 - t
    if t != sync.xt and w.status & (S_EXPIRE | S_EXPIRED):
        sflags &= ~TRASHED  # the expiry's T is no user's deletion
    if w.status & (S_DUMMY_FAR if s == FAR else S_DUMMY_NEAR):
        # From placeholders: no Seen (un-seeing only), no Flagged.
        sflags &= ~(SEEN | FLAGGED) | (w.flags & SEEN)
    elif w.status & (S_DUMMY_FAR if t == FAR else S_DUMMY_NEAR):
        sflags &= ~FLAGGED  # it would read as a request to upgrade
    _put(w, "aflags", t, sflags & ~w.flags)
    _put(w, "dflags", t, ~sflags & w.flags & ALL)


def _unimportant(flags: int, expiry: Expiry) -> bool:
    """MaxMessages would expire a message with these flags (not flagged; seen, or
    ExpireUnread)."""
    return not flags & FLAGGED and bool(flags & SEEN or expiry.expire_unread)


def _decide_new_messages(sync: _Sync, t: int) -> None:
    """Step 5 toward side ``t``: which messages of the other side are copied.  A new
    one (above the max UID) needs New, an old one Old; messages are looked at in UID
    order, and the new max UID follows them up to the first unknown one that should
    be known.  Entries already known may be copied again (``_copy_again``)."""
    s = 1 - t
    types = _toward(sync.ops, t)
    msgs, by_uid, newmax = sync.msgs[s], sync.by_uid[s], sync.newmax
    maxuid, maxxf, expire_side = sync.maxuid[s], sync.maxxf, t == sync.xt
    topping = True
    ends_range = None  # the first unknown message that ends the synced range
    # Without expiry, a new message that is neither deleted nor too big needs no entry
    # under decision: nothing after step 5 looks at it (an initial pull is all these).
    light, max_size = not sync.expiry.expiring(sync.ops), sync.expiry.max_size[t]
    # Clean pairs need no decision, so the loop takes only the messages without an
    # entry and those of entries under decision; the clean ones raise the new max UID
    # afterwards.  (Kept small: a big box is nearly all clean pairs.)
    # (filterfalse, not a keys difference: that copies every listed UID into a set.)
    todo = set(filterfalse(by_uid.__contains__, msgs))
    todo.update(w.uid[s] for w in sync.work if w.uid[s] in msgs)
    # The hot loop of a big box: only rare cases leave it for a function, and a
    # message is looked at by its flags (no ``MessageInfo`` made for a plain copy).
    flag_of, size_of = msgs.flags, msgs.size
    for uid in sorted(todo):
        w = by_uid.get(uid)
        if w is not None:
            if w.dead:
                continue
            if topping and newmax[s] < uid:
                newmax[s] = uid
            if not w.pending and w.uid[t] and not w.status & S_SKIPPED:
                continue  # paired (clean pairs too)
            m = msgs[uid]
            if not _copy_again(sync, w, t, uid, m):
                continue
            new = False
        else:
            # The first unknown message that should be known ends the synced range;
            # on the expire side only above the expired ones.
            if topping and (not expire_side or uid > maxxf):
                topping = False
                ends_range = uid
            flags = flag_of[uid]
            if uid <= maxuid:
                if "old" not in types:
                    continue
                if topping and _unimportant(flags, sync.expiry):
                    continue  # below the bulk range: expired and pruned earlier
            elif "new" not in types:
                continue
            size = size_of(uid)
            if light and not flags & TRASHED and not (max_size and size > max_size):
                _plain_new_copy(sync, s, uid, flags, size)
                continue
            m = msgs[uid]
            w = _new_entry(sync, s, uid, m)
            new = True
        _copy_or_doom(sync, w, t, uid, m, new)
    _raise_past_clean(sync, s, ends_range)


def _raise_past_clean(sync: _Sync, s: int, ends_range: int | None) -> None:
    """Step 5's new max UID of side ``s`` over the clean pairs: as if they had been
    looked at in UID order with the rest, the ones below ``ends_range`` raise it."""
    clean, by_uid = sync.clean[s], sync.by_uid[s]
    if not clean:
        return
    top = max(clean)
    if (ends_range is not None and top > ends_range) or by_uid.get(top) is not _CLEAN:
        top = max(
            (
                uid
                for uid in clean
                if (ends_range is None or uid < ends_range) and by_uid.get(uid) is _CLEAN
            ),
            default=0,
        )
    sync.newmax[s] = max(sync.newmax[s], top)


def _plain_new_copy(sync: _Sync, s: int, uid: int, flags: int, size: int) -> None:
    """Step 5 for a new message of side ``s`` that is simply copied: its new pair and
    its copy, as ``_new_entry`` and ``_copy_or_doom`` would decide them, without the
    ``_Work`` they keep for the later steps (a big initial pull makes one per message)."""
    index = _next_index(sync)
    sync.result.new_pairs.append(NewPair(uid if s == FAR else 0, uid if s == NEAR else 0))
    sync.copies.append((None, Copy(1 - s, index, uid, flags & ALL, False, size)))
    sync.newmax[s] = max(sync.newmax[s], uid)


def _copy_again(sync: _Sync, w: _Work, t: int, uid: int, m: MessageInfo) -> bool:
    """Step 5, a known entry without a copy on side ``t``: is it copied now?  A pre-1.4
    skipped one becomes a placeholder (Upgrade); an expired one that became important
    is copied again (Old); a pending copy is made (an upgrade's real message, by
    ``_copy_upgrade``); an orphan is not copied again."""
    types = _toward(sync.ops, t)
    if w.status & S_SKIPPED and not w.pending:
        # Pre-1.4 "^": skipped as too big; Upgrade makes it a placeholder.
        if "upgrade" not in types:
            return False
        w.status = S_PENDING | _DUMMY[t]
        w.pending = True
        sync.result.placeholders.append(w.index)
        return True
    if not w.pending:
        if w.uid[t] or "old" not in types:
            return False  # paired, or an orphan reported already
        if t != sync.xt or not w.status & S_EXPIRED:
            return False  # an orphan: an interrupted deletion, not copied again
        if _unimportant(m.flags, sync.expiry):
            return False  # expired, and still not worth keeping
        # Expired earlier, important now: copy it again.  The status is logged as
        # mbsync does (its replay sets exactly this).
        w.status = S_PENDING
        w.pending = True
        sync.result.statuses.append(StatusChange(w.index, S_PENDING))
        return True
    if w.status & S_UPGRADE:
        _copy_upgrade(sync, w, t, uid, m)
        return False
    return True


def _copy_upgrade(sync: _Sync, w: _Work, t: int, uid: int, m: MessageInfo) -> None:
    """Step 5, placeholder upgrade: the real message goes to side ``t`` with the
    placeholder's flags and the changes made meanwhile (journal ``$``), unless either
    side would expunge it anyway."""
    s = 1 - t
    a, d = w.aflags[t], w.dflags[t]
    real = (m.flags | w.aflags[s]) & ~w.dflags[s]
    if (sync.expunge[t] and (w.pflags | a) & ~d & TRASHED) or (sync.expunge[s] and real & TRASHED):
        # It would be expunged anyway.  The entry stays, for the flags toward the real
        # message, as if a placeholder were there (so the real message counts as new
        # when trashed).
        w.status = (w.status & ~(S_PENDING | S_UPGRADE)) | _DUMMY[t]
        w.pending = False
        sync.result.statuses.append(StatusChange(w.index, w.status & S_PERSISTENT))
        return
    flags = (w.pflags | a) & ~d
    sync.copies.append((w, Copy(t, w.index, uid, flags, upgrade=(a, d))))


def _next_index(sync: _Sync) -> int:
    """The record index the next new pair gets: after the state's records and the
    entries split off by upgrades and the new pairs before it."""
    return len(sync.state.records) + len(sync.result.upgrades) + len(sync.result.new_pairs)


def _new_entry(sync: _Sync, s: int, uid: int, m: MessageInfo) -> _Work:
    """Step 5: message ``uid`` of side ``s`` has no entry yet: a new pending one,
    named after the state's records and the split-off ones."""
    w = _Work(_next_index(sync), [0, 0], 0, True, None)
    w.uid[s] = uid
    w.msg[s] = m
    sync.by_uid[s][uid] = w
    sync.newmax[s] = max(sync.newmax[s], uid)
    return w


def _copy_or_doom(sync: _Sync, w: _Work, t: int, uid: int, m: MessageInfo, new: bool) -> None:
    """Step 5: copy ``uid`` to side ``t`` for ``w`` (a ``+`` first for a ``new``
    entry), unless it carries T and a side expunges ("would be expunged anyway"):
    then the entry dies.  Bigger than side ``t``'s MaxSize: a placeholder."""
    result = sync.result
    doomed = (sync.expunge[t] or sync.expunge[1 - t]) and bool(m.flags & TRASHED)
    if new:
        result.new_pairs.append(NewPair(w.uid[FAR], w.uid[NEAR], doomed=doomed))
        if not doomed:
            sync.work.append(w)
    elif doomed:
        result.kills.append(w.index)
    if doomed:
        w.dead = True
        return
    flags = m.flags & ALL
    max_size = sync.expiry.max_size[t]
    if max_size and m.size > max_size and not w.status & (S_DUMMY_FAR | S_DUMMY_NEAR):
        w.status |= _DUMMY[t]
        result.placeholders.append(w.index)
    dummy = bool(w.status & _DUMMY[t])
    if dummy:
        flags &= ~FLAGGED  # a flagged placeholder would ask for its upgrade
    sync.copies.append((w, Copy(t, w.index, uid, flags, dummy, m.size)))


def _schedule_copies(sync: _Sync) -> None:
    """After step 6: the copies of step 5 whose entry is still pending (expiry drops
    the excess ones before they are born)."""
    for w, c in sync.copies:
        if w is None or (w.pending and not w.dead):
            sync.result.copies[c.target].append(c)


def _decide_flag_stores(sync: _Sync) -> None:
    """Step 7, first half: the flag changes of every pair with a copy on a side
    (``_flag_store``); ``sync.cur`` follows each side's flags as they will be, where
    they differ from the listed ones."""
    sync.cur = [{}, {}]
    for w in sync.work:
        if w.dead or (w.pending and not w.status & S_UPGRADE):
            continue
        for t in (FAR, NEAR):
            if w.uid[t] and not w.gone[t]:
                _flag_store(sync, w, t)


def _flag_store(sync: _Sync, w: _Work, t: int) -> None:
    """Step 7, one message: the flags side ``t``'s copy of ``w`` gets (a STORE when
    they change, journal ``*`` when the synced flags move, ``~`` when an expiry moves
    on, ``P`` for a purged placeholder).  A message that is going away gets only its
    T; with its flags listed, only real changes are stored."""
    uid = w.uid[t]
    a, d = w.aflags[t], w.dflags[t]
    purge = bool(w.status & S_PURGE)
    if (w.delete or purge) and not a:
        return
    expiring = (
        not w.delete
        and not purge
        and t == sync.xt
        and bool(w.status & S_EXPIRE) != bool(w.status & S_EXPIRED)
    )
    if expiring:
        # An expiry is under way: T follows the wanted state, so a canceled expiry
        # takes its T back.
        if w.nexpire:
            a |= TRASHED
        else:
            d |= TRASHED
    m = w.msg[t]
    cur = sync.cur[t]
    have = _flags_now(sync, t, uid) if m is not None else 0
    keeps_flags = sync.expiry.trash[t] and not sync.expiry.trash_only_new[t]
    if sync.expunge[t] and (have | a) & ~d & TRASHED and not keeps_flags:
        # It is going away: only the deletion matters.
        _put(w, "aflags", t, w.aflags[t] & TRASHED)
        a &= TRASHED
        _put(w, "dflags", t, 0)
        d = 0
    if m is not None and sync.loads[t].flags:
        # Unlisted flags are unknown (mbsync's M_FLAGS): the change is made anyway.
        a &= ~have
        d &= have
    synced: int | None = None
    if purge:
        w.status = (w.status & ~S_PURGE) | S_PURGED
    elif not w.delete:
        nflags = (w.flags | w.aflags[t]) & ~w.dflags[t]
        if nflags != w.flags:
            synced = nflags
            w.flags = nflags
    status = _expiry_moves_on(sync, w) if expiring else None
    if a or d or synced is not None or status is not None or purge:
        old = have if m is not None else None
        sync.result.flags.append(SetFlags(t, w.index, uid, a, d, synced, old, status, purge))
    if a or d:
        if m is not None:
            cur[uid] = (have | a) & ~d
        if a & TRASHED:
            _put(w, "deleted", t, True)
            if w.delete:
                sync.result.vanished[t].append(uid)
        elif d & TRASHED:
            _put(w, "deleted", t, False)


def _flags_now(sync: _Sync, t: int, uid: int) -> int:
    """Side ``t``'s message ``uid``'s flags as step 7 left them so far (0: not listed)."""
    flags = sync.cur[t].get(uid)
    if flags is None:
        flags = sync.msgs[t].flags.get(uid, 0)
    return flags


def _expiry_moves_on(sync: _Sync, w: _Work) -> int:
    """Step 6's transaction, as its T is stored: EXPIRE -> EXPIRED when the expiry is
    still wanted (MaxExpired then covers the pair), or back when it was canceled.
    Returns the persistent status to journal (``~``)."""
    st = w.status
    if w.nexpire == bool(st & S_EXPIRE):
        if w.nexpire:
            sync.maxxf = max(sync.maxxf, w.uid[1 - sync.xt])
        st = (st & ~S_EXPIRED) | (S_EXPIRED if w.nexpire else 0)
    else:
        st = (st & ~S_EXPIRE) | (S_EXPIRE if w.nexpire else 0)
    w.status = st
    return st & S_PERSISTENT


def _decide_expunges(sync: _Sync) -> None:
    """Step 8: what each side expunges (everything listed that carries T by now; with
    ExpungeSolo only what ``_alone`` allows) and what goes to a Trash first
    (``_to_trash``).  Both sides are decided before either is expunged; an expunged
    message counts as gone for step 9 (not with ``fake_expunge``)."""
    result, by_uid = sync.result, sync.by_uid
    for t in (FAR, NEAR):
        if not sync.expunge[t] and not sync.solo[t]:
            continue
        cur = sync.cur[t]
        gone_uids = sorted(
            [u for u, f in sync.msgs[t].flags.items() if f & TRASHED and u not in cur]
            + [u for u, f in cur.items() if f & TRASHED]
        )
        if not sync.expunge[t]:
            gone_uids = [
                u for u in gone_uids if _alone(by_uid[t].get(u), t, u, sync.expunge, sync.xt)
            ]
        result.expunge[t].extend(gone_uids)
    for t in (FAR, NEAR):
        _to_trash(t, by_uid[t], sync.xt, sync.expiry, sync.trashed, result)
    for t in (FAR, NEAR):
        for uid in [] if sync.fake_expunge else result.expunge[t]:
            w_gone = by_uid[t].get(uid)
            if w_gone is not None and w_gone.uid[t] == uid:
                _put(w_gone, "gone", t, True)


def _finish(sync: _Sync) -> None:
    """Step 9: the new max UIDs, and the entries pruned after the expunges: both
    sides gone -> killed; one side gone and the other deleted -> orphaned (that UID
    0); expired and covered by MaxExpired and the max UID -> killed."""
    xt, newmax, maxxf, result = sync.xt, sync.newmax, sync.maxxf, sync.result
    result.new_maxuid = (newmax[FAR], newmax[NEAR])
    for w in sync.work:
        if w.dead or w.pending:
            continue
        if (
            w.status & S_EXPIRED
            and (not w.uid[xt] or w.gone[xt])
            and newmax[1 - xt] >= w.uid[1 - xt]
            and maxxf >= w.uid[1 - xt]
        ):
            result.prune.append(Prune(w.index, kill=True, expired=True))
        elif not w.uid[NEAR] or w.gone[NEAR]:
            if not w.uid[FAR] or w.gone[FAR]:
                result.prune.append(Prune(w.index, kill=True))
            elif w.uid[NEAR] and w.deleted[FAR]:
                result.prune.append(Prune(w.index, kill=False, side=NEAR))
        elif w.uid[FAR] and w.gone[FAR] and w.deleted[NEAR]:
            result.prune.append(Prune(w.index, kill=False, side=FAR))


def _visible(listing: Mapping[int, MessageInfo], load: SideLoad) -> Listing:
    """The messages of ``listing`` that ``load`` asked for (all of them, usually: then
    the listing itself, which the plan only reads)."""
    listing = as_listing(listing)
    lo, hi, extra = load.min_uid, load.max_uid, load.extra
    # A window over every UID there can be (NOTHING is beyond them all, and is the
    # usual window) needs no look at the UIDs.
    if not listing or (lo <= 1 and hi >= NOTHING) or (lo <= min(listing) and max(listing) <= hi):
        return listing
    return Listing.of({u: m for u, m in listing.items() if lo <= u <= hi or u in extra})


def _expire(w_list: list[_Work], xt: int, expiry: Expiry, result: Plan, maxxf: int) -> int:
    """MaxMessages (step 6): mark the oldest excess pairs for expiry on side ``xt``.

    Flagged and (unless ExpireUnread) unread messages are important and kept.  Pairs
    are ordered by the other side's UID (arrival order).  A pair being copied that is
    excess is expired before it is born (not copied at all).  Returns the raised
    MaxExpired bound; sets ``result.refusal`` when too many unread messages would
    have to stay and ExpireUnread is unset.
    """
    dummy_x = S_DUMMY_FAR if xt == FAR else S_DUMMY_NEAR
    alive: list[tuple[_Work, int]] = []
    for w in w_list:
        if w.dead or not w.uid[1 - xt]:
            continue
        src = w.msg[1 - xt]
        if not w.pending:
            m = w.msg[xt]
            if m is None:
                continue
            nflags = m.flags
            if w.status & dummy_x:
                # A placeholder's Seen/Flagged say nothing: the real message's count.
                if src is None:
                    continue
                add = src.flags & ~w.flags & (SEEN | FLAGGED)
                rm = ~src.flags & w.flags & SEEN
                nflags = (nflags & (~(SEEN | FLAGGED) | (w.flags & SEEN)) & ~rm) | add
            nflags = (nflags | w.aflags[xt]) & ~w.dflags[xt]
        elif w.status & S_UPGRADE:
            # Being upgraded: the placeholder's flags, with what the real one changes.
            nflags = (w.pflags | w.aflags[xt]) & ~w.dflags[xt]
        else:
            if src is None:
                continue
            nflags = src.flags
        if not nflags & TRASHED or w.status & (S_EXPIRE | S_EXPIRED):
            alive.append((w, nflags))
    alive.sort(key=lambda item: item[0].uid[1 - xt])
    todel = len(alive) - expiry.max_messages
    unseen = 0
    for w, nflags in alive:
        important = bool(nflags & FLAGGED)
        if not important and not nflags & SEEN:
            if todel > 0:
                unseen += 1
            important = not expiry.expire_unread
        if important:
            todel -= 1
            continue
        both = S_EXPIRE | S_EXPIRED
        m = w.msg[xt]
        if (
            todel > 0
            or w.status & both == both
            or (w.status & both and m is not None and m.flags & TRASHED)
        ):
            w.nexpire = True
            todel -= 1
    if expiry.expire_unread is None and unseen * 2 > expiry.max_messages:
        result.refusal = (unseen, expiry.max_messages)
        return maxxf
    for w, _ in alive:
        if not w.pending:
            if w.nexpire != bool(w.status & S_EXPIRED) and w.nexpire != bool(w.status & S_EXPIRE):
                w.status = (w.status & ~S_EXPIRE) | (S_EXPIRE if w.nexpire else 0)
                result.statuses.append(StatusChange(w.index, w.status & S_PERSISTENT))
        elif w.nexpire:
            # Excess before it was even copied: not copied at all.
            w.status = S_EXPIRE | S_EXPIRED
            w.pending = False
            result.statuses.append(StatusChange(w.index, w.status))
            maxxf = max(maxxf, w.uid[1 - xt])
    return maxxf


def _alone(w: _Work | None, t: int, uid: int, expunge: list[bool], xt: int) -> bool:
    """ExpungeSolo: may this deleted message on side ``t`` be expunged (mbsync's rule)?

    Yes when it has no pair, its partner is gone or goes now, or it expired; not while
    it is being copied.
    """
    if w is None or w.dead or w.uid[t] != uid:
        return True  # isolated
    o = 1 - t
    if not (
        not w.uid[o]
        or w.gone[o]
        or (expunge[o] and w.deleted[o])
        or (t == xt and w.status & (S_EXPIRE | S_EXPIRED))
    ):
        return False
    return not w.pending


def _to_trash(
    t: int,
    by_uid: dict[int, _Work],
    xt: int,
    expiry: Expiry,
    trashed: Collection[tuple[str, int]],
    result: Plan,
) -> None:
    """Which of side ``t``'s expunged messages go to a Trash first (mbsync's rules).

    Not expired ones, not placeholders; with TrashNewOnly / TrashRemoteNew only "new"
    ones: no pair, or a placeholder as partner.  Nothing twice after a resume.
    """
    if expiry.trash[t]:
        only_new, out = expiry.trash_only_new[t], result.trash[t]
    elif expiry.trash[1 - t] and expiry.trash_remote_new[1 - t]:
        only_new, out = True, result.remote_trash[t]
    else:
        return
    for uid in result.expunge[t]:
        w = by_uid.get(uid)
        if w is not None and not w.dead and w.uid[t] == uid:
            if t == xt and w.status & (S_EXPIRE | S_EXPIRED):
                continue  # deleted only by expiry
            if w.status & (_DUMMY[t] | S_PURGED):
                continue
            if only_new and not w.status & (_DUMMY[1 - t] | S_SKIPPED):
                continue
        if (SIDES[t], uid) in trashed:
            continue
        out.append(uid)
