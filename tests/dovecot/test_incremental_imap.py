"""Incremental far listings against a real Dovecot: snapshot + CHANGEDSINCE == full listing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from syncmail import flags
from syncmail.store.base import FlagChange, ListRequest, MessageInfo, OutgoingMessage
from syncmail.store.imap import IMAPStore
from syncmail.sync import snapshot
from syncmail.sync.snapshot import Snapshot, list_box
from tests.dovecot.imap_helpers import message, store, write_config

pytestmark = pytest.mark.dovecot


@pytest.fixture(params=["qresync", "condstore"])
def remote(request: pytest.FixtureRequest, imap_user: Any) -> Any:
    # Without QRESYNC the expunges are found by UID SEARCH ALL instead of VANISHED.
    off = frozenset() if request.param == "qresync" else frozenset({"QRESYNC"})
    s = store(imap_user, disable_extensions=off)
    s.connect()
    assert s.condstore
    assert s.qresync == (request.param == "qresync")
    yield s
    s.close()


def _flags(listing: dict[int, MessageInfo]) -> dict[int, int]:
    return {uid: m.flags for uid, m in listing.items()}


def _full(s: IMAPStore, box: str = "INBOX") -> dict[int, int]:
    b = s.open_box(box)
    try:
        return _flags(b.list_messages(ListRequest()))
    finally:
        b.close()


def _listed(s: IMAPStore, path: Path, request: ListRequest | None = None) -> dict[int, int]:
    """A run's listing step: a fresh SELECT, then the listing through the snapshot."""
    b = s.open_box("INBOX")
    try:
        return _flags(list_box(s, b, request or ListRequest(), str(path)))
    finally:
        b.close()


def _other_client_changes(user: Any, new: int = 100) -> None:
    """Another program: flags changed, messages added and expunged."""
    c = user.client()
    try:
        c.select_folder("INBOX")
        c.add_flags([2, 3], [b"\\Flagged"])
        c.remove_flags([7], [b"\\Seen"])
        c.add_flags([5, 6], [b"\\Deleted"])
        c.uid_expunge([5, 6])
    finally:
        c.logout()
    user.append("INBOX", message(new), ("\\Seen",))
    user.append("INBOX", message(new + 1))


def _seed(user: Any, n: int = 8) -> None:
    for i in range(1, n + 1):
        user.append("INBOX", message(i), ("\\Seen",) if i % 2 else ())


def test_incremental_listing_equals_full_after_another_clients_changes(
    imap_user: Any, remote: IMAPStore, tmp_path: Path
) -> None:
    _seed(imap_user)
    path = tmp_path / "state.syncmail-far"
    first = _listed(remote, path)
    assert first == _full(remote)
    saved = snapshot.load(str(path))
    assert saved is not None and saved.flags == first

    _other_client_changes(imap_user)
    b = remote.open_box("INBOX")
    changes = b.list_changes(str(saved.modseq))
    b.close()
    assert changes is not None
    # Only what changed is sent: not the untouched messages 1, 4, 8.
    assert set(changes.flags) == {2, 3, 7, 9, 10}

    second = _listed(remote, path)
    assert second == _full(remote)
    assert set(second) == {1, 2, 3, 4, 7, 8, 9, 10}
    assert second[2] & flags.FLAGGED and not second[7] & flags.SEEN
    renewed = snapshot.load(str(path))
    assert renewed is not None and renewed.flags == second
    assert renewed.modseq > saved.modseq


def test_changes_made_by_our_own_previous_run_come_back(
    imap_user: Any, remote: IMAPStore, tmp_path: Path
) -> None:
    _seed(imap_user)
    path = tmp_path / "state.syncmail-far"
    b = remote.open_box("INBOX")
    # The run lists (the snapshot is taken), then changes the box itself.
    before = _flags(list_box(remote, b, ListRequest(), str(path)))
    assert len(before) == 8
    b.set_flags([FlagChange(1, flags.FLAGGED, flags.SEEN), FlagChange(2, flags.SEEN, 0)])
    b.set_flags([FlagChange(3, flags.TRASHED, 0)])
    b.expunge([3])
    stored = list(b.store_messages([OutgoingMessage(message(50), flags.SEEN)]))
    b.close()
    assert stored[0].uid == 9

    after = _listed(remote, path)
    assert after == _full(remote)
    assert after[1] == flags.FLAGGED and after[2] & flags.SEEN
    assert 3 not in after and after[9] == flags.SEEN


def test_the_snapshot_is_used_when_it_is_valid(
    imap_user: Any, remote: IMAPStore, tmp_path: Path
) -> None:
    # A planted snapshot with a wrong flag that no change since corrects: its value
    # shows through, which proves the listing came from it.
    _seed(imap_user, 3)
    path = tmp_path / "state.syncmail-far"
    _listed(remote, path)
    saved = snapshot.load(str(path))
    assert saved is not None
    saved.flags[1] = flags.DRAFT
    snapshot.save(str(path), saved)
    assert _listed(remote, path)[1] == flags.DRAFT


@pytest.mark.parametrize("damage", ["missing", "corrupt", "uidvalidity", "modseq", "key"])
def test_doubtful_snapshots_fall_back_to_a_full_listing(
    imap_user: Any, remote: IMAPStore, tmp_path: Path, damage: str
) -> None:
    _seed(imap_user, 4)
    path = tmp_path / "state.syncmail-far"
    _listed(remote, path)
    saved = snapshot.load(str(path))
    assert saved is not None
    # Wrong data that only a (wrong) incremental listing would report.
    saved.flags = {1: flags.DRAFT, 2: flags.DRAFT, 3: flags.DRAFT, 4: flags.DRAFT, 77: 0}
    if damage == "uidvalidity":
        saved.uidvalidity += 1
    elif damage == "modseq":
        saved.modseq += 1000  # "newer" than the server: its counter went back
    elif damage == "key":
        saved.key = "other-store\0INBOX"
    snapshot.save(str(path), saved)
    if damage == "missing":
        path.unlink()
    elif damage == "corrupt":
        path.write_bytes(path.read_bytes()[:-20])
    _other_client_changes(imap_user)
    listed = _listed(remote, path)
    assert listed == _full(remote)
    assert 77 not in listed
    renewed = snapshot.load(str(path))
    assert renewed is not None and renewed.flags == listed


def test_requests_keep_their_meaning(imap_user: Any, remote: IMAPStore, tmp_path: Path) -> None:
    _seed(imap_user, 6)
    path = tmp_path / "state.syncmail-far"
    _listed(remote, path)
    _other_client_changes(imap_user)
    b = remote.open_box("INBOX")
    try:
        for request in (
            ListRequest(min_uid=4),
            ListRequest(min_uid=8, extra_uids=frozenset({1, 3, 5})),
            ListRequest(want_size=True),
            ListRequest(min_uid=9, tuid_from=9),
            ListRequest(message_id_uids=frozenset({1, 2})),
        ):
            got = list_box(remote, b, request, str(path))
            assert got == b.list_messages(request), request
    finally:
        b.close()


def test_dry_run_writes_no_snapshot(imap_user: Any, remote: IMAPStore, tmp_path: Path) -> None:
    _seed(imap_user, 2)
    path = tmp_path / "state.syncmail-far"
    b = remote.open_box("INBOX")
    list_box(remote, b, ListRequest(), str(path), save_notes=False)
    b.close()
    assert not path.exists()


def test_snapshot_save_is_atomic_and_sized(tmp_path: Path) -> None:
    path = tmp_path / "s"
    snapshot.save(str(path), Snapshot("k", 1, 2, {1: 0}))
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


# --- through the engine ---------------------------------------------------------------------


def _engine_config(root: Path, user: Any) -> Path:
    return write_config(root, user, "Expunge Both")


def _engine_sync(cfg: Path) -> None:
    from syncmail.config.model import ChannelOps, Target
    from syncmail.config.parser import parse_config
    from syncmail.sync.engine import RunOptions, run

    result = run(
        parse_config(cfg.read_text(), str(cfg)), [Target("test")], RunOptions(ChannelOps())
    )
    assert not result.errors, result.errors


def _near_by_subject(root: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for sub in ("cur", "new"):
        for f in (root / "near" / "INBOX" / sub).iterdir():
            subject = f.read_bytes().split(b"Subject: ", 1)[1].split(b"\n", 1)[0].decode()
            info = f.name.rsplit(":2,", 1)[1] if ":2," in f.name else ""
            out[subject.strip()] = flags.from_letters(info)
    return out


def _server_by_subject(user: Any) -> dict[str, int]:
    c = user.client()
    try:
        c.select_folder("INBOX", readonly=True)
        uids = c.search("ALL")
        got = c.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]) if uids else {}
        return {
            v[b"BODY[HEADER.FIELDS (SUBJECT)]"].split(b":", 1)[1].strip().decode(): flags.from_imap(
                v[b"FLAGS"]
            )
            for v in got.values()
        }
    finally:
        c.logout()


def test_engine_runs_stay_equal_to_the_server(
    imap_user: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _seed(imap_user)
    cfg = _engine_config(tmp_path, imap_user)
    _engine_sync(cfg)
    far_notes = tmp_path / "near" / "INBOX" / ".mbsyncstate.syncmail-far"
    assert far_notes.exists()
    assert _near_by_subject(tmp_path) == _server_by_subject(imap_user)

    # The server changes; then a run that also pushes a local flag change.
    _other_client_changes(imap_user)
    with caplog.at_level(logging.DEBUG, logger="syncmail.sync.snapshot"):
        _engine_sync(cfg)
    assert "5 changed since modseq" in caplog.text  # 2, 3, 7 and the two new ones
    assert _near_by_subject(tmp_path) == _server_by_subject(imap_user)
    near_files = {
        f.read_bytes().split(b"Subject: ", 1)[1].split(b"\n", 1)[0].strip().decode(): f
        for sub in ("cur", "new")
        for f in (tmp_path / "near" / "INBOX" / sub).iterdir()
    }
    target = near_files["test 8"]
    target.rename(target.with_name(target.name.rsplit(":2,", 1)[0] + ":2,FS"))
    _engine_sync(cfg)
    server = _server_by_subject(imap_user)
    assert server["test 8"] == flags.FLAGGED | flags.SEEN
    # Our own push comes back as a change; nothing is undone or duplicated.
    _other_client_changes(imap_user, new=200)
    _engine_sync(cfg)
    _engine_sync(cfg)
    assert _near_by_subject(tmp_path) == _server_by_subject(imap_user)
    saved = snapshot.load(str(far_notes))
    assert saved is not None and len(saved.flags) == len(_server_by_subject(imap_user))


def test_empty_boxes_and_emptied_boxes(imap_user: Any, remote: IMAPStore, tmp_path: Path) -> None:
    path = tmp_path / "state.syncmail-far"
    assert _listed(remote, path) == {}
    assert _listed(remote, path) == {}  # from the (empty) snapshot
    _seed(imap_user, 3)
    assert _listed(remote, path) == _full(remote) == {1: flags.SEEN, 2: 0, 3: flags.SEEN}
    c = imap_user.client()
    try:
        c.select_folder("INBOX")
        c.add_flags([1, 2, 3], [b"\\Deleted"])
        c.uid_expunge([1, 2, 3])
    finally:
        c.logout()
    assert _listed(remote, path) == _full(remote) == {}
