"""The v5 journal: lines written by a live run, and replay of them (and of mbsync's)."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest

from syncmail.errors import StateError
from syncmail.flags import FLAGGED, SEEN
from syncmail.sync.journal import Journal, replay
from syncmail.sync.state import (
    S_DUMMY_NEAR,
    S_EXPIRE,
    S_EXPIRED,
    S_PENDING,
    S_PURGE,
    S_PURGED,
    S_UPGRADE,
    SyncRecord,
    SyncState,
    format_state,
    parse_state,
)

DATA = Path(__file__).parent / "data"


def lines(text: str) -> list[bytes]:
    return io.BytesIO(text.encode()).readlines()


def test_worked_example_of_the_reference() -> None:
    state = SyncState(far_uidvalidity=1, near_uidvalidity=2, max_pulled=1240, max_pushed=567)
    journal = "5\n+ 1241 0\nF 1 567\n# 1241 0 q8Z+RZ0cDw1e\n% 1241 0 16\n> 1241 0 568\n"
    info = replay(state, lines(journal), "j")
    assert info.saved_uidnext == {"near": 567}
    assert info.new_maxuid == {"far": 1241, "near": 568}
    assert info.lines == 6
    (rec,) = state.records
    assert (rec.far_uid, rec.near_uid, rec.flags, rec.status, rec.tuid) == (
        1241,
        568,
        SEEN,
        0,
        None,
    )
    state.max_pulled = info.new_maxuid["far"]
    assert format_state(state).endswith(b"MaxPulledUid 1241\nMaxPushedUid 567\n\n1241 568 S\n")


def test_interrupted_before_the_uid_leaves_a_pending_pair_with_its_tuid() -> None:
    state = SyncState()
    replay(state, lines("5\n| 7 8\n+ 1241 0\nF 1 567\n# 1241 0 q8Z+RZ0cDw1e\n"), "j")
    (rec,) = state.records
    assert (state.far_uidvalidity, state.near_uidvalidity) == (7, 8)
    assert rec.status == S_PENDING and rec.tuid == "q8Z+RZ0cDw1e"


def run_live(journal: Journal, state: SyncState) -> None:
    """A bit of everything a sync does, through the Journal API."""
    journal.uidvalidity(state, 11, 12)
    a = state.records[0]
    journal.flags(a, SEEN | FLAGGED)
    new = journal.new_pair(state, 30, 0)
    journal.uidnext("near", 40)
    journal.tuid(new, "ABCDEFGHIJKL")
    journal.pending_flags(new, SEEN)
    journal.near_uid(new, 41)
    lost = journal.new_pair(state, 0, 50)
    journal.uidnext("far", 31)
    journal.tuid(lost, "abcdefghijkl")
    journal.tuid_lost(lost)
    failed = journal.new_pair(state, 32, 0)
    journal.kill(failed)
    b = state.records[1]
    journal.status(b, S_EXPIRE, state=state)
    journal.status(b, S_EXPIRE | S_EXPIRED, state=state)
    journal.trashed("far", 3)
    ph = journal.new_pair(state, 33, 0)
    journal.placeholder(ph)
    journal.near_uid(ph, 42)
    journal.maxuid(state, "far", 33)
    journal.far_uid(a, 0)


def initial() -> SyncState:
    st = SyncState(1, 2, 29, 39)
    st.records = [SyncRecord(1, 1, SEEN), SyncRecord(2, 2)]
    return st


def test_live_run_and_replay_agree() -> None:
    live = initial()
    out = io.BytesIO()
    journal = Journal(out)
    run_live(journal, live)
    written = out.getvalue()
    assert written.splitlines()[:3] == [b"| 11 12", b"* 1 1 18", b"+ 30 0"]
    assert b"# 30 0 ABCDEFGHIJKL\n" in written
    assert b"> 30 0 41\n" in written  # UIDs before the change identify the pair
    assert b"~ 2 2 6\n" in written and b"_ 33 0\n" in written and b"N 0 33\n" in written
    replayed = initial()
    info = replay(replayed, [b"5\n", *io.BytesIO(written).readlines()], "j")
    assert replayed == live
    assert info.trashed == {("far", 3)} == journal.trashed_msgs
    assert info.saved_uidnext == {"near": 40, "far": 31} == journal.saved_uidnext
    assert live.max_expired == 2
    assert format_state(live) == (
        b"FarUidValidity 11\nNearUidValidity 12\nMaxPulledUid 33\nMaxPushedUid 39\n"
        b"MaxExpiredFarUid 2\n\n0 1 FS\n2 2 ~\n30 41 S\n0 50 \n33 42 >\n"
    )


def test_journal_without_file_applies_only() -> None:
    st = initial()
    journal = Journal()
    journal.flags(st.records[0], 0)
    assert st.records[0].flags == 0 and not journal.opened and journal.lines_written == 0


def test_opener_is_called_on_first_line_and_pre_commit_lines_do_not_open() -> None:
    out = io.BytesIO()
    calls: list[int] = []

    def opener() -> io.BytesIO:
        calls.append(1)
        return out

    st = initial()
    journal = Journal(opener=opener)  # type: ignore[arg-type]
    journal.maxuid(st, "near", 50, pre_commit=True)
    journal.kill(st.records[1], pre_commit=True)
    assert calls == [] and st.max_pushed == 50 and st.records[1].dead
    journal.flags(st.records[0], 0)
    journal.maxuid(st, "far", 60, pre_commit=True)
    assert calls == [1] and out.getvalue() == b"* 1 1 0\nN 0 60\n"


def test_tuid_must_be_12_characters() -> None:
    with pytest.raises(ValueError):
        Journal().tuid(SyncRecord(1, 0), "short")


@pytest.mark.parametrize("tuid", ["q8Z+RZ0 Dw1e", "q8Z+RZ0\tDw1e", "q8Z+RZ0\u2003Dw1e"])
def test_tuid_must_not_hold_white_space(tuid: str) -> None:
    with pytest.raises(ValueError):
        Journal().tuid(SyncRecord(1, 0), tuid)


class _Writes(io.BytesIO):
    """A journal file that counts the writes reaching it."""

    writes = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_held_lines_go_out_together_in_order() -> None:
    out = _Writes()
    st = initial()
    journal = Journal(out)  # type: ignore[arg-type]
    journal.flags(st.records[0], 0)
    with journal.held():
        journal.kill(st.records[1])
        rec = journal.new_pair(st, 9, 0)
        journal.tuid(rec, "q8Z+RZ0cDw1e")
        # Applied at once, written only when the stretch ends.
        assert st.records[1].dead and rec.tuid == "q8Z+RZ0cDw1e"
        assert out.getvalue() == b"* 1 1 0\n"
    assert out.getvalue() == b"* 1 1 0\n- 2 2\n+ 9 0\n# 9 0 q8Z+RZ0cDw1e\n"
    assert out.writes == 2 and journal.lines_written == 4
    # After it, a line goes out by itself again.
    journal.flags(st.records[0], 2)
    assert out.getvalue().endswith(b"* 1 1 2\n") and out.writes == 3


def test_held_lines_go_out_before_a_sync_and_in_bounded_pieces(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    import syncmail.sync.journal as jmod

    monkeypatch.setattr(jmod, "_HELD_LINES", 3)
    out = _Writes()
    st = initial()
    journal = Journal(out, fsync=False)  # type: ignore[arg-type]
    with journal.held():
        for uid in range(10, 17):
            journal.new_pair(st, uid, 0)
        assert out.writes == 2  # two pieces of three; the seventh line waits
        journal.sync()
        assert out.getvalue().count(b"\n") == 7 and out.writes == 3
    assert out.writes == 3


def test_held_lines_are_written_when_the_journal_closes_inside_the_stretch() -> None:
    written: list[bytes] = []

    class Kept(io.BytesIO):
        def close(self) -> None:
            written.append(self.getvalue())
            super().close()

    st = initial()
    journal = Journal(Kept())  # type: ignore[arg-type]
    with journal.held():
        journal.kill(st.records[0])
        journal.close()
    assert written == [b"- 1 1\n"]


def test_placeholder_upgrade_lines() -> None:
    st = parse_state(b"FarUidValidity 1\n\n7 5 >FS\n8 6 S\n", "s")
    text = "5\n^ 7 5 18\n$ 7 0 4 0\n> 7 0 9\nP 0 5\n- 0 5\n"
    replay(st, lines(text), "j")
    up, purged, other = st.records
    assert (up.far_uid, up.near_uid, up.flags, up.status) == (7, 9, FLAGGED | SEEN | 4, 0)
    assert up.pending_flags == 18 and up.upgrade_add == 0
    assert (purged.far_uid, purged.near_uid, purged.status & (S_PURGE | S_PURGED)) == (
        0,
        5,
        S_PURGED,
    )
    assert purged.dead and (other.far_uid, other.near_uid) == (8, 6)
    assert format_state(st).endswith(b"\n\n7 9 FPS\n8 6 S\n")


def test_upgrade_mid_way_marks_both_entries() -> None:
    st = parse_state(b"FarUidValidity 1\n\n7 5 >F\n", "s")
    replay(st, lines("5\n^ 7 5 2\n$ 7 0 16 0\n"), "j")
    up, dummy = st.records
    assert up.status == S_PENDING | S_UPGRADE and (up.upgrade_add, up.upgrade_del) == (16, 0)
    assert dummy.status == S_PURGE and dummy.near_uid == 5 and dummy.far_uid == 0
    assert not dummy.status & S_DUMMY_NEAR


def test_status_accepts_mbsyncs_literal_s_pending() -> None:
    st = parse_state(b"FarUidValidity 1\n\n3 0 ~S\n", "s")
    replay(st, lines("5\n~ 3 0 S_PENDING\n"), "j")
    assert st.records[0].status == S_PENDING


def test_lookup_searches_forward_from_last_match_then_from_the_start() -> None:
    st = SyncState()
    st.records = [SyncRecord(5, 0), SyncRecord(6, 0), SyncRecord(5, 0)]
    replay(st, lines("5\n* 6 0 1\n* 5 0 2\n* 6 0 4\n* 5 0 8\n"), "j")
    # Second "5 0" after "6 0" is the third record; then "6 0" wraps to the second,
    # and the next "5 0" is found forward again (the third).
    assert [r.flags for r in st.records] == [0, 4, 8]  # first-match lookup: [8, 4, 0]


def test_torn_last_line_is_ignored() -> None:
    st = initial()
    info = replay(st, lines("5\n* 1 1 0\n* 2 2 3"), "j")
    assert [r.flags for r in st.records] == [0, 0]
    assert info.lines == 2 and info.valid_length == len(b"5\n* 1 1 0\n")


def test_trashed_records_side_and_uid() -> None:
    info = replay(SyncState(), lines("5\nT 0 4\nT 1 9\n"), "j")
    assert info.trashed == {("far", 4), ("near", 9)}


def test_mbsync_1_4_journal_is_rejected_clearly() -> None:
    path = DATA / "mbsync144_v4.journal"
    with pytest.raises(StateError) as info:
        replay(SyncState(), path.open("rb"), str(path), channel="c", box="INBOX")
    assert str(info.value) == (
        f"channel c, box INBOX: {path}:1: incompatible journal version (got 4, expected 5)"
    )
    assert info.value.line == 1


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("5\n* 9 9 1\n", "j:2: journal entry refers to non-existing sync state entry"),
        ("5\n* 1 1\n", "j:2: malformed journal entry"),
        ("5\n* 1 1 x\n", "j:2: malformed journal entry"),
        ("5\n+ 1\n", "j:2: malformed journal entry"),
        ("5\n$ 1 1 2\n", "j:2: malformed journal entry"),
        ("5\n+ 99999999999999999999 1\n", "j:2: malformed journal entry"),
        ("5\n+ 4294967296 1\n", "j:2: malformed journal entry"),
        ("5\nN 0 4294967296\n", "j:2: malformed journal entry"),
        ("5\n+ \u0663 1\n", "j:2: malformed journal entry"),
        ("5\nN 2 5\n", "j:2: malformed journal entry"),
        ("5\n# 1 1 short\n", "j:2: malformed journal entry"),
        ("5\n# 1 1 ABCDEFGHIJKLM\n", "j:2: malformed journal entry"),
        ("5\n# 1 1 ABCDEF HIJKL\n", "j:2: malformed journal entry"),
        ("5" * 130 + "\n", "j:1: incomplete journal header"),
        ("5\n\n", "j:2: unrecognized journal entry"),
        ("5\n* 1 1 1\n= 1 1 1\n", "j:3: unrecognized journal entry"),
        ("5\n* 1 1 " + "1" * 130 + "\n", "j:2: incomplete journal entry"),
        ("3\n", "j:1: incompatible journal version (got 3, expected 5)"),
    ],
)
def test_bad_journals_name_path_and_line(text: str, where: str) -> None:
    st = initial()
    before = copy.deepcopy(st)
    with pytest.raises(StateError) as info:
        replay(st, lines(text), "j")
    assert str(info.value).endswith(where)
    assert st.records[1:] == before.records[1:]


def test_empty_journal_replays_nothing() -> None:
    info = replay(initial(), [], "j")
    assert info.lines == 0


class SnapshotJournal(Journal):
    """Records the state as it is before each line is applied."""

    def __init__(self, out: io.BytesIO, state: SyncState) -> None:
        super().__init__(out)
        self.state = state
        self.before: list[SyncState] = []

    def _log(self, line: str, pre_commit: bool = False) -> None:
        self.before.append(copy.deepcopy(self.state))
        super()._log(line, pre_commit)


def test_a_crash_after_any_line_or_inside_it_replays_to_the_state_of_that_moment() -> None:
    live = initial()
    out = io.BytesIO()
    journal = SnapshotJournal(out, live)
    run_live(journal, live)
    written = [b"5\n", *io.BytesIO(out.getvalue()).readlines()]
    snapshots = [*journal.before, live]
    assert len(snapshots) == len(written)
    for n in range(1, len(written) + 1):
        for torn in (b"", written[n][:-1] if n < len(written) else b""):
            st = initial()
            info = replay(st, [*written[:n], *([torn] if torn else [])], "j")
            assert st == snapshots[n - 1], (n, torn)
            assert info.valid_length == sum(len(x) for x in written[:n])
