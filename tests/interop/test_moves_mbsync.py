"""DetectMoves and the real mbsync: after syncmail carried moves both ways (a server
move as a local copy, a local move as a server MOVE or COPY), mbsync on the same state
finds nothing to do and complains about nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ImapUser
from tests.interop.test_mbsync_interop import ROOT, message, run_mbsync, run_syncmail, write_rc

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


def _verbose_syncmail(rc: Path) -> str:
    """``syncmail -V`` (run_syncmail refuses any unexpected line): what it said."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "plugins")])
    proc = subprocess.run(
        [sys.executable, "-m", "syncmail", "-c", str(rc), "-a", "-V"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("server_move", [True, False])
def test_mbsync_after_moves_finds_nothing_to_do(
    tmp_path: Path, imap_user: ImapUser, server_move: bool
) -> None:
    """``server_move``: the local move reaches the server as a UID MOVE (Dovecot offers
    MOVE, the channel expunges), else as UID COPY + \\Deleted (MOVE hidden)."""
    c = imap_user.client()
    c.create_folder("Zoo")
    c.logout()
    for n in (1, 2, 3):
        imap_user.append("INBOX", message(n))
    rc = write_rc(tmp_path, imap_user)
    ours = tmp_path / "syncmailrc"
    hide = "" if server_move else "DisableExtension MOVE\n"
    ours.write_text(
        rc.read_text().replace("AuthMechs LOGIN\n", "AuthMechs LOGIN\n" + hide)
        + "DetectMoves yes\n"
    )
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
    how = "moved" if server_move else "copied"
    said = _verbose_syncmail(ours)
    assert f"Zoo (UID 1): {how} on the far server" in said
    assert "\nmoved 2 message(s) between boxes without transferring them again." in said
    server, local = _server(imap_user), _local(mail)
    assert [len(server["INBOX"]), len(server["Zoo"])] == [1, 2]
    assert [len(local["INBOX"]), len(local["Zoo"])] == [1, 2]
    proc = run_mbsync(rc)
    assert "duplicate" not in proc.stdout + proc.stderr
    assert _server(imap_user) == server
    assert _local(mail) == local
