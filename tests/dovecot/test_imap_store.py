"""IMAPStore against a real Dovecot: boxes, names, listing, bodies, flags, expunge."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace

import pytest

from syncmail import flags
from syncmail.errors import ConnectionFailed
from syncmail.store.base import (
    BoxMissing,
    FlagChange,
    KeywordEdit,
    ListRequest,
    OutgoingMessage,
)
from syncmail.store.imap import IMAPBoxError
from tests.dovecot.imap_helpers import message, store

pytestmark = pytest.mark.dovecot


@pytest.fixture
def remote(imap_user):  # type: ignore[no-untyped-def]
    s = store(imap_user)
    s.connect()
    yield s
    s.close()


def _server_flags(user, box: str) -> dict[int, set[bytes]]:  # type: ignore[no-untyped-def]
    c = user.client()
    try:
        c.select_folder(box, readonly=True)
        return {uid: set(v[b"FLAGS"]) for uid, v in c.fetch("1:*", ["FLAGS"]).items()}
    except ValueError:  # imapclient 4.1 raises on "1:*" after the command ran
        uids = c.search("ALL")
        return {uid: set(v[b"FLAGS"]) for uid, v in c.fetch(uids, ["FLAGS"]).items()}
    finally:
        c.logout()


def test_connect_reports_capabilities_and_namespace(remote) -> None:  # type: ignore[no-untyped-def]
    assert {"uidplus", "condstore", "literal+", "move"} <= remote.capabilities
    assert all(c == c.lower() for c in remote.capabilities)
    assert remote.crlf is True
    assert remote.delimiter == "/"
    assert remote.prefix == ""
    assert remote.list_boxes() == ["INBOX"]


def test_nested_and_non_ascii_boxes_round_trip(imap_user, remote) -> None:  # type: ignore[no-untyped-def]
    names = ["Lists/python", "Entwürfe", "Archiv/2024/台北", "A & B"]
    for name in names:
        with pytest.raises(BoxMissing):
            remote.open_box(name)
        box = remote.open_box(name, create=True)
        assert box.status.uidvalidity > 0
        assert box.status.uidnext == 1
    assert remote.list_boxes() == ["INBOX", "A & B", "Archiv/2024/台北", "Entwürfe", "Lists/python"]
    # The server and the disk hold modified UTF-7.
    c = imap_user.client()
    try:
        c.folder_encode = False
        raw = {f[2] for f in c.list_folders()}
    finally:
        c.logout()
    assert {b"Entw&APw-rfe", b"Archiv/2024/&U,BTFw-", b"A &- B"} <= raw
    assert (imap_user.maildir / ".Entw&APw-rfe").is_dir()
    assert remote.on_store_name("Lists/python") == "Lists/python"
    remote.delete_box("Entwürfe")
    assert "Entwürfe" not in remote.list_boxes()


def test_store_list_fetch_round_trip(remote) -> None:  # type: ignore[no-untyped-def]
    box = remote.open_box("INBOX")
    assert box.list_messages(ListRequest()) == {}
    bodies = [message(1), message(2, b"X-TUID: abcdefghijkl\r\n"), message(3, b"X-Odd: a\rb\r\n")]
    out = [
        OutgoingMessage(bodies[0], flags.SEEN | flags.FLAGGED, date=1_000_000_000.0),
        OutgoingMessage(bodies[1], flags.DRAFT | flags.PASSED | flags.REPLIED),
        OutgoingMessage(bodies[2], 0, date=1_500_000_000.0),
    ]
    stored = list(box.store_messages(out))
    assert [s.uid for s in stored] == [1, 2, 3]
    listed = box.list_messages(
        ListRequest(want_size=True, want_date=True, tuid_from=2, message_id_uids=frozenset({1}))
    )
    assert sorted(listed) == [1, 2, 3]
    assert listed[1].flags == flags.SEEN | flags.FLAGGED
    assert listed[2].flags == flags.DRAFT | flags.PASSED | flags.REPLIED
    assert listed[3].flags == 0
    assert [listed[u].size for u in (1, 2, 3)] == [len(b) for b in bodies]
    assert listed[1].date == 1_000_000_000.0
    assert listed[1].message_id == "<1@syncmail.test>"
    assert listed[2].message_id is None  # not asked for
    assert listed[1].tuid is None  # below tuid_from
    assert listed[2].tuid == "abcdefghijkl"
    got = list(box.fetch_messages([3, 99, 1]))
    assert [m.uid for m in got] == [3, 1]
    assert got[0].data == bodies[2]  # stray CR kept byte for byte
    assert got[1].data == bodies[0]
    assert got[1].flags == flags.SEEN | flags.FLAGGED
    assert got[0].date == 1_500_000_000.0
    assert box.status.uidnext == 4


def test_plain_listing_makes_no_objects_and_says_the_same(remote) -> None:  # type: ignore[no-untyped-def]
    """Flags and sizes only (an initial pull's listing): kept by UID, each MessageInfo
    made when looked up, equal to what a listing that describes every message says."""
    box = remote.open_box("INBOX")
    out = [
        OutgoingMessage(message(1), flags.SEEN),
        OutgoingMessage(message(2, b"X-Big: " + b"x" * 5000 + b"\r\n"), flags.FLAGGED),
        OutgoingMessage(message(3), 0),
    ]
    list(box.store_messages(out))
    box.set_keywords([KeywordEdit(2, frozenset({"$label1"}), frozenset())])
    plain = box.list_messages(ListRequest(want_size=True, extra_uids=frozenset({1}), min_uid=2))
    assert plain.described() == {}
    assert plain.size(2) > 5000 and plain.keywords(2) == frozenset({"$label1"})
    assert plain.flags == {1: flags.SEEN, 2: flags.FLAGGED, 3: 0}
    described = box.list_messages(ListRequest(want_size=True, want_date=True))
    assert set(described.described()) == {1, 2, 3}
    for uid in (1, 2, 3):
        assert replace(plain[uid], date=described[uid].date) == described[uid]


def test_min_uid_and_extra_uids(remote) -> None:  # type: ignore[no-untyped-def]
    box = remote.open_box("INBOX")
    list(box.store_messages(OutgoingMessage(message(i), 0) for i in range(6)))
    assert sorted(box.list_messages(ListRequest(min_uid=4))) == [4, 5, 6]
    assert sorted(box.list_messages(ListRequest(min_uid=5, extra_uids=frozenset({1, 3})))) == [
        1,
        3,
        5,
        6,
    ]
    # "n:*" with n past the last UID still returns the last message: it must be filtered.
    assert box.list_messages(ListRequest(min_uid=100)) == {}


def test_fifty_thousand_sparse_uids(remote) -> None:  # type: ignore[no-untyped-def]
    box = remote.open_box("INBOX")
    list(box.store_messages(OutgoingMessage(message(i), 0) for i in range(3)))
    extra = frozenset(range(1, 100_001, 2))
    assert len(extra) == 50_000
    listed = box.list_messages(
        ListRequest(min_uid=1_000_000, extra_uids=extra, message_id_uids=extra)
    )
    assert sorted(listed) == [1, 3]
    assert listed[3].message_id == "<2@syncmail.test>"
    box.set_flags([FlagChange(u, flags.SEEN, 0) for u in extra])
    box.expunge(sorted(extra))
    assert sorted(box.list_messages(ListRequest())) == [2]


def test_set_flags_groups_and_expunge(imap_user, remote) -> None:  # type: ignore[no-untyped-def]
    box = remote.open_box("INBOX")
    list(box.store_messages(OutgoingMessage(message(i), flags.SEEN) for i in range(5)))
    box.set_flags(
        [
            FlagChange(1, flags.FLAGGED, flags.SEEN),
            FlagChange(2, flags.FLAGGED, flags.SEEN),
            FlagChange(3, flags.REPLIED | flags.PASSED, 0),
            FlagChange(4, 0, 0),
        ]
    )
    server = _server_flags(imap_user, "INBOX")
    assert server[1] == server[2] == {b"\\Flagged"}
    assert server[3] == {b"\\Seen", b"\\Answered", b"$Forwarded"}
    assert server[4] == {b"\\Seen"}
    box.set_flags([FlagChange(5, flags.TRASHED, 0)])
    box.expunge([1, 2])
    listed = box.list_messages(ListRequest())
    # UID 5 carries \Deleted but was not asked for: UID EXPUNGE leaves it.
    assert sorted(listed) == [3, 4, 5]
    assert listed[5].flags & flags.TRASHED


def test_change_marker_moves_with_condstore(remote) -> None:  # type: ignore[no-untyped-def]
    box = remote.open_box("INBOX")
    list(box.store_messages([OutgoingMessage(message(1), 0)]))
    first = remote.open_box("INBOX").status.change_marker
    assert first is not None
    box.set_flags([FlagChange(1, flags.SEEN, 0)])
    second = remote.open_box("INBOX").status.change_marker
    assert second is not None and int(second) > int(first)


def test_boxes_share_the_connection(remote) -> None:  # type: ignore[no-untyped-def]
    a = remote.open_box("INBOX")
    b = remote.open_box("Other", create=True)
    list(a.store_messages([OutgoingMessage(message(1), 0)]))
    list(b.store_messages([OutgoingMessage(message(2), 0), OutgoingMessage(message(3), 0)]))
    assert sorted(a.list_messages(ListRequest())) == [1]
    assert sorted(b.list_messages(ListRequest())) == [1, 2]
    assert [m.data for m in a.fetch_messages([1])] == [message(1)]


def test_path_prefix_and_subscribed_only(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = store(imap_user)
    s.connect()
    for name in ("Archiv/2023", "Archiv/2024", "Other"):
        s.open_box(name, create=True)
    s.close()
    p = store(imap_user, store_overrides={"path": "Archiv/"})
    p.connect()
    try:
        assert p.list_boxes() == ["INBOX", "2023", "2024"]
        assert p.server_name("2024") == "Archiv/2024"
        assert p.on_store_name("2024") == "2024"
        assert p.open_box("2023").status.uidvalidity > 0
    finally:
        p.close()
    c = imap_user.client()
    c.subscribe_folder("Other")
    c.logout()
    sub = store(imap_user, store_overrides={"subscribed_only": True})
    sub.connect()
    try:
        assert sub.list_boxes() == ["Other"]
    finally:
        sub.close()


def test_odd_server_names(imap_user, remote, caplog) -> None:  # type: ignore[no-untyped-def]
    # Dovecot refuses to CREATE names with '.' under Maildir++, so plant the directories.
    # It never offers a real ".." component (it cannot exist on disk); that rule is checked
    # against forged LIST entries in test_forged_unsafe_list_entries_are_skipped.
    import os

    md = imap_user.maildir
    server = imap_user.server
    # ".." spelled in modified UTF-7 (Dovecot shows it escaped, '&-'), a "//" empty
    # component, and a leading "/".
    for d in (".h.&AC4ALg-.i", ".a..b", "..hidden", ".ok"):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(md / d / sub, exist_ok=True)
        for root, _dirs, _files in os.walk(md / d):
            os.chown(root, server.mail_uid, server.mail_gid)
    with caplog.at_level(logging.INFO, logger="syncmail.store.imap"):
        names = remote.list_boxes()
    assert names == ["INBOX", "h/&AC4ALg-/i", "ok"]
    assert "'a//b'" in caplog.text and "'/hidden'" in caplog.text
    with pytest.raises(IMAPBoxError, match=r"\.\."):
        remote.open_box("h/../i")
    with pytest.raises(IMAPBoxError):
        remote.open_box("../escape", create=True)


def test_forged_unsafe_list_entries_are_skipped(remote, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.WARNING, logger="syncmail.store.imap"):
        assert remote.accept_listed((), b"foo/../bar") is None
        assert remote.accept_listed((), b"..") is None
        assert remote.accept_listed((), b"&AC4ALg-/x") is None  # ".." hidden in UTF-7
    assert "foo/../bar" in caplog.text and "unsafe" in caplog.text
    assert remote.accept_listed((b"\\Noselect",), b"Lists") is None
    assert remote.accept_listed((), b"x.lock") is None
    assert remote.accept_listed((), b"inbox/Sub") == "INBOX/Sub"
    assert remote.accept_listed((b"\\HasNoChildren",), b"Entw&APw-rfe") == "Entwürfe"


def test_lost_connection_is_a_store_error(remote) -> None:  # type: ignore[no-untyped-def]
    box = remote.open_box("INBOX")
    remote.session.client._imap.sock.shutdown(socket.SHUT_RDWR)
    with pytest.raises(ConnectionFailed, match="connection lost"):
        box.list_messages(ListRequest())


@pytest.mark.parametrize("disabled", [frozenset(), frozenset({"MULTIAPPEND"})])
def test_store_batches_keep_order_and_uids(imap_user, monkeypatch, disabled) -> None:  # type: ignore[no-untyped-def]
    import syncmail.store.imapbox as imap_mod

    monkeypatch.setattr(imap_mod, "STORE_BATCH", 3)
    s = store(imap_user, disable_extensions=disabled)
    s.connect()
    try:
        box = s.open_box("INBOX")
        bodies = [message(i) for i in range(7)]
        stored = list(
            box.store_messages(
                OutgoingMessage(b, flags.SEEN if i % 2 else 0) for i, b in enumerate(bodies)
            )
        )
        assert [m.uid for m in stored] == [1, 2, 3, 4, 5, 6, 7]
        got = {m.uid: m for m in box.fetch_messages(range(1, 8))}
        assert [got[u].data for u in range(1, 8)] == bodies
        assert [bool(got[u].flags & flags.SEEN) for u in range(1, 8)] == [
            bool(i % 2) for i in range(7)
        ]
    finally:
        s.close()


def test_buffer_limit_bounds_the_bodies_in_flight(imap_user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """BufferLimit: FETCH batches of half of it (two are in flight), one MULTIAPPEND of
    it; a message larger than that goes alone."""
    from syncmail.store.imap import IMAPStore
    from syncmail.store.imapwire import Session

    bodies = [message(n, b"X-Pad: " + b"p" * 990 + b"\r\n") for n in range(1, 8)]
    bodies[5] += b"big" * 2000  # 6 KB: over half the limit
    each = max(len(b) for i, b in enumerate(bodies) if i != 5)
    s = IMAPStore(store(imap_user).cfg, buffer_limit=4 * each)
    fetched: list[list[int]] = []
    appended: list[int] = []
    fetch_ahead, multiappend = Session.fetch_ahead, Session.multiappend

    def spy_fetch(self, batches, *args):  # type: ignore[no-untyped-def]
        fetched.extend(list(b) for b in batches)
        return fetch_ahead(self, batches, *args)

    def spy_append(self, mailbox, messages, *args, **kwargs):  # type: ignore[no-untyped-def]
        messages = list(messages)
        appended.append(len(messages))
        return multiappend(self, mailbox, messages, *args, **kwargs)

    monkeypatch.setattr(Session, "fetch_ahead", spy_fetch)
    monkeypatch.setattr(Session, "multiappend", spy_append)
    s.connect()
    try:
        box = s.open_box("INBOX")
        assert [m.uid for m in box.store_messages([OutgoingMessage(b, 0) for b in bodies])] == [
            1, 2, 3, 4, 5, 6, 7,
        ]  # fmt: skip
        assert appended == [4, 1, 1, 1]  # the 6 KB one alone, as are its neighbours
        assert [m.data for m in box.fetch_messages(list(range(1, 8)))] == bodies
        assert fetched == [[1, 2], [3, 4], [5], [6], [7]]
    finally:
        s.close()


def test_buffer_limit_of_the_config_reaches_the_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from syncmail.config.parser import load_config
    from syncmail.store import make_store

    rc = tmp_path / "rc"
    rc.write_text(
        "BufferLimit 64k\n\nIMAPAccount a\nHost 127.0.0.1\nUser u\nPass p\n\n"
        "IMAPStore r\nAccount a\n"
    )
    config = load_config(str(rc))
    assert make_store(config.stores["r"], config).buffer_limit == 64 * 1024  # type: ignore[attr-defined]
    rc.write_text(rc.read_text().replace("BufferLimit 64k\n", ""))
    config = load_config(str(rc))
    assert make_store(config.stores["r"], config).buffer_limit == 10 * 1024 * 1024  # type: ignore[attr-defined]


def test_without_uidplus_stored_uids_are_unknown(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = store(imap_user, disable_extensions=frozenset({"UIDPLUS"}))
    s.connect()
    try:
        assert "uidplus" not in s.capabilities
        box = s.open_box("INBOX")
        stored = list(box.store_messages([OutgoingMessage(message(1), 0)] * 2))
        assert [m.uid for m in stored] == [None, None]
        box.set_flags([FlagChange(1, flags.TRASHED, 0)])
        box.expunge([2])  # plain EXPUNGE: every \Deleted message goes
        assert box.list_messages(ListRequest()) == {}
    finally:
        s.close()


def test_body_fetches_are_pipelined_and_an_abandoned_one_is_drained(
    remote, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Batches are asked for one ahead; a caller that stops after the first batch leaves
    the next FETCH's answer to be read and dropped by the next command, whose own answer
    is then exactly its own."""
    from syncmail.store import imapbox

    monkeypatch.setattr(imapbox, "FETCH_BATCH", 2)
    box = remote.open_box("INBOX")
    bodies = [message(n) for n in range(1, 8)]
    assert [s.uid for s in box.store_messages([OutgoingMessage(b, 0) for b in bodies])] == [
        1, 2, 3, 4, 5, 6, 7,
    ]  # fmt: skip
    session = remote.session
    fetched = box.fetch_messages([1, 2, 3, 4, 5, 6, 7])
    first = next(fetched)
    assert first.data == bodies[0]
    # Batch 1 (UIDs 1-2) is read, batch 2 (3-4) already asked for, not yet read.
    assert len(session._ahead) == 1
    fetched.close()  # abandoned after one message
    listed = box.list_messages(ListRequest(want_size=True))
    assert not session._ahead
    assert sorted(listed) == [1, 2, 3, 4, 5, 6, 7]
    assert [m.data for m in box.fetch_messages([7, 5])] == [bodies[6], bodies[4]]
    # All batches in order, each message once.
    assert [m.data for m in box.fetch_messages(list(range(1, 8)))] == bodies
