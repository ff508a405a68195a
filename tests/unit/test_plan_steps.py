"""Table tests of each step of syncmail.sync.plan, one table per step function, in the
order of mbsync.md section 4.  Each row is a small box pair and the decision the step
makes; its id names the mbsync rule it checks.  The steps before the one under test
run as ``plan`` runs them (``_ready``), so each step sees the context it sees there.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from syncmail.config.model import Operations
from syncmail.flags import FLAGGED, SEEN, TRASHED, from_letters
from syncmail.store.base import MessageInfo
from syncmail.sync.plan import (
    FAR,
    NEAR,
    Expiry,
    _copy_or_doom,
    _decide_expunges,
    _decide_flag_stores,
    _decide_new_messages,
    _decide_old_entries,
    _entries_to_decide,
    _expire,
    _finish,
    _index_by_uid,
    _match_tuids,
    _propagate_flags,
    _schedule_copies,
    _start,
    _Sync,
    _upgrade_if_flagged,
    _Work,
)
from syncmail.sync.state import (
    S_DUMMY_NEAR,
    S_EXPIRE,
    S_EXPIRED,
    S_PENDING,
    S_PURGE,
    S_SKIPPED,
    S_UPGRADE,
    SyncRecord,
    SyncState,
)
from tests.unit.plan_tables import ops

BIG = 2000
T, S, F = TRASHED, SEEN, FLAGGED


def box(spec: str) -> dict[int, MessageInfo]:
    """``"1:S 2:FT 3:*"``: UID, flag letters, ``*`` for a message over MaxSize 1000."""
    out = {}
    for cell in spec.split():
        uid, letters = cell.split(":")
        size = BIG if "*" in letters else 100
        out[int(uid)] = MessageInfo(int(uid), from_letters(letters), size=size)
    return out


def rec(far: int, near: int, letters: str = "", status: int = 0, **kw: Any) -> SyncRecord:
    return SyncRecord(far, near, from_letters(letters), status, **kw)


@dataclass
class Case:
    """A box pair: listings, state entries, max UIDs and channel settings."""

    far: str = ""
    near: str = ""
    records: list[SyncRecord] = field(default_factory=list)
    maxuid: tuple[int, int] = (0, 0)
    max_expired: int = 0
    ops: Operations = field(default_factory=ops)
    expiry: Expiry = field(default_factory=Expiry)
    kw: dict[str, Any] = field(default_factory=dict)


_ORDER = ["entries", "tuids", "index", "old", "new", "expire", "schedule", "flags", "expunge"]


def _ready(case: Case, until: str) -> _Sync:
    """The context step ``until`` gets in ``plan``: the steps before it are run."""
    records = [copy.copy(r) for r in case.records]
    state = SyncState(1, 1, case.maxuid[FAR], case.maxuid[NEAR], case.max_expired, records)
    extra = dict(case.kw)
    far = extra.pop("far_listing", None) or box(case.far)
    near = extra.pop("near_listing", None) or box(case.near)
    kw: dict[str, Any] = {
        "far_expunge": None, "near_expunge": None, "saved_uidnext": None, "loads": None,
        "start_maxuid": None, "trashed": (), "fake_expunge": False,
    }  # fmt: skip
    kw.update(extra)
    sync = _start(far, near, state, case.ops, expiry=case.expiry, **kw)
    stop = _ORDER.index(until)
    clean: list[list[int]] = [[], []]
    if stop > 0:
        clean = _entries_to_decide(sync)
    if stop > 1:
        _match_tuids(sync)
    if stop > 2:
        _index_by_uid(sync, clean)
    if stop > 3:
        _decide_old_entries(sync)
    if stop > 4:
        for t in (FAR, NEAR):
            _decide_new_messages(sync, t)
    if stop > 5 and sync.expiry.expiring(sync.ops):
        sync.maxxf = _expire(sync.work, sync.xt, sync.expiry, sync.result, sync.maxxf)
    if stop > 6:
        _schedule_copies(sync)
    if stop > 7:
        _decide_flag_stores(sync)
    if stop > 8:
        _decide_expunges(sync)
    return sync


def _work(sync: _Sync, index: int) -> _Work:
    return next(w for w in sync.work if w.index == index)


# --- step 3: which entries need a decision -------------------------------------------

ENTRIES = [
    pytest.param(Case("1:S", "1:S", [rec(1, 1, "S")]), [], [[1], [1]],
                 id="clean pair (both listed with the synced flags) left out"),
    pytest.param(Case("1:S", "1:S", [rec(1, 1, "S")], expiry=Expiry(max_messages=5)), [0],
                 [[], []], id="MaxMessages counts every pair: clean ones kept"),
    pytest.param(Case("1:S", "1:", [rec(1, 1, "")]), [0], [[], []],
                 id="flags differ from the synced ones: decided"),
    pytest.param(Case("1:T", "1:T", [rec(1, 1, "T")]), [0], [[], []],
                 id="synced T: never clean (it may be expunged)"),
    pytest.param(Case("1:", "1:", [rec(1, 1, dead=True)]), [], [[], []],
                 id="dead entry: ignored"),
    pytest.param(Case("1:", "1:", [rec(1, 1, "", S_PENDING)]), [0], [[], []],
                 id="pending copy: decided"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "work", "clean"), ENTRIES)
def test_entries_to_decide(case: Case, work: list[int], clean: list[list[int]]) -> None:
    sync = _ready(case, "entries")
    assert _entries_to_decide(sync) == clean
    assert [w.index for w in sync.work] == work


def test_an_interrupted_upgrade_is_resumed_with_its_flags() -> None:
    # The split-off placeholder still needs T; the real copy's "$" changes are kept.
    case = Case("1:S", "1:F", [
        rec(1, 0, "", S_PENDING | S_UPGRADE, pending_flags=S, upgrade_add=F, upgrade_del=S),
        rec(0, 1, "", S_PURGE),
    ])  # fmt: skip
    sync = _ready(case, "entries")
    _entries_to_decide(sync)
    up, purge = sync.work
    assert (up.pflags, up.aflags, up.dflags) == (S, [0, F], [0, S])
    assert purge.aflags == [0, T]


# --- step 3: pending copies found by X-TUID -----------------------------------------


def _tuid_case(near: dict[int, MessageInfo], uidnext: int, tuid: str = "abc") -> Case:
    pending = rec(3, 0, "", S_PENDING, tuid=tuid, pending_flags=S)
    kw = {"near_listing": near, "saved_uidnext": {"near": uidnext}}
    return Case("3:S", "", [pending], maxuid=(3, 4), kw=kw)


def _tuid(uid: int, tuid: str | None) -> MessageInfo:
    return MessageInfo(uid, S, tuid=tuid)


TUIDS = [
    pytest.param(_tuid_case({5: _tuid(5, "abc")}, 5), [(0, NEAR, 5)], [], 5,
                 id="copy of an interrupted run found by X-TUID: adopted, max UID bumped"),
    pytest.param(_tuid_case({5: _tuid(5, "xyz")}, 5), [], [0], 4,
                 id="X-TUID not found: lost, copied again"),
    pytest.param(_tuid_case({4: _tuid(4, "abc")}, 5), [], [0], 4,
                 id="only from the saved UIDNEXT on"),
    pytest.param(_tuid_case({6: _tuid(6, "abc"), 7: _tuid(7, "abc")}, 5), [(0, NEAR, 6)], [], 4,
                 id="the first of twins wins; not the next UID: max UID stays"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "matches", "lost", "newmax"), TUIDS)
def test_match_tuids(
    case: Case, matches: list[tuple[int, int, int]], lost: list[int], newmax: int
) -> None:
    sync = _ready(case, "tuids")
    _match_tuids(sync)
    assert [(m.record, m.side, m.uid) for m in sync.result.tuid_matches] == matches
    assert sync.result.tuid_lost == lost
    assert sync.newmax[NEAR] == newmax
    if matches:
        assert sync.work[0].flags == S and not sync.work[0].pending  # "%" flags


# --- step 4: old entries ----------------------------------------------------------------

OLD = [
    # (case, kills, aflags, dflags, delete, notices)
    pytest.param(Case("", "", [rec(1, 1)]), [0], [0, 0], [0, 0], False, [],
                 id="both messages gone: entry killed"),
    pytest.param(Case("", "1:S", [rec(1, 1, "S")]), [], [0, T], [0, 0], True, [],
                 id="far expunged, Gone toward near: T there"),
    pytest.param(Case("", "1:S", [rec(1, 1, "S")], ops=ops(pull="new flags")), [], [0, 0],
                 [0, 0], False, [], id="far expunged, no Gone toward near: nothing"),
    pytest.param(Case("", "1:SF", [rec(1, 1, "S")]), [], [0, T], [0, 0], True,
                 ["conflicting changes in (1,1)"], id="deletion meets a flag edit: notice"),
    pytest.param(Case("1:SR", "1:", [rec(1, 1, "")]), [], [0, S | from_letters("R")], [0, 0],
                 False, [], id="add = src & ~synced"),
    pytest.param(Case("1:", "1:S", [rec(1, 1, "S")]), [], [0, 0], [0, S], False, [],
                 id="del = ~src & synced"),
    pytest.param(Case("1:S", "1:F", [rec(1, 1, "")]), [], [F, S], [0, 0], False, [],
                 id="both sides edited: per-flag union, no conflict"),
    pytest.param(Case("1:S", "1:", [rec(1, 1, "")], ops=ops(pull="new gone")), [], [0, 0],
                 [0, 0], False, [], id="no Flags toward near: flags stay"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "kills", "aflags", "dflags", "delete", "notices"), OLD)
def test_decide_old_entries(
    case: Case,
    kills: list[int],
    aflags: list[int],
    dflags: list[int],
    delete: bool,
    notices: list[str],
) -> None:
    sync = _ready(case, "old")
    _decide_old_entries(sync)
    w = sync.work[0]
    assert sync.result.kills == kills
    assert (list(w.aflags), list(w.dflags), w.delete) == (aflags, dflags, delete)
    assert sync.result.notices == notices


def test_an_expired_message_gone_from_the_expire_side_orphans_the_pair() -> None:
    # Not a deletion to propagate (it would delete the far copy): near's UID becomes 0.
    case = Case("1:S", "", [rec(1, 1, "S", S_EXPIRE | S_EXPIRED)], maxuid=(1, 1))
    sync = _ready(case, "old")
    _decide_old_entries(sync)
    w = sync.work[0]
    assert [(o.record, o.side) for o in sync.result.expired_orphans] == [(0, NEAR)]
    assert (w.uid, list(w.aflags), w.delete) == ([1, 0], [0, 0], False)


PROPAGATE = [
    # (status, synced flags, toward, source flags, aflags, dflags)
    pytest.param(0, "", NEAR, "FS", F | S, 0, id="plain pair: everything travels"),
    pytest.param(S_EXPIRE, "", FAR, "ST", S, 0, id="the expiry's T is no user's deletion"),
    pytest.param(S_DUMMY_NEAR, "", FAR, "FS", 0, 0,
                 id="from a placeholder: no Seen, no Flagged"),
    pytest.param(S_DUMMY_NEAR, "S", FAR, "", 0, S, id="from a placeholder: un-seeing travels"),
    pytest.param(S_DUMMY_NEAR, "", NEAR, "FS", S, 0,
                 id="to a placeholder: no Flagged (it asks for an upgrade)"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "synced", "t", "src", "aflags", "dflags"), PROPAGATE)
def test_propagate_flags(
    status: int, synced: str, t: int, src: str, aflags: int, dflags: int
) -> None:
    sync = _ready(Case(), "old")
    w = _Work(0, [1, 1], from_letters(synced), False, None, status=status)
    _propagate_flags(sync, w, t, from_letters(src))
    assert (w.aflags[t], w.dflags[t]) == (aflags, dflags)


UPGRADES = [
    pytest.param(Case("1:S", "1:FS", [rec(1, 1, "S", S_DUMMY_NEAR)]), [(0, NEAR, S)],
                 id="flagged placeholder with Upgrade: split, real message pending"),
    pytest.param(Case("1:", "1:F", [rec(1, 1, "", S_DUMMY_NEAR)]), [(0, NEAR, 0)],
                 id="the placeholder's Seen counts only if the pair was seen"),
    pytest.param(Case("1:S", "1:S", [rec(1, 1, "S", S_DUMMY_NEAR)]), [],
                 id="placeholder not flagged: stays"),
    pytest.param(Case("1:S", "1:FS", [rec(1, 1, "S", S_DUMMY_NEAR)], ops=ops(pull="new flags")),
                 [], id="no Upgrade toward the placeholder: stays"),
    pytest.param(Case("1:F", "1:FS", [rec(1, 1, "F")]), [], id="flagged real message: no upgrade"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "upgrades"), UPGRADES)
def test_upgrade_if_flagged(case: Case, upgrades: list[tuple[int, int, int]]) -> None:
    sync = _ready(case, "old")
    w = sync.work[0]
    splits: list[_Work] = []
    for t in (FAR, NEAR):
        _upgrade_if_flagged(sync, w, t, splits)
    assert [(u.record, u.side, u.pflags) for u in sync.result.upgrades] == upgrades
    if upgrades:
        (split,) = splits
        assert (split.uid, split.status, split.aflags) == ([0, 1], S_PURGE, [0, T])
        assert w.uid == [1, 0] and w.pending and w.status & S_UPGRADE
        assert sync.by_uid[NEAR][1] is split


# --- step 5: new messages ---------------------------------------------------------------

NEW = [
    # (case, toward, copies (source uid, flags, placeholder), new pairs, new max UID)
    pytest.param(Case("1:S 2:"), NEAR, [(1, S, False), (2, 0, False)],
                 [(1, 0, False), (2, 0, False)], 2, id="above the max UID: New"),
    pytest.param(Case("1:S", ops=ops(pull="gone flags")), NEAR, [], [], 0,
                 id="no New toward near: not copied"),
    pytest.param(Case("3:S 6:", maxuid=(5, 0)), NEAR, [(6, 0, False)], [(6, 0, False)], 6,
                 id="old (at most the max UID) without Old: not copied"),
    pytest.param(Case("3:S 6:", maxuid=(5, 0), ops=ops(pull="old new")), NEAR,
                 [(3, S, False), (6, 0, False)], [(3, 0, False), (6, 0, False)], 6,
                 id="old with Old: copied"),
    pytest.param(Case("1:ST", ops=ops(expunge="near")), NEAR, [], [(1, 0, True)], 1,
                 id="T while a side expunges: would be expunged anyway (+ and -)"),
    pytest.param(Case("1:ST"), NEAR, [(1, S | T, False)], [(1, 0, False)], 1,
                 id="T and nobody expunges: copied with its T"),
    pytest.param(Case("1:FS*", expiry=Expiry(max_size=(0, 1000))), NEAR, [(1, S, True)],
                 [(1, 0, False)], 1, id="over MaxSize: placeholder, without Flagged"),
    pytest.param(Case("", "1:S"), FAR, [(1, S, False)], [(0, 1, False)], 1,
                 id="push: the same toward far"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "t", "copies", "pairs", "newmax"), NEW)
def test_decide_new_messages(
    case: Case,
    t: int,
    copies: list[tuple[int, int, bool]],
    pairs: list[tuple[int, int, bool]],
    newmax: int,
) -> None:
    sync = _ready(case, "new")
    _decide_new_messages(sync, t)
    assert [(c.source_uid, c.flags, c.placeholder) for _, c in sync.copies] == copies
    assert all(c.target == t for _, c in sync.copies)
    assert [(p.far_uid, p.near_uid, p.doomed) for p in sync.result.new_pairs] == pairs
    assert sync.newmax[1 - t] == newmax


KNOWN = [
    # (case, copies (source uid, placeholder), placeholders, statuses)
    pytest.param(Case("1:F", "", [rec(1, 0, "", S_EXPIRE | S_EXPIRED)], maxuid=(1, 0),
                      ops=ops(pull="old new")),
                 [(1, False)], [], [(0, S_PENDING)],
                 id="expired, flagged since, with Old: copied again"),
    pytest.param(Case("1:S", "", [rec(1, 0, "", S_EXPIRE | S_EXPIRED)], maxuid=(1, 0),
                      ops=ops(pull="old new")),
                 [], [], [], id="expired and still unimportant: not copied"),
    pytest.param(Case("1:S", "", [rec(1, 0, "S")], maxuid=(1, 0), ops=ops(pull="old new")),
                 [], [], [], id="orphan (an interrupted deletion): not copied again"),
    pytest.param(Case("1:S", "", [rec(1, 0, "", S_SKIPPED)], maxuid=(1, 0)),
                 [(1, True)], [0], [], id="pre-1.4 skipped, with Upgrade: a placeholder"),
    pytest.param(Case("1:S", "", [rec(1, 0, "", S_PENDING)], maxuid=(1, 0)),
                 [(1, False)], [], [], id="pending copy (lost track): made"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "copies", "placeholders", "statuses"), KNOWN)
def test_decide_new_messages_of_known_entries(
    case: Case,
    copies: list[tuple[int, bool]],
    placeholders: list[int],
    statuses: list[tuple[int, int]],
) -> None:
    sync = _ready(case, "new")
    _decide_new_messages(sync, NEAR)
    assert [(c.source_uid, c.placeholder) for _, c in sync.copies] == copies
    assert sync.result.placeholders == placeholders
    assert [(sc.record, sc.status) for sc in sync.result.statuses] == statuses
    assert not sync.result.new_pairs


def test_copy_or_doom_kills_a_known_entry_that_would_be_expunged() -> None:
    case = Case("1:ST", "", [rec(1, 0, "", S_PENDING)], maxuid=(1, 0), ops=ops(expunge="far"))
    sync = _ready(case, "new")
    w = sync.work[0]
    _copy_or_doom(sync, w, NEAR, 1, sync.msgs[FAR][1], False)
    assert (sync.result.kills, w.dead, sync.copies) == ([0], True, [])


# --- step 6: MaxMessages ------------------------------------------------------------------


def _pairs(*letters: str) -> Case:
    n = len(letters)
    spec = " ".join(f"{u}:{f}" for u, f in enumerate(letters, 1))
    records = [rec(u, u, f) for u, f in enumerate(letters, 1)]
    return Case(spec, spec, records, maxuid=(n, n))


EXPIRE = [
    # (case, MaxMessages, ExpireUnread, statuses, refusal)
    pytest.param(_pairs("S", "S", "S"), 2, None, [(0, S_EXPIRE)], None,
                 id="oldest excess pair expires (EXPIRE begins)"),
    pytest.param(_pairs("FS", "S", "S"), 2, None, [], None,
                 id="flagged is important: kept, and counts as one of the excess"),
    pytest.param(_pairs("FS", "S", "S", "S"), 2, None, [(1, S_EXPIRE)], None,
                 id="flagged is important: kept, the next oldest goes"),
    pytest.param(_pairs("", "S", "S", "S"), 2, False, [(1, S_EXPIRE)], None,
                 id="unseen kept with ExpireUnread no"),
    pytest.param(_pairs("", "S", "S"), 2, True, [(0, S_EXPIRE)], None,
                 id="unseen expires with ExpireUnread yes"),
    pytest.param(_pairs("", "", "", ""), 1, None, [], (3, 1),
                 id="unread over MaxMessages/2, ExpireUnread unset: refused"),
    pytest.param(_pairs("S", "S"), 2, None, [], None, id="not over MaxMessages: nothing"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "limit", "unread", "statuses", "refusal"), EXPIRE)
def test_expire(
    case: Case,
    limit: int,
    unread: bool | None,
    statuses: list[tuple[int, int]],
    refusal: tuple[int, int] | None,
) -> None:
    case = replace(case, expiry=Expiry(max_messages=limit, expire_unread=unread))
    sync = _ready(case, "expire")
    _expire(sync.work, sync.xt, sync.expiry, sync.result, sync.maxxf)
    assert [(sc.record, sc.status) for sc in sync.result.statuses] == statuses
    assert sync.result.refusal == refusal


def test_an_excess_message_is_expired_before_it_is_born() -> None:
    # Sync Old brings an older far message; arrival order puts it first: never copied.
    case = Case("3:S 5:S", "5:S", [rec(5, 5, "S")], maxuid=(5, 5), ops=ops(pull="old new"),
                expiry=Expiry(max_messages=1))  # fmt: skip
    sync = _ready(case, "expire")
    maxxf = _expire(sync.work, sync.xt, sync.expiry, sync.result, sync.maxxf)
    assert [(sc.record, sc.status) for sc in sync.result.statuses] == [(1, S_EXPIRE | S_EXPIRED)]
    assert maxxf == 3
    _schedule_copies(sync)
    assert sync.result.copies == ([], [])


# --- step 7: flag stores ---------------------------------------------------------------

FLAGS = [
    # (case, stores (side, uid, add, remove, synced))
    pytest.param(Case("1:S", "1:", [rec(1, 1)]), [(NEAR, 1, S, 0, S)],
                 id="a flag change is stored, the synced flags follow (*)"),
    pytest.param(Case("1:S", "1:S", [rec(1, 1)]), [(FAR, 1, 0, 0, S)],
                 id="the same change on both sides: no store, one *"),
    pytest.param(Case("1:ST", "1:", [rec(1, 1)], ops=ops(expunge="near")), [(NEAR, 1, T, 0, T)],
                 id="going away (T, Expunge): only the deletion is stored"),
    pytest.param(Case("1:ST", "1:", [rec(1, 1)], ops=ops(expunge="near"),
                      expiry=Expiry(trash=(None, "Trash"))),
                 [(NEAR, 1, S | T, 0, S | T)], id="going to Trash: its flags go with it"),
    pytest.param(Case("", "1:S", [rec(1, 1, "S")]), [(NEAR, 1, T, 0, None)],
                 id="partner gone: T, the synced flags stay"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "stores"), FLAGS)
def test_decide_flag_stores(
    case: Case, stores: list[tuple[int, int, int, int, int | None]]
) -> None:
    sync = _ready(case, "flags")
    _decide_flag_stores(sync)
    assert [(op.side, op.uid, op.add, op.remove, op.synced) for op in sync.result.flags] == stores


def test_a_vanished_partners_t_is_counted_for_the_safety_rail() -> None:
    sync = _ready(Case("2:S", "1:S 2:S", [rec(1, 1, "S"), rec(2, 2, "S")]), "flags")
    _decide_flag_stores(sync)
    assert sync.result.vanished == ([], [1])


EXPIRY_MOVES = [
    pytest.param(Case("1:S 2:S", "1:ST 2:S", [rec(1, 1, "S", S_EXPIRE), rec(2, 2, "S")],
                      maxuid=(2, 2), expiry=Expiry(max_messages=1)),
                 (NEAR, 1, 0, 0, S_EXPIRE | S_EXPIRED), 1,
                 id="expiry still wanted: EXPIRE -> EXPIRED, MaxExpired covers it"),
    pytest.param(Case("1:S 2:S", "1:S 2:S", [rec(1, 1, "S", S_EXPIRE), rec(2, 2, "S")],
                      maxuid=(2, 2), expiry=Expiry(max_messages=1)),
                 (NEAR, 1, T, 0, S_EXPIRE | S_EXPIRED), 1,
                 id="expiry wanted, T not there yet: T stored"),
    pytest.param(Case("1:FS", "1:FST", [rec(1, 1, "FS", S_EXPIRE), rec(2, 2, "S")],
                      maxuid=(2, 2), expiry=Expiry(max_messages=1)),
                 (NEAR, 1, 0, T, 0), 0,
                 id="expiry canceled (flagged meanwhile): T taken back, EXPIRE cleared"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "store", "maxxf"), EXPIRY_MOVES)
def test_decide_flag_stores_moves_an_expiry_on(
    case: Case, store: tuple[int, ...], maxxf: int
) -> None:
    sync = _ready(case, "flags")
    _decide_flag_stores(sync)
    op = next(op for op in sync.result.flags if op.record == 0)
    assert (op.side, op.uid, op.add, op.remove, op.status) == store
    assert sync.maxxf == maxxf


# --- step 8: expunge and trash ------------------------------------------------------------

EXPUNGES = [
    # (case, expunge per side, trash per side, remote trash per side)
    pytest.param(Case("1:S 2:ST", "1:S 2:ST", [rec(1, 1, "S"), rec(2, 2, "ST")],
                      ops=ops(expunge="near")),
                 ([], [2]), ([], []), ([], []), id="Expunge: every T message of that side"),
    pytest.param(Case("", "1:T 2:T", [rec(1, 1, "T")], maxuid=(1, 1),
                      ops=Operations(ops().sync, frozenset(), frozenset(), frozenset(),
                                     frozenset({"near"}))),
                 ([], [1]), ([], []), ([], []),
                 id="ExpungeSolo: partner gone: expunged; being copied (pending): not"),
    pytest.param(Case("", "2:T", ops=Operations(ops(pull="", push="").sync, frozenset(),
                                                 frozenset(), frozenset(), frozenset({"near"}))),
                 ([], [2]), ([], []), ([], []), id="ExpungeSolo: no partner: expunged"),
    pytest.param(Case("1:T", "1:T", [rec(1, 1, "T")], maxuid=(1, 1),
                      ops=Operations(ops().sync, frozenset(), frozenset(), frozenset(),
                                     frozenset({"near"}))),
                 ([], []), ([], []), ([], []), id="ExpungeSolo: a pair stays"),
    pytest.param(Case("1:ST", "1:ST", [rec(1, 1, "ST")], ops=ops(expunge="far near"),
                      expiry=Expiry(trash=("Trash", None))),
                 ([1], [1]), ([1], []), ([], []), id="Trash: to the side's own Trash first"),
    pytest.param(Case("1:ST", "1:ST", [rec(1, 1, "ST")], ops=ops(expunge="far"),
                      expiry=Expiry(trash=("Trash", None), trash_only_new=(True, False))),
                 ([1], []), ([], []), ([], []), id="TrashNewOnly: a paired message is not new"),
    pytest.param(Case("", "2:ST", ops=ops(pull="", push="", expunge="near"),
                      expiry=Expiry(trash=("Trash", None), trash_remote_new=(True, False))),
                 ([], [2]), ([], []), ([], [2]),
                 id="TrashRemoteNew: a never-synced message to the other store's Trash"),
    pytest.param(Case("1:ST", "1:ST", [rec(1, 1, "ST")], ops=ops(expunge="far"),
                      expiry=Expiry(trash=("Trash", None)), kw={"trashed": {("far", 1)}}),
                 ([1], []), ([], []), ([], []), id="trashed before a crash: not again"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "expunge", "trash", "remote"), EXPUNGES)
def test_decide_expunges(
    case: Case,
    expunge: tuple[list[int], list[int]],
    trash: tuple[list[int], list[int]],
    remote: tuple[list[int], list[int]],
) -> None:
    sync = _ready(case, "expunge")
    _decide_expunges(sync)
    assert sync.result.expunge == expunge
    assert sync.result.trash == trash
    assert sync.result.remote_trash == remote


# --- step 9: finish -------------------------------------------------------------------

FINISH = [
    # (case, prunes (record, kill, side, expired), new max UIDs)
    pytest.param(Case("1:ST", "1:ST", [rec(1, 1, "ST")], maxuid=(1, 1),
                      ops=ops(expunge="far near")),
                 [(0, True, NEAR, False)], (1, 1), id="both sides expunged: killed"),
    pytest.param(Case("1:ST", "1:S", [rec(1, 1, "S")], maxuid=(1, 1), ops=ops(expunge="far")),
                 [(0, False, FAR, False)], (1, 1),
                 id="far expunged, near copy deleted: orphaned (far UID 0)"),
    pytest.param(Case("1:ST", "1:S", [rec(1, 1, "S")], maxuid=(1, 1), ops=ops(expunge="far"),
                      kw={"fake_expunge": True}),
                 [], (1, 1), id="expunges not made (-Tx): nothing pruned"),
    pytest.param(Case("1:S", "", [rec(1, 0, "S", S_EXPIRE | S_EXPIRED)], maxuid=(1, 1),
                      max_expired=1),
                 [(0, True, NEAR, True)], (1, 1),
                 id="expired and covered by MaxExpired: killed after the new max UIDs"),
    pytest.param(Case("1:S 2:", "", maxuid=(0, 0)), [], (2, 0),
                 id="new max UIDs: the far messages found"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "prunes", "newmax"), FINISH)
def test_finish(
    case: Case, prunes: list[tuple[int, bool, int, bool]], newmax: tuple[int, int]
) -> None:
    sync = _ready(case, "expunge")
    _decide_expunges(sync)
    _finish(sync)
    assert [(p.record, p.kill, p.side, p.expired) for p in sync.result.prune] == prunes
    assert sync.result.new_maxuid == newmax
