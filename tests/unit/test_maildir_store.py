"""The Maildir driver on real files: .uidvalidity, UID assignment and healing, storing,
fetching, flag renames, expunge, box creation and removal."""

from __future__ import annotations

import itertools
import logging
import os
import re
import stat
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syncmail import flags as F
from syncmail.config.model import Location, MaildirStoreConfig
from syncmail.errors import BoxError
from syncmail.store import maildir as md
from syncmail.store import maildir_files as mf
from syncmail.store.base import (
    BoxMissing,
    FlagChange,
    ListRequest,
    OutgoingMessage,
)
from syncmail.store.maildir import MaildirBox, MaildirBoxError, MaildirStore

MBSYNC_NAME = re.compile(r"^(cur|new)/\d+\.\d+_\d+\.[^.,:/]+,U=(\d+):2,([DFPRST]*)$")


def make_store(tmp_path: Path, fsync: bool = True, **kw: Any) -> MaildirStore:
    kw.setdefault("path", f"{tmp_path}/Mail/")
    kw.setdefault("inbox", f"{tmp_path}/Mail/INBOX")
    kw.setdefault("subfolders", "verbatim")
    store = MaildirStore(
        MaildirStoreConfig(name="local", defined_at=Location("rc", 1), **kw), fsync=fsync
    )
    store.connect()
    return store


def make_box_dir(path: Path, uidvalidity: bytes | None = None) -> None:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    if uidvalidity is not None:
        (path / ".uidvalidity").write_bytes(uidvalidity)


def put(path: Path, rel: str, data: bytes = b"Subject: x\n\nbody\n") -> Path:
    target = path / rel
    target.write_bytes(data)
    return target


def files(path: Path) -> list[str]:
    return sorted(f"{sub}/{n}" for sub in ("cur", "new") for n in os.listdir(path / sub))


def msg(data: bytes = b"Subject: hi\n\nbody\n", flags: int = 0, **kw: Any) -> OutgoingMessage:
    return OutgoingMessage(data=data, flags=flags, **kw)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MaildirStore]:
    st = make_store(tmp_path)
    yield st
    st.close()


# --- .uidvalidity ----------------------------------------------------------------------


def test_new_box_gets_uidvalidity(
    tmp_path: Path, store: MaildirStore, caplog: pytest.LogCaptureFixture
) -> None:
    before = int(time.time())
    with caplog.at_level(logging.INFO):
        box = store.open_box("INBOX")
    assert "no UIDVALIDITY" in caplog.text and "creating new" in caplog.text
    data = (tmp_path / "Mail/INBOX/.uidvalidity").read_bytes()
    uv, nuid = data.decode().split("\n")[:2]
    assert data == f"{uv}\n0\n".encode()
    assert before <= int(uv) <= time.time()
    assert nuid == "0"
    assert box.status.uidvalidity == int(uv)
    assert box.status.uidnext == 1
    mode = stat.S_IMODE(os.stat(tmp_path / "Mail/INBOX/.uidvalidity").st_mode)
    assert mode == 0o600


def test_empty_uidvalidity_is_reinitialised(tmp_path: Path, store: MaildirStore) -> None:
    make_box_dir(tmp_path / "Mail/INBOX", b"")
    box = store.open_box("INBOX")
    assert box.status.uidvalidity > 0
    assert (tmp_path / "Mail/INBOX/.uidvalidity").read_bytes().endswith(b"\n0\n")


def test_unparsable_uidvalidity_is_a_box_error(tmp_path: Path, store: MaildirStore) -> None:
    make_box_dir(tmp_path / "Mail/INBOX", b"garbage\n")
    with pytest.raises(BoxError) as info:
        store.open_box("INBOX")
    assert f"{tmp_path}/Mail/INBOX/.uidvalidity" in str(info.value)
    assert "cannot read UIDVALIDITY" in str(info.value)
    # Nothing was rewritten: the user gets to fix the box.
    assert (tmp_path / "Mail/INBOX/.uidvalidity").read_bytes() == b"garbage\n"


def test_existing_uidvalidity_is_read(tmp_path: Path, store: MaildirStore) -> None:
    make_box_dir(tmp_path / "Mail/INBOX", b"1234567\n41\n")
    box = store.open_box("INBOX")
    assert box.status.uidvalidity == 1234567
    assert box.status.uidnext == 42


def test_uidvalidity_is_locked_while_open(tmp_path: Path, store: MaildirStore) -> None:
    box = store.open_box("INBOX")
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n"
        "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except OSError:\n"
        "    sys.exit(3)\n"
    )
    path = str(tmp_path / "Mail/INBOX/.uidvalidity")
    assert subprocess.run([sys.executable, "-c", probe, path]).returncode == 3
    box.close()
    assert subprocess.run([sys.executable, "-c", probe, path]).returncode == 0


# --- reading mbsync's files and assigning UIDs -------------------------------------------


def test_mbsync_written_files_are_recognised(tmp_path: Path, store: MaildirStore) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox, b"1700000000\n3\n")
    put(inbox, "cur/1700000000.4242_1.otherhost,U=1:2,RS")
    put(inbox, "new/1700000001.4242_2.otherhost,U=3:2,")
    put(inbox, "cur/1700000000.4242_3.otherhost,U=2:2,FSab")
    put(inbox, "cur/.hidden,U=9:2,S")
    box = store.open_box("INBOX")
    listed = box.list_messages(ListRequest())
    assert sorted(listed) == [1, 2, 3]
    assert listed[1].flags == F.REPLIED | F.SEEN
    assert listed[2].flags == F.FLAGGED | F.SEEN
    assert listed[3].flags == 0
    assert listed[3].path == "new/1700000001.4242_2.otherhost,U=3:2,"
    # Nothing was renamed or renumbered.
    assert (inbox / ".uidvalidity").read_bytes() == b"1700000000\n3\n"
    assert box.path_of(2) == str(inbox / "cur/1700000000.4242_3.otherhost,U=2:2,FSab")


def test_files_without_uid_get_uids_in_arrival_order(tmp_path: Path, store: MaildirStore) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox, b"555\n10\n")
    put(inbox, "cur/1700000000.100_1.h,U=10:2,S")
    put(inbox, "new/1700000002.100_1.h")  # no info part
    put(inbox, "new/1700000001.200_1.h:2,")
    put(inbox, "cur/1700000001.100_2.h:2,S")
    put(inbox, "cur/999999999.1_1.h:2,F")  # shorter seconds: older
    box = store.open_box("INBOX")
    listed = box.list_messages(ListRequest())
    assert {uid: info.path for uid, info in listed.items()} == {
        10: "cur/1700000000.100_1.h,U=10:2,S",
        11: "cur/999999999.1_1.h,U=11:2,F",
        12: "cur/1700000001.100_2.h,U=12:2,S",
        13: "new/1700000001.200_1.h,U=13:2,",
        14: "new/1700000002.100_1.h,U=14",
    }
    assert files(inbox) == sorted(info.path or "" for info in listed.values())
    assert (inbox / ".uidvalidity").read_bytes() == b"555\n14\n"
    assert box.status.uidnext == 15
    # A second listing changes nothing.
    assert box.list_messages(ListRequest()) == listed
    assert (inbox / ".uidvalidity").read_bytes() == b"555\n14\n"


def test_new_uidvalidity_renumbers_old_uids(tmp_path: Path, store: MaildirStore) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox)
    put(inbox, "cur/1700000000.1_1.h,U=77:2,S")
    put(inbox, "cur/1700000000.1_2.h,U=5:2,")
    box = store.open_box("INBOX")
    listed = box.list_messages(ListRequest())
    assert sorted(listed) == [1, 2]
    assert listed[1].path == "cur/1700000000.1_1.h,U=1:2,S"
    assert listed[2].path == "cur/1700000000.1_2.h,U=2:2,"


def test_heal_uid_beyond_highest(
    tmp_path: Path, store: MaildirStore, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox, b"555\n100\n")
    put(inbox, "cur/1700000000.1_1.h,U=100:2,S")
    copied = put(inbox, "cur/1600000000.9_9.h,U=123:2,RS", b"Subject: copied\n\n")
    box = store.open_box("INBOX")
    with caplog.at_level(logging.WARNING):
        listed = box.list_messages(ListRequest())
    assert sorted(listed) == [100, 101]
    assert listed[101].path == "cur/1600000000.9_9.h,U=101:2,RS"
    assert listed[101].flags == F.REPLIED | F.SEEN
    assert not copied.exists()
    assert (inbox / listed[101].path).read_bytes() == b"Subject: copied\n\n"
    assert (inbox / ".uidvalidity").read_bytes() == b"555\n101\n"
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    text = record.getMessage()
    assert "INBOX" in text
    assert f"UID 123 of {copied} is beyond highest assigned UID 100" in text
    assert "gave it UID 101" in text


def test_heal_duplicate_uid(
    tmp_path: Path, store: MaildirStore, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox, b"555\n7\n")
    keeper = put(inbox, "cur/1700000000.1_1.h,U=5:2,S", b"one\n")
    dup = put(inbox, "new/1700000003.1_1.h,U=5:2,", b"two\n")
    put(inbox, "cur/1700000001.1_1.h,U=7:2,")
    box = store.open_box("INBOX")
    with caplog.at_level(logging.WARNING):
        listed = box.list_messages(ListRequest())
    assert sorted(listed) == [5, 7, 8]
    assert keeper.exists()
    assert listed[5].path == "cur/1700000000.1_1.h,U=5:2,S"
    assert listed[8].path == "new/1700000003.1_1.h,U=8:2,"
    assert (inbox / listed[8].path).read_bytes() == b"two\n"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"duplicate UID 5 of {dup}" in warnings[0]
    assert "gave it UID 8" in warnings[0]


def test_a_file_moved_in_with_its_old_uid_does_not_take_the_uid(
    tmp_path: Path, store: MaildirStore
) -> None:
    """A tool moved a message in from another box, name and ,U= kept, and its name
    sorts first: the file that was there keeps the UID its pair knows (else the pair
    would point at the wrong message, and a deletion would take the wrong one)."""
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox, b"555\n7\n")
    here = put(inbox, "cur/1700000009.1_1.h,U=5:2,S", b"here\n")
    time.sleep(0.05)  # the move comes later: its inode changes later
    (tmp_path / "elsewhere").mkdir()
    moved = put(tmp_path / "elsewhere", "1600000000.1_1.h,U=5:2,S", b"moved\n")
    os.rename(moved, inbox / "cur" / moved.name)
    box = store.open_box("INBOX")
    listed = box.list_messages(ListRequest())
    assert sorted(listed) == [5, 8]
    assert listed[5].path == here.relative_to(inbox).as_posix()
    assert (inbox / listed[8].path).read_bytes() == b"moved\n"
    box.close()


def test_list_request_selection(tmp_path: Path, store: MaildirStore) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox, b"555\n6\n")
    for uid in range(1, 7):
        put(inbox, f"cur/1700000000.1_{uid}.h,U={uid}:2,S")
    box = store.open_box("INBOX")
    assert sorted(box.list_messages(ListRequest(min_uid=5))) == [5, 6]
    req = ListRequest(min_uid=5, extra_uids=frozenset({2}))
    assert sorted(box.list_messages(req)) == [2, 5, 6]
    assert sorted(box.list_messages(ListRequest(min_uid=7))) == []


def test_list_reads_tuid_message_id_size_date(tmp_path: Path, store: MaildirStore) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox, b"555\n3\n")
    put(
        inbox,
        "cur/1.1_1.h,U=1:2,S",
        b"Message-Id: <one@example.org>\nX-TUID: AAAAbbbbCCCC\n\nX-TUID: notthisone00\n",
    )
    put(inbox, "cur/1.1_2.h,U=2:2,S", b"Message-ID:\n <folded@example.org>\nSubject: s\n\n")
    body3 = b"Subject: none\r\nX-TUID: short\r\n\r\n"
    p3 = put(inbox, "new/1.1_3.h,U=3:2,", body3)
    os.utime(p3, (1000000, 1000000))
    box = store.open_box("INBOX")
    req = ListRequest(
        tuid_from=2,
        message_id_uids=frozenset({1, 2}),
        want_size=True,
        want_date=True,
    )
    listed = box.list_messages(req)
    assert listed[1].message_id == "<one@example.org>"
    assert listed[1].tuid is None  # below tuid_from
    assert listed[2].message_id == "<folded@example.org>"
    assert listed[3].tuid is None  # malformed (too short)
    assert listed[3].message_id is None
    assert listed[3].size == len(body3)
    assert listed[3].date == 1000000
    listed = box.list_messages(ListRequest(tuid_from=1))
    assert listed[1].tuid == "AAAAbbbbCCCC"
    assert listed[1].message_id is None


# --- storing and fetching ----------------------------------------------------------------


@pytest.mark.parametrize("fsync", [True, False])
def test_store_and_fetch_round_trip(tmp_path: Path, fsync: bool) -> None:
    st = make_store(tmp_path, fsync=fsync)
    box = st.open_box("INBOX")
    data1 = b"Subject: one\nX-TUID: abcdefghijkl\n\nbody one\n"
    data2 = b"Subject: two\n\nbody two\n"
    results = list(
        box.store_messages([msg(data1, F.SEEN | F.FLAGGED), msg(data2, F.DRAFT, date=1234567890.0)])
    )
    assert [r.uid for r in results] == [1, 2]
    assert results[0].path is not None and results[1].path is not None
    m1 = MBSYNC_NAME.match(results[0].path)
    m2 = MBSYNC_NAME.match(results[1].path)
    assert m1 and m1.group(1) == "cur" and m1.group(2) == "1" and m1.group(3) == "FS"
    assert m2 and m2.group(1) == "new" and m2.group(2) == "2" and m2.group(3) == "D"
    assert f".{os.getpid()}_" in results[0].path
    inbox = tmp_path / "Mail/INBOX"
    assert (inbox / results[0].path).read_bytes() == data1
    assert stat.S_IMODE(os.stat(inbox / results[0].path).st_mode) == 0o600
    assert os.stat(inbox / results[1].path).st_mtime == 1234567890
    assert os.listdir(inbox / "tmp") == []
    assert (inbox / ".uidvalidity").read_bytes().endswith(b"\n2\n")
    assert box.status.uidnext == 3
    fetched = list(box.fetch_messages([2, 1]))
    assert [(f.uid, f.data, f.flags) for f in fetched] == [
        (2, data2, F.DRAFT),
        (1, data1, F.SEEN | F.FLAGGED),
    ]
    assert fetched[0].date == 1234567890
    listed = box.list_messages(ListRequest(tuid_from=1))
    assert listed[1].tuid == "abcdefghijkl"
    assert listed[1].path == results[0].path
    assert box.path_of(1) == str(inbox / results[0].path)
    st.close()


def test_store_batches_are_durable_before_results(
    tmp_path: Path, store: MaildirStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(md, "_BATCH_MESSAGES", 2)
    box = store.open_box("INBOX")
    inbox = tmp_path / "Mail/INBOX"
    results = box.store_messages(msg(f"Subject: {i}\n\n".encode()) for i in range(5))
    first = next(results)
    assert first.uid == 1
    # The first batch is in place.  The second was written to tmp/ while the first
    # was synced; it has no UIDs and is not in place yet.  The fifth is not written.
    assert len(files(inbox)) == 2
    assert len(os.listdir(inbox / "tmp")) == 2
    assert (inbox / ".uidvalidity").read_bytes().endswith(b"\n2\n")
    rest = list(results)
    assert [r.uid for r in rest] == [2, 3, 4, 5]
    assert len(files(inbox)) == 5
    assert os.listdir(inbox / "tmp") == []
    assert (inbox / ".uidvalidity").read_bytes().endswith(b"\n5\n")


def test_store_failure_leaves_no_tmp_files(tmp_path: Path, store: MaildirStore) -> None:
    box = store.open_box("INBOX")

    def messages() -> Iterator[OutgoingMessage]:
        yield msg()
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError):
        list(box.store_messages(messages()))
    inbox = tmp_path / "Mail/INBOX"
    assert os.listdir(inbox / "tmp") == []
    assert files(inbox) == []


def test_source_failure_while_a_batch_syncs_places_nothing_of_it(
    tmp_path: Path, store: MaildirStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(md, "_BATCH_MESSAGES", 2)
    box = store.open_box("INBOX")

    def messages() -> Iterator[OutgoingMessage]:
        yield from (msg(f"Subject: {i}\n\n".encode()) for i in range(3))
        raise RuntimeError("source died")

    results = box.store_messages(messages())
    with pytest.raises(RuntimeError):
        list(results)
    # The first batch was being synced when the source failed: none of it is placed
    # or left behind, and no UID was given out.
    inbox = tmp_path / "Mail/INBOX"
    assert os.listdir(inbox / "tmp") == []
    assert files(inbox) == []
    assert box.status.uidnext == 1


def test_sync_failure_on_the_thread_fails_the_store(
    tmp_path: Path, store: MaildirStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(md, "_BATCH_MESSAGES", 2)
    box = store.open_box("INBOX")
    synced: list[int] = []

    def sync_files(box_: MaildirBox, paths: list[str]) -> None:
        synced.append(len(paths))
        if len(synced) == 2:
            raise MaildirBoxError(store.name, box_.name, "cannot sync: I/O error")

    monkeypatch.setattr(store, "sync_files", sync_files)
    results = box.store_messages(msg(f"Subject: {i}\n\n".encode()) for i in range(6))
    assert [r.uid for r in itertools.islice(results, 2)] == [1, 2]
    with pytest.raises(MaildirBoxError, match="I/O error"):
        next(results)
    inbox = tmp_path / "Mail/INBOX"
    # The batch whose sync failed got no UIDs and no place; its files are gone.
    assert len(files(inbox)) == 2
    assert os.listdir(inbox / "tmp") == []
    assert synced == [2, 2]


def test_stored_messages_survive_first_listing_of_new_box(
    tmp_path: Path, store: MaildirStore
) -> None:
    # A brand-new .uidvalidity renumbers stale files, but not the ones we just stored.
    box = store.open_box("Sent", create=True)
    [res] = list(box.store_messages([msg(flags=F.SEEN)]))
    listed = box.list_messages(ListRequest())
    assert list(listed) == [res.uid]
    assert listed[res.uid].path == res.path


def test_fetch_skips_vanished(tmp_path: Path, store: MaildirStore) -> None:
    box = store.open_box("INBOX")
    res = list(box.store_messages([msg(b"a\n"), msg(b"b\n")]))
    os.unlink(tmp_path / "Mail/INBOX" / (res[0].path or ""))
    assert [f.uid for f in box.fetch_messages([1, 2, 99])] == [2]


def test_fetch_follows_renamed_file(tmp_path: Path, store: MaildirStore) -> None:
    box = store.open_box("INBOX")
    [res] = list(box.store_messages([msg(b"a\n")]))
    inbox = tmp_path / "Mail/INBOX"
    old = inbox / (res.path or "")
    # A mail reader marks it seen: new/ -> cur/, S added.
    os.rename(old, inbox / "cur" / (old.name + "S"))
    [fetched] = list(box.fetch_messages([1]))
    assert fetched.data == b"a\n"
    assert fetched.flags == F.SEEN


# --- flags -------------------------------------------------------------------------------


def test_set_flags_renames_and_keeps_unknown_letters(tmp_path: Path, store: MaildirStore) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox, b"555\n3\n")
    put(inbox, "cur/1.1_1.h,U=1:2,Sa")
    put(inbox, "new/1.1_2.h,U=2:2,")
    put(inbox, "new/1.1_3.h,U=3")
    box = store.open_box("INBOX")
    box.list_messages(ListRequest())
    box.set_flags(
        [
            FlagChange(1, add=F.FLAGGED | F.REPLIED, remove=F.SEEN),
            FlagChange(2, add=0, remove=F.FLAGGED),
            FlagChange(3, add=F.SEEN | F.DRAFT, remove=0),
        ]
    )
    assert files(inbox) == [
        "cur/1.1_1.h,U=1:2,FRa",
        "cur/1.1_2.h,U=2:2,",
        "cur/1.1_3.h,U=3:2,DS",
    ]
    listed = box.list_messages(ListRequest())
    assert listed[1].flags == F.FLAGGED | F.REPLIED
    assert listed[3].flags == F.DRAFT | F.SEEN
    assert box.path_of(1) == str(inbox / "cur/1.1_1.h,U=1:2,FRa")


def test_set_flags_on_vanished_file_warns(
    tmp_path: Path, store: MaildirStore, caplog: pytest.LogCaptureFixture
) -> None:
    box = store.open_box("INBOX")
    res = list(box.store_messages([msg(b"a\n"), msg(b"b\n")]))
    os.unlink(tmp_path / "Mail/INBOX" / (res[0].path or ""))
    with caplog.at_level(logging.WARNING):
        box.set_flags([FlagChange(1, F.SEEN, 0), FlagChange(2, F.SEEN, 0)])
    assert "UID 1 vanished" in caplog.text
    path2 = box.path_of(2)
    assert path2 is not None and path2.endswith(":2,S")


def test_set_flags_follows_file_renamed_by_reader(tmp_path: Path, store: MaildirStore) -> None:
    box = store.open_box("INBOX")
    [res] = list(box.store_messages([msg(b"a\n")]))
    inbox = tmp_path / "Mail/INBOX"
    old = inbox / (res.path or "")
    os.rename(old, inbox / "cur" / (old.name + "S"))
    box.set_flags([FlagChange(1, add=F.FLAGGED, remove=0)])
    [name] = os.listdir(inbox / "cur")
    assert name.endswith(",U=1:2,FS")


# --- expunge, boxes ----------------------------------------------------------------------


def test_expunge_unlinks(tmp_path: Path, store: MaildirStore) -> None:
    box = store.open_box("INBOX")
    list(box.store_messages([msg(b"a\n", F.TRASHED), msg(b"b\n"), msg(b"c\n", F.TRASHED)]))
    box.expunge([1, 3, 42])
    assert list(box.list_messages(ListRequest())) == [2]
    assert box.path_of(1) is None


def test_open_missing_box(tmp_path: Path, store: MaildirStore) -> None:
    with pytest.raises(BoxMissing):
        store.open_box("Nope")
    # A directory without cur/ is not a box either.
    (tmp_path / "Mail/Half/new").mkdir(parents=True)
    with pytest.raises(BoxMissing):
        store.open_box("Half")


def test_inbox_and_root_are_created(tmp_path: Path) -> None:
    st = make_store(tmp_path, path=f"{tmp_path}/deep/er/Mail/", inbox=f"{tmp_path}/deep/Inbox")
    box = st.open_box("INBOX")
    assert box.path == f"{tmp_path}/deep/Inbox"
    for sub in ("cur", "new", "tmp"):
        assert stat.S_IMODE(os.stat(tmp_path / "deep/Inbox" / sub).st_mode) == 0o700
    sub_box = st.open_box("a/b", create=True)
    assert sub_box.path == f"{tmp_path}/deep/er/Mail/a/b"
    assert os.path.isdir(tmp_path / "deep/er/Mail/a/b/cur")
    assert stat.S_IMODE(os.stat(tmp_path / "deep/er/Mail").st_mode) == 0o700
    assert st.list_boxes() == ["INBOX", "a/b"]
    assert st.box_path("a/b") == sub_box.path
    st.close()


def test_open_refuses_unsafe_names(tmp_path: Path, store: MaildirStore) -> None:
    for name in ("../escape", "a/../../b", "/abs", "INBOX/cur"):
        with pytest.raises(BoxError, match="refusing mailbox name"):
            store.open_box(name, create=True)
    assert not (tmp_path / "escape").exists()


def test_missing_new_and_tmp_are_made(tmp_path: Path, store: MaildirStore) -> None:
    (tmp_path / "Mail/Old/cur").mkdir(parents=True)
    box = store.open_box("Old")
    assert os.path.isdir(tmp_path / "Mail/Old/new") and os.path.isdir(tmp_path / "Mail/Old/tmp")
    assert box.list_messages(ListRequest()) == {}


def test_stale_tmp_files_removed(
    tmp_path: Path, store: MaildirStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox)
    put(inbox, "tmp/leftover")
    store.open_box("INBOX").close()
    assert os.listdir(inbox / "tmp") == ["leftover"]
    later = time.time() + 2 * 24 * 3600
    monkeypatch.setattr(mf, "time", types.SimpleNamespace(time=lambda: later))
    store.open_box("INBOX").close()
    assert os.listdir(inbox / "tmp") == []


def test_delete_box_only_when_empty(tmp_path: Path, store: MaildirStore) -> None:
    box = store.open_box("Trash", create=True)
    list(box.store_messages([msg()]))
    box.close()
    with pytest.raises(BoxError, match="not empty"):
        store.delete_box("Trash")
    assert os.path.isdir(tmp_path / "Mail/Trash/cur")
    box = store.open_box("Trash")
    box.expunge([1])
    store.delete_box("Trash")
    assert not (tmp_path / "Mail/Trash").exists()
    assert store.list_boxes() == ["INBOX"]
    store.delete_box("Trash")  # already gone: nothing to do


def test_delete_box_keeps_subfolders(tmp_path: Path, store: MaildirStore) -> None:
    store.open_box("a", create=True).close()
    store.open_box("a/b", create=True).close()
    store.delete_box("a")
    assert not (tmp_path / "Mail/a/cur").exists()
    assert os.path.isdir(tmp_path / "Mail/a/b/cur")
    assert store.list_boxes() == ["INBOX", "a/b"]


def test_store_level_contract_values(store: MaildirStore) -> None:
    assert store.crlf is False
    assert store.capabilities == frozenset({"uidplus"})
    assert store.name == "local"


# --- change marker -------------------------------------------------------------------------


def test_change_marker(tmp_path: Path, store: MaildirStore) -> None:
    box = store.open_box("INBOX")
    list(box.store_messages([msg(b"a\n"), msg(b"b\n", F.SEEN)]))
    box.list_messages(ListRequest())
    marker = box.status.change_marker
    assert marker is not None
    box.close()
    box = store.open_box("INBOX")
    assert box.status.change_marker == marker
    # A mail reader changes a flag: the marker changes.
    inbox = tmp_path / "Mail/INBOX"
    [name] = os.listdir(inbox / "new")
    os.rename(inbox / "new" / name, inbox / "cur" / (name + "S"))
    box.close()
    box = store.open_box("INBOX")
    assert box.status.change_marker not in (None, marker)
    box.close()


def test_confirm_listing_sees_own_changes_and_notices_others(
    tmp_path: Path, store: MaildirStore
) -> None:
    box = store.open_box("INBOX")
    list(box.store_messages([msg(b"a\n"), msg(b"b\n", F.SEEN)]))
    before = box.list_messages(ListRequest())
    # Our own changes since the listing: a flag, a new message, an expunge.
    box.set_flags([FlagChange(1, F.FLAGGED, 0)])
    [stored] = list(box.store_messages([msg(b"c\n", F.DRAFT)]))
    box.expunge([2])
    confirmed = box.confirm_listing(before)
    assert confirmed is not None
    assert {u: m.flags for u, m in confirmed.items()} == {1: F.FLAGGED, stored.uid: F.DRAFT}
    assert confirmed == box.list_messages(ListRequest())
    # Someone else's rename or delivery: not confirmed.
    inbox = tmp_path / "Mail/INBOX"
    [name] = [n for n in os.listdir(inbox / "cur") if ",U=1" in n]
    os.rename(inbox / "cur" / name, inbox / "cur" / (name + "S"))
    assert box.confirm_listing(confirmed) is None
    after = box.list_messages(ListRequest())
    put(inbox, "new/123.456.host", b"Subject: d\n\nd\n")
    assert box.confirm_listing(after) is None
    box.close()


def test_confirm_listing_keeps_what_was_described(store: MaildirStore) -> None:
    box = store.open_box("INBOX")
    list(box.store_messages([msg(b"a\n"), msg(b"bb\n", F.SEEN)]))
    before = box.list_messages(ListRequest(want_size=True))
    box.set_flags([FlagChange(2, F.FLAGGED, 0)])
    confirmed = box.confirm_listing(before)
    assert confirmed is not None
    # Unchanged: as listed, size and all; renamed by us: what its new name says.
    assert confirmed[1] is before[1] and confirmed[1].size == 2
    assert confirmed[2].flags == F.SEEN | F.FLAGGED and confirmed[2].size == 0
    assert confirmed.flags == {1: 0, 2: F.SEEN | F.FLAGGED}
    assert confirmed[2].path == box.list_messages(ListRequest())[2].path
    box.close()


def test_maildirbox_is_a_box(store: MaildirStore) -> None:
    box = store.open_box("INBOX")
    assert isinstance(box, MaildirBox)
    assert box.name == "INBOX"
    box.close()
    with pytest.raises(BoxError, match="closed"):
        box.list_messages(ListRequest())


def test_info_delimiter(tmp_path: Path) -> None:
    st = make_store(tmp_path, info_delimiter=";")
    box = st.open_box("INBOX")
    [res] = list(box.store_messages([msg(flags=F.SEEN)]))
    assert res.path is not None and res.path.endswith(",U=1;2,S")
    inbox = tmp_path / "Mail/INBOX"
    put(inbox, "new/1800000000.1_1.h;2,F")
    listed = box.list_messages(ListRequest())
    assert listed[2].path == "new/1800000000.1_1.h,U=2;2,F"
    assert listed[2].flags == F.FLAGGED
    box.set_flags([FlagChange(2, add=F.SEEN, remove=0)])
    assert box.path_of(2) == str(inbox / "cur/1800000000.1_1.h,U=2;2,FS")
    st.close()


def test_plain_listing_does_not_stat_each_file(
    tmp_path: Path, store: MaildirStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "Mail/INBOX"
    make_box_dir(inbox, b"555\n300\n")
    for uid in range(1, 301):
        put(inbox, f"cur/1700000000.1_{uid}.h,U={uid}:2,S")
    box = store.open_box("INBOX")
    calls = []
    real_stat = os.stat

    def counting_stat(path: Any, *args: Any, **kw: Any) -> os.stat_result:
        calls.append(path)
        return real_stat(path, *args, **kw)

    monkeypatch.setattr(os, "stat", counting_stat)
    assert len(box.list_messages(ListRequest())) == 300
    assert len(calls) < 10
    calls.clear()
    assert len(box.list_messages(ListRequest(want_size=True))) == 300
    assert len(calls) >= 300
