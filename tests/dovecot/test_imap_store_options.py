"""IMAPStore options against the real Dovecot: DisableExtensions, SubscribedOnly,
MapInbox and Flatten (both directions: list, open, create)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from syncmail import flags
from syncmail.config.parser import parse_config
from syncmail.store import make_store
from syncmail.store.base import ListRequest, OutgoingMessage
from syncmail.store.imap import IMAPBoxError, IMAPStore
from tests.dovecot.imap_helpers import message, store

pytestmark = pytest.mark.dovecot


def _server_boxes(user: Any) -> set[str]:
    c = user.client()
    try:
        return {str(f[2]) for f in c.list_folders()}
    finally:
        c.logout()


def _inbox_bodies(user: Any, box: str = "INBOX") -> list[bytes]:
    c = user.client()
    try:
        c.select_folder(box, readonly=True)
        uids = c.search("ALL")
        return [v[b"BODY[]"] for _, v in sorted(c.fetch(uids, ["BODY.PEEK[]"]).items())]
    finally:
        c.logout()


# --- DisableExtensions -----------------------------------------------------------------------


def test_disabled_extensions_are_gone_everywhere(imap_user, caplog) -> None:  # type: ignore[no-untyped-def]
    full = store(imap_user)
    full.connect()
    try:
        assert {"uidplus", "move", "condstore", "qresync", "literal+"} <= full.capabilities
        assert full.open_box("INBOX").status.change_marker is not None
    finally:
        full.close()
    masked = frozenset({"UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "LITERAL+"})
    s = store(imap_user, disable_extensions=masked)
    s.connect()
    try:
        assert not {"uidplus", "move", "condstore", "qresync", "literal+"} & s.capabilities
        assert not {c.lower() for c in masked} & {c.lower() for c in s.server_caps}
        assert not s.condstore
        box = s.open_box("INBOX")
        assert box.status.change_marker is None  # no CONDSTORE: no HIGHESTMODSEQ used
        # imapclient sends literals itself: it must wait for the continuation, not use {n+}.
        with caplog.at_level(logging.DEBUG, logger="imapclient"):
            stored = list(box.store_messages([OutgoingMessage(message(1), flags.SEEN)]))
        assert [m.uid for m in stored] == [None]  # no UIDPLUS: no APPENDUID
        assert "+}" not in caplog.text and "}\\r\\n" in caplog.text
        assert list(box.list_messages(ListRequest())) == [1]
    finally:
        s.close()
    assert _inbox_bodies(imap_user) == [message(1)]


def test_literal_plus_is_used_when_not_disabled(imap_user, caplog) -> None:  # type: ignore[no-untyped-def]
    # The counterpart of the test above, so that it can fail.
    s = store(imap_user)
    s.connect()
    try:
        with caplog.at_level(logging.DEBUG, logger="imapclient"):
            list(s.open_box("INBOX").store_messages([OutgoingMessage(message(1), 0)]))
    finally:
        s.close()
    assert "+}" in caplog.text


def test_disable_extensions_from_the_config_file(imap_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (
        f"IMAPStore r\nHost 127.0.0.1\nPort {imap_user.port}\nUser {imap_user.name}\n"
        f"Pass {imap_user.password}\nTLSType None\nAuthMechs LOGIN\nPipelineDepth 1\n"
        "DisableExtensions UIDPLUS MOVE\nDisableExtension condstore qresync\n"
    )
    config = parse_config(text, str(tmp_path / "rc"))
    s = make_store(config.stores["r"], config)
    s.connect()
    try:
        assert not {"uidplus", "move", "condstore", "qresync"} & s.capabilities
        box = s.open_box("INBOX")
        assert [m.uid for m in box.store_messages([OutgoingMessage(message(1), 0)])] == [None]
    finally:
        s.close()


# --- SubscribedOnly ------------------------------------------------------------------------


def test_subscribed_only_lists_the_subscribed_subset(imap_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for box in ("Archive", "Lists/python", "Lists/rust", "Spam"):
        imap_user.append(box, message(1))
    c = imap_user.client()
    try:
        for box in ("INBOX", "Lists/python", "Spam"):
            c.subscribe_folder(box)
    finally:
        c.logout()
    base = (
        f"IMAPStore r\nHost 127.0.0.1\nPort {imap_user.port}\nUser {imap_user.name}\n"
        f"Pass {imap_user.password}\nTLSType None\nAuthMechs LOGIN\n"
    )
    listed = {}
    for value in ("yes", "no"):
        config = parse_config(base + f"SubscribedOnly {value}\n", str(tmp_path / "rc"))
        s = make_store(config.stores["r"], config)
        s.connect()
        try:
            listed[value] = s.list_boxes()
        finally:
            s.close()
    assert listed["yes"] == ["INBOX", "Lists/python", "Spam"]
    assert listed["no"] == ["INBOX", "Archive", "Lists/python", "Lists/rust", "Spam"]


# --- MapInbox and Flatten ------------------------------------------------------------------


def test_map_inbox_aliases_the_server_inbox(imap_user) -> None:  # type: ignore[no-untyped-def]
    imap_user.append("INBOX", message(1))
    s = store(imap_user, store_overrides={"map_inbox": "Mail/Inbox"})
    s.connect()
    try:
        # Like mbsync, INBOX is still listed, and the alias besides it.
        assert s.list_boxes() == ["INBOX", "Mail/Inbox"]
        assert s.on_store_name("Mail/Inbox") == "INBOX"
        assert s.server_name("Mail/Inbox") == "INBOX"
        box = s.open_box("Mail/Inbox", create=True)  # "create" must not make a real box
        assert list(box.list_messages(ListRequest())) == [1]
        assert [m.uid for m in box.store_messages([OutgoingMessage(message(2), 0)])] == [2]
        assert box.status.uidvalidity == s.open_box("INBOX").status.uidvalidity
    finally:
        s.close()
    assert _server_boxes(imap_user) == {"INBOX"}
    assert _inbox_bodies(imap_user) == [message(1), message(2)]


def test_flatten_maps_hierarchy_both_ways(imap_user, caplog) -> None:  # type: ignore[no-untyped-def]
    imap_user.append("Archive-2024", message(1))
    imap_user.append("Real/hierarchy", message(2))
    s = store(imap_user, store_overrides={"flatten": "-"})
    s.connect()
    try:
        # server -> canonical
        with caplog.at_level(logging.WARNING, logger="syncmail.store.imap"):
            names = s.list_boxes()
        assert names == ["INBOX", "Archive/2024"]
        assert "Real/hierarchy" in caplog.text  # cannot be represented: skipped, said so
        assert list(s.open_box("Archive/2024").list_messages(ListRequest())) == [1]
        # canonical -> server
        box = s.open_box("Lists/python", create=True)
        list(box.store_messages([OutgoingMessage(message(3), 0)]))
        inbox_sub = s.open_box("INBOX/Drafts", create=True)
        assert inbox_sub.status.uidnext == 1
        assert s.on_store_name("Lists/python") == "Lists-python"
        with pytest.raises(IMAPBoxError, match="Flatten delimiter '-'"):
            s.open_box("Has-dash", create=True)
        assert s.list_boxes() == ["INBOX", "Archive/2024", "INBOX/Drafts", "Lists/python"]
    finally:
        s.close()
    assert _server_boxes(imap_user) == {
        "INBOX", "Archive-2024", "Real", "Real/hierarchy", "Lists-python", "INBOX-Drafts",
    }  # fmt: skip
    assert _inbox_bodies(imap_user, "Lists-python") == [message(3)]


def test_flatten_and_map_inbox_together(imap_user) -> None:  # type: ignore[no-untyped-def]
    s: IMAPStore = store(imap_user, store_overrides={"flatten": ".", "map_inbox": "Top/In"})
    s.connect()
    try:
        assert s.on_store_name("Top/In") == "INBOX"  # the alias is not flattened
        assert "Top/In" in s.list_boxes()
        s.open_box("Top/In").store_messages([])
    finally:
        s.close()
