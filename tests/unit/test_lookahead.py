"""Lookahead: the next box pair's files, read ahead on a thread, are taken only while
they are still what is on disk; either way the run ends as it would without them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from syncmail.config.model import Target
from syncmail.store import maildir_scan as ms
from syncmail.store.base import ListRequest
from syncmail.store.maildir import MaildirBox, MaildirStore
from syncmail.sync.engine import _box_pairs, likely_first_pair
from syncmail.sync.lookahead import Lookahead
from syncmail.sync.lookahead import _marker as lookahead_marker
from syncmail.sync.state import SyncRecord, SyncState, format_state, parse_state
from syncmail.sync.statefiles import StateFiles, StateRead, file_identity, state_paths
from tests.unit.engine_support import (
    box_dir,
    deliver,
    files,
    load,
    set_flags,
    snapshot,
    sync,
    write_config,
)
from tests.unit.test_maildir_store import make_store, msg

# --- the parts ----------------------------------------------------------------------------


def test_adopted_scan_is_taken_while_the_box_holds_still(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(tmp_path)
    box = store.open_box("INBOX")
    list(box.store_messages([msg(b"a\n"), msg(b"b\n")]))
    listed = box.list_messages(ListRequest())
    box.adopt_scan(ms.scan_box(box.path))

    def no_scan(path: str) -> ms.BoxScan:
        raise AssertionError("the box was scanned")

    monkeypatch.setattr(ms, "scan_box", no_scan)
    assert box.list_messages(ListRequest()) == listed  # taken: no scan of its own
    with pytest.raises(AssertionError, match="scanned"):
        box.list_messages(ListRequest())  # taken once only
    box.close()


def _locked_by_another_process(path: Path) -> bool:
    probe = (
        "import fcntl, os, sys\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR)\n"
        "try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except OSError:\n    sys.exit(1)\n"
    )
    return subprocess.run([sys.executable, "-c", probe], check=False).returncode == 1


def test_reading_ahead_keeps_the_lock_of_a_box_this_process_has_open(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops the process's fcntl lock on it: the
    lookahead reading an open box's .uidvalidity would let another sync into the box
    (two runs at once then paired the wrong messages)."""
    store = make_store(tmp_path)
    box = store.open_box("INBOX")
    list(box.store_messages([msg(b"a\n")]))
    uv = Path(box.path) / ".uidvalidity"
    assert _locked_by_another_process(uv)
    assert lookahead_marker(box.path) is None  # not read: the box holds it
    assert _locked_by_another_process(uv)
    box.close()
    assert not _locked_by_another_process(uv)
    assert lookahead_marker(box.path) is not None  # free again: read


def test_adopted_scan_is_dropped_when_the_box_changed(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    box = store.open_box("INBOX")
    list(box.store_messages([msg(b"a\n")]))
    box.adopt_scan(ms.scan_box(box.path))
    [stored] = list(box.store_messages([msg(b"b\n")]))  # cur/ changed since the scan
    listed = box.list_messages(ListRequest())
    assert sorted(listed) == [1, stored.uid]
    box.close()


def test_uids_of_an_adopted_scan_count_only_for_names_carrying_them(tmp_path: Path) -> None:
    """A box whose UIDs live in a database (AltMap) asks its map, whatever the scan read."""
    pytest.importorskip("berkeleydb.db", reason="berkeleydb (syncmail[altmap]) not installed")
    store = make_store(tmp_path, alt_map=True)
    box = store.open_box("INBOX")
    list(box.store_messages([msg(b"a\n"), msg(b"b\n")]))
    listed = box.list_messages(ListRequest())
    scan = ms.scan_box(box.path)
    scan.uids = [7] * len(scan.rels)  # taken, these would be duplicates to heal
    box.adopt_scan(scan)
    assert box.list_messages(ListRequest()) == listed
    box.close()


def write_state(path: Path, records: list[SyncRecord]) -> None:
    state = SyncState(far_uidvalidity=1, near_uidvalidity=2, records=records)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(format_state(state))
    os.replace(tmp, path)  # a new file, as mbsync and syncmail write states


def read_ahead(path: Path) -> StateRead:
    with open(path, "rb") as f:
        identity = file_identity(os.fstat(f.fileno()))
        return StateRead(identity, parse_state(f.read(), str(path)))


def test_state_read_ahead_is_taken_only_while_the_file_is_the_same(tmp_path: Path) -> None:
    cfg = load(write_config(tmp_path))
    box_dir(tmp_path, "near")
    paths = state_paths(cfg, cfg.channels["test"], "far", "INBOX", "near", "INBOX",
                        str(tmp_path / "near/INBOX"))  # fmt: skip
    state_file = Path(paths.state)
    write_state(state_file, [SyncRecord(1, 1, 16)])
    ahead = read_ahead(state_file)
    with StateFiles(paths) as sf:
        assert sf.load(ahead) is ahead.state
        assert sf.existing and sf.locked
    # Written again since (mbsync ran, say): read anew, even with equal contents.
    write_state(state_file, [SyncRecord(1, 1, 16)])
    with StateFiles(paths) as sf:
        state = sf.load(ahead)
        assert state is not ahead.state and state == ahead.state
    write_state(state_file, [SyncRecord(1, 1, 16), SyncRecord(2, 2, 0)])
    with StateFiles(paths) as sf:
        assert len(sf.load(ahead).records) == 2
    state_file.unlink()
    with StateFiles(paths) as sf:
        assert sf.load(ahead) == SyncState() and not sf.existing


def test_lookahead_leaves_what_it_cannot_read(tmp_path: Path) -> None:
    ahead = Lookahead(
        ("test", "INBOX", "INBOX"),
        str(tmp_path / "no-state"),
        (None, (str(tmp_path / "no-box"), ":")),
        expire_side="near",
        box="INBOX",
    )
    ahead.read()
    assert ahead.scan(0) is None and ahead.scan(1) is None and ahead.state() is None
    (tmp_path / "bad-state").write_bytes(b"this is no state\n")
    bad = Lookahead(("test", "A", "A"), str(tmp_path / "bad-state"), (None, None),
                    expire_side="near", box="A")  # fmt: skip
    bad.start()
    assert bad.state() is None


def test_lookahead_swallows_any_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing raised on the thread reaches stderr as a traceback: the pair reads."""

    def broken(path: str) -> ms.BoxScan:
        raise RuntimeError("not a ScanFailed")

    monkeypatch.setattr(ms, "scan_box", broken)
    ahead = Lookahead(("test", "A", "A"), str(tmp_path / "state"), (None, (str(tmp_path), ":")),
                      expire_side="near", box="A")  # fmt: skip
    ahead.read()
    assert ahead.scan(1) is None and ahead.state() is None


# --- a whole run ----------------------------------------------------------------------------


def two_boxes(tmp_path: Path) -> Path:
    cfg = write_config(tmp_path, "Create Both")
    for box in ("INBOX", "Work"):
        for i in range(3):
            deliver(tmp_path, "far", f"{box}{i}", "S", box=box)
    assert not sync(cfg).errors
    return cfg


Given = dict[str, list[object]]


def spy_scans(monkeypatch: pytest.MonkeyPatch) -> Given:
    """What each Maildir box's listings are given from now on: "store:box" -> the scans
    adopted, and ("used", scan) for each scan a listing took."""
    given: Given = {}
    real_adopt, real_scan = MaildirBox.adopt_scan, MaildirBox._scan

    def adopt(self: MaildirBox, scan: ms.BoxScan) -> None:
        given.setdefault(f"{self._store.name}:{self.name}", []).append(scan)
        real_adopt(self, scan)

    def scan(self: MaildirBox) -> ms.BoxScan:
        got = real_scan(self)
        given.setdefault(f"{self._store.name}:{self.name}", []).append(("used", got))
        return got

    monkeypatch.setattr(MaildirBox, "adopt_scan", adopt)
    monkeypatch.setattr(MaildirBox, "_scan", scan)
    return given


def run_with_lookahead(
    monkeypatch: pytest.MonkeyPatch, cfg: Path, meanwhile: Callable[[str], None]
) -> tuple[list[tuple[str, str, str]], Given]:
    """Sync with each lookahead read at once, then ``meanwhile(box)`` (changes made after
    the read and before the pair starts); returns the pairs read ahead and
    ``spy_scans``'s record.  The far Maildir passes for a server: flag changes sent
    there start the lookahead."""
    read: list[tuple[str, str, str]] = []

    def start(self: Lookahead) -> None:
        self.read()
        if self.state() is not None:  # something was read (a guess may read nothing)
            read.append(self.key)
            meanwhile(self.key[2])

    monkeypatch.setattr(Lookahead, "start", start)
    monkeypatch.setattr(MaildirStore, "remote", True)
    given = spy_scans(monkeypatch)
    assert not sync(cfg).errors
    return read, given


def adopted_and_used(given: list[object]) -> bool:
    scans = [g for g in given if isinstance(g, ms.BoxScan)]
    used = [g[1] for g in given if isinstance(g, tuple)]
    return any(any(u is s for u in used) for s in scans)


def test_run_takes_the_next_pairs_files_read_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = two_boxes(tmp_path)
    for box in ("INBOX", "Work"):
        set_flags(files(tmp_path, "near", box)[f"{box}0"], "FS")
    read, given = run_with_lookahead(monkeypatch, cfg, lambda box: None)
    # The first pair while the boxes were listed, the second during the first.
    assert [key[2] for key in read] == ["INBOX", "Work"]
    # Both sides are Maildirs here: both were read ahead.
    for box in ("INBOX", "Work"):
        assert adopted_and_used(given[f"far:{box}"]) and adopted_and_used(given[f"near:{box}"])
    for box in ("INBOX", "Work"):
        expected = {f"{box}0": "FS", f"{box}1": "S", f"{box}2": "S"}
        assert snapshot(tmp_path, "far", box) == snapshot(tmp_path, "near", box) == expected


def test_run_reads_again_what_changed_after_the_lookahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = two_boxes(tmp_path)
    set_flags(files(tmp_path, "near", "INBOX")["INBOX0"], "FS")
    state_file = tmp_path / "near/Work/.mbsyncstate"

    def meanwhile(box: str) -> None:
        if box != "Work":
            return
        # After the read: a delivery, a flag change and the state written anew.
        deliver(tmp_path, "near", "late", "", box=box)
        set_flags(files(tmp_path, "near", box)[f"{box}1"], "RS")
        data = state_file.read_bytes()
        state_file.unlink()
        state_file.write_bytes(data)

    real_load = StateFiles.load
    loads: list[tuple[StateRead | None, SyncState]] = []

    def spy_load(self: StateFiles, ahead: StateRead | None = None) -> SyncState:
        state = real_load(self, ahead)
        loads.append((ahead, state))
        return state

    monkeypatch.setattr(StateFiles, "load", spy_load)
    read, given = run_with_lookahead(monkeypatch, cfg, meanwhile)
    assert [key[2] for key in read] == ["INBOX", "Work"]
    assert not adopted_and_used(given["near:Work"])  # changed after the read
    assert adopted_and_used(given["far:Work"])  # not changed
    [first, (ahead, state)] = [(a, s) for a, s in loads if a is not None]
    assert first[1] is first[0].state  # INBOX: as read ahead
    assert state is not ahead.state  # Work: written anew since
    expected = {"Work0": "S", "Work1": "RS", "Work2": "S", "late": ""}
    assert snapshot(tmp_path, "far", "Work") == snapshot(tmp_path, "near", "Work") == expected


def test_pairs_with_nothing_to_do_start_no_lookahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nor is the first pair read when its Maildirs are as its notes saw them: a run
    that finds nothing to do reads nothing ahead (it would only slow it down)."""
    cfg = two_boxes(tmp_path)
    read, _ = run_with_lookahead(monkeypatch, cfg, lambda box: None)
    assert read == []
    # Server changes only (the far Maildir here): the near INBOX is as noted.
    deliver(tmp_path, "far", "new one", "S")
    read, _ = run_with_lookahead(monkeypatch, cfg, lambda box: None)
    assert [key[2] for key in read] == ["INBOX"]  # the far side changed: read
    assert snapshot(tmp_path, "near")["new one"] == "S"


@pytest.mark.parametrize(
    ("patterns", "boxes", "first"),
    [
        ("*", None, ("INBOX", "INBOX", "INBOX")),
        ("* !Junk", None, ("INBOX", "INBOX", "INBOX")),
        ("Work*", None, None),
        ("*", ["Work", "INBOX"], ("Work", "Work", "Work")),
        ("*", [""], ("INBOX", "INBOX", "INBOX")),
        ("", None, ("", "INBOX", "INBOX")),
    ],
)
def test_likely_first_pair_is_the_first_pair(
    tmp_path: Path, patterns: str, boxes: list[str] | None, first: tuple[str, str, str] | None
) -> None:
    cfg = load(write_config(tmp_path, "Create Both", patterns=patterns or "*"))
    for box in ("INBOX", "Work", "Junk"):
        box_dir(tmp_path, "far", box)
    channel, target = cfg.channels["test"], Target("test", boxes)
    if not patterns:  # a channel of one box pair
        channel = replace(channel, patterns=type(channel.patterns)())
    assert likely_first_pair(channel, target) == first
    far, near = (MaildirStore(cfg.stores[n]) for n in ("far", "near"))
    pairs = _box_pairs(channel, target, far, near, channel.ops)
    if first is not None:
        assert pairs[0] == first
    else:
        assert ("INBOX", "INBOX", "INBOX") not in pairs
