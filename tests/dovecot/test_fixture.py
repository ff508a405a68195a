"""Smoke test of the Dovecot fixture itself: users, APPEND, plain and TLS connections."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dovecot

MSG = b"From: a@example.org\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n"


def test_user_starts_empty_and_append_works(imap_user) -> None:  # type: ignore[no-untyped-def]
    client = imap_user.client()
    try:
        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == 0
    finally:
        client.logout()
    uid = imap_user.append("INBOX", MSG, flags=(r"\Seen",))
    assert uid == 1
    uid2 = imap_user.append("Lists/python", MSG)
    assert uid2 == 1
    client = imap_user.client()
    try:
        client.select_folder("INBOX", readonly=True)
        got = client.fetch([1], ["FLAGS", "BODY.PEEK[]"])
        assert got[1][b"BODY[]"] == MSG
        assert b"\\Seen" in got[1][b"FLAGS"]
        names = {f[2] for f in client.list_folders()}
        assert {"INBOX", "Lists", "Lists/python"} <= names
    finally:
        client.logout()
    assert (imap_user.maildir / ".Lists.python" / "new").is_dir() or (
        imap_user.maildir / ".Lists.python" / "cur"
    ).is_dir()


def test_users_are_isolated(dovecot, imap_user) -> None:  # type: ignore[no-untyped-def]
    dovecot.add_user("fixture-other", "pw-other")
    dovecot.append("fixture-other", "INBOX", MSG)
    client = imap_user.client()
    try:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    finally:
        client.logout()
    dovecot.reset_user("fixture-other")
    out = dovecot.doveadm("mailbox", "status", "-u", "fixture-other", "messages", "INBOX")
    assert "messages=0" in out


def test_tls_listeners_use_the_self_signed_cert(dovecot, imap_user) -> None:  # type: ignore[no-untyped-def]
    from imapclient import IMAPClient

    client = IMAPClient(
        dovecot.host,
        port=dovecot.port_tls,
        ssl=True,
        ssl_context=dovecot.ssl_context(),
        timeout=10,
    )
    try:
        client.login(imap_user.name, imap_user.password)
    finally:
        client.logout()
    client = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10)
    try:
        assert b"STARTTLS" in client.capabilities()
        client.starttls(dovecot.ssl_context())
        client.login(imap_user.name, imap_user.password)
    finally:
        client.logout()


def test_populate_writes_maildir_files(dovecot, imap_user) -> None:  # type: ignore[no-untyped-def]
    n = dovecot.populate(imap_user.name, "Bulk/box", (MSG for _ in range(50)), info="S")
    assert n == 50
    client = imap_user.client()
    try:
        assert client.select_folder("Bulk/box")[b"EXISTS"] == 50
        assert all(b"\\Seen" in v[b"FLAGS"] for v in client.fetch([1, 50], ["FLAGS"]).values())
    finally:
        client.logout()
