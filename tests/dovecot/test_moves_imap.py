"""DetectMoves against a real Dovecot: a message another client moved on the server is
moved in the Maildir without fetching it again; a local move is (still) copied up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import RunOptions, run
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


def _prepared(root: Path, user: Any, port: int, detect: bool = True) -> Path:
    c = user.client()
    c.create_folder("Zoo")
    c.logout()
    for subject in ("A", "B", "C"):
        user.append("INBOX", _msg(subject), ("\\Flagged",) if subject == "B" else ())
    acct = Account(user.server, user.name, user.password, port)
    cfg = write_config(root, acct, "Expunge Both" + ("\nDetectMoves yes" if detect else ""))
    _sync(cfg)
    _local_move(root, "B", "Zoo")
    return cfg


def _check_moved(root: Path, user: Any) -> None:
    assert set(_server(user, "INBOX")) == {"A", "C"}
    zoo = _server(user, "Zoo")
    assert set(zoo) == {"B"}
    assert b"body of B" in zoo["B"][0]
    assert b"\\Flagged" in zoo["B"][1]
    assert set(files(root, "near")) == {"A", "C"}
    assert snapshot(root, "near", "Zoo") == {"B": "F"}


@pytest.mark.parametrize("detect", [True, False])
def test_local_move_is_a_server_copy(tmp_path: Path, imap_user: Any, detect: bool) -> None:
    with CuttingRelay(imap_user.port) as relay:
        cfg = _prepared(tmp_path, imap_user, relay.port, detect)
        relay.reset()
        _sync(cfg)
        names = [name for _, name in relay.commands]
        relay.reset()
        _sync(cfg)
        again = [name for _, name in relay.commands]
    _check_moved(tmp_path, imap_user)
    if detect:
        assert "APPEND" not in names and "UID COPY" in names, str(names)
    else:
        assert "APPEND" in names and "UID COPY" not in names, names
    assert "APPEND" not in again and "UID COPY" not in again


def test_copy_answer_lost_is_found_by_message_id(tmp_path: Path, imap_user: Any) -> None:
    """The server made the COPY, the answer (COPYUID) never came: the retry finds the
    copy by the Message-ID its intent logged, and makes no second one."""
    with CuttingRelay(imap_user.port) as relay:
        cfg = _prepared(tmp_path / "first", imap_user, relay.port)
        relay.reset()
        _sync(cfg)
        at = next(n for n, name in relay.commands if name == "UID COPY")
    imap_user.server.reset_user(imap_user.name)
    imap_user.server.add_user(imap_user.name, imap_user.password)
    with CuttingRelay(imap_user.port) as relay:
        root = tmp_path / "second"
        cfg = _prepared(root, imap_user, relay.port)
        relay.reset(cut_at=at, mode="after")
        _sync(cfg)
        assert relay.cut_done
        names = [name for _, name in relay.commands]
        assert "APPEND" not in names and names.count("UID COPY") == 1, names
    _check_moved(root, imap_user)


def test_local_move_crash_at_every_journal_step(tmp_path: Path, imap_user: Any) -> None:
    """Killed after every journal line of the run that carries out the move, then run
    again: the message is in Zoo once, nowhere else, and never uploaded."""
    step = 0
    while True:
        step += 1
        assert step < 40, "the crash hook never let the run finish"
        imap_user.server.reset_user(imap_user.name)
        imap_user.server.add_user(imap_user.name, imap_user.password)
        root = tmp_path / f"step{step}"
        with CuttingRelay(imap_user.port) as relay:
            cfg = _prepared(root, imap_user, relay.port)
            relay.reset()
            code = crash_run(cfg, step)
            assert code in (0, 100), code
            _sync(cfg)
            _sync(cfg)
            names = [name for _, name in relay.commands]
        assert "APPEND" not in names, (step, names)
        _check_moved(root, imap_user)
        if code == 0:
            break
    assert step > 3


def test_imap_to_imap_move_is_a_server_copy(
    tmp_path: Path, imap_user: Any, second_user: Any
) -> None:
    """Between two IMAP accounts: a move on one becomes a COPY on the other (no APPEND)."""
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
    assert "APPEND" not in names and "UID COPY" in names, str(names)
    assert fetched == 0
    for user in (far, near):
        assert set(_server(user, "INBOX")) == {"A", "C"}
        zoo = _server(user, "Zoo")
        assert set(zoo) == {"B"} and b"\\Flagged" in zoo["B"][1]
