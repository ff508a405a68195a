"""Keywords as Dovecot's Maildir letters (``KeywordLetters yes``) against a real Dovecot,
and mbsync's and our flag renames keeping the letters (issue 11, part D)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.store.maildir_keywords import parse
from syncmail.sync.engine import RunOptions, run
from tests.dovecot.imap_helpers import write_config

pytestmark = pytest.mark.dovecot


def _sync(cfg: Path) -> None:
    config = parse_config(cfg.read_text(), str(cfg))
    result = run(config, [Target("test")], RunOptions())
    assert not result.errors, [str(e) for e in result.errors]


def _server_flags(user: Any) -> set[str]:
    c = user.client()
    try:
        c.select_folder("INBOX")
        [uid] = c.search("ALL")
        return {f.decode() for f in c.get_flags([uid])[uid]} - {"\\Recent"}
    finally:
        c.logout()


def _only_file(box: Path) -> Path:
    [name] = [box / sub / n for sub in ("cur", "new") for n in os.listdir(box / sub)]
    return name


def test_keywords_as_letters_both_ways(tmp_path: Path, imap_user: Any) -> None:
    imap_user.append("INBOX", b"Subject: s\r\n\r\nbody\r\n", ("\\Seen", "work", "$Junk"))
    cfg = write_config(tmp_path, imap_user)
    text = cfg.read_text()
    cfg.write_text(
        text.replace("SubFolders Verbatim\n", "SubFolders Verbatim\nKeywordLetters yes\n")
    )
    box = tmp_path / "near" / "INBOX"

    _sync(cfg)
    names = parse((box / "dovecot-keywords").read_text())
    assert sorted(names.values()) == ["$Junk", "work"]
    letters = {"abcdefghijklmnopqrstuvwxyz"[i]: n for i, n in names.items()}
    path = _only_file(box)
    info = path.name.split(":2,")[1]
    assert info[0] == "S" and {letters[c] for c in info[1:]} == {"$Junk", "work"}

    # A local change (as NeoMutt would make it): drop "work"'s letter, add "F".
    work = next(c for c, n in letters.items() if n == "work")
    base = path.name.split(":2,")[0]
    os.rename(path, path.with_name(base + ":2,FS" + info[1:].replace(work, "")))
    _sync(cfg)
    assert _server_flags(imap_user) == {"\\Seen", "\\Flagged", "$Junk"}

    # A server change: a new keyword gets the next free letter; the flags keep the letters.
    c = imap_user.client()
    try:
        c.select_folder("INBOX")
        [uid] = c.search("ALL")
        c.add_flags([uid], ["todo"])
        c.remove_flags([uid], ["\\Flagged"])
    finally:
        c.logout()
    _sync(cfg)
    names = parse((box / "dovecot-keywords").read_text())
    assert sorted(names.values()) == ["$Junk", "todo", "work"]
    letters = {"abcdefghijklmnopqrstuvwxyz"[i]: n for i, n in names.items()}
    info = _only_file(box).name.split(":2,")[1]
    assert info == "".join(sorted(info))  # ASCII order, as mbsync and notmuch want
    assert "F" not in info and {letters[c] for c in info if c.islower()} == {"$Junk", "todo"}
    _sync(cfg)
    assert _server_flags(imap_user) == {"\\Seen", "$Junk", "todo"}


def test_a_lost_keywords_file_deletes_no_keyword(
    tmp_path: Path, imap_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Letters dovecot-keywords no longer names (the file deleted or damaged) are not
    "no keywords": that removed every keyword on the server (and with the notmuch
    plugin, the tags). The file is left out until its letters are named again, and a
    new keyword does not take their letters."""
    imap_user.append("INBOX", b"Subject: s\r\n\r\nbody\r\n", ("\\Seen", "work", "$Junk"))
    cfg = write_config(tmp_path, imap_user)
    letters_on = "SubFolders Verbatim\nKeywordLetters yes\n"
    cfg.write_text(cfg.read_text().replace("SubFolders Verbatim\n", letters_on))
    box = tmp_path / "near" / "INBOX"
    _sync(cfg)
    kept = _only_file(box).name
    (box / "dovecot-keywords").unlink()
    path = _only_file(box)
    os.rename(path, path.with_name(path.name.replace(":2,S", ":2,FS")))  # touch the pair
    _sync(cfg)
    assert _server_flags(imap_user) == {"\\Seen", "\\Flagged", "work", "$Junk"}
    assert "names no keyword for letter(s) ab, found in 1 file(s)" in caplog.text
    c = imap_user.client()
    try:
        c.select_folder("INBOX")
        [uid] = c.search("ALL")
        c.add_flags([uid], ["todo"])
    finally:
        c.logout()
    _sync(cfg)
    file = box / "dovecot-keywords"
    names = parse(file.read_text()) if file.exists() else {}
    assert 0 not in names and 1 not in names, names  # a and b keep their unknown meaning
    assert kept.split(":2,")[1][1:] in _only_file(box).name
