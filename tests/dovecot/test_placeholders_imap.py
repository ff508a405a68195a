"""MaxSize placeholders and their Upgrade with a real Dovecot as the far side: a big
message arrives as a placeholder, flagging the placeholder fetches the real message
(also when the run is killed after any journal step), and nothing is duplicated."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from syncmail.sync.msgcvt import is_placeholder
from tests.dovecot.imap_helpers import write_config
from tests.unit.engine_support import crash_run, files, flags_of, set_flags, state_text, sync

pytestmark = pytest.mark.dovecot

BODY_LINE = "A" * 70 + "\r\n"


def _big(subject: str) -> bytes:
    head = f"From: t@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n"
    return (head + "\r\n" + BODY_LINE * 60).encode()


def _small(subject: str) -> bytes:
    return f"From: t@example.org\r\nSubject: {subject}\r\n\r\nshort\r\n".encode()


def _server(user: Any) -> dict[str, list[set[str]]]:
    """subject -> flags of each server copy (a list, so duplicates show)."""
    c = user.client()
    try:
        c.select_folder("INBOX", readonly=True)
        uids = c.search("ALL")
        out: dict[str, list[set[str]]] = {}
        for data in c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER]"]).values() if uids else []:
            head = data[b"BODY[HEADER]"]
            subject = head.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
            flags = {f.decode() if isinstance(f, bytes) else str(f) for f in data[b"FLAGS"]}
            flags.discard("\\Recent")
            out.setdefault(subject, []).append(flags)
        return out
    finally:
        c.logout()


def _clear_server(user: Any) -> None:
    c = user.client()
    try:
        c.select_folder("INBOX")
        uids = c.search("ALL")
        if uids:
            c.add_flags(uids, ["\\Deleted"])
            c.expunge()
    finally:
        c.logout()


def _placeholder_setup(root: Path, user: Any) -> Path:
    """Server: big B (seen), small S.  After one sync the near side has B as a
    placeholder; the user then flags it to ask for the real message."""
    _clear_server(user)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    user.append("INBOX", _big("[placeholder] B"), ("\\Seen",))
    user.append("INBOX", _small("S"))
    cfg = write_config(root, user, "MaxSize 1k\nExpunge Near")
    assert not sync(cfg).errors
    near = files(root, "near")
    assert set(near) == {"[placeholder] [placeholder] B", "S"}
    placeholder = near["[placeholder] [placeholder] B"]
    assert is_placeholder(placeholder.read_bytes())
    assert flags_of(placeholder) == "S"
    assert " >S\n" in state_text(root)
    set_flags(placeholder, "FS")
    return cfg


def _check_upgraded(root: Path, user: Any) -> None:
    near = files(root, "near")
    # The real message replaced the placeholder, which was expunged (Expunge Near).
    assert set(near) == {"[placeholder] B", "S"}
    data = near["[placeholder] B"].read_bytes()
    assert not is_placeholder(data) and data.count(b"A" * 70) == 60
    # Flagged was only the request: neither the copy nor the server gets it.
    assert flags_of(near["[placeholder] B"]) == "S"
    assert _server(user) == {"[placeholder] B": [{"\\Seen"}], "S": [set()]}
    state = state_text(root)
    assert ">" not in state and "<" not in state
    assert len(state.split("\n\n", 1)[1].splitlines()) == 2


def test_flagging_a_placeholder_fetches_the_real_message(tmp_path: Path, imap_user: Any) -> None:
    # A subject that starts like a placeholder's must not confuse anything.
    cfg = _placeholder_setup(tmp_path / "run", imap_user)
    result = sync(cfg)
    assert not result.errors
    _check_upgraded(tmp_path / "run", imap_user)
    again = sync(cfg)
    assert not again.errors and not again.far_changed and not again.near_changed
    _check_upgraded(tmp_path / "run", imap_user)


def test_upgrade_killed_after_every_journal_step(tmp_path: Path, imap_user: Any) -> None:
    step = 0
    while True:
        step += 1
        assert step < 40, "the crash hook never let the run finish"
        root = tmp_path / f"step{step}"
        cfg = _placeholder_setup(root, imap_user)
        code = crash_run(cfg, step)
        if code == 0:
            _check_upgraded(root, imap_user)
            break
        assert code == 100, (step, code)
        resumed = sync(cfg)
        assert not resumed.errors, (step, resumed.errors)
        _check_upgraded(root, imap_user)
        again = sync(cfg)
        assert not again.errors and not again.far_changed and not again.near_changed, step
    # ^, $, P, F, #, >, N and the commit's kill at least.
    assert step > 5
