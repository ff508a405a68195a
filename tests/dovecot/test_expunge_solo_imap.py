"""ExpungeSolo and MaxMessages with a real Dovecot as the far side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import ChannelOps, Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import RunOptions, RunResult, run
from tests.dovecot.imap_helpers import write_config
from tests.unit.engine_support import files, snapshot

pytestmark = pytest.mark.dovecot


def _sync(cfg: Path) -> RunResult:
    config = parse_config(cfg.read_text(), str(cfg))
    return run(config, [Target("test")], RunOptions(cli_ops=ChannelOps()))


def _msg(subject: str) -> bytes:
    return f"From: t@example.org\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n".encode()


def _server(user: Any) -> dict[str, set[str]]:
    c = user.client()
    try:
        c.select_folder("INBOX", readonly=True)
        uids = c.search("ALL")
        out: dict[str, set[str]] = {}
        for data in c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER]"]).values() if uids else []:
            head = data[b"BODY[HEADER]"]
            subject = head.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
            flags = {f.decode() if isinstance(f, bytes) else str(f) for f in data[b"FLAGS"]}
            flags.discard("\\Recent")
            out[subject] = flags
        return out
    finally:
        c.logout()


def test_expunge_solo_far_expunges_only_orphans(tmp_path: Path, imap_user: Any) -> None:
    for subject in "AB":
        imap_user.append("INBOX", _msg(subject))
    cfg = write_config(tmp_path, imap_user, "ExpungeSolo Far")
    assert not _sync(cfg).errors
    assert set(snapshot(tmp_path, "near")) == {"A", "B"}
    # A deleted far (still paired): only flagged on near.  B gone near: its far copy
    # is deleted and, being alone now, expunged.  C arrives deleted: copied, kept.
    c = imap_user.client()
    try:
        c.select_folder("INBOX")
        uid_a = c.search(["HEADER", "Subject", "A"])[0]
        c.add_flags([uid_a], ["\\Deleted"])
    finally:
        c.logout()
    imap_user.append("INBOX", _msg("C"), ("\\Deleted",))
    files(tmp_path, "near")["B"].unlink()
    result = _sync(cfg)
    assert not result.errors, result.errors
    assert _server(imap_user) == {"A": {"\\Deleted"}, "C": {"\\Deleted"}}
    assert snapshot(tmp_path, "near") == {"A": "T", "C": "T"}
    again = _sync(cfg)
    assert not again.errors and not again.far_changed and not again.near_changed


def test_expunge_solo_needs_uidplus(tmp_path: Path, imap_user: Any) -> None:
    imap_user.append("INBOX", _msg("A"))
    cfg = write_config(tmp_path, imap_user, "ExpungeSolo Far", "DisableExtensions UIDPLUS")
    result = _sync(cfg)
    assert [str(e) for e in result.errors] == ["Error: Store remote does not support ExpungeSolo."]
    assert not (tmp_path / "near" / "INBOX").exists()
    # ExpungeSolo on the Maildir side needs nothing of the server.
    cfg = write_config(tmp_path, imap_user, "ExpungeSolo Near", "DisableExtensions UIDPLUS")
    assert not _sync(cfg).errors
    assert set(snapshot(tmp_path, "near")) == {"A"}


def test_max_messages_expires_near_copies(tmp_path: Path, imap_user: Any) -> None:
    for subject in "ABCDE":
        imap_user.append("INBOX", _msg(subject), ("\\Seen",))
    cfg = write_config(tmp_path, imap_user, "MaxMessages 2\nExpunge Near")
    assert not _sync(cfg).errors
    # Only the two newest are copied; the far side keeps everything.
    assert snapshot(tmp_path, "near") == {"D": "S", "E": "S"}
    assert set(_server(imap_user)) == set("ABCDE")
    imap_user.append("INBOX", _msg("F"), ("\\Seen",))
    assert not _sync(cfg).errors
    assert snapshot(tmp_path, "near") == {"E": "S", "F": "S"}
    assert set(_server(imap_user)) == set("ABCDEF")
    state = (tmp_path / "near" / "INBOX" / ".mbsyncstate").read_text()
    assert "MaxExpiredFarUid 4\n" in state
    again = _sync(cfg)
    assert not again.errors and not again.far_changed and not again.near_changed


def _internaldates(user: Any) -> dict[str, float]:
    c = user.client()
    try:
        c.select_folder("INBOX", readonly=True)
        uids = c.search("ALL")
        out: dict[str, float] = {}
        for data in c.fetch(uids, ["INTERNALDATE", "BODY.PEEK[HEADER]"]).values():
            head = data[b"BODY[HEADER]"]
            subject = head.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
            out[subject] = data[b"INTERNALDATE"].timestamp()
        return out
    finally:
        c.logout()


def test_copy_arrival_date_with_imap(tmp_path: Path, imap_user: Any) -> None:
    import datetime
    import os

    from tests.unit.engine_support import deliver

    old = 1_500_000_000.0
    c = imap_user.client()
    try:
        when = datetime.datetime.fromtimestamp(old, datetime.UTC)
        c.append("INBOX", _msg("F"), flags=("\\Seen",), msg_time=when)
    finally:
        c.logout()
    near = deliver(tmp_path, "near", "N", "S")
    os.utime(near, (old, old))
    cfg = write_config(tmp_path, imap_user, "CopyArrivalDate yes")
    assert not _sync(cfg).errors
    assert files(tmp_path, "near")["F"].stat().st_mtime == old
    assert _internaldates(imap_user)["N"] == old


def _boxes_subjects(user: Any, box: str) -> set[str]:
    c = user.client()
    try:
        if not c.folder_exists(box):
            return set()
        c.select_folder(box, readonly=True)
        uids = c.search("ALL")
        out = set()
        for data in c.fetch(uids, ["BODY.PEEK[HEADER]"]).values() if uids else []:
            head = data[b"BODY[HEADER]"]
            out.add(head.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode())
        return out
    finally:
        c.logout()


def test_trash_on_imap_and_remote_new(tmp_path: Path, imap_user: Any) -> None:
    for subject in "AB":
        imap_user.append("INBOX", _msg(subject))
    cfg = write_config(tmp_path, imap_user, "Expunge Both")
    text = cfg.read_text().replace(
        "IMAPStore remote\n", "IMAPStore remote\nTrash Trash\nTrashRemoteNew yes\n"
    )
    text = text.replace("Patterns *\n", "Patterns INBOX\n")
    cfg.write_text(text)
    assert not _sync(cfg).errors
    # A deleted near: deleted far too, and moved into the server's Trash there.  N is
    # new on near and deleted before it was copied: the far store's Trash gets a copy.
    from tests.unit.engine_support import deliver, set_flags

    set_flags(files(tmp_path, "near")["A"], "T")
    deliver(tmp_path, "near", "N", "T")
    result = _sync(cfg)
    assert not result.errors, result.errors
    assert set(_server(imap_user)) == {"B"}
    assert _boxes_subjects(imap_user, "Trash") == {"A", "N"}
    assert snapshot(tmp_path, "near") == {"B": ""}
    again = _sync(cfg)
    assert not again.errors and not again.far_changed and not again.near_changed
    assert _boxes_subjects(imap_user, "Trash") == {"A", "N"}
