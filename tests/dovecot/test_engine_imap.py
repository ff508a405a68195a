"""The engine between a real Dovecot (far, IMAP) and a Maildir (near)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import ChannelOps, Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import RunOptions, RunResult, run
from tests.dovecot.imap_helpers import write_config
from tests.unit.engine_support import crash_run, deliver, files, set_flags, snapshot

pytestmark = pytest.mark.dovecot


def _sync(cfg: Path, cli_ops: ChannelOps | None = None) -> RunResult:
    config = parse_config(cfg.read_text(), str(cfg))
    result = run(config, [Target("test")], RunOptions(cli_ops=cli_ops or ChannelOps()))
    assert not result.errors, result.errors
    return result


def _msg(subject: str) -> bytes:
    return f"From: t@example.org\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n".encode()


def _server(user: Any, box: str = "INBOX") -> dict[str, tuple[set[str], bytes]]:
    """subject -> (flags, body) on the server."""
    c = user.client()
    try:
        c.select_folder(box, readonly=True)
        uids = c.search("ALL")
        out: dict[str, tuple[set[str], bytes]] = {}
        if not uids:
            return out
        for data in c.fetch(uids, ["FLAGS", "BODY.PEEK[]"]).values():
            body = data[b"BODY[]"]
            subject = body.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
            assert subject not in out, f"duplicate {subject} on the server"
            flags = {f.decode() if isinstance(f, bytes) else str(f) for f in data[b"FLAGS"]}
            flags.discard("\\Recent")
            out[subject] = (flags, body)
        return out
    finally:
        c.logout()


def _uid_of(user: Any, subject: str) -> int:
    c = user.client()
    try:
        c.select_folder("INBOX")
        return int(c.search(["HEADER", "Subject", subject])[0])
    finally:
        c.logout()


def test_pull(tmp_path: Path, imap_user: Any) -> None:
    imap_user.append("INBOX", _msg("A"), ("\\Seen",))
    imap_user.append("INBOX", _msg("B"), ("\\Flagged", "\\Answered"))
    imap_user.append("INBOX", _msg("C"))
    cfg = write_config(tmp_path, imap_user)
    result = _sync(cfg)
    assert snapshot(tmp_path, "near") == {"A": "S", "B": "FR", "C": ""}
    data = files(tmp_path, "near")["A"].read_bytes()
    assert b"\r" not in data and b"\nX-TUID: " in data
    assert result.summary.boxes[0].pulled_new == 3
    assert result.near_changed and not result.far_changed
    # A second run changes nothing.
    again = _sync(cfg)
    assert not again.near_changed and not again.far_changed


def test_push(tmp_path: Path, imap_user: Any) -> None:
    cfg = write_config(tmp_path, imap_user)
    deliver(tmp_path, "near", "N1", "S")
    deliver(tmp_path, "near", "N2")
    _sync(cfg)
    server = _server(imap_user)
    assert {k: v[0] for k, v in server.items()} == {"N1": {"\\Seen"}, "N2": set()}
    body = server["N1"][1]
    assert b"\r\nX-TUID: " in body and b"\nbody of N1\r\n" in body
    assert b"\n" not in body.replace(b"\r\n", b"")


def test_flags_both_ways(tmp_path: Path, imap_user: Any) -> None:
    imap_user.append("INBOX", _msg("A"))
    imap_user.append("INBOX", _msg("B"), ("\\Seen",))
    cfg = write_config(tmp_path, imap_user)
    _sync(cfg)
    c = imap_user.client()
    try:
        c.select_folder("INBOX")
        c.add_flags([_uid_of(imap_user, "A")], ["\\Flagged"])
    finally:
        c.logout()
    set_flags(files(tmp_path, "near")["B"], "RS")
    result = _sync(cfg)
    assert snapshot(tmp_path, "near") == {"A": "F", "B": "RS"}
    server = {k: v[0] for k, v in _server(imap_user).items()}
    assert server == {"A": {"\\Flagged"}, "B": {"\\Seen", "\\Answered"}}
    box = result.summary.boxes[0]
    assert (box.pulled_flags, box.pushed_flags) == (1, 1)


def test_deletion_both_ways_then_expunge(tmp_path: Path, imap_user: Any) -> None:
    for s in ("A", "B", "C"):
        imap_user.append("INBOX", _msg(s))
    cfg = write_config(tmp_path, imap_user)
    _sync(cfg)
    c = imap_user.client()
    try:
        c.select_folder("INBOX")
        c.delete_messages([_uid_of(imap_user, "A")])
        c.expunge()
    finally:
        c.logout()
    files(tmp_path, "near")["B"].unlink()
    _sync(cfg)
    assert snapshot(tmp_path, "near") == {"A": "T", "C": ""}
    assert {k: v[0] for k, v in _server(imap_user).items()} == {"B": {"\\Deleted"}, "C": set()}
    result = _sync(cfg, ChannelOps(expunge=frozenset({"far", "near"})))
    assert snapshot(tmp_path, "near") == {"C": ""}
    assert set(_server(imap_user)) == {"C"}
    box = result.summary.boxes[0]
    assert (box.expunged_far, box.expunged_near) == (1, 1)
    # As in mbsync 1.5, dropping the entries of expunged messages is a pre-commit change:
    # that run rewrites no state, the next one finds both gone and drops them for good.
    state = tmp_path / "near" / "INBOX" / ".mbsyncstate"
    assert state.read_text().endswith("\n\n1 1 \n2 2 \n3 3 \n")
    _sync(cfg)
    assert state.read_text().endswith("\n\n3 3 \n")


def test_expunge_far_only(tmp_path: Path, imap_user: Any) -> None:
    imap_user.append("INBOX", _msg("A"), ("\\Deleted",))
    imap_user.append("INBOX", _msg("B"))
    cfg = write_config(tmp_path, imap_user, "Expunge Far")
    _sync(cfg)
    assert set(_server(imap_user)) == {"B"}
    # Deleted before it was ever copied: not copied at all.
    assert snapshot(tmp_path, "near") == {"B": ""}


def test_subfolders_created_on_both_sides(tmp_path: Path, imap_user: Any) -> None:
    imap_user.append("Lists/python", _msg("L1"))
    cfg = write_config(tmp_path, imap_user)
    deliver(tmp_path, "near", "D1", box="Drafts")
    _sync(cfg)
    assert snapshot(tmp_path, "near", "Lists/python") == {"L1": ""}
    assert set(_server(imap_user, "Drafts")) == {"D1"}


def test_crash_at_every_journal_step_and_resume(tmp_path: Path, imap_user: Any) -> None:
    """IMAP <-> Maildir, interrupted after every journal line (pull and push at once)."""

    def setup(root: Path) -> Path:
        server = imap_user.server
        server.reset_user(imap_user.name)
        server.add_user(imap_user.name, imap_user.password)
        imap_user.append("INBOX", _msg("A"), ("\\Seen",))
        imap_user.append("INBOX", _msg("B"))
        imap_user.append("INBOX", _msg("C"), ("\\Flagged",))
        root.mkdir()
        cfg = write_config(root, imap_user)
        deliver(root, "near", "N1", "S")
        deliver(root, "near", "N2")
        return cfg

    want = {"A": "S", "B": "", "C": "F", "N1": "S", "N2": ""}
    step = 0
    while True:
        step += 1
        assert step < 60
        root = tmp_path / f"step{step}"
        cfg = setup(root)
        code = crash_run(cfg, step)
        assert code in (0, 100), code
        _sync(cfg)
        assert snapshot(root, "near") == want, step
        server = _server(imap_user)  # fails on duplicates
        assert set(server) == set(want), step
        again = _sync(cfg)
        assert not again.far_changed and not again.near_changed, step
        if code == 0:
            break
    assert step > 8


def test_push_without_uidplus_finds_copies_by_tuid(
    tmp_path: Path, imap_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without UIDPLUS the server names no UIDs: the copies are found by X-TUID.
    from syncmail.sync import copying

    searched: list[int] = []
    inner = copying._find_by_tuid

    def probe(box: Any, journal: Any, recs: Any, t: int, newmax: Any) -> None:
        searched.append(len(recs))
        inner(box, journal, recs, t, newmax)

    monkeypatch.setattr(copying, "_find_by_tuid", probe)
    cfg = write_config(tmp_path, imap_user)
    text = cfg.read_text().replace(
        "AuthMechs LOGIN\n", "AuthMechs LOGIN\nDisableExtension UIDPLUS\n"
    )
    cfg.write_text(text)
    deliver(tmp_path, "near", "N1", "S")
    deliver(tmp_path, "near", "N2")
    _sync(cfg)
    assert set(_server(imap_user)) == {"N1", "N2"}
    state = (tmp_path / "near" / "INBOX" / ".mbsyncstate").read_text()
    assert state.endswith("\n\n1 1 S\n2 2 \n")
    assert searched == [2]
    again = _sync(cfg)
    assert not again.far_changed and not again.near_changed
    assert set(_server(imap_user)) == {"N1", "N2"}


def test_next_box_read_ahead_while_flags_go_to_the_server(
    tmp_path: Path, imap_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Local flag changes in two boxes: while the first box's STOREs are answered, a
    thread reads the second box's Maildir and state, and the second box takes them."""
    from tests.unit.test_lookahead import adopted_and_used, spy_scans

    c = imap_user.client()
    try:
        c.create_folder("Work")
    finally:
        c.logout()
    for box in ("INBOX", "Work"):
        for i in range(3):
            imap_user.append(box, _msg(f"{box}{i}"), ("\\Seen",))
    cfg = write_config(tmp_path, imap_user)
    _sync(cfg)
    for box in ("INBOX", "Work"):
        set_flags(files(tmp_path, "near", box)[f"{box}0"], "FS")
    given = spy_scans(monkeypatch)
    _sync(cfg)
    assert adopted_and_used(given["local:Work"])
    for box in ("INBOX", "Work"):
        assert {s: f for s, (f, _) in _server(imap_user, box).items()} == {
            f"{box}0": {"\\Flagged", "\\Seen"}, f"{box}1": {"\\Seen"}, f"{box}2": {"\\Seen"},
        }  # fmt: skip
    assert _sync(cfg).far_changed is False  # and nothing left to do
