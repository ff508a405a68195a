"""``syncmail watch`` between two Maildirs, as a real process stopped by a real signal."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.dovecot.watch_helpers import WatchProcess, wait_for
from tests.unit.engine_support import box_dir, deliver, files, maildir_pair_rc


@pytest.mark.parametrize("near_root", [True, False], ids=["empty near root", "no near root"])
def test_a_move_in_boxes_the_watch_made_itself_is_synced(tmp_path: Path, near_root: bool) -> None:
    """The first run of a watch into an empty near tree makes its boxes and files; the
    user's first move of such a file must not be taken for the watch's own write (it
    was: the move went unsynced and the message stayed in both far boxes)."""
    if near_root:
        (tmp_path / "near").mkdir()
    rc = tmp_path / "rc"
    rc.write_text(maildir_pair_rc(tmp_path, "Create Both\nExpunge Both\n"))
    for subject in ("i1", "i2"):
        deliver(tmp_path, "far", subject, box="INBOX")
    for subject in ("a1", "a2"):
        deliver(tmp_path, "far", subject, box="Archive")
    with WatchProcess(tmp_path, rc, "-a") as w:
        w.ready()
        moved = files(tmp_path, "near", "INBOX")["i1"]
        target = box_dir(tmp_path, "near", "Archive") / "new" / moved.name.split(",U=")[0]
        os.rename(moved, target)
        wait_for(lambda: set(files(tmp_path, "far", "INBOX")) == {"i2"}, timeout=15)
        wait_for(lambda: set(files(tmp_path, "far", "Archive")) == {"a1", "a2", "i1"})
        assert w.stop(signal.SIGTERM) == 0
    assert "Traceback" not in w.log()
