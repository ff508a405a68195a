"""UIDVALIDITY changed on the Dovecot side: recovered by Message-ID, or the box stops.

mbsync's rule (mbsync.md section 4, step 2): every present pair must still join two
messages with one Message-ID, and at least 20 pairs, or 80% of the live pairs, must be
confirmed.  Then the new UIDVALIDITY is taken (``|`` in the journal) and the sync goes
on; otherwise the box stops with an error and nothing is touched.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.errors import UidValidityError
from syncmail.store.base import ListRequest
from syncmail.sync.engine import RunOptions, RunResult, run
from syncmail.sync.plan import NOTHING
from syncmail.sync.state import parse_state
from tests.dovecot.imap_helpers import message, store, write_config
from tests.unit.engine_support import deliver, files, flags_of, set_flags, snapshot

pytestmark = pytest.mark.dovecot

BOX = "Work"


def _run(cfg: Path) -> RunResult:
    config = parse_config(cfg.read_text(), str(cfg))
    return run(config, [Target("test")], RunOptions())


def _sync(cfg: Path) -> RunResult:
    result = _run(cfg)
    assert not result.errors, result.errors
    return result


def _flags_for(n: int) -> tuple[str, ...]:
    return ("\\Seen",) if n % 3 else ("\\Seen", "\\Flagged")


def _fill(user: Any, numbers: range, box: str = BOX) -> int:
    """Append ``message(n)`` for each n in order to ``box`` (created); returns UIDVALIDITY."""
    c = user.client()
    try:
        if not c.folder_exists(box):
            c.create_folder(box)
        for n in numbers:
            c.append(box, message(n), flags=_flags_for(n))
        return int(c.folder_status(box, ["UIDVALIDITY"])[b"UIDVALIDITY"])
    finally:
        c.logout()


def _recreate(user: Any, numbers: range, drop: tuple[int, ...] = ()) -> int:
    """Delete and re-create the box, append ``numbers`` again, expunge the ``drop``-th ones.

    Returns the new UIDVALIDITY (asserted to differ from the old one).
    """
    c = user.client()
    try:
        old = int(c.folder_status(BOX, ["UIDVALIDITY"])[b"UIDVALIDITY"])
        c.delete_folder(BOX)
        c.create_folder(BOX)
    finally:
        c.logout()
    new = _fill(user, numbers)
    if drop:
        c = user.client()
        try:
            c.select_folder(BOX)
            c.delete_messages(list(drop))
            c.expunge()
        finally:
            c.logout()
    assert new != old
    return new


def _server(user: Any, box: str = BOX) -> dict[str, tuple[int, set[str]]]:
    """Message-ID -> (UID, flags) on the server; fails on a duplicate."""
    c = user.client()
    try:
        c.select_folder(box, readonly=True)
        uids = c.search("ALL")
        out: dict[str, tuple[int, set[str]]] = {}
        if not uids:
            return out
        for uid, data in c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).items():
            head = bytes(data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]).decode().strip()
            msgid = head.split(": ", 1)[1]
            assert msgid not in out, f"duplicate {msgid} on the server"
            flags = {f.decode() if isinstance(f, bytes) else str(f) for f in data[b"FLAGS"]}
            flags.discard("\\Recent")
            out[msgid] = (int(uid), flags)
        return out
    finally:
        c.logout()


def _state(root: Path, box: str = BOX) -> Any:
    path = root / "near" / box / ".mbsyncstate"
    return parse_state(path.read_bytes(), str(path))


def _near_view(root: Path, box: str = BOX) -> dict[str, object]:
    """What 'nothing touched' compares: every message's flags and bytes, the sync state.

    File names are left out: listing the box gives a UID to a file that has none yet
    (mbsync's Maildir driver does that too), which changes no message.
    """
    msgs = {s: (flags_of(p), p.read_bytes()) for s, p in files(root, "near", box).items()}
    d = root / "near" / box
    state = {
        name: (d / name).read_bytes() if (d / name).exists() else None
        for name in (".mbsyncstate", ".mbsyncstate.journal", ".mbsyncstate.new")
    }
    return {"messages": msgs, "state": state}


def _first_sync(root: Path, user: Any, count: int) -> tuple[Path, int]:
    uv = _fill(user, range(1, count + 1))
    cfg = write_config(root, user)
    _sync(cfg)
    assert len(files(root, "near", BOX)) == count
    state = _state(root)
    assert state.far_uidvalidity == uv
    assert {(r.far_uid, r.near_uid) for r in state.records} == {(n, n) for n in range(1, count + 1)}
    return cfg, uv


def _subject(n: int) -> str:
    return f"test {n}"


@pytest.mark.parametrize(
    ("count", "drop"),
    [
        (25, ()),  # all 25 confirmed
        (30, tuple(range(22, 31))),  # 21 of 30 (70%): accepted because >= 20
        (5, ()),  # 5 of 5: accepted because >= 80%
        (5, (3,)),  # 4 of 5: exactly 80%
    ],
    ids=["25of25", "21of30", "5of5", "4of5"],
)
def test_recovered_by_message_id(
    tmp_path: Path,
    imap_user: Any,
    caplog: pytest.LogCaptureFixture,
    count: int,
    drop: tuple[int, ...],
) -> None:
    cfg, old_uv = _first_sync(tmp_path, imap_user, count)
    before = snapshot(tmp_path, "near", BOX)
    # Local work done meanwhile must survive the recovery.
    set_flags(files(tmp_path, "near", BOX)[_subject(1)], "RS")
    deliver(tmp_path, "near", "local-new", "S", box=BOX)
    new_uv = _recreate(imap_user, range(1, count + 1), drop)

    caplog.set_level(logging.INFO, logger="syncmail")
    _sync(cfg)
    assert "Recovered from change of UIDVALIDITY" in caplog.text
    state = _state(tmp_path)
    assert (state.far_uidvalidity, state.near_uidvalidity) != (old_uv, 0)
    assert state.far_uidvalidity == new_uv
    # The pairs still join the same messages: no duplicate on either side.
    server = _server(imap_user)
    near = snapshot(tmp_path, "near", BOX)
    kept = [n for n in range(1, count + 1) if n not in drop]
    assert set(near) == {_subject(n) for n in range(1, count + 1)} | {"local-new"}
    assert set(server) == {f"<{n}@syncmail.test>" for n in kept} | {"<local-new@example.org>"}
    for n in kept:
        assert server[f"<{n}@syncmail.test>"][0] == n
    # Flags went both ways as in any sync; messages gone from the server are marked deleted.
    assert server["<1@syncmail.test>"][1] == {"\\Seen", "\\Answered"}
    for n in range(2, count + 1):
        want = before[_subject(n)] + ("T" if n in drop else "")
        assert near[_subject(n)] == "".join(sorted(want)), n
    pairs = {(r.far_uid, r.near_uid) for r in state.records}
    assert {(n, n) for n in kept} <= pairs
    # And the next run has nothing to do.
    again = _sync(cfg)
    assert not again.far_changed and not again.near_changed


@pytest.mark.parametrize(
    ("count", "numbers", "drop", "why"),
    [
        # The box now holds other messages at the old UIDs.
        (5, range(101, 106), (), "UIDVALIDITY genuinely changed (at UID 1)"),
        # The same messages, re-appended in another order: every UID holds another one.
        (25, range(25, 0, -1), (), "UIDVALIDITY genuinely changed (at UID 1)"),
        # Same messages, but too few left to be sure: 3 of 5 (60%), 19 of 30 (63%).
        (5, range(1, 6), (4, 5), "Unable to recover from UIDVALIDITY change"),
        (30, range(1, 31), tuple(range(20, 31)), "Unable to recover from UIDVALIDITY change"),
    ],
    ids=["other-messages", "shifted", "3of5", "19of30"],
)
def test_unrecoverable_change_stops_the_box(
    tmp_path: Path,
    imap_user: Any,
    count: int,
    numbers: range,
    drop: tuple[int, ...],
    why: str,
) -> None:
    # INBOX is synced too: it must go on while Work stops.
    imap_user.append("INBOX", message(900), ("\\Seen",))
    cfg, old_uv = _first_sync(tmp_path, imap_user, count)
    set_flags(files(tmp_path, "near", BOX)[_subject(2)], "RS")
    deliver(tmp_path, "near", "local-new", "S", box=BOX)
    _recreate(imap_user, numbers, drop)
    server_before = _server(imap_user)
    imap_user.append("INBOX", message(901))
    near_before = _near_view(tmp_path)

    result = _run(cfg)
    assert len(result.errors) == 1, result.errors
    err = result.errors[0]
    assert isinstance(err, UidValidityError)
    assert err.box == BOX
    assert str(err) == f"channel test, box {BOX}: far box {BOX}: {why}"
    # Nothing touched: not the Maildir box, not its state, not the server's box.
    assert _near_view(tmp_path) == near_before
    assert _server(imap_user) == server_before
    # The other box of the channel was synced.
    assert "<901@syncmail.test>" in {
        line.split(": ", 1)[1]
        for p in files(tmp_path, "near").values()
        for line in p.read_text().splitlines()
        if line.startswith("Message-ID: ")
    }
    # It stays stopped, with the same message, until the user sorts it out.
    again = _run(cfg)
    assert [str(e) for e in again.errors] == [str(err)]
    assert _near_view(tmp_path) == near_before
    assert _server(imap_user) == server_before


def test_spurious_change_of_inbox_uidvalidity(tmp_path: Path, imap_user: Any) -> None:
    """Dovecot re-reads the same Maildir with a new UIDVALIDITY (a restored backup)."""
    server = imap_user.server
    for n in range(1, 8):
        imap_user.append("INBOX", message(n), _flags_for(n))
    cfg = write_config(tmp_path, imap_user)
    _sync(cfg)
    state = _state(tmp_path, "INBOX")
    old_uv = state.far_uidvalidity
    md = imap_user.maildir
    uidlist = md / "dovecot-uidlist"
    head, rest = uidlist.read_text().split("\n", 1)
    fields = [f"V{old_uv + 1000}" if f.startswith("V") else f for f in head.split()]
    uidlist.write_text(" ".join(fields) + "\n" + rest)
    for index in md.glob("dovecot.index*"):
        index.unlink()
    shutil.rmtree(md / ".." / "mail-index-cache", ignore_errors=True)
    server.fix_owner(md)
    try:
        server.doveadm("force-resync", "-u", imap_user.name, "INBOX")
    except Exception as exc:  # noqa: BLE001 - the report below says which step failed
        pytest.fail(f"doveadm force-resync: {exc}")
    c = imap_user.client()
    try:
        new_uv = int(c.folder_status("INBOX", ["UIDVALIDITY"])[b"UIDVALIDITY"])
    finally:
        c.logout()
    assert new_uv == old_uv + 1000
    near_before = snapshot(tmp_path, "near")
    result = _sync(cfg)
    assert not result.far_changed and not result.near_changed
    assert _state(tmp_path, "INBOX").far_uidvalidity == new_uv
    assert snapshot(tmp_path, "near") == near_before
    assert len(_server(imap_user, "INBOX")) == 7


def test_imap_listing_of_only_extra_uids(imap_user: Any) -> None:
    """What the recovery asks the IMAP store for: no UID range, some UIDs, their Message-IDs."""
    _fill(imap_user, range(1, 4))
    remote = store(imap_user)
    remote.connect()
    try:
        box = remote.open_box(BOX)
        got = box.list_messages(
            ListRequest(
                min_uid=NOTHING, extra_uids=frozenset({2, 3}), message_id_uids=frozenset({2})
            )
        )
    finally:
        remote.close()
    assert sorted(got) == [2, 3]
    assert got[2].message_id == "<2@syncmail.test>"
    assert got[3].message_id is None
