"""``Tunnel``: IMAP over a ``/bin/sh -c`` command, against the real Dovecot.

Dovecot's ``imap`` binary run for a user greets with PREAUTH (the usual ``ssh host
/usr/lib/dovecot/imap`` recipe). It refuses a socket as stdin ("must not be started from
inetd"), so the test command puts pipes in between, as ssh does on the far end.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from syncmail import flags
from syncmail.config.model import IMAPAccountConfig, IMAPStoreConfig
from syncmail.config.parser import parse_config
from syncmail.errors import AuthenticationFailed, ConnectionFailed
from syncmail.store import make_store
from syncmail.store.base import FlagChange, ListRequest, OutgoingMessage
from syncmail.store.imap import IMAPStore
from tests.dovecot.imap_helpers import HERE, message

pytestmark = pytest.mark.dovecot

RELAY = Path(__file__).with_name("tcp_relay.py")


def preauth_command(user: Any) -> str:
    return f"cat | /usr/lib/dovecot/imap -c {user.server.conf} -u {user.name} | cat"


def relay_command(port: int) -> str:
    return f"{sys.executable} {RELAY} {port}"


def tunnel_store(imap_user: Any, command: str, **overrides: Any) -> IMAPStore:
    """A store whose connection is ``command``; ``overrides`` go to the account."""
    fields: dict[str, Any] = {
        "name": f"tunnel-{imap_user.name}",
        "defined_at": HERE,
        "tunnel": command,
        "tls_type": "none",
        "timeout": 10,
    }
    fields.update(overrides)
    account = IMAPAccountConfig(**fields)
    return IMAPStore(
        IMAPStoreConfig(name=f"remote-{imap_user.name}", defined_at=HERE, account=account)
    )


def test_preauth_tunnel_lists_fetches_and_stores(imap_user) -> None:  # type: ignore[no-untyped-def]
    imap_user.append("INBOX", message(1), flags=("\\Seen",))
    imap_user.append("Lists/python", message(2))
    # No user or password configured: with PREAUTH there must be no login at all.
    s = tunnel_store(imap_user, preauth_command(imap_user))
    s.connect()
    try:
        assert {"uidplus", "condstore"} <= s.capabilities
        assert s.list_boxes() == ["INBOX", "Lists/python"]
        box = s.open_box("INBOX")
        listed = box.list_messages(ListRequest())
        assert list(listed) == [1] and listed[1].flags == flags.SEEN
        assert [(m.uid, m.data) for m in box.fetch_messages([1])] == [(1, message(1))]
        stored = list(box.store_messages([OutgoingMessage(message(3), flags.FLAGGED)]))
        assert [m.uid for m in stored] == [2]
        box.set_flags([FlagChange(1, flags.REPLIED, flags.SEEN)])
        new = s.open_box("Created/here", create=True)
        assert new.status.uidnext == 1
    finally:
        s.close()
    c = imap_user.client()
    try:
        c.select_folder("INBOX", readonly=True)
        got = c.fetch([1, 2], ["FLAGS", "BODY.PEEK[]"])
        assert set(got[1][b"FLAGS"]) == {b"\\Answered"}
        assert set(got[2][b"FLAGS"]) == {b"\\Flagged"}
        assert got[2][b"BODY[]"] == message(3)
        assert c.folder_exists("Created/here")
    finally:
        c.logout()


def test_tunnel_from_the_config_file(imap_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    imap_user.append("Lists-python", message(1))
    rc = tmp_path / "mbsyncrc"
    text = (
        f'IMAPStore remote\nTunnel "{preauth_command(imap_user)}"\n'
        "SubscribedOnly no\nFlatten -\nMapInbox Inbox\n"
    )
    config = parse_config(text, str(rc))
    s = make_store(config.stores["remote"], config)
    s.connect()
    try:
        assert s.list_boxes() == ["INBOX", "Inbox", "Lists/python"]
        assert list(s.open_box("Lists/python").list_messages(ListRequest())) == [1]
    finally:
        s.close()


def test_login_through_a_plain_tunnel(imap_user) -> None:  # type: ignore[no-untyped-def]
    # A tunnel counts as a secure channel, as in mbsync: AuthMechs * may send LOGIN/PLAIN.
    s = tunnel_store(
        imap_user,
        relay_command(imap_user.server.port),
        user=imap_user.name,
        password=imap_user.password,
    )
    s.connect()
    try:
        assert s.open_box("INBOX").list_messages(ListRequest()) == {}
    finally:
        s.close()


def test_starttls_through_a_tunnel_checks_the_host_name(imap_user) -> None:  # type: ignore[no-untyped-def]
    server = imap_user.server
    common = {
        "user": imap_user.name,
        "password": imap_user.password,
        "tls_type": "starttls",
        "certificate_file": server.cert_path,
    }
    s = tunnel_store(imap_user, relay_command(server.port), host="127.0.0.1", **common)
    s.connect()
    try:
        assert s.session.client.socket().version() is not None  # really TLS
    finally:
        s.close()
    wrong = tunnel_store(imap_user, relay_command(server.port), host="imap.example.org", **common)
    with pytest.raises(ConnectionFailed, match="certificate verification failed"):
        wrong.connect()
    nameless = tunnel_store(imap_user, relay_command(server.port), **common)
    with pytest.raises(ConnectionFailed, match="needs Host"):
        nameless.connect()


def test_imaps_through_a_tunnel(imap_user) -> None:  # type: ignore[no-untyped-def]
    server = imap_user.server
    s = tunnel_store(
        imap_user,
        relay_command(server.port_tls),
        host="127.0.0.1",
        tls_type="imaps",
        certificate_file=server.cert_path,
        user=imap_user.name,
        password=imap_user.password,
    )
    s.connect()
    try:
        assert s.session.client.socket().version() is not None
        assert s.list_boxes() == ["INBOX"]
    finally:
        s.close()


def test_wrong_password_through_a_tunnel(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = tunnel_store(
        imap_user, relay_command(imap_user.server.port), user=imap_user.name, password="nope"
    )
    with pytest.raises(AuthenticationFailed, match="login refused"):
        s.connect()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("exit 3", "Tunnel: tunnel command exited with status 3 before the server greeting"),
        ("no-such-command-here", "exited with status 127"),
        ("exit 0", "Tunnel: tunnel closed before the server greeting"),
        ("echo garbage", "Tunnel: no usable server greeting through the tunnel"),
        ("printf 'garbage\\r\\n'; cat", "Tunnel: no usable server greeting .*garbage"),
    ],
)
def test_failing_tunnel_commands_are_connection_errors(imap_user, command, message) -> None:  # type: ignore[no-untyped-def]
    s = tunnel_store(imap_user, command)
    with pytest.raises(ConnectionFailed, match=message):
        s.connect()


def test_preauth_with_starttls_is_refused_clearly(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = tunnel_store(
        imap_user,
        preauth_command(imap_user),
        host="127.0.0.1",
        tls_type="starttls",
        certificate_file=imap_user.server.cert_path,
    )
    with pytest.raises(ConnectionFailed, match="PREAUTH, so STARTTLS is impossible"):
        s.connect()


def test_tunnel_read_timeout_still_works(imap_user) -> None:  # type: ignore[no-untyped-def]
    # The greeting never comes: the socket timeout must end the wait.
    s = tunnel_store(imap_user, "read line", timeout=1)
    with pytest.raises(ConnectionFailed, match="timed out"):
        s.connect()
