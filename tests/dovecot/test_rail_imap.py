"""The deletion safety rail with the real ``syncmail`` command and a real Dovecot (far).

The accident it is for: ``rm ~/mail/INBOX/cur/*`` (or a server box emptied by another
client) propagated as a deletion of every partner message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.dovecot.imap_helpers import message, write_config
from tests.unit.engine_support import files

pytestmark = pytest.mark.dovecot

ROOT = Path(__file__).resolve().parent.parent.parent
COUNT = 30


def _cli(cfg: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCMAIL_TEST_")}
    return subprocess.run(
        [sys.executable, "-m", "syncmail", "-c", str(cfg), *options, "-a"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _server(user: Any) -> dict[int, set[str]]:
    """UID -> flags of the server's INBOX."""
    c = user.client()
    try:
        c.select_folder("INBOX", readonly=True)
        uids = c.search("ALL")
        got = c.fetch(uids, ["FLAGS"]) if uids else {}
        return {u: {f.decode() for f in d[b"FLAGS"]} - {"\\Recent"} for u, d in got.items()}
    finally:
        c.logout()


def _synced(tmp_path: Path, user: Any) -> Path:
    """A server INBOX of ``COUNT`` messages, pulled into the Maildir; Expunge Both."""
    c = user.client()
    try:
        for n in range(COUNT):
            c.append("INBOX", message(n), flags=("\\Seen",))
    finally:
        c.logout()
    cfg = write_config(tmp_path, user, channel_extra="Expunge Both\n")
    first = _cli(cfg)
    assert first.returncode == 0, first.stderr
    assert len(files(tmp_path, "near")) == COUNT
    return cfg


def _rm_local(tmp_path: Path, count: int) -> None:
    for _subject, path in sorted(files(tmp_path, "near").items())[:count]:
        path.unlink()


def test_local_inbox_removed_leaves_the_server_alone(tmp_path: Path, imap_user: Any) -> None:
    cfg = _synced(tmp_path, imap_user)
    before = _server(imap_user)
    state = (tmp_path / "near" / "INBOX" / ".mbsyncstate").read_text()
    _rm_local(tmp_path, COUNT)

    dry = _cli(cfg, "--dry-run")
    assert dry.returncode == 1
    assert "30 of the 30 messages of far box INBOX would be deleted" in dry.stderr
    assert dry.stderr.rstrip().splitlines()[-1].startswith("syncmail: dry run failed: ")

    refused = _cli(cfg)
    assert refused.returncode == 1
    assert "channel test, box INBOX: 30 of the 30 messages of far box INBOX" in refused.stderr
    assert "--force" in refused.stderr and "MaxDeletePercent" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert refused.stderr.rstrip().splitlines()[-1].startswith("syncmail: run failed: ")
    # The server is untouched (not even \Deleted), and so is the state.
    assert _server(imap_user) == before
    assert (tmp_path / "near" / "INBOX" / ".mbsyncstate").read_text() == state

    forced = _cli(cfg, "--force")
    assert forced.returncode == 0, forced.stderr
    assert _server(imap_user) == {}


def test_small_local_deletion_goes_through(tmp_path: Path, imap_user: Any) -> None:
    cfg = _synced(tmp_path, imap_user)
    _rm_local(tmp_path, 3)
    done = _cli(cfg)
    assert done.returncode == 0, done.stderr
    assert len(_server(imap_user)) == COUNT - 3


def test_server_box_emptied_leaves_the_maildir_alone(tmp_path: Path, imap_user: Any) -> None:
    cfg = _synced(tmp_path, imap_user)
    local = sorted(p.name for p in files(tmp_path, "near").values())
    c = imap_user.client()
    try:
        c.select_folder("INBOX")
        c.delete_messages(c.search("ALL"))
        c.expunge()
    finally:
        c.logout()
    refused = _cli(cfg)
    assert refused.returncode == 1
    assert "30 of the 30 messages of near box INBOX would be deleted" in refused.stderr
    assert sorted(p.name for p in files(tmp_path, "near").values()) == local
