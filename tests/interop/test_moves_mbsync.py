"""DetectMoves and the real mbsync: after syncmail carried moves both ways (a server
move as a local copy, a local move as a server COPY), mbsync on the same state finds
nothing to do and complains about nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ImapUser
from tests.interop.test_mbsync_interop import message, run_mbsync, run_syncmail, write_rc

pytestmark = [
    pytest.mark.interop,
    pytest.mark.dovecot,
    pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync (isync) is not installed"),
]


def _server(user: ImapUser) -> dict[str, list[str]]:
    c = user.client()
    try:
        out = {}
        for box in ("INBOX", "Zoo"):
            c.select_folder(box)
            got = c.fetch(c.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
            out[box] = sorted(
                v[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip() for v in got.values()
            )
        return out
    finally:
        c.logout()


def _local(mail: Path) -> dict[str, list[str]]:
    return {
        box: sorted(os.listdir(mail / box / "cur") + os.listdir(mail / box / "new"))
        for box in ("INBOX", "Zoo")
    }


def test_mbsync_after_moves_finds_nothing_to_do(tmp_path: Path, imap_user: ImapUser) -> None:
    c = imap_user.client()
    c.create_folder("Zoo")
    c.logout()
    for n in (1, 2, 3):
        imap_user.append("INBOX", message(n))
    rc = write_rc(tmp_path, imap_user)
    ours = tmp_path / "syncmailrc"
    ours.write_text(rc.read_text() + "DetectMoves yes\n")
    run_syncmail(ours)
    mail = tmp_path / "mail"
    # Local move of message 2 (afew-style name, no ,U=), server move of message 3.
    [two] = [n for n in os.listdir(mail / "INBOX" / "cur") + os.listdir(mail / "INBOX" / "new")
             if "U=2" in n]  # fmt: skip
    sub = "cur" if (mail / "INBOX" / "cur" / two).exists() else "new"
    (mail / "INBOX" / sub / two).rename(mail / "Zoo" / "cur" / "moved-2:2,S")
    c = imap_user.client()
    c.select_folder("INBOX")
    c.move(c.search(["HEADER", "Message-ID", "<interop-INBOX-3@example.org>"]), "Zoo")
    c.logout()
    run_syncmail(ours)
    server, local = _server(imap_user), _local(mail)
    assert [len(server["INBOX"]), len(server["Zoo"])] == [1, 2]
    assert [len(local["INBOX"]), len(local["Zoo"])] == [1, 2]
    proc = run_mbsync(rc)
    assert "duplicate" not in proc.stdout + proc.stderr
    assert _server(imap_user) == server
    assert _local(mail) == local
