"""The deletion safety rail end to end on two real Maildir trees (Maildir <-> Maildir)."""

from __future__ import annotations

from pathlib import Path

from syncmail.config.model import Target
from syncmail.errors import MassDeletionError
from syncmail.sync.engine import RunOptions, RunResult, run
from tests.unit.engine_support import (
    deliver,
    files,
    load,
    snapshot,
    state_text,
    sync,
    write_config,
)


def _synced_pair(root: Path, count: int = 30, extra: str = "") -> Path:
    """``count`` messages delivered far and synced; Expunge Both."""
    cfg = write_config(root, "Create Both\nExpunge Both\n" + extra)
    for i in range(count):
        deliver(root, "far", f"m{i:02}", "S")
    first = sync(cfg)
    assert not first.errors
    assert len(files(root, "near")) == count
    return cfg


def _rm(root: Path, side: str, count: int) -> None:
    """Remove the files of ``count`` messages of a box, as ``rm`` would."""
    for _subject, path in sorted(files(root, side).items())[:count]:
        path.unlink()


def _forced(cfg: Path) -> RunResult:
    return run(load(cfg), [Target("test")], RunOptions(force=True))


def test_local_box_emptied_does_not_empty_the_other_side(tmp_path: Path) -> None:
    cfg = _synced_pair(tmp_path)
    far, state = snapshot(tmp_path, "far"), state_text(tmp_path)
    _rm(tmp_path, "near", 30)
    result = sync(cfg)
    assert len(result.errors) == 1
    error = result.errors[0]
    assert isinstance(error, MassDeletionError)
    assert (error.channel, error.box, error.side, error.deleted, error.total) == (
        "test", "INBOX", "far", 30, 30,
    )  # fmt: skip
    assert "30 of the 30 messages of far box INBOX" in str(error)
    assert "--force" in str(error) and "MaxDeletePercent" in str(error)
    assert result.exit_code(False) == 1
    assert not result.far_changed and not result.near_changed
    # Not even a Deleted flag went over, and the state is as it was.
    assert snapshot(tmp_path, "far") == far
    assert state_text(tmp_path) == state
    # Stopped again on the next run: nothing was recorded as done.
    assert isinstance(sync(cfg).errors[0], MassDeletionError)
    assert snapshot(tmp_path, "far") == far

    forced = _forced(cfg)
    assert not forced.errors
    assert snapshot(tmp_path, "far") == {}
    assert forced.summary.boxes[0].expunged_far == 30


def test_dry_run_shows_what_the_rail_stops(tmp_path: Path) -> None:
    cfg = _synced_pair(tmp_path)
    _rm(tmp_path, "near", 30)
    result = sync(cfg, dry_run=True)
    assert [type(e) for e in result.errors] == [MassDeletionError]
    assert result.summary.dry_run and result.summary.boxes[0].error is not None
    assert len(files(tmp_path, "far")) == 30
    # A forced dry run shows the deletion it would make, and makes none.
    forced = run(load(cfg), [Target("test")], RunOptions(dry_run=True, force=True))
    assert not forced.errors
    assert forced.summary.boxes[0].expunged_far == 30
    assert len(files(tmp_path, "far")) == 30


def test_small_deletion_goes_through(tmp_path: Path) -> None:
    cfg = _synced_pair(tmp_path)
    _rm(tmp_path, "near", 3)
    result = sync(cfg)
    assert not result.errors
    assert sorted(snapshot(tmp_path, "far")) == [f"m{i:02}" for i in range(3, 30)]


def test_max_delete_percent_100_turns_the_rail_off(tmp_path: Path) -> None:
    cfg = _synced_pair(tmp_path, extra="MaxDeletePercent 100\n")
    _rm(tmp_path, "near", 30)
    assert not sync(cfg).errors
    assert snapshot(tmp_path, "far") == {}


def test_other_side_emptied_does_not_empty_this_side(tmp_path: Path) -> None:
    cfg = _synced_pair(tmp_path)
    near = snapshot(tmp_path, "near")
    _rm(tmp_path, "far", 30)
    result = sync(cfg)
    stops = [
        (e.side, e.deleted, e.total) for e in result.errors if isinstance(e, MassDeletionError)
    ]
    assert stops == [("near", 30, 30)]
    assert snapshot(tmp_path, "near") == near


def test_other_boxes_are_synced_and_the_run_fails(tmp_path: Path) -> None:
    cfg = _synced_pair(tmp_path)
    deliver(tmp_path, "far", "other", "S", box="Other")
    _rm(tmp_path, "near", 30)
    result = sync(cfg)
    assert [type(e) for e in result.errors] == [MassDeletionError]
    assert snapshot(tmp_path, "near", "Other") == {"other": "S"}
    assert len(files(tmp_path, "far")) == 30
