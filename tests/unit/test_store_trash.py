"""Maildir ``Box.trash_messages`` on real files: mbsync's trash file names, auto-created box."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncmail import flags as F
from syncmail.config.model import Location, MaildirStoreConfig
from syncmail.store.base import ListRequest, OutgoingMessage
from syncmail.store.maildir import MaildirStore

# <time>.<pid>_<n>.<host> then the original info part, and no ,U= tag.
TRASH_NAME = re.compile(r"^\d+\.(\d+)_\d+\.[^.,:/]+(:2,[A-Za-z]*)?$")


def _store(tmp_path: Path, fsync: bool = True, **kw: str) -> MaildirStore:
    kw.setdefault("path", f"{tmp_path}/Mail/")
    kw.setdefault("inbox", f"{tmp_path}/Mail/INBOX")
    kw.setdefault("subfolders", "verbatim")
    store = MaildirStore(
        MaildirStoreConfig(name="local", defined_at=Location("rc", 1), **kw),  # type: ignore[arg-type]
        fsync=fsync,
    )
    store.connect()
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MaildirStore]:
    st = _store(tmp_path)
    yield st
    st.close()


def _files(box_dir: Path) -> dict[str, bytes]:
    out = {}
    for sub in ("cur", "new"):
        for name in os.listdir(box_dir / sub):
            out[f"{sub}/{name}"] = (box_dir / sub / name).read_bytes()
    return out


def _fill(store: MaildirStore, specs: list[tuple[bytes, int]]) -> list[int]:
    box = store.open_box("INBOX")
    try:
        stored = list(box.store_messages(OutgoingMessage(d, f) for d, f in specs))
    finally:
        box.close()
    return [s.uid for s in stored if s.uid is not None]


@pytest.mark.parametrize("fsync", [True, False])
def test_trash_renames_into_auto_created_trash(tmp_path: Path, fsync: bool) -> None:
    store = _store(tmp_path, fsync=fsync)
    uids = _fill(
        store,
        [
            (b"Subject: a\n\nA\n", F.SEEN | F.TRASHED),
            (b"Subject: b\n\nB\n", F.TRASHED),
            (b"Subject: c\n\nC\n", 0),
        ],
    )
    trash_dir = tmp_path / "Mail" / "Trash"
    assert not trash_dir.exists()
    box = store.open_box("INBOX")
    box.list_messages(ListRequest())
    box.trash_messages(uids[:2], "Trash")
    # Gone from the box at once; the expunge the caller does next is a no-op for them.
    assert set(box.list_messages(ListRequest())) == {uids[2]}
    box.expunge(uids[:2])
    assert set(box.list_messages(ListRequest())) == {uids[2]}
    box.close()

    trashed = _files(trash_dir)
    assert sorted(trashed.values()) == [b"Subject: a\n\nA\n", b"Subject: b\n\nB\n"]
    by_body = {data: rel for rel, data in trashed.items()}
    # Same sub-directory as before (Seen -> cur/, unseen -> new/), flags kept, UID dropped.
    seen_rel = by_body[b"Subject: a\n\nA\n"]
    unseen_rel = by_body[b"Subject: b\n\nB\n"]
    assert seen_rel.startswith("cur/") and seen_rel.endswith(":2,ST")
    assert unseen_rel.startswith("new/") and unseen_rel.endswith(":2,T")
    for rel in trashed:
        m = TRASH_NAME.match(rel[4:])
        assert m, rel
        assert int(m.group(1)) == os.getpid()
        assert ",U=" not in rel
    # The trash is a proper box: it opens and numbers its messages itself.
    tbox = store.open_box("Trash")
    try:
        assert len(tbox.list_messages(ListRequest())) == 2
    finally:
        tbox.close()
    store.close()


def test_trash_into_existing_trash_keeps_its_mail(tmp_path: Path, store: MaildirStore) -> None:
    uids = _fill(store, [(b"Subject: x\n\nX\n", F.SEEN)])
    tbox = store.open_box("Trash", create=True)
    list(tbox.store_messages([OutgoingMessage(b"Subject: old\n\nold\n", F.SEEN)]))
    tbox.close()
    box = store.open_box("INBOX")
    box.list_messages(ListRequest())
    box.trash_messages(uids, "Trash")
    box.close()
    assert sorted(_files(tmp_path / "Mail" / "Trash").values()) == [
        b"Subject: old\n\nold\n",
        b"Subject: x\n\nX\n",
    ]
    assert _files(tmp_path / "Mail" / "INBOX") == {}


def test_trash_nested_trash_box_name(tmp_path: Path, store: MaildirStore) -> None:
    uids = _fill(store, [(b"Subject: x\n\nX\n", 0)])
    box = store.open_box("INBOX")
    box.list_messages(ListRequest())
    box.trash_messages(uids, "Archive/Trash")
    box.close()
    assert list(_files(tmp_path / "Mail" / "Archive" / "Trash").values()) == [b"Subject: x\n\nX\n"]


def test_trash_keeps_foreign_info_letters_and_skips_vanished(
    tmp_path: Path, store: MaildirStore
) -> None:
    inbox = tmp_path / "Mail" / "INBOX"
    box = store.open_box("INBOX")
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(exist_ok=True)
    (inbox / "cur" / "100.M1P2Q3.host:2,STa").write_bytes(b"kw\n")
    (inbox / "cur" / "101.M1P2Q4.host:2,S").write_bytes(b"gone\n")
    listed = box.list_messages(ListRequest())
    by_data = {(inbox / m.path).read_bytes(): uid for uid, m in listed.items() if m.path}
    (inbox / listed[by_data[b"gone\n"]].path).unlink()  # type: ignore[operator]
    box.trash_messages([by_data[b"kw\n"], by_data[b"gone\n"]], "Trash")
    box.close()
    trashed = _files(tmp_path / "Mail" / "Trash")
    assert list(trashed.values()) == [b"kw\n"]
    assert next(iter(trashed)).endswith(":2,STa")


def test_trash_follows_a_file_renamed_meanwhile(tmp_path: Path, store: MaildirStore) -> None:
    uids = _fill(store, [(b"Subject: x\n\nX\n", 0)])
    inbox = tmp_path / "Mail" / "INBOX"
    box = store.open_box("INBOX")
    listed = box.list_messages(ListRequest())
    rel = listed[uids[0]].path
    assert rel is not None and rel.startswith("new/")
    # A mail reader marks it seen behind our back.
    os.rename(inbox / rel, inbox / ("cur/" + rel[4:].replace(":2,", ":2,S")))
    box.trash_messages(uids, "Trash")
    box.close()
    trashed = _files(tmp_path / "Mail" / "Trash")
    assert list(trashed.values()) == [b"Subject: x\n\nX\n"]
    assert next(iter(trashed)).startswith("cur/")


def test_trash_into_itself_renames_without_uid(tmp_path: Path, store: MaildirStore) -> None:
    # The Trash synced as a box of its own: mbsync renames its deleted messages within
    # it (a new name, no UID), the next listing numbers them again.
    uids = _fill(store, [(b"Subject: x\n\nX\n", 0)])
    box = store.open_box("INBOX")
    box.list_messages(ListRequest())
    box.trash_messages(uids, "INBOX")
    box.close()
    names = list(_files(tmp_path / "Mail" / "INBOX"))
    assert len(names) == 1 and ",U=" not in names[0]
    box = store.open_box("INBOX")
    assert list(box.list_messages(ListRequest())) == [uids[-1] + 1]
    box.close()


def test_trash_nothing_creates_nothing(tmp_path: Path, store: MaildirStore) -> None:
    box = store.open_box("INBOX")
    box.trash_messages([], "Trash")
    box.close()
    assert not (tmp_path / "Mail" / "Trash").exists()
