"""IMAP ``Box.trash_messages`` against Dovecot: UID MOVE, or UID COPY (+CREATE on TRYCREATE)."""

from __future__ import annotations

from typing import Any

import pytest

from syncmail.store.base import ListRequest
from syncmail.store.imap import IMAPBoxError, IMAPStore
from tests.dovecot.imap_helpers import message, store

pytestmark = pytest.mark.dovecot


def _box_contents(user: Any, box: str) -> dict[bytes, set[str]]:
    """Body -> flags of every message in ``box`` (raises if the box does not exist)."""
    c = user.client()
    try:
        c.folder_encode = True
        c.select_folder(box, readonly=True)
        uids = c.search("ALL")
        out: dict[bytes, set[str]] = {}
        if not uids:
            return out
        for data in c.fetch(uids, ["FLAGS", "BODY.PEEK[]"]).values():
            flags = {f.decode() if isinstance(f, bytes) else str(f) for f in data[b"FLAGS"]}
            flags.discard("\\Recent")
            body = bytes(data[b"BODY[]"])
            assert body not in out, "duplicate message"
            out[body] = flags
        return out
    finally:
        c.logout()


def _exists(user: Any, box: str) -> bool:
    c = user.client()
    try:
        c.folder_encode = True
        return bool(c.folder_exists(box))
    finally:
        c.logout()


def _connect(user: Any, *disabled: str) -> IMAPStore:
    s = store(user, disable_extensions=disabled)
    s.connect()
    return s


def _fill(user: Any, n: int) -> None:
    for i in range(1, n + 1):
        flags = ("\\Seen",) if i % 2 else ("\\Flagged",)
        user.append("INBOX", message(i), flags)


@pytest.mark.parametrize("trash", ["Trash", "Papierkorb/Gelöscht"])
def test_move_creates_trash_and_removes_originals(imap_user: Any, trash: str) -> None:
    _fill(imap_user, 3)
    remote = _connect(imap_user)
    try:
        assert "move" in remote.capabilities
        box = remote.open_box("INBOX")
        assert set(box.list_messages(ListRequest())) == {1, 2, 3}
        box.trash_messages([1, 2], trash)
        # MOVE: gone from the box already.
        assert set(box.list_messages(ListRequest())) == {3}
        # The caller's expunge afterwards is harmless.
        box.expunge([1, 2])
        assert set(box.list_messages(ListRequest())) == {3}
        assert trash in remote.list_boxes()
    finally:
        remote.close()
    assert _box_contents(imap_user, trash) == {message(1): {"\\Seen"}, message(2): {"\\Flagged"}}
    assert _box_contents(imap_user, "INBOX") == {message(3): {"\\Seen"}}


@pytest.mark.parametrize("disabled", [("MOVE",), ("MOVE", "UIDPLUS")])
def test_copy_without_move_leaves_originals_to_expunge(
    imap_user: Any, disabled: tuple[str, ...]
) -> None:
    _fill(imap_user, 3)
    remote = _connect(imap_user, *disabled)
    try:
        assert "move" not in remote.capabilities
        box = remote.open_box("INBOX")
        box.trash_messages([1, 3], "Trash")
        # COPY: the originals stay until the caller expunges them.
        assert set(box.list_messages(ListRequest())) == {1, 2, 3}
        assert _box_contents(imap_user, "Trash") == {
            message(1): {"\\Seen"},
            message(3): {"\\Seen"},
        }
        box.expunge([1, 3])
        assert set(box.list_messages(ListRequest())) == {2}
    finally:
        remote.close()
    assert _box_contents(imap_user, "INBOX") == {message(2): {"\\Flagged"}}


@pytest.mark.parametrize("disabled", [(), ("MOVE",)])
def test_trash_into_existing_trash(imap_user: Any, disabled: tuple[str, ...]) -> None:
    imap_user.append("Trash", message(9), ("\\Seen",))
    _fill(imap_user, 2)
    remote = _connect(imap_user, *disabled)
    try:
        box = remote.open_box("INBOX")
        box.trash_messages([2], "Trash")
        box.expunge([2])
        assert set(box.list_messages(ListRequest())) == {1}
        # Trashing again into the same box (a second chunk or run) works the same.
        box.trash_messages([1], "Trash")
        box.expunge([1])
        assert box.list_messages(ListRequest()) == {}
    finally:
        remote.close()
    assert _box_contents(imap_user, "Trash") == {
        message(9): {"\\Seen"},
        message(1): {"\\Seen"},
        message(2): {"\\Flagged"},
    }


def test_trash_skips_vanished_and_empty(imap_user: Any) -> None:
    _fill(imap_user, 2)
    remote = _connect(imap_user)
    try:
        box = remote.open_box("INBOX")
        box.trash_messages([], "Trash")
        assert not _exists(imap_user, "Trash")
        box.expunge([1])
        # UID 1 is gone: nothing to move for it, no error.
        box.trash_messages([1, 2], "Trash")
        assert box.list_messages(ListRequest()) == {}
    finally:
        remote.close()
    assert _box_contents(imap_user, "Trash") == {message(2): {"\\Flagged"}}


def test_trash_that_cannot_be_created_is_a_box_error(imap_user: Any) -> None:
    _fill(imap_user, 1)
    remote = _connect(imap_user, "MOVE")
    try:
        box = remote.open_box("INBOX")
        with pytest.raises(IMAPBoxError, match="Trash"):
            box.trash_messages([1], "bad..name/../x")
        with pytest.raises(IMAPBoxError, match="is this box itself"):
            box.trash_messages([1], "INBOX")
        with pytest.raises(IMAPBoxError, match="UID COPY to Trash//x failed: .*Invalid"):
            # Dovecot refuses a name with an empty hierarchy component.
            box.trash_messages([1], "Trash//x")
        assert set(box.list_messages(ListRequest())) == {1}
    finally:
        remote.close()
