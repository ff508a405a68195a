"""State file naming, locking and the load / journal / commit cycle on real files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from syncmail.config.model import BoxRef, ChannelConfig, Config, GlobalConfig, Location
from syncmail.errors import BoxError, LockedError, StateError, SyncmailError
from syncmail.flags import SEEN
from syncmail.sync.state import SyncState, format_state, parse_state
from syncmail.sync.statefiles import StateFiles, StatePaths, default_state_dir, state_paths

DATA = Path(__file__).parent / "data"
HERE = Location("rc", 1)


def make_config(
    global_state: str | None = None, delimiter: str = ":", chan_state: str | None = None
) -> tuple[Config, ChannelConfig]:
    chan = ChannelConfig("ch", HERE, BoxRef("far", ""), BoxRef("near", ""), sync_state=chan_state)
    cfg = Config(
        "rc",
        GlobalConfig(sync_state=global_state, field_delimiter=delimiter),
        stores={},
        accounts={},
        channels={"ch": chan},
        groups={},
    )
    return cfg, chan


def paths_in(tmp_path: Path) -> StatePaths:
    cfg, chan = make_config(global_state=str(tmp_path / "st") + "/")
    return state_paths(cfg, chan, "far", "INBOX", "near", "INBOX", None)


# --- naming -------------------------------------------------------------------------


def test_in_box_state() -> None:
    cfg, chan = make_config(global_state="/g/", chan_state="*")
    p = state_paths(cfg, chan, "far", "a/b", "near", "a/b", "/mail/a/b")
    assert p == StatePaths(
        "/mail/a/b/.mbsyncstate",
        "/mail/a/b/.mbsyncstate.new",
        "/mail/a/b/.mbsyncstate.journal",
        "/mail/a/b/.mbsyncstate.lock",
        ":far:a/b-:near:a/b",
    )
    cfg, chan = make_config(global_state="*")
    assert state_paths(cfg, chan, "f", "X", "n", "X", "/m/X").state == "/m/X/.mbsyncstate"
    with pytest.raises(BoxError, match="store 'n' does not support in-box sync state"):
        state_paths(cfg, chan, "f", "X", "n", "X", None)


def test_channel_prefix() -> None:
    cfg, chan = make_config(global_state="/g/", chan_state="/s/pfx-")
    assert state_paths(cfg, chan, "f", "x", "n", "Lists/py", None).state == "/s/pfx-Lists!py"
    cfg, chan = make_config(chan_state="/s/dir/")
    assert state_paths(cfg, chan, "f", "x", "n", "INBOX", None).journal == "/s/dir/INBOX.journal"


def test_global_dir_with_field_delimiter() -> None:
    cfg, chan = make_config(global_state="/g/")
    p = state_paths(cfg, chan, "gmail-remote", "INBOX", "gmail-local", "INBOX", "/m")
    assert p.state == "/g/:gmail-remote:INBOX_:gmail-local:INBOX"
    cfg, chan = make_config(global_state="/g/", delimiter=";")
    p = state_paths(cfg, chan, "far", "a/b", "near", "c/d", None)
    assert p.state == "/g/;far;a!b_;near;c!d"
    assert p.lock == p.state + ".lock"
    cfg, chan = make_config(global_state="nodir")
    with pytest.raises(BoxError, match="invalid SyncState location"):
        state_paths(cfg, chan, "far", "a", "near", "b", None)


def test_default_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert default_state_dir() == f"{tmp_path}/.local/state/isync/"
    (tmp_path / ".mbsync").mkdir()
    assert default_state_dir() == f"{tmp_path}/.mbsync/"
    (tmp_path / ".local/state/isync").mkdir(parents=True)
    with pytest.raises(SyncmailError, match="delete one or set SyncState globally"):
        default_state_dir()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == f"{tmp_path}/.mbsync/"
    (tmp_path / ".mbsync").rmdir()
    assert default_state_dir() == f"{tmp_path}/xdg/isync/"
    cfg, chan = make_config()
    p = state_paths(cfg, chan, "f", "INBOX", "n", "INBOX", None)
    assert p.state == f"{tmp_path}/xdg/isync/:f:INBOX_:n:INBOX"


# --- the commit cycle ---------------------------------------------------------------


def listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.rglob("*"))


def test_nothing_changed_writes_nothing(tmp_path: Path) -> None:
    files = StateFiles(paths_in(tmp_path), channel="ch", box="INBOX")
    state = files.load()
    assert state == SyncState() and not files.replayed
    files.journal()  # asking for the journal alone creates nothing
    files.commit(state)
    assert listing(tmp_path) == []


def test_full_cycle(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    files = StateFiles(paths, channel="ch", box="INBOX")
    files.lock()
    state = files.load()
    j = files.journal()
    j.uidvalidity(state, 5, 6)
    rec = j.new_pair(state, 1, 0)
    assert Path(paths.new).read_bytes() == b""
    assert Path(paths.journal).read_bytes() == b"5\n| 5 6\n+ 1 0\n"
    j.pending_flags(rec, SEEN)
    j.near_uid(rec, 1)
    j.sync()
    files.commit(state)
    assert Path(paths.state).read_bytes() == (
        b"FarUidValidity 5\nNearUidValidity 6\nMaxPulledUid 0\nMaxPushedUid 0\n\n1 1 S\n"
    )
    assert not os.path.exists(paths.journal) and not os.path.exists(paths.new)
    assert os.path.exists(paths.lock)
    files.unlock()
    assert not os.path.exists(paths.lock)
    again = StateFiles(paths, fsync=False)
    assert again.load() == parse_state(Path(paths.state).read_bytes(), "x")
    assert again.existing and again.locked
    again.delete()
    assert listing(tmp_path / "st") == []


def write_crash(paths: StatePaths, journal: bytes, *, new: bool = True) -> None:
    Path(paths.state).parent.mkdir(parents=True, exist_ok=True)
    Path(paths.state).write_bytes(
        b"FarUidValidity 1\nNearUidValidity 2\nMaxPulledUid 1240\nMaxPushedUid 567\n\n3 3 S\n"
    )
    Path(paths.journal).write_bytes(journal)
    if new:
        Path(paths.new).write_bytes(b"")


CRASHED = b"5\n+ 1241 0\nF 1 567\n# 1241 0 q8Z+RZ0cDw1e\n% 1241 0 16\n"


def test_crash_leftovers_are_replayed_and_continued(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    write_crash(paths, CRASHED)
    files = StateFiles(paths, fsync=False)
    state = files.load()
    assert files.replayed and files.locked
    assert files.saved_uidnext == {"near": 567}
    assert state.records[-1].tuid == "q8Z+RZ0cDw1e"
    j = files.journal()
    j.near_uid(state.records[-1], 568)
    # Appended after the replayed lines, without a second version line.
    assert Path(paths.journal).read_bytes() == CRASHED + b"> 1241 0 568\n"
    state.max_pulled = files.new_maxuid["far"]
    files.commit(state)
    assert (
        Path(paths.state)
        .read_bytes()
        .endswith(b"MaxPulledUid 1241\nMaxPushedUid 567\n\n3 3 S\n1241 568 S\n")
    )
    assert not os.path.exists(paths.journal)
    files.unlock()


def test_replay_alone_is_committed(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    write_crash(paths, b"5\n* 3 3 0\n")
    files = StateFiles(paths, fsync=False)
    files.commit(files.load())
    assert Path(paths.state).read_bytes().endswith(b"\n\n3 3 \n")
    assert listing(tmp_path / "st") == [Path(paths.state).name, Path(paths.lock).name]


def test_journal_without_new_is_stale(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    write_crash(paths, b"5\n* 3 3 0\n", new=False)
    files = StateFiles(paths, fsync=False)
    state = files.load()
    assert not files.replayed and state.records[0].flags == SEEN
    files.journal().flags(state.records[0], 2)
    assert Path(paths.journal).read_bytes() == b"5\n* 3 3 2\n"
    files.close()


def test_torn_line_is_cut_before_appending(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    write_crash(paths, b"5\n* 3 3 0\n* 3 3 1")
    files = StateFiles(paths, fsync=False)
    state = files.load()
    assert files.replayed and state.records[0].flags == 0
    files.journal().flags(state.records[0], 4)
    assert Path(paths.journal).read_bytes() == b"5\n* 3 3 0\n* 3 3 4\n"
    files.close()


def test_old_journal_version_is_an_error(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    write_crash(paths, (DATA / "mbsync144_v4.journal").read_bytes())
    files = StateFiles(paths, channel="ch", box="INBOX")
    with pytest.raises(
        StateError, match=r"journal:1: incompatible journal version \(got 4, expected 5\)"
    ):
        files.load()
    files.close()


def test_bad_state_is_an_error_naming_the_file(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    Path(paths.state).parent.mkdir(parents=True)
    Path(paths.state).write_bytes(b"Foo 1\n\n")
    files = StateFiles(paths, channel="ch", box="INBOX")
    with pytest.raises(StateError, match=f"{paths.state}:1: unrecognized sync state header entry"):
        files.load()
    files.close()


def test_dry_run_touches_nothing(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    write_crash(paths, CRASHED)
    before = {p: p.read_bytes() for p in (tmp_path / "st").iterdir()}
    files = StateFiles(paths, dry_run=True)
    files.lock()
    state = files.load()
    assert files.replayed and not files.locked
    j = files.journal()
    j.near_uid(state.records[-1], 568)
    j.new_pair(state, 9, 0)
    files.commit(state)
    files.delete()
    files.unlock()
    assert {p: p.read_bytes() for p in (tmp_path / "st").iterdir()} == before
    fresh = StateFiles(paths_in(tmp_path / "other"), dry_run=True)
    fresh.journal().new_pair(fresh.load(), 1, 0)
    fresh.commit(SyncState())
    assert not (tmp_path / "other").exists()


def test_samples_survive_load_and_commit(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    Path(paths.state).parent.mkdir(parents=True)
    sample = (DATA / "mbsync144_expired.state").read_bytes()
    Path(paths.state).write_bytes(sample)
    Path(paths.journal).write_bytes(b"5\n")
    Path(paths.new).write_bytes(b"")
    files = StateFiles(paths, fsync=False)
    files.commit(files.load())
    assert Path(paths.state).read_bytes() == sample
    files.unlock()


# --- locking between processes ------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o666)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked", flush=True)
    sys.stdin.read()
    """
)

PROBE = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o666)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("busy")
    else:
        print("free")
    """
)


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    Path(paths.lock).parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, paths.lock],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        files = StateFiles(paths, channel="ch", box="INBOX")
        with pytest.raises(LockedError) as info:
            files.lock()
        assert str(info.value) == "channel ch, box INBOX: channel :far:INBOX-:near:INBOX is locked"
        assert not files.locked
    finally:
        holder.communicate("")
    files.lock()
    assert files.locked
    files.unlock()


def test_our_lock_excludes_another_process(tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    files = StateFiles(paths)
    files.lock()
    probe = [sys.executable, "-c", PROBE, paths.lock]
    assert subprocess.run(probe, capture_output=True, text=True, check=True).stdout == "busy\n"
    files.unlock()
    assert subprocess.run(probe, capture_output=True, text=True, check=True).stdout == "free\n"


MBSYNCRC = """\
FSync no

MaildirStore far
Path {root}/far/
Inbox {root}/far/INBOX

MaildirStore near
Path {root}/near/
Inbox {root}/near/INBOX

Channel ch
Far :far:
Near :near:
Create Both
SyncState *
"""


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync not installed")
def test_real_mbsync_state_lock_and_names(tmp_path: Path) -> None:
    for d in ("cur", "new", "tmp"):
        (tmp_path / "far/INBOX" / d).mkdir(parents=True)
    (tmp_path / "near").mkdir()
    (tmp_path / "far/INBOX/cur/1.1.host:2,S").write_bytes(b"Subject: a\n\nbody\n")
    rc = tmp_path / "rc"
    rc.write_text(MBSYNCRC.format(root=tmp_path))
    env = {**os.environ, "HOME": str(tmp_path)}
    first = subprocess.run(["mbsync", "-c", str(rc), "ch"], capture_output=True, env=env)
    assert first.returncode == 0, first.stderr
    cfg, chan = make_config(chan_state="*")
    paths = state_paths(cfg, chan, "far", "INBOX", "near", "INBOX", str(tmp_path / "near/INBOX"))
    data = Path(paths.state).read_bytes()
    assert format_state(parse_state(data, paths.state)) == data
    files = StateFiles(paths)
    files.lock()
    try:
        locked = subprocess.run(["mbsync", "-c", str(rc), "ch"], capture_output=True, env=env)
    finally:
        files.unlock()
    assert locked.returncode == 1
    assert b"channel :far:INBOX-:near:INBOX is locked" in locked.stderr
    # A state we committed is taken up by mbsync as its own: nothing is copied again.
    files = StateFiles(paths)
    state = files.load()
    files.journal().flags(state.records[0], state.records[0].flags)
    files.commit(state)
    files.unlock()
    assert Path(paths.state).read_bytes() == data
    again = subprocess.run(["mbsync", "-c", str(rc), "ch"], capture_output=True, env=env)
    assert again.returncode == 0, again.stderr
    near = [p for d in ("cur", "new") for p in (tmp_path / "near/INBOX" / d).iterdir()]
    assert len(near) == 1
    assert Path(paths.state).read_bytes() == data


def test_delete_takes_the_notes_and_nothing_else(tmp_path: Path) -> None:
    """The notes of the deleted state go; another pair's state and notes, and files that
    only look alike, stay."""
    paths = paths_in(tmp_path)
    Path(paths.state).parent.mkdir(parents=True)
    Path(paths.state).write_bytes(format_state(SyncState()))
    ours = [".syncmail", ".syncmail-keywords", ".syncmail-far", ".syncmail-moves",
            ".syncmail-keywords.tmp", ".syncmail.tmp", ".syncmail-future"]  # fmt: skip
    theirs = [".syncmail-KEYS", ".syncmailx", ".syncmail-far.bak", "X.syncmail", "2"]
    for suffix in ours + theirs:
        Path(paths.state + suffix).write_text("x")
    other = paths.state.replace("INBOX", "Other")
    for suffix in ("", ".syncmail", ".syncmail-keywords"):
        Path(other + suffix).write_text("x")
    files = StateFiles(paths)
    files.load()
    files.delete()
    left = sorted(p.name for p in (tmp_path / "st").iterdir())
    base = Path(paths.state).name
    assert left == sorted([base + s for s in theirs] + [Path(other).name + s for s in
                          ("", ".syncmail", ".syncmail-keywords")])  # fmt: skip
