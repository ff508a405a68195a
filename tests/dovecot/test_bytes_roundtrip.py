"""Broken mail uploaded to a real Dovecot and fetched back is byte-identical after the
line-ending conversion (LF -> CRLF up, CRLF pairs -> LF down).

Dovecot itself stores a lone CR as CRLF and a NUL as 0x80 (measured: APPEND of
``a\rb`` fetches back as ``a\r\nb``), so those two are left to the hostile-server
tests, where the server sends exactly what it holds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import RunOptions, run
from tests.dovecot.imap_helpers import write_config

pytestmark = pytest.mark.dovecot

# Maildir (LF) files as a mail client or another tool may leave them.
LOCAL = {
    "empty": b"",
    "no-header": b"just a body line\nand another\n",
    "header-no-blank": b"Subject: s\nFrom: f@example.org\n",
    "header-no-newline": b"Subject: s",
    "no-final-newline": b"Subject: s\n\nthe body ends here",
    "8bit": b"Subject: \xe9t\xe9 \xff\n\n\x80\x81\xfe\xfd\n\x1b[31m\n",
    "tab-and-ctl": b"Subject: t\n\n\tx\x01\x02\x7f\n",
}


def _strip_tuid(data: bytes, nl: bytes) -> bytes:
    at = data.find(b"X-TUID: ")
    assert at >= 0, data
    end = at + 20 + len(nl)
    assert data[at + 20 : end] == nl, data
    return data[:at] + data[end:]


def _sync(cfg: Path) -> None:
    config = parse_config(cfg.read_text(), str(cfg))
    result = run(config, [Target("test")], RunOptions())
    assert not result.errors, result.errors


def test_uploaded_broken_mail_comes_back_byte_for_byte(tmp_path: Path, imap_user: Any) -> None:
    cfg = write_config(tmp_path, imap_user)
    inbox = tmp_path / "near/INBOX"
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(parents=True)
    for i, (name, data) in enumerate(LOCAL.items()):
        (inbox / "new" / f"17000000{i:02d}.M{i}P1.{name}").write_bytes(data)
    _sync(cfg)

    c = imap_user.client()
    try:
        c.select_folder("INBOX", readonly=True)
        bodies = [d[b"BODY[]"] for d in c.fetch(c.search("ALL"), ["BODY.PEEK[]"]).values()]
    finally:
        c.logout()
    up = sorted(_strip_tuid(b, b"\r\n").replace(b"\r\n", b"\n") for b in bodies)
    assert up == sorted(LOCAL.values())

    # And down again into an empty Maildir: the same bytes (with the server's X-TUID).
    shutil.rmtree(tmp_path / "near")
    for state in tmp_path.rglob("*.mbsyncstate*"):
        state.unlink()
    _sync(cfg)
    down = sorted(_strip_tuid(p.read_bytes(), b"\n") for p in inbox.glob("*/*"))
    assert down == sorted(LOCAL.values())
