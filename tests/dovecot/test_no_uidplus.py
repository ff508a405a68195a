"""Pushing to a Dovecot without UIDPLUS: copies are found by X-TUID, also after a kill.

The server (fixture ``dovecot_no_uidplus``) does not announce UIDPLUS, so APPEND names
no UIDs and the engine must look the copies up by the X-TUID it gave them (mbsync.md
section 4, step 7).  The sync runs as the real CLI in a child process, killed at every
journal step and right between the APPEND and the UID lookup; the next run must end
with every message exactly once on both sides.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.store.base import ListRequest, OutgoingMessage
from syncmail.sync.engine import RunOptions, RunResult, run
from syncmail.sync.state import parse_state
from tests.dovecot.imap_helpers import store, write_config
from tests.unit.engine_support import deliver, files, snapshot

pytestmark = pytest.mark.dovecot

ROOT = Path(__file__).resolve().parent.parent.parent
# The CLI, killed (os._exit, no clean-up) as soon as an APPEND command was answered:
# the copies are on the server, their UIDs are not known yet.
KILL_AFTER_APPEND = """
import os, sys
sys.path.insert(0, sys.argv[2])
from syncmail.store import imapwire
inner = imapwire.Session.multiappend
def multiappend(self, *args, **kwargs):
    inner(self, *args, **kwargs)
    os._exit(101)
imapwire.Session.multiappend = multiappend
from syncmail.cli import main
main(["-c", sys.argv[1], "-a", "-q"])
"""


def _cli(cfg: Path, crash_after: int | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SYNCMAIL_TEST_CRASH_AFTER", None)
    if crash_after is not None:
        env["SYNCMAIL_TEST_CRASH_AFTER"] = str(crash_after)
    return subprocess.run(
        [sys.executable, "-m", "syncmail", "-c", str(cfg), "-a", "-q", "-e"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _sync(cfg: Path) -> int:
    """A clean CLI run; returns mbsync's extended exit code (+32 far, +64 near changed)."""
    proc = _cli(cfg)
    assert proc.returncode in (0, 32, 64, 96), (proc.returncode, proc.stdout, proc.stderr)
    assert "lost track" not in proc.stderr, proc.stderr
    return proc.returncode


def _server(user: Any, box: str = "INBOX") -> dict[str, tuple[int, set[str], str | None]]:
    """subject -> (UID, flags, X-TUID) on the server; fails on a duplicate."""
    c = user.client()
    try:
        c.select_folder(box, readonly=True)
        uids = c.search("ALL")
        out: dict[str, tuple[int, set[str], str | None]] = {}
        if not uids:
            return out
        for uid, data in c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER]"]).items():
            head = bytes(data[b"BODY[HEADER]"]).decode()
            fields = dict(line.split(": ", 1) for line in head.split("\r\n") if ": " in line)
            subject = fields["Subject"]
            assert subject not in out, f"duplicate {subject} on the server"
            flags = {f.decode() if isinstance(f, bytes) else str(f) for f in data[b"FLAGS"]}
            flags.discard("\\Recent")
            out[subject] = (int(uid), flags, fields.get("X-TUID"))
        return out
    finally:
        c.logout()


def _msg(subject: str) -> bytes:
    return (
        f"From: t@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n"
        f"\r\nbody of {subject}\r\n"
    ).encode()


def _pairs(root: Path, box: str = "INBOX") -> set[tuple[int, int]]:
    path = root / "near" / box / ".mbsyncstate"
    state = parse_state(path.read_bytes(), str(path))
    return {(r.far_uid, r.near_uid) for r in state.records}


def _check_pairs(root: Path, user: Any, box: str = "INBOX") -> None:
    """Every state pair joins the server message and the Maildir file of one subject."""
    server = _server(user, box)
    near = files(root, "near", box)
    near_uid = {s: int(p.name.split(",U=")[1].split(":")[0]) for s, p in near.items()}
    assert set(server) == set(near)
    assert _pairs(root, box) == {(server[s][0], near_uid[s]) for s in server}


def test_server_really_lacks_uidplus(imap_user_no_uidplus: Any) -> None:
    remote = store(imap_user_no_uidplus)
    remote.connect()
    try:
        assert "uidplus" not in remote.capabilities
        assert "UIDPLUS" not in remote.server_caps
        box = remote.open_box("INBOX")
        stored = list(box.store_messages([OutgoingMessage(_msg("x"), 0)]))
        # The server names no UID: the engine has to search for it.
        assert [s.uid for s in stored] == [None]
        assert list(box.list_messages(ListRequest())) == [1]
    finally:
        remote.close()


def test_push_finds_uids_by_tuid(tmp_path: Path, imap_user_no_uidplus: Any) -> None:
    user = imap_user_no_uidplus
    user.append("INBOX", _msg("F1"), ("\\Flagged",))
    cfg = write_config(tmp_path, user)
    deliver(tmp_path, "near", "N1", "S")
    deliver(tmp_path, "near", "N2")
    deliver(tmp_path, "near", "N3", "RS")
    deliver(tmp_path, "near", "D1", box="Drafts")
    assert _sync(cfg) == 96
    server = _server(user)
    assert {s: v[1] for s, v in server.items()} == {
        "F1": {"\\Flagged"},
        "N1": {"\\Seen"},
        "N2": set(),
        "N3": {"\\Seen", "\\Answered"},
    }
    # The pushed copies carry the X-TUID they were found by.
    assert all(server[s][2] for s in ("N1", "N2", "N3"))
    assert snapshot(tmp_path, "near") == {"F1": "F", "N1": "S", "N2": "", "N3": "RS"}
    _check_pairs(tmp_path, user)
    _check_pairs(tmp_path, user, "Drafts")
    state = (tmp_path / "near" / "INBOX" / ".mbsyncstate").read_text()
    assert "MaxPushedUid 4" in state
    # Nothing to do the second time; a later push is found the same way.
    assert _sync(cfg) == 0
    deliver(tmp_path, "near", "N4", "F")
    assert _sync(cfg) == 32
    assert _server(user)["N4"][1] == {"\\Flagged"}
    _check_pairs(tmp_path, user)
    assert _sync(cfg) == 0


def _journal_lines(root: Path) -> list[str]:
    path = root / "near" / "INBOX" / ".mbsyncstate.journal"
    return path.read_text().splitlines() if path.exists() else []


def _setup_crash(root: Path, user: Any) -> Path:
    server = user.server
    server.reset_user(user.name)
    server.add_user(user.name, user.password)
    user.append("INBOX", _msg("F1"), ("\\Seen",))
    cfg = write_config(root, user)
    deliver(root, "near", "N1", "S")
    deliver(root, "near", "N2")
    deliver(root, "near", "N3", "F")
    return cfg


WANT = {"F1": "S", "N1": "S", "N2": "", "N3": "F"}


def _run(cfg: Path) -> RunResult:
    """A sync in this process (the quick way to resume and re-check)."""
    config = parse_config(cfg.read_text(), str(cfg))
    result = run(config, [Target("test")], RunOptions())
    assert not result.errors, result.errors
    return result


def _check_resumed(root: Path, user: Any, cfg: Path, what: str, cli: bool = False) -> None:
    if cli:
        _sync(cfg)
    else:
        _run(cfg)
    assert snapshot(root, "near") == WANT, what
    assert set(_server(user)) == set(WANT), what  # _server fails on duplicates
    _check_pairs(root, user)
    again = _run(cfg)
    assert not again.far_changed and not again.near_changed, what


def test_killed_between_append_and_uid_lookup(tmp_path: Path, imap_user_no_uidplus: Any) -> None:
    user = imap_user_no_uidplus
    cfg = _setup_crash(tmp_path, user)
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_APPEND, str(cfg), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 101, proc.stderr
    # The copies are on the server; the journal has their TUIDs but no far UIDs.
    server = _server(user)
    assert set(server) == {"F1", "N1", "N2", "N3"}
    lines = _journal_lines(tmp_path)
    tuids = {line.split()[3] for line in lines if line.startswith("# 0 ")}
    assert tuids == {server[s][2] for s in ("N1", "N2", "N3")}
    assert not [line for line in lines if line.startswith("< ")]
    _check_resumed(tmp_path, user, cfg, "after the APPEND", cli=True)


def test_killed_at_every_journal_step(tmp_path: Path, imap_user_no_uidplus: Any) -> None:
    user = imap_user_no_uidplus
    stored_unknown = 0
    step = 0
    while True:
        step += 1
        assert step < 60
        root = tmp_path / f"step{step}"
        cfg = _setup_crash(root, user)
        proc = _cli(cfg, crash_after=step)
        assert proc.returncode in (100, 96), (step, proc.stderr)
        if proc.returncode == 100:
            # Copies on the server whose far UID the journal does not have yet: the
            # case a server without UIDPLUS makes dangerous.
            lines = _journal_lines(root)
            known = {line.split()[2] for line in lines if line.startswith("< 0 ")}
            pushed = {s for s in _server(user) if s.startswith("N")}
            if pushed and len(known) < len(pushed):
                stored_unknown += 1
        _check_resumed(root, user, cfg, f"step {step}")
        if proc.returncode == 96:
            break
    assert step > 8
    assert stored_unknown >= 1
