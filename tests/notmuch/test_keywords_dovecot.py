"""notmuch tags <-> IMAP keywords through real syncs against Dovecot (issue 11, part A)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.notmuch.test_e2e_dovecot import _message, _sync, _write_rc

if TYPE_CHECKING:
    from tests.notmuch.conftest import NotmuchEnv

notmuch2 = pytest.importorskip("notmuch2")

pytestmark = [pytest.mark.dovecot, pytest.mark.notmuch]


def _server(user: Any) -> dict[str, set[str]]:
    """Message-ID number -> the message's flags on the server (INBOX)."""
    client = user.client()
    try:
        client.select_folder("INBOX")
        out: dict[str, set[str]] = {}
        got = client.fetch(client.search("ALL"), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        for item in got.values():
            header = item[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode()
            number = header.split("<", 1)[1].split("@", 1)[0]
            out[number] = {f.decode() for f in item[b"FLAGS"]}
        return out
    finally:
        client.logout()


def _store(user: Any, number: int, op: str, keyword: str) -> None:
    client = user.client()
    try:
        client.select_folder("INBOX")
        [uid] = client.search(["HEADER", "Message-ID", f"<{number}@e2e.test>"])
        (client.add_flags if op == "+" else client.remove_flags)([uid], [keyword])
    finally:
        client.logout()


def _tag(message_id: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> None:
    with notmuch2.Database(mode="rw") as db:
        msg = db.find(message_id)
        for tag in add:
            msg.tags.add(tag)
        for tag in remove:
            msg.tags.discard(tag)


def _tags(message_id: str) -> set[str]:
    """Through the library: ``notmuch search --output=tags`` splits "a b" in two."""
    with notmuch2.Database() as db:
        return {str(t) for t in db.find(message_id).tags}


def test_tags_and_keywords_follow_each_other(
    nm: NotmuchEnv, imap_user: Any, tmp_path: Path
) -> None:
    imap_user.append("INBOX", _message(1), (r"\Seen", "work"))
    imap_user.append("INBOX", _message(2), ("$label4", "$MDNSent"))
    imap_user.append("INBOX", _message(3))
    rc = _write_rc(nm, imap_user, tmp_path / "mbsyncrc")

    _sync(rc)
    # Pulled: a keyword as the tag of its name, $MDNSent ignored (default table); the
    # flag tags come from the flags as before.
    assert nm.tags("1@e2e.test") == {"inbox", "work"}
    assert nm.tags("2@e2e.test") == {"inbox", "unread", "$label4"}
    assert nm.tags("3@e2e.test") == {"inbox", "unread"}

    # Tagged in notmuch: the tags reach the server as keywords (escaped where they must
    # be); a removed tag goes; the never-pushed tags (inbox, unread) never reach it.
    _tag("1@e2e.test", add=("todo", "a b", "café"), remove=("work",))
    _tag("3@e2e.test", add=("spam",))
    _sync(rc)
    server = _server(imap_user)
    assert server["1"] == {r"\Seen", "todo", "a=20b", "caf=c3=a9"}
    assert server["2"] == {"$label4", "$MDNSent"}
    assert server["3"] == {"$Junk"} or server["3"] == {"$junk"}
    assert all("inbox" not in f and "unread" not in f for f in server.values())

    # Changed on another client: added and removed keywords come back as tags.
    _store(imap_user, 2, "+", "Urgent")
    _store(imap_user, 1, "-", "todo")
    _sync(rc)
    assert nm.tags("2@e2e.test") == {"inbox", "unread", "$label4", "Urgent"}
    assert _tags("1@e2e.test") == {"inbox", "a b", "café"}

    # Settled: the next run changes nothing on either side.
    before = _server(imap_user)
    with notmuch2.Database() as db:
        rev = db.revision().rev
    _sync(rc)
    assert _server(imap_user) == before
    with notmuch2.Database() as db:
        assert db.revision().rev == rev


def test_both_sides_changed_merge(nm: NotmuchEnv, imap_user: Any, tmp_path: Path) -> None:
    imap_user.append("INBOX", _message(1), ("a", "b"))
    rc = _write_rc(nm, imap_user, tmp_path / "mbsyncrc")
    _sync(rc)
    assert nm.tags("1@e2e.test") == {"inbox", "unread", "a", "b"}
    # Local adds c and drops a; the server drops b and adds d: all four changes hold.
    _tag("1@e2e.test", add=("c",), remove=("a",))
    _store(imap_user, 1, "-", "b")
    _store(imap_user, 1, "+", "d")
    _sync(rc)
    assert nm.tags("1@e2e.test") == {"inbox", "unread", "c", "d"}
    assert _server(imap_user)["1"] == {"c", "d"}


def test_tags_reach_the_server_when_mail_root_is_apart_from_the_database(
    nm: NotmuchEnv, imap_user: Any, tmp_path: Path
) -> None:
    """``database.mail_root`` set apart from ``database.path`` (notmuch >= 0.32, as in
    the demo): the plugin still finds the boxes under the mail root (it looked under the
    database's own directory and pushed no tag)."""
    db_dir = tmp_path / "notmuch-db"
    db_dir.mkdir()
    nm.config_file.write_text(
        f"[database]\npath={db_dir}\nmail_root={nm.maildir}\n\n[new]\ntags=unread;inbox;\n"
        "[maildir]\nsynchronize_flags=true\n"
    )
    nm.notmuch("new")
    imap_user.append("INBOX", _message(1))
    rc = _write_rc(nm, imap_user, tmp_path / "mbsyncrc")
    _sync(rc)
    _tag("1@e2e.test", add=("todo",))
    _sync(rc)
    assert _server(imap_user)["1"] == {"todo"}
