"""DetectMoves: a move between boxes of a channel is copied from the local file, not
fetched again; ambiguity falls back to copy plus delete; a crash at every journal step
loses and doubles nothing (syncmail.sync.moves, syncmail.sync.movescan)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncmail.sync.moves import Arrival, Gone, MoveSet, match_moves, order_for_moves
from syncmail.sync.movescan import STASH_PREFIX
from tests.unit.engine_support import (
    box_dir,
    crash_run,
    deliver,
    files,
    set_flags,
    snapshot,
    sync,
    write_config,
)

_TUID = 21


def _g(box: str, mid: str | None, size: int = 100, uid: int = 1, oid: str | None = None) -> Gone:
    return Gone(box, uid, uid + 100, mid, size, oid)


def _a(
    box: str, mid: str | None, size: int = 100, uid: int = 7, oid: str | None = None
) -> Arrival:
    return Arrival(box, uid, mid, size, oid)


@pytest.mark.parametrize(
    ("gone", "arrivals", "moves"),
    [
        # One vanished, one arrived elsewhere with the same Message-ID and size.
        ([_g("INBOX", "<a>")], [_a("Archive", "<a>")], [("INBOX", "Archive")]),
        # The arrival carries one X-TUID line more (mbsync's or syncmail's copy).
        ([_g("INBOX", "<a>")], [_a("Archive", "<a>", 100 + _TUID)], [("INBOX", "Archive")]),
        # Any other size: another message under the same Message-ID.
        ([_g("INBOX", "<a>")], [_a("Archive", "<a>", 101)], []),
        ([_g("INBOX", "<a>", 122)], [_a("Archive", "<a>", 100)], []),
        # The partner carries the X-TUID line (a server copy of an upload).
        ([_g("INBOX", "<a>", 121)], [_a("Archive", "<a>", 100)], [("INBOX", "Archive")]),
        # No Message-ID: nothing to tell it by.
        ([_g("INBOX", None)], [_a("Archive", None)], []),
        # Two arrivals, or two vanished, for one Message-ID: ambiguous.
        ([_g("INBOX", "<a>")], [_a("Archive", "<a>"), _a("Work", "<a>", uid=8)], []),
        ([_g("INBOX", "<a>"), _g("Work", "<a>", uid=2)], [_a("Archive", "<a>")], []),
        # Back into the box it left (a re-delivery): not a move.
        ([_g("INBOX", "<a>")], [_a("INBOX", "<a>")], []),
        # Unrelated messages do not disturb each other.
        (
            [_g("INBOX", "<a>"), _g("INBOX", "<b>", uid=2)],
            [_a("Archive", "<b>"), _a("Archive", "<c>", uid=8)],
            [("INBOX", "Archive")],
        ),
        # The server's id (EMAILID) tells duplicates of one Message-ID apart...
        (
            [_g("INBOX", "<a>", oid="e:E1"), _g("INBOX", "<a>", uid=2, oid="e:E2")],
            [_a("Archive", "<a>", uid=8, oid="e:E2"), _a("Archive", "<a>", oid="e:E1")],
            [("INBOX", "Archive", 1, 7), ("INBOX", "Archive", 2, 8)],
        ),
        # ... and finds a message without a Message-ID.
        ([_g("INBOX", None, oid="e:E1")], [_a("Archive", None, oid="e:E1")],
         [("INBOX", "Archive")]),  # fmt: skip
        # One side's id unknown (noted before the server had it): by Message-ID.
        ([_g("INBOX", "<a>")], [_a("Archive", "<a>", oid="e:E1")], [("INBOX", "Archive")]),
        # Two different ids: the server says another message, whatever the Message-ID.
        ([_g("INBOX", "<a>", oid="e:E1")], [_a("Archive", "<a>", oid="e:E2")], []),
        # The same id twice is as doubtful as the same Message-ID twice; sizes must agree.
        ([_g("INBOX", None, oid="e:E1")], [_a("Archive", None, oid="e:E1"),
                                          _a("Work", None, uid=8, oid="e:E1")], []),  # fmt: skip
        ([_g("INBOX", None, oid="e:E1")], [_a("Archive", None, 150, oid="e:E1")], []),
        # Dovecot's X-GUID is matched alike; ids of two kinds (the server changed, or
        # DisableExtension) say nothing about each other: by Message-ID.
        ([_g("INBOX", None, oid="x:1.M2.h")], [_a("Archive", None, oid="x:1.M2.h")],
         [("INBOX", "Archive")]),  # fmt: skip
        ([_g("INBOX", "<a>", oid="e:E1")], [_a("Archive", "<a>", oid="x:E2")],
         [("INBOX", "Archive")]),  # fmt: skip
        ([_g("INBOX", None, oid="e:E1")], [_a("Archive", None, oid="x:E1")], []),
        ([_g("INBOX", "<a>", oid="x:1")], [_a("Archive", "<a>", oid="x:2")], []),
        # Matched by id first, the rest still by Message-ID.
        (
            [_g("INBOX", "<a>", oid="e:E1"), _g("INBOX", "<b>", uid=2)],
            [_a("Archive", "<b>", uid=8), _a("Archive", "<x>", oid="e:E1")],
            [("INBOX", "Archive", 1, 7), ("INBOX", "Archive", 2, 8)],
        ),
    ],
)
def test_match_moves(
    gone: list[Gone], arrivals: list[Arrival], moves: list[tuple[str, ...]]
) -> None:
    found = match_moves(gone, arrivals, _TUID)
    if any(len(m) == 4 for m in moves):
        got = sorted((m.gone.box, m.arrival.box, m.gone.uid, m.arrival.uid) for m in found)
        assert got == moves
    else:
        assert [(m.gone.box, m.arrival.box) for m in found] == moves


def _move(path: Path, root: Path, side: str, box: str) -> Path:
    """Move a message file into another box as afew's MailMover (rename=True) does: a
    fresh name without ,U=, the flags kept."""
    flags = path.name.split(":2,")[1] if ":2," in path.name else ""
    base = path.name.split(":2,")[0].split(",U=")[0]
    target = box_dir(root, side, box) / "cur" / f"moved.{base}:2,{flags}"
    os.rename(path, target)
    return target


def _synced(root: Path, detect: bool = True) -> Path:
    """INBOX with A, B (flagged), C on both sides; the near copy of B made recognisable
    (same size) so that a test can tell a local copy from a download."""
    cfg = write_config(root, "Create Both\nExpunge Both" + ("\nDetectMoves yes" if detect else ""))
    deliver(root, "far", "A")
    deliver(root, "far", "B", "F")
    deliver(root, "far", "C")
    box_dir(root, "far", "Zoo")
    result = sync(cfg)
    assert not result.errors
    near_b = files(root, "near")["B"]
    near_b.write_bytes(near_b.read_bytes().replace(b"body of B", b"BODY OF B"))
    return cfg


def test_far_move_is_copied_from_the_near_file(tmp_path: Path) -> None:
    cfg = _synced(tmp_path)
    _move(files(tmp_path, "far")["B"], tmp_path, "far", "Zoo")
    result = sync(cfg)
    assert not result.errors
    assert set(files(tmp_path, "near")) == {"A", "C"}
    moved = files(tmp_path, "near", "Zoo")
    assert set(moved) == {"B"}
    # INBOX (left) is synced before Zoo: the near file was gone by then, its stash held it.
    assert b"BODY OF B" in moved["B"].read_bytes()
    assert snapshot(tmp_path, "near", "Zoo") == {"B": "F"}
    assert not [n for n in os.listdir(tmp_path / "near/INBOX/tmp") if n.startswith(STASH_PREFIX)]
    again = sync(cfg)
    assert not again.errors and not any(b.pulled_new or b.pushed_new for b in again.summary.boxes)


def test_off_by_default_downloads_again(tmp_path: Path) -> None:
    cfg = _synced(tmp_path, detect=False)
    _move(files(tmp_path, "far")["B"], tmp_path, "far", "Zoo")
    assert not sync(cfg).errors
    assert b"body of B" in files(tmp_path, "near", "Zoo")["B"].read_bytes()


def test_ambiguous_move_falls_back(tmp_path: Path) -> None:
    cfg = _synced(tmp_path)
    far = files(tmp_path, "far")
    _move(far["B"], tmp_path, "far", "Zoo")
    # A second message under B's Message-ID arrives elsewhere: two candidates.
    (box_dir(tmp_path, "far", "Other") / "new" / "dup.B").write_bytes(
        (tmp_path / "far/Zoo/cur").joinpath(os.listdir(tmp_path / "far/Zoo/cur")[0]).read_bytes()
    )
    assert not sync(cfg).errors
    assert b"body of B" in files(tmp_path, "near", "Zoo")["B"].read_bytes()
    assert set(files(tmp_path, "near", "Other")) == {"B"}
    assert set(files(tmp_path, "near")) == {"A", "C"}


def test_near_move_both_maildirs(tmp_path: Path) -> None:
    cfg = _synced(tmp_path)
    far_b = files(tmp_path, "far")["B"]
    far_b.write_bytes(far_b.read_bytes().replace(b"body of B", b"body.of.B"))
    _move(files(tmp_path, "near")["B"], tmp_path, "near", "Zoo")
    assert not sync(cfg).errors
    assert b"body.of.B" in files(tmp_path, "far", "Zoo")["B"].read_bytes()
    assert set(files(tmp_path, "far")) == {"A", "C"}
    assert snapshot(tmp_path, "far", "Zoo") == {"B": "F"}


def _scenario(root: Path) -> Path:
    cfg = _synced(root)
    _move(files(root, "far")["B"], root, "far", "Zoo")
    set_flags(files(root, "far", "Zoo")["B"], "FS")
    return cfg


def test_crash_at_every_journal_step(tmp_path: Path) -> None:
    want = {"INBOX": {"A": "", "C": ""}, "Zoo": {"B": "FS"}}
    step = 0
    while True:
        step += 1
        assert step < 60, "the crash hook never let the run finish"
        root = tmp_path / f"step{step}"
        root.mkdir()
        cfg = _scenario(root)
        code = crash_run(cfg, step)
        assert code in (0, 100), code
        if code == 0:
            break
        resumed = sync(cfg)
        assert not resumed.errors, (step, resumed.errors)
        for box, messages in want.items():
            assert snapshot(root, "far", box) == messages, (step, box)
            assert snapshot(root, "near", box) == messages, (step, box)
        again = sync(cfg)
        assert not again.errors
        assert not any(b.pulled_new or b.pushed_new for b in again.summary.boxes), step
    assert step > 5


_PAIRS = [("A", "A", "A"), ("B", "B", "B"), ("C", "C", "C")]


@pytest.mark.parametrize(
    ("copies", "order", "kept"),
    [
        # Near C's arrival is copied on the far store from far A: C is synced first.
        ({(1, "C", 5): ("A", 9, "<m>")}, "CAB", 1),
        # Nothing to copy on a server: the order stays.
        ({}, "ABC", 0),
        # Moves both ways between A and B: one of them must wait for the next order.
        ({(1, "A", 5): ("B", 9, "<m>"), (1, "B", 6): ("A", 8, "<n>")}, "ABC", 1),
    ],
)
def test_order_for_moves(
    copies: dict[tuple[int, str, int], tuple[str, int, str]], order: str, kept: int
) -> None:
    moves = MoveSet(server_sources=dict(copies))
    assert "".join(p[0] for p in order_for_moves(_PAIRS, moves)) == order
    assert len(moves.server_sources) == kept


def test_mass_move_is_no_mass_deletion(tmp_path: Path) -> None:
    """Moving a whole box is not stopped by the deletion safety rail (with DetectMoves;
    without it, the rail stops the box the messages left)."""
    cfg = write_config(tmp_path, "Create Both\nExpunge Both\nDetectMoves yes")
    subjects = [f"M{i}" for i in range(30)]
    for subject in subjects:
        deliver(tmp_path, "far", subject)
    box_dir(tmp_path, "far", "Zoo")
    assert not sync(cfg).errors
    for path in files(tmp_path, "far").values():
        _move(path, tmp_path, "far", "Zoo")
    result = sync(cfg)
    assert not result.errors, result.errors
    assert not files(tmp_path, "near")
    assert set(files(tmp_path, "near", "Zoo")) == set(subjects)
