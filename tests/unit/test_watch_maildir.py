"""``syncmail watch`` between two Maildirs, as a real process stopped by a real signal."""

from __future__ import annotations

import os
import signal
import time
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


def test_a_plugin_veto_is_said_once_not_swallowed(tmp_path: Path) -> None:
    """A setting the notmuch plugin rejects vetoes every run: the watch said nothing
    and synced nothing; it must say why, once."""
    pytest.importorskip("syncmail_notmuch")
    rc = tmp_path / "rc"
    rc.write_text(
        maildir_pair_rc(tmp_path, "Create Both\n") + "\nNotmuch default\nIndex maybe\n"
    )
    deliver(tmp_path, "far", "i1")
    with WatchProcess(tmp_path, rc, "-a") as w:
        w.ready()
        deliver(tmp_path, "far", "i2")
        os.kill(w.proc.pid, signal.SIGUSR1)  # another run, another veto: not said again
        wait_for(lambda: "Index: expected yes or no" in w.log())
        time.sleep(1)  # the SIGUSR1 run has come and gone
        assert w.stop(signal.SIGTERM) == 0
    log = w.log()
    line = rc.read_text().splitlines().index("Index maybe") + 1
    assert f"sync vetoed by plugin notmuch: {rc}:{line}: Index: expected yes or no" in log, log
    assert log.count("sync vetoed") == 1, log
    assert not (tmp_path / "near").exists() or not files(tmp_path, "near")


def test_a_reload_signal_while_the_watch_starts_does_not_kill_it(tmp_path: Path) -> None:
    """systemd's ExecReload (SIGHUP) or alot's sync-now (SIGUSR1) may come while the
    watch still imports and reads its config; their default action ends a process."""
    rc = tmp_path / "rc"
    rc.write_text(maildir_pair_rc(tmp_path, "Create Both\n"))
    deliver(tmp_path, "far", "i1")
    with WatchProcess(tmp_path, rc, "-a", "-V") as w:
        time.sleep(0.1)  # the command has started, its watch loop not yet
        w.send(signal.SIGHUP)
        w.send(signal.SIGUSR1)
        w.ready()
        wait_for(lambda: "SIGHUP: config reloaded" in w.log())
        assert w.proc.poll() is None
        assert w.stop(signal.SIGTERM) == 0
    assert set(files(tmp_path, "near")) == {"i1"}
