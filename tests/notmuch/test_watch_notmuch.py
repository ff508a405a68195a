"""``syncmail watch`` with the notmuch plugin: new mail is searchable in notmuch at once,
tags changed in notmuch (by the CLI's file renames, or by the library alone) reach the
server, all without running ``notmuch new``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.dovecot.watch_helpers import WatchProcess, wait_for
from tests.notmuch.test_e2e_dovecot import _message, _server_flags, _write_rc

notmuch2 = pytest.importorskip("notmuch2")

pytestmark = [pytest.mark.dovecot, pytest.mark.notmuch]


def _found(msgid: str) -> bool:
    out = subprocess.run(
        ["notmuch", "search", "--output=messages", f"id:{msgid}"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    return msgid in out


def test_watch_indexes_new_mail_and_sends_tags_back(
    nm: Any, imap_user: Any, tmp_path: Path
) -> None:
    rc = _write_rc(nm, imap_user, tmp_path / "mbsyncrc")
    env = {"NOTMUCH_CONFIG": str(nm.config_file), "XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]}
    with WatchProcess(tmp_path, Path(rc), "-a", env=env) as w:
        w.ready()
        imap_user.append("INBOX", _message(1))
        wait_for(lambda: _found("1@e2e.test"), timeout=5)
        assert nm.tags("1@e2e.test") == {"inbox", "unread"}
        # notmuch's CLI renames the file (maildir.synchronize_flags): inotify sees it.
        nm.notmuch("tag", "-unread", "id:1@e2e.test")
        wait_for(lambda: rb"\Seen" in _server_flags(imap_user, 1), timeout=5)
        # The library changes only the database: the plugin finds it through lastmod.
        with notmuch2.Database(mode="rw") as db:
            db.find("1@e2e.test").tags.add("flagged")
        wait_for(lambda: rb"\Flagged" in _server_flags(imap_user, 1), timeout=5)
        assert w.stop() == 0
    assert "No new mail" in nm.notmuch("new").stdout
