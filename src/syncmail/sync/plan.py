"""The sync decision for one box pair: a pure function of the listings, the state and the ops.

This is mbsync's ``box_opened2``/``load_box`` (what to list) and ``box_loaded`` /
``box_closed_p2`` (what to do), mbsync.md section 4, without I/O: ``load_specs`` says
what each side must list, ``plan`` returns the actions in the order the engine applies
them.  Deliberate differences from mbsync 1.5:

- not implemented yet: MaxMessages expiry, MaxSize placeholders and Upgrade, Trash,
  ExpungeSolo, and supported-flag masking (every store is taken to support all six);
- setting flags on a side makes it list its paired messages (mbsync's Maildir rule,
  used for IMAP too), and a side that expunges lists everything (the Store contract
  expunges by UID, so the engine must know them all);
- doomed new messages (T while a side expunges) get their ``+``/``-`` pair like in
  mbsync, so MaxPulled/MaxPushed move past them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from syncmail.config.model import Operations, SyncType
from syncmail.flags import ALL, FLAGGED, SEEN, TRASHED
from syncmail.store.base import ListRequest, MessageInfo
from syncmail.sync.state import (
    S_DUMMY_FAR,
    S_DUMMY_NEAR,
    S_EXPIRE,
    S_EXPIRED,
    S_PENDING,
    SyncState,
)

FAR = 0
NEAR = 1
SIDES = ("far", "near")
_INF = 1 << 62
# ListRequest.min_uid that lists nothing (UIDs are 32 bit).
NOTHING = 1 << 32


@dataclass(frozen=True)
class SideLoad:
    """What one side must list (mbsync's OPEN_* options and UID window)."""

    paired: bool = False  # live pairs' messages are listed: a missing one is gone
    new: bool = False
    old: bool = False
    flags: bool = False
    min_uid: int = NOTHING
    max_uid: int = 0
    tuid_from: int | None = None

    @property
    def listed(self) -> bool:
        return self.min_uid <= self.max_uid

    def visible(self, uid: int) -> bool:
        return self.min_uid <= uid <= self.max_uid

    def request(self) -> ListRequest:
        return ListRequest(
            min_uid=self.min_uid if self.listed else NOTHING, tuid_from=self.tuid_from
        )


def bump_maxuid(maxuid: int, uid: int) -> int:
    """A copy got ``uid``: it raises the max UID only when it is the very next one."""
    return uid if uid == maxuid + 1 else maxuid


def _toward(ops: Operations, t: int) -> frozenset[SyncType]:
    """Operation types that change side ``t`` (push changes far, pull changes near)."""
    return ops.sync.push if t == FAR else ops.sync.pull


def _expunges(ops: Operations, t: int) -> bool:
    return SIDES[t] in ops.expunge


def load_specs(
    state: SyncState, ops: Operations, *, saved_uidnext: Mapping[str, int] | None = None
) -> tuple[SideLoad, SideLoad]:
    """What the far and near side must list for ``plan`` to decide (mbsync's load_box)."""
    saved = saved_uidnext or {}
    maxuid = (state.max_pulled, state.max_pushed)
    any_new = [False, False]
    any_old = [False, False]
    any_tuids = [False, False]
    seen = [0, 0]
    for rec in state.records:
        if rec.dead:
            continue
        uids = (rec.far_uid, rec.near_uid)
        seen[FAR] = max(seen[FAR], rec.far_uid)
        seen[NEAR] = max(seen[NEAR], rec.near_uid)
        if rec.status & S_PENDING:
            t = FAR if not rec.far_uid else NEAR
            if uids[1 - t] <= maxuid[1 - t]:
                any_old[t] = True
            else:
                any_new[t] = True
            if rec.tuid:
                any_tuids[t] = True
    opts: list[set[str]] = [set(), set()]
    for t in (FAR, NEAR):
        s = 1 - t
        types = _toward(ops, t)
        if any_tuids[t]:
            opts[t] |= {"new", "find"}
        if types & {"gone", "flags"}:
            opts[t].add("setflags")
            opts[s].add("paired")
            if "flags" in types:
                opts[s].add("flags")
        if types & {"old", "new"} or any_old[t] or any_new[t]:
            if "old" in types or any_old[t]:
                opts[s].add("old")
            if "new" in types or any_new[t]:
                opts[s].add("new")
            if _expunges(ops, t) or _expunges(ops, s):
                opts[s].add("flags")
    loads = []
    for t in (FAR, NEAR):
        o = opts[t]
        if "setflags" in o:
            o.add("paired")
        if _expunges(ops, t):
            o |= {"paired", "old", "new", "flags"}
        lo, hi = NOTHING, 0
        if "new" in o:
            if "old" in o:
                o.add("paired")
                lo = 1
            elif "paired" not in o:
                lo = maxuid[t] + 1
            else:
                lo = 1
            hi = _INF
        elif o & {"paired", "old"}:
            lo = 1
            if "old" in o:
                hi = maxuid[t]
                if hi < seen[t]:
                    if "paired" in o:
                        hi = seen[t]
                else:
                    o.add("paired")
            else:
                hi = seen[t]
        find = saved.get(SIDES[t]) if "find" in o else None
        loads.append(
            SideLoad(
                paired="paired" in o,
                new="new" in o,
                old="old" in o,
                flags="flags" in o,
                min_uid=lo,
                max_uid=hi,
                tuid_from=find if find else (1 if "find" in o else None),
            )
        )
    return loads[FAR], loads[NEAR]


# --- actions ------------------------------------------------------------------------
# Records are named by their index in ``state.records``; new pairs are appended by the
# engine in ``Plan.new_pairs`` order, so new pair k is ``len(state.records) + k``.


@dataclass(frozen=True)
class TuidMatch:
    """A pending copy of an interrupted run was found: journal ``<``/``>``."""

    record: int
    side: int
    uid: int


@dataclass(frozen=True)
class ExpiredOrphan:
    """An expired message vanished from the expire side: journal ``~ status``, then
    orphan the pair (``side``'s UID becomes 0) instead of propagating a deletion."""

    record: int
    status: int
    side: int


@dataclass(frozen=True)
class NewPair:
    """A new pending pair (``+``); ``doomed`` ones are killed at once (``-``)."""

    far_uid: int
    near_uid: int
    doomed: bool = False


@dataclass(frozen=True)
class SetFlags:
    """Change flags of ``uid`` on ``side`` (``add``/``remove`` may both be 0), then
    journal ``*`` with ``synced`` unless it is None."""

    side: int
    record: int
    uid: int
    add: int
    remove: int
    synced: int | None
    old_flags: int | None = None


@dataclass(frozen=True)
class Copy:
    """Copy ``source_uid`` to side ``target`` for ``record`` (pending)."""

    target: int
    record: int
    source_uid: int
    flags: int


@dataclass(frozen=True)
class Prune:
    """After expunging: ``kill`` the record, or orphan it (``side``'s UID becomes 0)."""

    record: int
    kill: bool
    side: int = NEAR


@dataclass
class Plan:
    """All actions of one box pair, in the order the engine applies them."""

    loads: tuple[SideLoad, SideLoad]
    tuid_matches: list[TuidMatch] = field(default_factory=list)
    tuid_lost: list[int] = field(default_factory=list)
    kills: list[int] = field(default_factory=list)
    expired_orphans: list[ExpiredOrphan] = field(default_factory=list)
    new_pairs: list[NewPair] = field(default_factory=list)
    flags: list[SetFlags] = field(default_factory=list)
    copies: tuple[list[Copy], list[Copy]] = field(default_factory=lambda: ([], []))
    expunge: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    new_maxuid: tuple[int, int] = (0, 0)
    prune: list[Prune] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def flag_updates(self) -> tuple[int, int]:
        """Number of store flag changes per side."""
        counts = [0, 0]
        for op in self.flags:
            if op.add or op.remove:
                counts[op.side] += 1
        return counts[FAR], counts[NEAR]

    @property
    def empty(self) -> bool:
        return not (
            self.tuid_matches
            or self.tuid_lost
            or self.kills
            or self.expired_orphans
            or self.new_pairs
            or any(op.add or op.remove for op in self.flags)
            or self.copies[FAR]
            or self.copies[NEAR]
            or self.expunge[FAR]
            or self.expunge[NEAR]
        )


@dataclass
class _Work:
    """One record as the decision goes along (mbsync's sync_rec_t runtime fields)."""

    index: int
    uid: list[int]
    flags: int
    pending: bool
    tuid: str | None
    msg: list[MessageInfo | None] = field(default_factory=lambda: [None, None])
    gone: list[bool] = field(default_factory=lambda: [False, False])
    deleted: list[bool] = field(default_factory=lambda: [False, False])
    aflags: list[int] = field(default_factory=lambda: [0, 0])
    dflags: list[int] = field(default_factory=lambda: [0, 0])
    delete: bool = False
    dead: bool = False
    status: int = 0


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
) -> Plan:
    """Decide everything for one box pair.  ``far``/``near`` may hold more messages than
    ``load_specs`` asked for; those outside the window are ignored, as mbsync never
    sees them.  ``far_expunge``/``near_expunge`` default to ``ops.expunge``.
    ``start_maxuid`` is where the new max UIDs start (after a journal replay:
    ``StateFiles.new_maxuid``), else the state's.

    ``Plan.new_maxuid`` does not yet count the copies the engine is about to store: a
    copy that gets exactly the next UID of its side raises it further (mbsync's
    ``assign_uid``), see ``bump_maxuid``.
    """
    if loads is None:
        loads = load_specs(state, ops, saved_uidnext=saved_uidnext)
    expunge = [
        _expunges(ops, FAR) if far_expunge is None else far_expunge,
        _expunges(ops, NEAR) if near_expunge is None else near_expunge,
    ]
    msgs: list[dict[int, MessageInfo]] = [
        {u: m for u, m in far.items() if loads[FAR].visible(u)},
        {u: m for u, m in near.items() if loads[NEAR].visible(u)},
    ]
    result = Plan(loads=loads)
    xt = FAR if expire_side == "far" else NEAR
    maxuid = [state.max_pulled, state.max_pushed]
    newmax = list(maxuid)
    if start_maxuid:
        newmax = [start_maxuid.get("far", maxuid[FAR]), start_maxuid.get("near", maxuid[NEAR])]
    work: list[_Work] = [
        _Work(
            i, [r.far_uid, r.near_uid], r.flags, bool(r.status & S_PENDING), r.tuid, status=r.status
        )
        for i, r in enumerate(state.records)
        if not r.dead
    ]

    # Copies of an interrupted run, found by X-TUID (mbsync's match_tuids).
    for t in (FAR, NEAR):
        start = loads[t].tuid_from
        by_tuid: dict[str, int] = {}
        if start is not None:
            for uid in sorted(msgs[t]):
                tuid = msgs[t][uid].tuid
                if uid >= start and tuid and tuid not in by_tuid:
                    by_tuid[tuid] = uid
        for w in work:
            if w.uid[t] or not w.tuid or not w.pending:
                continue
            found = by_tuid.pop(w.tuid, None)
            if found is None:
                result.tuid_lost.append(w.index)
            else:
                result.tuid_matches.append(TuidMatch(w.index, t, found))
                newmax[t] = bump_maxuid(newmax[t], found)
                w.uid[t] = found
                w.pending = False
                w.flags = state.records[w.index].pending_flags
            w.tuid = None

    by_uid: list[dict[int, _Work]] = [{}, {}]
    for w in work:
        for t in (FAR, NEAR):
            if w.uid[t]:
                by_uid[t][w.uid[t]] = w
                w.msg[t] = msgs[t].get(w.uid[t])

    # Old entries (step 4).
    for w in work:
        no = [w.msg[t] is None and loads[t].paired for t in (FAR, NEAR)]
        if no[FAR] and no[NEAR]:
            w.dead = True
            result.kills.append(w.index)
            continue
        gone_now = [no[t] and w.uid[t] != 0 for t in (FAR, NEAR)]
        for t in (FAR, NEAR):
            m = w.msg[t]
            if m is not None and m.flags & TRASHED:
                w.deleted[t] = True
        for t in (FAR, NEAR):
            s = 1 - t
            src = w.msg[s]
            if gone_now[t]:
                w.gone[t] = True
            elif not w.uid[t]:
                pass
            elif gone_now[s] and t != xt and w.status & (S_EXPIRE | S_EXPIRED):
                # The expire side lost an expired message: that is no deletion to
                # propagate (it would delete the far copy); the pair is orphaned.
                w.status |= S_EXPIRE | S_EXPIRED
                result.expired_orphans.append(ExpiredOrphan(w.index, w.status, xt))
                w.uid[xt] = 0
            elif gone_now[s]:
                m = w.msg[t]
                if m is not None and (
                    (m.flags & ~TRASHED) != (w.flags & ~TRASHED)
                    or (not m.flags & TRASHED and w.flags & TRASHED)
                ):
                    result.notices.append(f"conflicting changes in ({w.uid[FAR]},{w.uid[NEAR]})")
                if "gone" in _toward(ops, t):
                    w.aflags[t] = TRASHED
                    w.delete = True
            elif src is None:
                pass
            elif "flags" in _toward(ops, t):
                sflags = src.flags & ALL
                if t != xt and w.status & (S_EXPIRE | S_EXPIRED):
                    sflags &= ~TRASHED  # the expiry's T is no user's deletion
                if w.status & (S_DUMMY_FAR if s == FAR else S_DUMMY_NEAR):
                    # From placeholders: no Seen (un-seeing only), no Flagged.
                    sflags &= ~(SEEN | FLAGGED) | (w.flags & SEEN)
                elif w.status & (S_DUMMY_FAR if t == FAR else S_DUMMY_NEAR):
                    sflags &= ~FLAGGED  # it would read as a request to upgrade
                w.aflags[t] = sflags & ~w.flags
                w.dflags[t] = ~sflags & w.flags & ALL

    # New messages (step 5); pushes (target far) first, as mbsync.
    base = len(state.records)
    for t in (FAR, NEAR):
        s = 1 - t
        types = _toward(ops, t)
        topping = True
        for uid in sorted(msgs[s]):
            m = msgs[s][uid]
            w_or_none = by_uid[s].get(uid)
            if w_or_none is not None:
                w = w_or_none
                if w.dead:
                    continue
                if topping and newmax[s] < uid:
                    newmax[s] = uid
                if not w.pending:
                    continue
                new = False
            else:
                # The expire side never tops without expiry (MaxExpiredUid is 0).
                topping = False
                if uid <= maxuid[s]:
                    if "old" not in types:
                        continue
                elif "new" not in types:
                    continue
                w = _Work(base + len(result.new_pairs), [0, 0], 0, True, None)
                w.uid[s] = uid
                w.msg[s] = m
                by_uid[s][uid] = w
                newmax[s] = max(newmax[s], uid)
                new = True
            doomed = (expunge[t] or expunge[s]) and bool(m.flags & TRASHED)
            if new:
                result.new_pairs.append(NewPair(w.uid[FAR], w.uid[NEAR], doomed=doomed))
                if not doomed:
                    work.append(w)
            elif doomed:
                result.kills.append(w.index)
            if doomed:
                w.dead = True
                continue
            result.copies[t].append(Copy(t, w.index, uid, m.flags & ALL))

    # Flags (step 7, first half).
    cur: list[dict[int, int]] = [
        {u: m.flags for u, m in msgs[FAR].items()},
        {u: m.flags for u, m in msgs[NEAR].items()},
    ]
    for w in work:
        if w.dead or w.pending:
            continue
        for t in (FAR, NEAR):
            uid = w.uid[t]
            if not uid or w.gone[t]:
                continue
            a, d = w.aflags[t], w.dflags[t]
            if w.delete and not a:
                continue
            m = w.msg[t]
            have = cur[t].get(uid, 0) if m is not None else 0
            if expunge[t] and (have | a) & ~d & TRASHED:
                # It is going away: only the deletion matters.
                w.aflags[t] &= TRASHED
                a &= TRASHED
                w.dflags[t] = d = 0
            if m is not None:
                a &= ~have
                d &= have
            synced: int | None = None
            if not w.delete:
                nflags = (w.flags | w.aflags[t]) & ~w.dflags[t]
                if nflags != w.flags:
                    synced = nflags
                    w.flags = nflags
            if a or d or synced is not None:
                result.flags.append(
                    SetFlags(t, w.index, uid, a, d, synced, have if m is not None else None)
                )
            if a or d:
                if m is not None:
                    cur[t][uid] = (have | a) & ~d
                if a & TRASHED:
                    w.deleted[t] = True
                elif d & TRASHED:
                    w.deleted[t] = False

    # Expunge (step 8): everything listed that carries T by now.
    for t in (FAR, NEAR):
        if not expunge[t]:
            continue
        gone_uids = sorted(u for u, f in cur[t].items() if f & TRASHED)
        result.expunge[t].extend(gone_uids)
        for uid in gone_uids:
            w_gone = by_uid[t].get(uid)
            if w_gone is not None and w_gone.uid[t] == uid:
                w_gone.gone[t] = True

    # Finish (step 9): new maxuids, prune.
    result.new_maxuid = (newmax[FAR], newmax[NEAR])
    for w in work:
        if w.dead or w.pending:
            continue
        if (
            w.status & S_EXPIRED
            and (not w.uid[xt] or w.gone[xt])
            and newmax[1 - xt] >= w.uid[1 - xt]
            and state.max_expired >= w.uid[1 - xt]
        ):
            result.prune.append(Prune(w.index, kill=True))
        elif not w.uid[NEAR] or w.gone[NEAR]:
            if not w.uid[FAR] or w.gone[FAR]:
                result.prune.append(Prune(w.index, kill=True))
            elif w.uid[NEAR] and w.deleted[FAR]:
                result.prune.append(Prune(w.index, kill=False, side=NEAR))
        elif w.uid[FAR] and w.gone[FAR] and w.deleted[NEAR]:
            result.prune.append(Prune(w.index, kill=False, side=FAR))
    return result
