"""DetectMoves against a real Dovecot: a message another client moved on the server is
moved in the Maildir without fetching it again; a local move is (still) copied up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import RunOptions, run
from tests.dovecot.cutting_relay import CuttingRelay
from tests.dovecot.imap_helpers import write_config
from tests.dovecot.test_retry_relay import Account
from tests.unit.engine_support import files, snapshot

pytestmark = pytest.mark.dovecot


def _sync(cfg: Path) -> None:
    config = parse_config(cfg.read_text(), str(cfg))
    result = run(config, [Target("test")], RunOptions())
    assert not result.errors, result.errors


def _msg(subject: str) -> bytes:
    return (
        f"From: a@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n"
        f"\r\nbody of {subject}\r\n"
    ).encode()


@pytest.mark.parametrize("detect", [True, False])
def test_server_move_is_a_local_move(tmp_path: Path, imap_user: Any, detect: bool) -> None:
    c = imap_user.client()
    c.create_folder("Zoo")
    c.logout()
    for subject in ("A", "B", "C"):
        imap_user.append("INBOX", _msg(subject), ("\\Flagged",) if subject == "B" else ())
    with CuttingRelay(imap_user.port) as relay:
        acct = Account(imap_user.server, imap_user.name, imap_user.password, relay.port)
        extra = "Expunge Both\nDetectMoves yes" if detect else "Expunge Both"
        cfg = write_config(tmp_path, acct, extra)
        _sync(cfg)
        # The near copy made recognisable (same size): a download would undo this.
        near_b = files(tmp_path, "near")["B"]
        near_b.write_bytes(near_b.read_bytes().replace(b"body of B", b"BODY OF B"))
        c = imap_user.client()
        c.select_folder("INBOX")
        uid = c.search(["HEADER", "Message-ID", "<B@example.org>"])
        c.move(uid, "Zoo")
        c.logout()
        relay.reset()
        _sync(cfg)
        names = [name for _, name in relay.commands]
        fetched = relay.body_fetches
    assert set(files(tmp_path, "near")) == {"A", "C"}
    assert snapshot(tmp_path, "near", "Zoo") == {"B": "F"}
    local = b"BODY OF B" in files(tmp_path, "near", "Zoo")["B"].read_bytes()
    assert "APPEND" not in names
    if detect:
        assert fetched == 0, names
        assert local
    else:
        assert fetched == 1 and not local
