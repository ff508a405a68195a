"""DetectMoves against a real Dovecot: a message another client moved on the server is
moved in the Maildir without fetching it again; a local move is a server-side MOVE (or
COPY), never an upload."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import RunOptions, run
from syncmail.sync.retry import RETRY_SCALE_ENV
from tests.dovecot.cutting_relay import CuttingRelay
from tests.dovecot.imap_helpers import write_config
from tests.dovecot.test_imap_to_imap import _account
from tests.dovecot.test_imap_to_imap import second_user as second_user  # fixture
from tests.dovecot.test_retry_relay import Account
from tests.unit.engine_support import crash_run, files, snapshot

pytestmark = pytest.mark.dovecot


def _sync(cfg: Path) -> None:
    config = parse_config(cfg.read_text(), str(cfg))
    result = run(config, [Target("test")], RunOptions())
    assert not result.errors, result.errors


def _msg(subject: str) -> bytes:
    return (
        f"From: a@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n"
        f"\r\nbody of {subject}\r\n"
    ).encode()


@pytest.mark.parametrize("detect", [True, False])
def test_server_move_is_a_local_move(tmp_path: Path, imap_user: Any, detect: bool) -> None:
    c = imap_user.client()
    c.create_folder("Zoo")
    c.logout()
    for subject in ("A", "B", "C"):
        imap_user.append("INBOX", _msg(subject), ("\\Flagged",) if subject == "B" else ())
    with CuttingRelay(imap_user.port) as relay:
        acct = Account(imap_user.server, imap_user.name, imap_user.password, relay.port)
        extra = "Expunge Both\nDetectMoves yes" if detect else "Expunge Both"
        cfg = write_config(tmp_path, acct, extra)
        _sync(cfg)
        # The near copy made recognisable (same size): a download would undo this.
        near_b = files(tmp_path, "near")["B"]
        near_b.write_bytes(near_b.read_bytes().replace(b"body of B", b"BODY OF B"))
        c = imap_user.client()
        c.select_folder("INBOX")
        uid = c.search(["HEADER", "Message-ID", "<B@example.org>"])
        c.move(uid, "Zoo")
        c.logout()
        relay.reset()
        _sync(cfg)
        names = [name for _, name in relay.commands]
        fetched = relay.body_fetches
    assert set(files(tmp_path, "near")) == {"A", "C"}
    assert snapshot(tmp_path, "near", "Zoo") == {"B": "F"}
    local = b"BODY OF B" in files(tmp_path, "near", "Zoo")["B"].read_bytes()
    assert "APPEND" not in names
    if detect:
        assert fetched == 0, names
        assert local
    else:
        assert fetched == 1 and not local


def _dup(subject: str, message_id: str | None) -> bytes:
    header = f"Message-ID: {message_id}\r\n" if message_id else ""
    text = f"From: a@example.org\r\nSubject: {subject}\r\n{header}\r\nbody of {subject}\r\n"
    return text.encode()


# The server id each mode goes by, and the account lines that choose it.
_ID_MODES = {
    "x-guid": ("x:", "DisableExtension OBJECTID"),
    "objectid": ("e:", ""),
    "none": (None, "DisableExtension OBJECTID X-GUID"),
}


@pytest.mark.parametrize("mode", list(_ID_MODES))
def test_server_move_by_server_id(
    tmp_path: Path, imap_user: Any, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two messages under one Message-ID and one without any, moved on the server: told
    apart by the server's own id (Dovecot's X-GUID, or RFC 8474's EMAILID where the
    server offers OBJECTID), all three are moves: no download, the local files kept,
    and mbsync afterwards finds nothing to do.  With both hidden they are doubtful by
    Message-ID, so downloaded again and deleted."""
    c = imap_user.client()
    if mode == "objectid" and b"OBJECTID" not in c.capabilities():
        c.logout()
        pytest.skip("this Dovecot offers no OBJECTID (2.3.19 has none)")
    c.create_folder("Zoo")
    c.logout()
    for subject, mid in (("D1", "<dup@example.org>"), ("D2", "<dup@example.org>"),
                         ("N", None), ("A", "<A@example.org>")):  # fmt: skip
        imap_user.append("INBOX", _dup(subject, mid))
    prefix, account = _ID_MODES[mode]
    with CuttingRelay(imap_user.port) as relay:
        acct = Account(imap_user.server, imap_user.name, imap_user.password, relay.port)
        cfg = write_config(tmp_path, acct, "Expunge Both\nDetectMoves yes", account)
        _sync(cfg)
        relay.reset()
        _sync(cfg)  # the ids are noted from the second run on (the first has no pairs)
        notes = tmp_path / "near" / "INBOX" / ".mbsyncstate.syncmail-emailids"
        assert notes.exists() == (prefix is not None)
        if prefix is not None:
            assert f'"{prefix}' in notes.read_text()
        # The near copies made recognisable (same size): a download would undo this.
        for path in files(tmp_path, "near").values():
            path.write_bytes(path.read_bytes().replace(b"body of", b"BODY OF"))
        inodes = {s: p.stat().st_ino for s, p in files(tmp_path, "near").items()}
        # Hard links keep these inodes taken: a file the sync deletes must not lend its
        # number to a downloaded one (ext4 reuses freed inodes), or the check below errs.
        keep = tmp_path / "keep"
        keep.mkdir()
        for subject, path in files(tmp_path, "near").items():
            os.link(path, keep / subject)
        c = imap_user.client()
        c.select_folder("INBOX")
        c.move(c.search(["NOT", "SUBJECT", "A"]), "Zoo")
        c.logout()
        relay.reset()
        _sync(cfg)
        fetched = relay.body_fetches
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert not [w for w in warned if "sent in the clear" not in w], warned
    assert set(files(tmp_path, "near")) == {"A"}
    zoo = files(tmp_path, "near", "Zoo")
    assert set(zoo) == {"D1", "D2", "N"}
    local = {s for s, p in zoo.items() if b"BODY OF " + s.encode() in p.read_bytes()}
    if prefix is not None:
        assert fetched == 0
        assert local == {"D1", "D2", "N"}
    else:
        assert fetched >= 1 and local == set()
        assert not {s for s, p in zoo.items() if p.stat().st_ino == inodes[s]}
    c = imap_user.client()
    c.select_folder("Zoo")
    assert len(c.search("ALL")) == 3
    c.logout()
    _mbsync_finds_nothing(tmp_path, imap_user)


def _mbsync_finds_nothing(root: Path, imap_user: Any) -> None:
    """mbsync 1.4 on the same state (its own config: it rejects DetectMoves and the
    syncmail-only DisableExtension names) changes nothing, here or on the server."""
    if shutil.which("mbsync") is None:
        return
    rc = write_config(root / "mbsync", imap_user, "Expunge Both")
    text = rc.read_text().replace(f"{root}/mbsync/near", f"{root}/near")
    rc.write_text(text.replace("TLSType None", "SSLType None"))  # mbsync 1.4's name
    before = _near_files(root)
    server = _server_uids(imap_user)
    proc = subprocess.run(
        ["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _near_files(root) == before
    assert _server_uids(imap_user) == server


def _near_files(root: Path) -> dict[str, int]:
    """Message file name -> inode, over every box of the Maildir."""
    return {
        str(p.relative_to(root)): p.stat().st_ino
        for p in (root / "near").rglob("*")
        if p.parent.name in ("cur", "new") and p.is_file()
    }


def _server_uids(imap_user: Any) -> dict[str, list[int]]:
    c = imap_user.client()
    try:
        out = {}
        for box in ("INBOX", "Zoo"):
            c.select_folder(box)
            out[box] = sorted(c.search("ALL"))
        return out
    finally:
        c.logout()


def _local_move(root: Path, subject: str, box: str) -> None:
    """Move a Maildir message as afew's MailMover (rename=True) does: new name, no ,U=."""
    src = files(root, "near")[subject]
    flags = src.name.split(":2,")[1]
    target = root / "near" / box / "cur"
    target.mkdir(parents=True, exist_ok=True)
    src.rename(target / f"moved.{subject}:2,{flags}")


def _server(user: Any, box: str) -> dict[str, tuple[bytes, set[bytes]]]:
    """Subject -> (body, flags) of every message in ``box`` on the server."""
    c = user.client()
    try:
        c.select_folder(box)
        got = c.fetch(c.search("ALL"), ["FLAGS", "BODY.PEEK[]"])
        out = {}
        for item in got.values():
            body = item[b"BODY[]"]
            subject = body.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
            assert subject not in out, f"duplicate {subject} in {box}"
            out[subject] = (body, set(item[b"FLAGS"]))
        return out
    finally:
        c.logout()


# How a local move reaches the server: (channel extra, account extra, its command).
# UID MOVE where the server offers MOVE and the channel expunges there; otherwise UID
# COPY, and the original is deleted (and expunged, if allowed) as a vanished message.
MODES = {
    "move": ("Expunge Both", "", "UID MOVE"),
    "no-move": ("Expunge Both", "DisableExtension MOVE", "UID COPY"),
    "no-expunge": ("Expunge Near", "", "UID COPY"),
}


def _prepared(root: Path, user: Any, port: int, detect: bool = True, mode: str = "move") -> Path:
    c = user.client()
    c.create_folder("Zoo")
    c.logout()
    for subject in ("A", "B", "C"):
        user.append("INBOX", _msg(subject), ("\\Flagged",) if subject == "B" else ())
    acct = Account(user.server, user.name, user.password, port)
    channel, account, _command = MODES[mode]
    cfg = write_config(root, acct, channel + ("\nDetectMoves yes" if detect else ""), account)
    _sync(cfg)
    _local_move(root, "B", "Zoo")
    return cfg


def _check_moved(root: Path, user: Any, mode: str = "move") -> None:
    inbox = _server(user, "INBOX")
    assert {s for s, (_body, fl) in inbox.items() if b"\\Deleted" not in fl} == {"A", "C"}
    # Not expunged where the channel does not expunge: B waits there, \Deleted.
    assert set(inbox) == ({"A", "B", "C"} if mode == "no-expunge" else {"A", "C"})
    zoo = _server(user, "Zoo")
    assert set(zoo) == {"B"}
    assert b"body of B" in zoo["B"][0]
    assert b"\\Flagged" in zoo["B"][1]
    assert set(files(root, "near")) == {"A", "C"}
    assert snapshot(root, "near", "Zoo") == {"B": "F"}


@pytest.mark.parametrize("mode", [None, *MODES])
def test_local_move_is_a_server_copy(tmp_path: Path, imap_user: Any, mode: str | None) -> None:
    """A local move: with DetectMoves a UID MOVE, or a UID COPY (see MODES); without it
    an upload (APPEND)."""
    with CuttingRelay(imap_user.port) as relay:
        cfg = _prepared(tmp_path, imap_user, relay.port, mode is not None, mode or "move")
        relay.reset()
        _sync(cfg)
        names = [name for _, name in relay.commands]
        relay.reset()
        _sync(cfg)
        again = [name for _, name in relay.commands]
    _check_moved(tmp_path, imap_user, mode or "move")
    others = {"UID MOVE", "UID COPY"}
    if mode is not None:
        command = MODES[mode][2]
        assert "APPEND" not in names and names.count(command) == 1, str(names)
        assert not others - {command} & set(names), names
    else:
        assert "APPEND" in names and not others & set(names), names
    assert "APPEND" not in again and not others & set(again), again


@pytest.mark.parametrize("mode", ["move", "no-move"])
def test_copy_answer_lost_is_found_by_message_id(
    tmp_path: Path, imap_user: Any, mode: str
) -> None:
    """The server made the COPY (or MOVE), the answer (COPYUID) never came: the retry
    finds the copy by the Message-ID its intent logged, and makes no second one."""
    command = MODES[mode][2]
    with CuttingRelay(imap_user.port) as relay:
        cfg = _prepared(tmp_path / "first", imap_user, relay.port, mode=mode)
        relay.reset()
        _sync(cfg)
        at = next(n for n, name in relay.commands if name == command)
    imap_user.server.reset_user(imap_user.name)
    imap_user.server.add_user(imap_user.name, imap_user.password)
    with CuttingRelay(imap_user.port) as relay:
        root = tmp_path / "second"
        cfg = _prepared(root, imap_user, relay.port, mode=mode)
        relay.reset(cut_at=at, mode="after")
        _sync(cfg)
        assert relay.cut_done
        names = [name for _, name in relay.commands]
        assert "APPEND" not in names and names.count(command) == 1, names
        assert "UID COPY" not in names or command == "UID COPY", names
    _check_moved(root, imap_user, mode)


@pytest.mark.parametrize("mode", ["move", "no-move"])
def test_run_ends_between_move_and_journal(
    tmp_path: Path, imap_user: Any, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server carried out the MOVE (or COPY), then went away before its answer: the
    run ends with the new UID in no journal, only the intent log naming the Message-ID.
    The next run adopts the message in Zoo; no second MOVE, no upload, no loss."""
    command = MODES[mode][2]
    with CuttingRelay(imap_user.port) as relay:
        cfg = _prepared(tmp_path / "first", imap_user, relay.port, mode=mode)
        relay.reset()
        _sync(cfg)
        at = next(n for n, name in relay.commands if name == command)
    imap_user.server.reset_user(imap_user.name)
    imap_user.server.add_user(imap_user.name, imap_user.password)
    root = tmp_path / "second"
    intents = root / "near" / "Zoo" / ".mbsyncstate.syncmail-moves"
    with CuttingRelay(imap_user.port) as relay:
        cfg = _prepared(root, imap_user, relay.port, mode=mode)
        relay.reset(cut_at=at, mode="after", dead=True)
        monkeypatch.setenv(RETRY_SCALE_ENV, "0")  # the retries meet the dead server at once
        config = parse_config(cfg.read_text(), str(cfg))
        assert run(config, [Target("test")], RunOptions()).errors
        assert relay.cut_done and intents.exists()
        assert (root / "near" / "Zoo" / ".mbsyncstate.journal").exists()
        relay.reset()
        _sync(cfg)
        _sync(cfg)
        names = [name for _, name in relay.commands]
    assert "APPEND" not in names and "UID MOVE" not in names and "UID COPY" not in names
    assert not intents.exists()
    _check_moved(root, imap_user, mode)


@pytest.mark.parametrize("mode", ["move", "no-move"])
def test_local_move_crash_at_every_journal_step(
    tmp_path: Path, imap_user: Any, mode: str
) -> None:
    """Killed after every journal line of the run that carries out the move, then run
    again: the message is in Zoo once, nowhere else, and never uploaded.  With MOVE a
    kill between the MOVE and the journal line naming its UID leaves the message only in
    Zoo, unnamed: the next run finds it by the Message-ID of the intent log."""
    step = 0
    while True:
        step += 1
        assert step < 40, "the crash hook never let the run finish"
        imap_user.server.reset_user(imap_user.name)
        imap_user.server.add_user(imap_user.name, imap_user.password)
        root = tmp_path / f"step{step}"
        with CuttingRelay(imap_user.port) as relay:
            cfg = _prepared(root, imap_user, relay.port, mode=mode)
            relay.reset()
            code = crash_run(cfg, step)
            assert code in (0, 100), code
            _sync(cfg)
            _sync(cfg)
            names = [name for _, name in relay.commands]
        assert "APPEND" not in names, (step, names)
        assert names.count(MODES[mode][2]) <= 1, (step, names)
        _check_moved(root, imap_user, mode)
        if code == 0:
            break
    assert step > 3


def test_imap_to_imap_move_is_a_server_copy(
    tmp_path: Path, imap_user: Any, second_user: Any
) -> None:
    """Between two IMAP accounts: a move on one becomes a MOVE on the other (no APPEND)."""
    far, near = imap_user, second_user
    for user in (far, near):
        c = user.client()
        c.create_folder("Zoo")
        c.logout()
    for subject in ("A", "B", "C"):
        far.append("INBOX", _msg(subject), ("\\Flagged",) if subject == "B" else ())
    cfg = tmp_path / "mbsyncrc"
    with CuttingRelay(near.port) as relay:
        relayed = Account(near.server, near.name, near.password, relay.port)
        cfg.write_text(
            _account("old", far) + _account("new", relayed)
            + "Channel test\nFar :old:\nNear :new:\nPatterns *\nCreate Both\nExpunge Both\n"
            f"DetectMoves yes\nSyncState {tmp_path}/state/\n"
        )  # fmt: skip
        (tmp_path / "state").mkdir()
        _sync(cfg)
        c = far.client()
        c.select_folder("INBOX")
        c.move(c.search(["HEADER", "Message-ID", "<B@example.org>"]), "Zoo")
        c.logout()
        relay.reset()
        _sync(cfg)
        names = [name for _, name in relay.commands]
        fetched = relay.body_fetches
    assert "APPEND" not in names and "UID MOVE" in names, str(names)
    assert "UID COPY" not in names and fetched == 0
    for user in (far, near):
        assert set(_server(user, "INBOX")) == {"A", "C"}
        zoo = _server(user, "Zoo")
        assert set(zoo) == {"B"} and b"\\Flagged" in zoo["B"][1]
