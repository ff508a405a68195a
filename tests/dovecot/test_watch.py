"""``syncmail watch`` against a real Dovecot (NOTIFY), as a real process stopped by signals."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.dovecot.imap_helpers import message, write_config
from tests.dovecot.watch_helpers import WatchProcess, wait_for

pytestmark = pytest.mark.dovecot


def local_files(root: Path, box: str = "INBOX") -> list[Path]:
    base = root / "near" / box
    return sorted(p for sub in ("cur", "new") for p in (base / sub).glob("*") if p.is_file())


def server_flags(user: Any, box: str = "INBOX") -> dict[int, set[bytes]]:
    client = user.client()
    try:
        client.select_folder(box)
        uids = client.search("ALL")
        return {uid: set(d[b"FLAGS"]) for uid, d in client.fetch(uids, ["FLAGS"]).items()}
    finally:
        client.logout()


def test_server_mail_arrives_and_local_flags_go_back(tmp_path: Path, imap_user: Any) -> None:
    config = write_config(tmp_path, imap_user)
    imap_user.append("INBOX", message(1))
    with WatchProcess(tmp_path, config, "-a") as w:
        w.ready()
        assert len(local_files(tmp_path)) == 1  # the full sync at start
        imap_user.append("INBOX", message(2))
        wait_for(lambda: len(local_files(tmp_path)) == 2)
        # A flag set locally (a Maildir rename, as a MUA or notmuch does) reaches the server.
        path = local_files(tmp_path)[0]
        os.rename(path, path.parent.parent / "cur" / (path.name.split(":2,")[0] + ":2,FS"))
        wanted = {b"\\Seen", b"\\Flagged"}
        wait_for(lambda: any(wanted <= f for f in server_flags(imap_user).values()))
        assert w.stop(signal.SIGTERM) == 0
    assert len(local_files(tmp_path)) == 2
    assert len(server_flags(imap_user)) == 2
    log = w.log()
    assert "test:INBOX: 1 new pulled" in log
    assert "Traceback" not in log
