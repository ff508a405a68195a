"""A channel between two IMAP stores (two Dovecot users, a migration between accounts):
new mail, flags, deletions and keywords, both ways (issue 11, part C)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import RunOptions, RunResult, run
from tests.conftest import ImapUser, new_user

pytestmark = pytest.mark.dovecot


@pytest.fixture
def second_user(dovecot: Any) -> Iterator[ImapUser]:
    yield from new_user(dovecot, "b")


def _account(tag: str, user: ImapUser) -> str:
    return (
        f"IMAPAccount {tag}\nHost 127.0.0.1\nPort {user.port}\nUser {user.name}\n"
        f"Pass {user.password}\nSSLType None\nAuthMechs LOGIN\n\n"
        f"IMAPStore {tag}\nAccount {tag}\n\n"
    )


def _config(tmp_path: Path, far: ImapUser, near: ImapUser) -> Path:
    cfg = tmp_path / "mbsyncrc"
    cfg.write_text(
        _account("old", far)
        + _account("new", near)
        + f"Channel test\nFar :old:\nNear :new:\nPatterns INBOX\nSync All\nExpunge Both\n"
        f"SyncState {tmp_path}/state/\n"
    )
    (tmp_path / "state").mkdir()
    return cfg


def _sync(cfg: Path) -> RunResult:
    config = parse_config(cfg.read_text(), str(cfg))
    result = run(config, [Target("test")], RunOptions())
    assert not result.errors, [str(e) for e in result.errors]
    return result


def _msg(subject: str) -> bytes:
    return f"From: t@example.org\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n".encode()


def _box(user: ImapUser) -> dict[str, set[str]]:
    """subject -> flags (without \\Recent)."""
    c = user.client()
    try:
        c.select_folder("INBOX")
        uids = c.search("ALL")
        out: dict[str, set[str]] = {}
        for data in (c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER]"]) if uids else {}).values():
            head = data[b"BODY[HEADER]"]
            subject = head.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
            assert subject not in out, f"duplicate {subject}"
            out[subject] = {f.decode() for f in data[b"FLAGS"]} - {"\\Recent"}
        return out
    finally:
        c.logout()


def _change(user: ImapUser, subject: str, add: list[str], remove: list[str]) -> None:
    c = user.client()
    try:
        c.select_folder("INBOX")
        [uid] = c.search(["HEADER", "Subject", subject])
        if add:
            c.add_flags([uid], add)
        if remove:
            c.remove_flags([uid], remove)
    finally:
        c.logout()


def test_imap_to_imap_messages_flags_keywords(
    tmp_path: Path, imap_user: ImapUser, second_user: ImapUser
) -> None:
    far, near = imap_user, second_user
    far.append("INBOX", _msg("one"), ("\\Seen", "work", "$Junk"))
    far.append("INBOX", _msg("two"))
    near.append("INBOX", _msg("three"), ("todo",))
    cfg = _config(tmp_path, far, near)

    _sync(cfg)
    expected = {"one": {"\\Seen", "work", "$Junk"}, "two": set(), "three": {"todo"}}
    assert _box(far) == _box(near) == expected

    # Changes on both sides: flags, keywords (added and removed), a deletion.
    _change(far, "one", ["later"], ["work"])
    _change(near, "two", ["\\Flagged", "waiting"], [])
    _change(near, "three", ["\\Deleted"], [])
    _sync(cfg)
    expected = {"one": {"\\Seen", "$Junk", "later"}, "two": {"\\Flagged", "waiting"}}
    assert _box(far) == _box(near) == expected

    # Settled: another run changes nothing.
    result = _sync(cfg)
    assert not result.far_changed and not result.near_changed
    assert _box(far) == _box(near) == expected

    # mbsync on the same state afterwards: no state error, nothing to do, keywords kept.
    if shutil.which("mbsync") is not None:
        out = subprocess.run(
            ["mbsync", "-c", str(cfg), "-a"], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert "error" not in out.stderr.lower()
        assert _box(far) == _box(near) == expected


def test_keywords_interrupted_between_the_sides_converge(
    tmp_path: Path, imap_user: ImapUser, second_user: ImapUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No journal for keywords: a run that dies after writing one side and before the
    notes is completed by the next one, with nothing lost or undone."""
    from syncmail.sync import kwsync

    far, near = imap_user, second_user
    far.append("INBOX", _msg("one"), ("a",))
    cfg = _config(tmp_path, far, near)
    _sync(cfg)
    _change(far, "one", ["b"], ["a"])
    _change(near, "one", ["c"], [])

    real_write = kwsync.KeywordSide.write
    calls = []

    def dies_after_the_first_side(self: Any, edits: Any) -> None:
        calls.append(edits)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is gone before the near side
        real_write(self, edits)

    monkeypatch.setattr(kwsync.KeywordSide, "write", dies_after_the_first_side)
    with pytest.raises(KeyboardInterrupt):
        _sync(cfg)
    assert _box(far) == {"one": {"b", "c"}} and _box(near) == {"one": {"a", "c"}}
    monkeypatch.setattr(kwsync.KeywordSide, "write", real_write)
    _sync(cfg)
    assert _box(far) == _box(near) == {"one": {"b", "c"}}
    result = _sync(cfg)
    assert not result.far_changed and not result.near_changed


def test_many_distinct_changes_pipelined_in_windows(
    tmp_path: Path, imap_user: ImapUser, second_user: ImapUser
) -> None:
    """Each message gets a keyword and flags of its own: one UID STORE each, more than a
    pipelined window (STORE_WINDOW) holds; every one of them lands."""
    from syncmail.store.imapwire import STORE_WINDOW

    far, near = imap_user, second_user
    count = STORE_WINDOW + 8
    for i in range(count):
        far.append("INBOX", _msg(f"m{i}"), ("old",) if i % 2 else ())
    cfg = _config(tmp_path, far, near)
    _sync(cfg)
    c = far.client()
    try:
        c.select_folder("INBOX")
        for uid in c.search("ALL"):
            subject = c.fetch([uid], ["BODY.PEEK[HEADER]"])[uid][b"BODY[HEADER]"]
            i = int(subject.split(b"Subject: m", 1)[1].split(b"\r\n", 1)[0])
            c.add_flags([uid], [f"kw{i}"] + (["\\Seen"] if i % 3 else ["\\Flagged"]))
            if i % 2:
                c.remove_flags([uid], ["old"])
    finally:
        c.logout()
    _sync(cfg)
    expected = {
        f"m{i}": {f"kw{i}", "\\Seen" if i % 3 else "\\Flagged"} for i in range(count)
    }
    assert _box(far) == _box(near) == expected
