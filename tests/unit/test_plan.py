"""Decision tables and single decisions of syncmail.sync.plan beyond isync's own tables.

isync's generic scenarios (run-tests.pl x01: full, each Sync/Expunge variant, noop) run
from tests/unit/scenarios.py as decision tables and end to end (test_scenarios_e2e.py).
"""

from __future__ import annotations

from syncmail.flags import FLAGGED, SEEN, TRASHED
from syncmail.store.base import MessageInfo
from syncmail.sync.loads import Expiry
from syncmail.sync.plan import FAR, NEAR, NOTHING, load_specs, plan
from syncmail.sync.state import (
    S_DUMMY_NEAR,
    S_EXPIRE,
    S_EXPIRED,
    S_PENDING,
    SyncRecord,
    SyncState,
)
from tests.unit.plan_tables import build, listing, ops, run_table

# isync run-tests.pl x01 input rows (the header format differs there: three values).
from tests.unit.scenarios import X01

# (subject, far, state, near); header I, I: MaxPulled = far UID of I, MaxPushed = near UID of I.
X01_HEADER = ("I", "I")


def test_empty_start_copies_everything_both_ways() -> None:
    world = run_table(
        (0, 0),
        [("A", "*S", "", ""), ("B", "*", "", ""), ("C", "", "", "*F")],
        ops(),
        ("C", "B"),
        [("A", "", "*S", "*S"), ("B", "", "*", "*"), ("C", "*F", "*F", "")],
    )
    # Pushes are created before pulls (mbsync's order of new entries).
    assert [(r.far_uid, r.near_uid) for r in world.state.records] == [(3, 1), (1, 2), (2, 3)]


def test_deletion_vs_flag_change_is_a_conflict_notice() -> None:
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, 0)])
    p = plan({}, {1: MessageInfo(1, SEEN)}, state, ops())
    assert p.notices == ["conflicting changes in (1,1)"]
    assert [(op.side, op.uid, op.add) for op in p.flags] == [(NEAR, 1, TRASHED)]


def test_flag_change_both_sides_same_flag_no_store_op() -> None:
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, 0)])
    p = plan({1: MessageInfo(1, SEEN)}, {1: MessageInfo(1, SEEN)}, state, ops())
    # Nothing to store, but the synced flags move: one "*" entry.
    assert [(op.add, op.remove, op.synced) for op in p.flags] == [(0, 0, SEEN)]


def test_loads_smart_ranges() -> None:
    state = SyncState(1, 1, 10, 20, records=[SyncRecord(5, 7, 0)])
    far, near = load_specs(state, ops())
    assert (far.min_uid, far.paired, far.new) == (1, True, True)
    state_new_only = load_specs(state, ops(pull="new", push="new"))
    assert state_new_only[FAR].min_uid == 11
    assert state_new_only[NEAR].min_uid == 21
    nothing = load_specs(state, ops(pull="", push="", expunge="near"))
    assert nothing[FAR].request().min_uid == NOTHING
    assert nothing[NEAR].min_uid == 1


def test_a_first_listing_of_new_messages_lists_their_sizes() -> None:
    # For the progress bar's bytes: an initial pull (nothing pulled yet) lists sizes,
    # later runs do not (without a MaxSize).
    first = load_specs(SyncState(1, 1, 0, 0), ops(pull="new", push="new"))
    assert (first[FAR].size, first[FAR].request().want_size) == (True, True)
    later = load_specs(SyncState(1, 1, 10, 0), ops(pull="new", push="new"))
    assert (later[FAR].size, later[NEAR].size) == (False, True)


def test_pending_copy_found_by_tuid_is_adopted() -> None:
    rec = SyncRecord(3, 0, status=S_PENDING, tuid="abcdefghijkl", pending_flags=SEEN)
    state = SyncState(1, 1, 3, 0, records=[rec])
    near = {5: MessageInfo(5, SEEN, tuid="abcdefghijkl")}
    loads = load_specs(state, ops(), saved_uidnext={"near": 5})
    assert loads[NEAR].tuid_from == 5
    p = plan({3: MessageInfo(3, SEEN)}, near, state, ops(), saved_uidnext={"near": 5})
    assert [(m.record, m.side, m.uid) for m in p.tuid_matches] == [(0, NEAR, 5)]
    assert not p.copies[NEAR] and not p.copies[FAR]
    assert not [op for op in p.flags if op.add or op.remove]


def test_pending_copy_not_found_is_copied_again() -> None:
    rec = SyncRecord(3, 0, status=S_PENDING, tuid="abcdefghijkl")
    state = SyncState(1, 1, 3, 0, records=[rec])
    p = plan({3: MessageInfo(3, 0)}, {}, state, ops(), saved_uidnext={"near": 1})
    assert p.tuid_lost == [0]
    assert [(c.record, c.source_uid) for c in p.copies[NEAR]] == [(0, 3)]
    assert not p.new_pairs


def test_pending_copy_whose_source_vanished_is_killed() -> None:
    rec = SyncRecord(3, 0, status=S_PENDING)
    state = SyncState(1, 1, 3, 0, records=[rec])
    p = plan({}, {}, state, ops())
    assert p.kills == [0]
    assert not p.copies[NEAR]


def test_maxuid_topping_over_paired_messages() -> None:
    # A legacy state whose maxuids lag behind its pairs: topped up to the pairs.
    world = build((0, 0), [("A", "*", "*", "*"), ("B", "*", "*", "*")])
    p = plan(listing(world.sides[FAR]), listing(world.sides[NEAR]), world.state, ops())
    assert p.new_maxuid == (2, 2)
    assert not p.copies[FAR] and not p.copies[NEAR]


def test_maxuid_topping_stops_at_first_unknown_message() -> None:
    # A (old, unpaired, below maxuid) stops the topping; B is paired but above it.
    world = build(("A", "A"), [("A", "*", "", "*"), ("B", "*", "*", "*")])
    world.state.max_pulled = world.state.max_pushed = 1
    p = plan(listing(world.sides[FAR]), listing(world.sides[NEAR]), world.state, ops())
    assert p.new_maxuid == (1, 1)
    assert not p.new_pairs


def test_expired_message_gone_near_is_not_deleted_far() -> None:
    # An mbsync state with MaxMessages: near expired (and expunged) far UID 1.
    state = SyncState(
        1,
        1,
        2,
        2,
        max_expired=1,
        records=[SyncRecord(1, 1, SEEN, status=S_EXPIRE | S_EXPIRED), SyncRecord(2, 2, SEEN)],
    )
    far = {1: MessageInfo(1, SEEN), 2: MessageInfo(2, SEEN)}
    near = {2: MessageInfo(2, SEEN)}
    p = plan(far, near, state, ops())
    assert not [op for op in p.flags if op.add or op.remove]  # no T for far 1
    assert [(o.record, o.side) for o in p.expired_orphans] == [(0, NEAR)]
    assert [(pr.record, pr.kill) for pr in p.prune] == [(0, True)]


def test_expiry_t_flag_is_not_propagated() -> None:
    # Expiry put T on the near copy (not yet expunged): the far copy keeps its flags.
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, SEEN, status=S_EXPIRE)])
    p = plan({1: MessageInfo(1, SEEN)}, {1: MessageInfo(1, SEEN | TRASHED)}, state, ops())
    assert not [op for op in p.flags if op.side == FAR and op.add]


def test_placeholder_flags_not_propagated() -> None:
    # Near holds a placeholder (">" mark): flagging it is an upgrade request, not a flag.
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, 0, status=S_DUMMY_NEAR)])
    p = plan({1: MessageInfo(1, 0)}, {1: MessageInfo(1, FLAGGED | SEEN)}, state, ops())
    assert not [op for op in p.flags if op.side == FAR and (op.add or op.remove)]
    # ... and Flagged is not pushed onto a placeholder either.
    p = plan({1: MessageInfo(1, FLAGGED)}, {1: MessageInfo(1, 0)}, state, ops())
    assert not [op for op in p.flags if op.side == NEAR and op.add]


def test_new_old() -> None:
    # Sync New Old: old unpaired messages below maxuid (R, S) are copied as well.
    run_table(
        X01_HEADER,
        X01,
        ops(pull="new old", push="new old"),
        ("M", "K"),
        [
            ("P", "", "/", ""),  # listing everything (Old) shows both are gone
            # Q's far copy is gone, but near's T is not seen: no side lists flags (mbsync
            # 1.5 keeps the pair as it is).
            ("R", "", "*", "*"),
            ("S", "*", "*", ""),
            ("L", "*T", "*T", ""),
            ("M", "*", "*", ""),
            ("J", "", "*T", "*T"),
            ("K", "", "*P", "*P"),
        ],
    )


def test_a_t_on_a_side_whose_flags_are_not_listed_is_not_seen() -> None:
    # Sync PullNew PullGone lists no far flags: the near copy's deletion must not orphan
    # the pair because far has T (mbsync 1.5 keeps "1 1 T"; harness seed 256).
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, TRASHED)])
    p = plan({1: MessageInfo(1, TRASHED)}, {}, state, ops(pull="new gone", push=""))
    assert not p.loads[FAR].flags
    assert p.prune == []
    # With far flags listed (Sync Pull: PullFlags), T is seen and the pair is orphaned.
    p = plan({1: MessageInfo(1, TRASHED)}, {}, state, ops(pull="new gone flags", push=""))
    assert [(pr.record, pr.kill, pr.side) for pr in p.prune] == [(0, False, NEAR)]


def test_a_deletion_is_set_even_where_the_flags_are_not_listed() -> None:
    # Sync Pull lists no near flags: the far deletion sets T near although near has it
    # already (mbsync sets it blindly), which marks near deleted: the far UID is orphaned.
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, TRASHED)])
    p = plan({}, {1: MessageInfo(1, TRASHED)}, state, ops(pull="new upgrade gone flags", push=""))
    assert not p.loads[NEAR].flags
    assert [(op.side, op.add) for op in p.flags] == [(NEAR, TRASHED)]
    assert [(pr.record, pr.kill, pr.side) for pr in p.prune] == [(0, False, FAR)]


def test_maxuid_topping_takes_clean_pairs_below_the_first_unknown_only() -> None:
    # Clean pairs are not looked at one by one; they still raise the max UID in UID
    # order: A (below the unknown B) does, C (far UID 3, above it) does not; B's new
    # entry raises it to 2.  Near lists A and C only, all clean: topped up to C.
    world = build((0, 0), [("A", "*", "*", "*"), ("B", "*", "", ""), ("C", "*", "*", "*")])
    p = plan(listing(world.sides[FAR]), listing(world.sides[NEAR]), world.state, ops())
    assert p.new_maxuid == (2, 2)
    assert [(c.target, c.source_uid) for c in p.copies[NEAR]] == [(NEAR, 2)]


def test_pull_numbers_plain_copies_among_doomed_and_placeholder_ones() -> None:
    # Plain new messages take a shorter path than a deleted one (doomed: Expunge) or a
    # big one (a placeholder): the new pairs and the copies must still come in UID
    # order, each copy naming its own new pair.
    far = {
        1: MessageInfo(1, SEEN, 10),
        2: MessageInfo(2, TRASHED, 10),
        3: MessageInfo(3, FLAGGED, 500),
        4: MessageInfo(4, 0, 10),
    }
    p = plan(far, {}, SyncState(), ops(expunge="far near"), expiry=Expiry(max_size=(0, 100)))
    assert [(n.far_uid, n.near_uid, n.doomed) for n in p.new_pairs] == [
        (1, 0, False),
        (2, 0, True),
        (3, 0, False),
        (4, 0, False),
    ]
    copies = [(c.record, c.source_uid, c.flags, c.placeholder) for c in p.copies[NEAR]]
    assert copies == [(0, 1, SEEN, False), (2, 3, 0, True), (3, 4, 0, False)]
    assert p.new_maxuid == (4, 0)


def test_sides_changed_are_the_sides_whose_messages_a_plan_touches() -> None:
    # What settle is told after the plan is gone: stored flags, copies and expunges
    # change a side; a "*" entry alone (both sides changed alike) changes none.
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, 0)])
    same = plan({1: MessageInfo(1, SEEN)}, {1: MessageInfo(1, SEEN)}, state, ops())
    assert [op.synced for op in same.flags] == [SEEN]
    assert same.sides_changed() == (False, False)
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, 0)])
    far_flagged = plan({1: MessageInfo(1, SEEN)}, {1: MessageInfo(1, 0)}, state, ops())
    assert far_flagged.sides_changed() == (False, True)
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, 0)])
    pushed = plan(
        {1: MessageInfo(1, 0)}, {1: MessageInfo(1, 0), 2: MessageInfo(2, 0)}, state, ops()
    )
    assert pushed.sides_changed() == (True, False)
    state = SyncState(1, 1, 1, 1, records=[SyncRecord(1, 1, TRASHED)])
    expunged = plan(
        {1: MessageInfo(1, TRASHED)}, {1: MessageInfo(1, TRASHED)}, state, ops(expunge="far near")
    )
    assert expunged.expunge == ([1], [1])
    assert expunged.sides_changed() == (True, True)
