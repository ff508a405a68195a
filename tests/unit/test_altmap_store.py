"""AltMap boxes (mbsync's ``.isyncuidmap.db``) in our Maildir store: made, read, kept and
cleaned exactly as isync's drv_maildir.c does, checked through Berkeley DB itself and
db5.3_dump (test_altmap_no_library.py: the library missing)."""

from __future__ import annotations

import logging
import os
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from syncmail import flags as F
from syncmail.config.model import Location, MaildirStoreConfig
from syncmail.store.base import FlagChange, ListRequest, OutgoingMessage
from syncmail.store.maildir import MaildirStore

bdb = pytest.importorskip("berkeleydb.db", reason="berkeleydb (syncmail[altmap]) not installed")

MAIL = b"From: a@example.org\nSubject: hi\n\nbody\n"


def make_store(root: Path, alt_map: bool = True, name: str = "far") -> MaildirStore:
    cfg = MaildirStoreConfig(
        name=name,
        defined_at=Location("rc", 1),
        path=f"{root}/{name}/",
        inbox=f"{root}/{name}/INBOX",
        subfolders="verbatim",
        trash="Trash",
        alt_map=alt_map,
    )
    store = MaildirStore(cfg, fsync=False)
    store.connect()
    return store


def read_db(path: Path) -> tuple[tuple[int, int], dict[bytes, int]]:
    """(UIDVALIDITY, highest UID) and key -> UID, read with Berkeley DB itself."""
    d = bdb.DB()
    d.open(str(path), None, bdb.DB_HASH, bdb.DB_RDONLY)
    try:
        items = dict(d.items())
    finally:
        d.close()
    uv = struct.unpack("=II", items.pop(b"UIDVALIDITY"))
    return uv, {k: struct.unpack("=I", v)[0] for k, v in items.items()}


def files(box: Path) -> list[str]:
    return sorted(f"{sub}/{n}" for sub in ("cur", "new") for n in os.listdir(box / sub))


def key(rel: str) -> bytes:
    return rel[4:].split(":")[0].split(",")[0].encode()


def stored(store: MaildirStore, box: str, count: int, flags: int = 0) -> list[int]:
    b = store.open_box(box, create=True)
    try:
        return [s.uid for s in b.store_messages([OutgoingMessage(MAIL, flags)] * count)]
    finally:
        b.close()


def listed(store: MaildirStore, box: str) -> dict[int, str]:
    b = store.open_box(box)
    try:
        return {uid: info.path or "" for uid, info in b.list_messages(ListRequest()).items()}
    finally:
        b.close()


def test_new_box_gets_the_database_and_names_without_uids(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert stored(store, "Box", 2, F.SEEN) + stored(store, "Box", 1) == [1, 2, 3]
    box = tmp_path / "far" / "Box"
    assert (box / ".isyncuidmap.db").exists()
    assert not (box / ".uidvalidity").exists()
    names = files(box)
    assert len(names) == 3 and not any(",U=" in n for n in names)
    (uidvalidity, nuid), keys = read_db(box / ".isyncuidmap.db")
    assert nuid == 3
    by_uid = listed(store, "Box")
    assert {key(rel): uid for uid, rel in by_uid.items()} == keys
    # Reopening reads the same UIDVALIDITY and UIDs.
    b = store.open_box("Box")
    assert (b.status.uidvalidity, b.status.uidnext) == (uidvalidity, 4)
    assert b.list_messages(ListRequest()).keys() == by_uid.keys()
    b.close()
    # An independent reader of the file agrees (db5.3_dump prints keys and values as hex).
    if shutil.which("db5.3_dump"):
        dump = subprocess.run(
            ["db5.3_dump", str(box / ".isyncuidmap.db")],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout  # fmt: skip
        assert "type=hash" in dump
        assert b"UIDVALIDITY".hex() in dump
        assert struct.pack("=II", uidvalidity, 3).hex() in dump


def test_delivered_files_get_uids_in_the_database_and_stale_keys_go(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    stored(store, "Box", 2)
    box = tmp_path / "far" / "Box"
    gone = files(box)[0]
    os.unlink(box / gone)
    (box / "new" / "1800000000.M1P2.mda").write_bytes(MAIL)
    (box / "cur" / "1800000001.M1P3.mda:2,S").write_bytes(MAIL)
    by_uid = listed(store, "Box")
    assert sorted(by_uid) == [2, 3, 4]
    # mbsync's arrival order numbers the new files; their names stay as they were.
    assert by_uid[3] == "new/1800000000.M1P2.mda"
    assert by_uid[4] == "cur/1800000001.M1P3.mda:2,S"
    (_, nuid), keys = read_db(box / ".isyncuidmap.db")
    assert nuid == 4
    assert keys == {key(rel): uid for uid, rel in by_uid.items()}
    assert key(gone) not in keys


def test_flags_expunge_and_trash_keep_names_and_the_database_right(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    stored(store, "Box", 4)
    b = store.open_box("Box")
    b.list_messages(ListRequest())
    b.set_flags([FlagChange(1, add=F.SEEN | F.FLAGGED, remove=0)])
    b.expunge([2])
    b.trash_messages([3], "Trash")
    b.close()
    box = tmp_path / "far" / "Box"
    names = files(box)
    assert len(names) == 2 and not any(",U=" in n for n in names)
    assert any(n.startswith("cur/") and n.endswith(":2,FS") for n in names)
    _, keys = read_db(box / ".isyncuidmap.db")
    assert sorted(keys.values()) == [1, 4]
    # The Trash box is new, so with AltMap it gets its own database.
    trash = listed(store, "Trash")
    assert list(trash) == [1]
    assert (tmp_path / "far/Trash/.isyncuidmap.db").exists()
    assert not (tmp_path / "far/Trash/.uidvalidity").exists()
    assert ",U=" not in trash[1]


def test_a_missing_uidvalidity_entry_starts_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(tmp_path)
    stored(store, "Box", 3)
    path = tmp_path / "far/Box/.isyncuidmap.db"
    d = bdb.DB()
    d.open(str(path), None, bdb.DB_HASH, 0)
    d.delete(b"UIDVALIDITY")
    d.put(b"junk", struct.pack("=I", 77))
    d.close()
    with caplog.at_level(logging.INFO):
        b = store.open_box("Box")
    assert "no UIDVALIDITY" in caplog.text
    infos = b.list_messages(ListRequest())
    b.close()
    # Truncated: the old entries are gone and every file is numbered afresh.
    assert sorted(infos) == [1, 2, 3]
    (_, nuid), keys = read_db(path)
    assert nuid == 3 and sorted(keys.values()) == [1, 2, 3] and b"junk" not in keys


def test_a_file_sharing_its_key_gets_its_own_name_and_uid(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(tmp_path)
    stored(store, "Box", 1)
    box = tmp_path / "far/Box"
    [rel] = files(box)
    shutil.copy(box / rel, box / "cur" / (rel[4:] + "S"))
    with caplog.at_level(logging.WARNING):
        by_uid = listed(store, "Box")
    assert sorted(by_uid) == [1, 2]
    # One of the two keeps name and UID 1, the other gets a fresh name (and flags kept).
    assert key(by_uid[1]) == key(rel) and key(by_uid[2]) != key(rel)
    assert sorted(p.endswith(",S") for p in by_uid.values()) == [False, True]
    assert "UID key of another file" in caplog.text
    assert listed(store, "Box") == by_uid


def test_existing_uidvalidity_wins_and_db_only_boxes_work_without_alt_map(tmp_path: Path) -> None:
    native = make_store(tmp_path, alt_map=False)
    stored(native, "Native", 2)
    alt = make_store(tmp_path, alt_map=True)
    assert stored(alt, "Native", 1) == [3]
    native_box = tmp_path / "far/Native"
    assert not (native_box / ".isyncuidmap.db").exists()
    assert all(",U=" in n for n in files(native_box))
    stored(alt, "Db", 2)
    assert listed(native, "Db").keys() == {1, 2}
    assert stored(native, "Db", 1) == [3]
    assert not (tmp_path / "far/Db/.uidvalidity").exists()


def test_the_database_is_locked_while_the_box_is_open(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    b = store.open_box("Box", create=True)
    probe = textwrap.dedent(
        """
        import fcntl, os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print("held")
        else:
            print("free")
        """
    )
    db_path = str(tmp_path / "far/Box/.isyncuidmap.db")

    def lock_state() -> str:
        return subprocess.run(
            [sys.executable, "-c", probe, db_path], capture_output=True, text=True, timeout=30
        ).stdout.strip()

    assert lock_state() == "held"
    list(b.store_messages([OutgoingMessage(MAIL, 0)]))
    assert lock_state() == "held"
    b.close()
    assert lock_state() == "free"


def test_delete_box_removes_the_database(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    store.open_box("Box", create=True).close()
    store.delete_box("Box")
    assert not (tmp_path / "far/Box").exists()
