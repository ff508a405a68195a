"""The no-change path over IMAP: one LIST-STATUS round trip tells which boxes changed;
an unchanged box pair is not even SELECTed, a changed one is synced as before."""

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
from tests.unit.engine_support import files

pytestmark = pytest.mark.dovecot


def _sync(cfg: Path) -> None:
    config = parse_config(cfg.read_text(), str(cfg))
    result = run(config, [Target("test")], RunOptions())
    assert not result.errors, result.errors


def test_unchanged_boxes_are_not_selected(tmp_path: Path, imap_user: Any) -> None:
    for box in ("INBOX", "Work", "Lists/python"):
        if box != "INBOX":
            c = imap_user.client()
            c.create_folder(box)
            c.logout()
        imap_user.append(box, _msg(f"{box} one"))
    with CuttingRelay(imap_user.port) as relay:
        acct = Account(imap_user.server, imap_user.name, imap_user.password, relay.port)
        cfg = write_config(tmp_path, acct)
        _sync(cfg)
        _sync(cfg)  # settles the notes of the boxes the first run created
        relay.reset()
        _sync(cfg)
        names = [name.split()[0] for _, name in relay.commands]
        assert "SELECT" not in names and "EXAMINE" not in names, relay.commands
        assert names.count("LIST") == 1, relay.commands

        imap_user.append("Work", _msg("Work two"))
        relay.reset()
        _sync(cfg)
        selected = [name for _, name in relay.commands if name.startswith("SELECT")]
        assert selected == ["SELECT Work"], relay.commands
    assert sorted(files(tmp_path, "near", "Work")) == ["Work one", "Work two"]


def _msg(subject: str) -> bytes:
    return f"From: a@example.org\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()
