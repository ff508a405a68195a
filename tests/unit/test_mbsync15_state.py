"""What mbsync 1.5 does with Maildir numbering, the INBOX and its state files, found by
the differential harness (tests/interop/mbsync15), as plain Maildir engine tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.unit.engine_support import (
    deliver,
    files,
    maildir_pair_rc,
    state_text,
    sync,
    write_config,
)


def test_a_side_not_loaded_for_new_mail_keeps_its_new_files_unnumbered(tmp_path: Path) -> None:
    # Sync Pull lists the near side only for its pairs: mbsync gives a new near file
    # its UID only when it loads new near mail (here: never).
    cfg = write_config(tmp_path, "Sync Pull\nCreate Both\n")
    deliver(tmp_path, "far", "f1", "S")
    sync(cfg)
    mine = deliver(tmp_path, "near", "n1", "S")
    assert not sync(cfg).errors
    assert mine.exists(), "the near file was renamed (numbered)"
    assert ",U=" not in files(tmp_path, "near")["n1"].name
    assert (tmp_path / "near/INBOX/.uidvalidity").read_text().split()[1] == "1"


def test_star_does_not_make_a_maildir_inbox_that_is_not_there(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Sync All\nCreate Both\n")
    deliver(tmp_path, "far", "w1", "S", box="Work")
    assert not sync(cfg).errors
    assert files(tmp_path, "near", "Work").keys() == {"w1"}
    assert not (tmp_path / "far/INBOX").exists()
    assert not (tmp_path / "near/INBOX").exists()


def test_an_orphaning_alone_leaves_the_state_file_as_it_was(tmp_path: Path) -> None:
    # Issue 13, case 3: the far deletion only orphans a pair, a pre-commit change.
    cfg = write_config(tmp_path, "Sync Pull\nMaxMessages 3\nExpireUnread yes\n")
    for n in range(6):
        deliver(tmp_path, "far", f"m{n}", "S" if n % 2 else "")
    sync(cfg)
    before = state_text(tmp_path)
    files(tmp_path, "far")["m4"].unlink()
    assert not sync(cfg).errors
    assert state_text(tmp_path) == before
    assert not (tmp_path / "near/INBOX/.mbsyncstate.journal").exists()


def test_a_refused_box_leaves_its_new_pairs_journalled(tmp_path: Path) -> None:
    # MaxMessages without ExpireUnread and too much unread mail: mbsync refuses after
    # journalling the new pairs; the journal and an empty .new await the next run.
    cfg = write_config(tmp_path, "Sync All\nMaxMessages 1\n")
    for n in range(3):
        deliver(tmp_path, "far", f"m{n}")
    assert sync(cfg).errors
    box = tmp_path / "near/INBOX"
    lines = (box / ".mbsyncstate.journal").read_text().splitlines()
    assert lines[0] == "5" and lines[1].startswith("| ")  # a new state: its UIDVALIDITYs
    assert lines[2:] == ["+ 1 0", "+ 2 0", "+ 3 0"]
    assert (box / ".mbsyncstate.new").read_bytes() == b""
    assert not (box / ".mbsyncstate").exists()


def test_remove_checks_emptiness_without_numbering(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Sync All\nCreate Both\nRemove Both\n")
    deliver(tmp_path, "far", "w1", "S", box="Work")
    sync(cfg)
    for path in (tmp_path / "far/Work").rglob("*"):
        if path.is_file():
            path.unlink()
    for sub in ("tmp", "new", "cur"):
        (tmp_path / "far/Work" / sub).rmdir()
    (tmp_path / "far/Work").rmdir()
    late = deliver(tmp_path, "near", "w2", box="Work")
    assert not sync(cfg).errors
    assert late.exists(), "the near file was numbered (renamed) or deleted"


def test_a_run_with_only_pre_commit_changes_leaves_no_fast_path_notes(tmp_path: Path) -> None:
    # The deletion is propagated and both copies expunged, but the kill of their entry
    # is pre-commit: the state keeps it, and the next run must kill it for good (the
    # fast path would skip that run, the boxes being unchanged since).
    cfg = write_config(tmp_path, "Sync Push\nExpunge Both\nCreate Both\n")
    deliver(tmp_path, "near", "n1", "S")
    sync(cfg)
    files(tmp_path, "near")["n1"].unlink()
    sync(cfg)
    assert files(tmp_path, "far") == {}
    assert state_text(tmp_path).endswith("\n1 1 S\n")
    sync(cfg)
    assert state_text(tmp_path).endswith("\n\n")


def test_a_t_in_flags_that_are_not_listed_does_not_orphan_a_pair(tmp_path: Path) -> None:
    # Sync PullNew PullGone lists no far flags, so the far copy's T goes unseen: when
    # the near copy is deleted, mbsync 1.5 keeps the pair "1 1 ST" (harness seed 256).
    cfg = write_config(tmp_path, "Sync PullNew PullGone\n")
    deliver(tmp_path, "far", "m1", "ST")
    sync(cfg)
    files(tmp_path, "near")["m1"].unlink()
    for mid in ("m2", "m3"):
        deliver(tmp_path, "far", mid, "S")
        assert not sync(cfg).errors
    assert "\n1 1 ST\n" in state_text(tmp_path)


def test_a_copy_into_a_maildir_trash_gets_no_uid(tmp_path: Path) -> None:
    # TrashRemoteNew: a far message deleted before it was pulled is copied into the
    # near Trash; mbsync's Maildir stores it there without a UID and without
    # numbering the box (no .uidvalidity; harness seed 259).
    cfg = write_config(tmp_path)
    cfg.write_text(
        maildir_pair_rc(
            tmp_path, "Expunge Both\n", "* !Trash", near_extra="Trash Trash\nTrashRemoteNew yes\n"
        )
    )
    deliver(tmp_path, "far", "m1", "ST")
    assert not sync(cfg).errors
    trashed = files(tmp_path, "near", "Trash")
    assert trashed.keys() == {"m1"}
    assert ",U=" not in trashed["m1"].name
    assert trashed["m1"].parent.name == "cur"
    assert not (tmp_path / "near/Trash/.uidvalidity").exists()


def test_the_trash_synced_as_a_box_trashes_into_itself(tmp_path: Path) -> None:
    # The near Trash is also a synced box (Patterns *) and near expunges: its deleted
    # messages are "trashed" into itself, i.e. renamed without a UID, and the next run
    # numbers them again (mbsync 1.5; harness seed 285).
    cfg = write_config(tmp_path)
    cfg.write_text(
        maildir_pair_rc(
            tmp_path, "Sync PullNew\nExpunge Near\nCreate Both\n", near_extra="Trash Trash\n"
        )
    )
    deliver(tmp_path, "near", "t1", "ST", box="Trash")
    for nuid in ("1", "2"):
        assert not sync(cfg).errors
        trashed = files(tmp_path, "near", "Trash")
        assert trashed.keys() == {"t1"} and ",U=" not in trashed["t1"].name
        assert (tmp_path / "near/Trash/.uidvalidity").read_text().split()[1] == nuid


def test_a_removed_box_takes_its_directory_with_the_state_in_it(tmp_path: Path) -> None:
    # Remove Near with SyncState *: mbsync removes the near box, then its state, then
    # the directory that held both (harness seed 410); no empty directory stays.
    cfg = write_config(tmp_path, "Sync Push\nCreate Near\nRemove Near\n")
    deliver(tmp_path, "far", "w1", "S", box="Work")
    assert not sync(cfg).errors
    assert (tmp_path / "near/Work/.mbsyncstate").exists()
    shutil.rmtree(tmp_path / "far/Work")
    assert not sync(cfg).errors
    assert not (tmp_path / "near/Work").exists()


def test_a_box_that_the_next_run_refuses_is_not_skipped(tmp_path: Path) -> None:
    # MaxMessages without ExpireUnread: the first run copies the new mail, after which
    # there is too much unread mail.  mbsync refuses the box on every later run; the
    # fast path must not skip it as "unchanged" (harness seeds 1130, 1176).
    cfg = write_config(tmp_path, "MaxMessages 4\n")
    for n in range(5):
        deliver(tmp_path, "far", f"f{n}")
    for n in range(4):
        deliver(tmp_path, "near", f"n{n}")
    assert not sync(cfg).errors
    for _ in range(2):
        errors = sync(cfg).errors
        assert len(errors) == 1 and "Please set ExpireUnread" in str(errors[0])
