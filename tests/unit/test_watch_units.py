"""The watcher's pure parts and its local side: delays, back-off, suspend, NOTIFY lines,
inotify and polling on real directories, systemd's notify socket, the command line."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from syncmail.cli import parse_args
from syncmail.config.model import IMAPStoreConfig, Location
from syncmail.store.imap import IMAPStore
from syncmail.watch.local import PLUGIN, LocalWatch
from syncmail.watch.sdnotify import sd_notify
from syncmail.watch.server import ServerEvent, ServerWatch
from syncmail.watch.timing import Backoff, Debouncer, SuspendDetector


@pytest.mark.parametrize(
    ("events", "due"),
    [
        ([0.0], 0.2),  # one event: the quiet period after it
        ([0.0, 0.1, 0.25], 0.45),  # each event restarts the quiet period...
        ([x / 10 for x in range(0, 40)], 2.0),  # ...but not past the cap after the first
    ],
)
def test_debouncer_quiet_period_and_cap(events: list[float], due: float) -> None:
    d = Debouncer(quiet=0.2, cap=2.0)
    for t in events:
        d.touch("box", t)
    assert d.next_due() == pytest.approx(due)
    assert d.pop_due(due - 0.001) == []
    assert d.pop_due(due) == ["box"]
    assert d.next_due() is None


def test_debouncer_retry_delay_and_keys_apart() -> None:
    d = Debouncer(quiet=0.2, cap=2.0)
    d.touch("locked", 0.0, delay=2.0)
    d.touch("other", 0.0)
    assert d.pop_due(0.2) == ["other"]
    assert d.pop_due(1.9) == []
    assert d.pop_due(2.0) == ["locked"]


def test_backoff_doubles_to_five_minutes_with_jitter() -> None:
    b = Backoff(rand=lambda: 0.5)  # no jitter
    assert [b.next_wait() for _ in range(11)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300,
    ]  # fmt: skip
    b.reset()
    assert b.next_wait() == 1
    low, high = Backoff(rand=lambda: 0.0), Backoff(rand=lambda: 1.0)
    assert low.next_wait() == pytest.approx(0.8)
    assert high.next_wait() == pytest.approx(1.2)


def test_suspend_is_the_boot_clock_running_ahead() -> None:
    clocks = {"boot": 1000.0, "mono": 10.0}
    s = SuspendDetector(boottime=lambda: clocks["boot"], monotonic=lambda: clocks["mono"])
    assert s.slept() == 0.0
    clocks["boot"] += 30
    clocks["mono"] += 30  # awake: both clocks ran
    assert s.slept() == 0.0
    clocks["boot"] += 3600  # asleep for an hour: the monotonic clock stood still
    clocks["mono"] += 1
    assert s.slept() == pytest.approx(3599)
    assert s.slept() == 0.0


def _watch(path: str | None = None) -> ServerWatch:
    cfg = IMAPStoreConfig(name="far", defined_at=Location("x", 1), path=path)
    w = ServerWatch(cfg, config=None, pm=None)  # type: ignore[arg-type]
    w.store = IMAPStore(cfg)
    w.store.prefix = path or ""
    w.mode = "notify"
    return w


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (
            b"* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UNSEEN 1 HIGHESTMODSEQ 7)\r\n",
            ServerEvent("far", "INBOX", "NOTIFY", 7),
        ),
        (
            b'* STATUS "Lists/a \\"b\\"" (HIGHESTMODSEQ 12 UIDVALIDITY 5)\r\n',
            ServerEvent("far", 'Lists/a "b"', "NOTIFY", 12),
        ),
        (  # modified UTF-7 on the wire, Unicode in the box name
            b'* STATUS "Entw&APw-rfe" (MESSAGES 1)\r\n',
            ServerEvent("far", "Entw\u00fcrfe", "NOTIFY", None),
        ),
        (
            b'* LIST () "/" "New"\r\n',
            ServerEvent("far", None, "mailbox created, renamed or deleted"),
        ),
    ],
)
def test_notify_lines(line: bytes, event: ServerEvent) -> None:
    assert _watch()._parse(line) == [event]


def test_notify_lines_outside_the_store_and_keepalives() -> None:
    w = _watch(path="Mail/")
    assert w._parse(b"* STATUS Other (MESSAGES 1)\r\n") == [
        ServerEvent("far", None, "STATUS of Other")
    ]
    assert w._parse(b"* STATUS Mail/Sub (MESSAGES 1)\r\n")[0].box == "Sub"
    assert w._parse(b"* OK Still here\r\n") == []
    assert w._parse(b"* 3 EXISTS\r\n") == []  # only meaningful when IDLE-ing on a box
    w.mode = "idle"
    assert w._parse(b"* 3 EXISTS\r\n") == [ServerEvent("far", "INBOX", "IDLE")]
    assert w._parse(b"* VANISHED 4\r\n") == [ServerEvent("far", "INBOX", "IDLE")]


def _maildir(root: Path, *boxes: str) -> dict[str, str]:
    out = {}
    for box in boxes:
        for sub in ("cur", "new", "tmp"):
            (root / box / sub).mkdir(parents=True, exist_ok=True)
        out[box] = str(root / box)
    return out


@pytest.mark.parametrize("use_inotify", [True, False], ids=["inotify", "polling"])
def test_local_watch_sees_deliveries_renames_and_new_boxes(
    tmp_path: Path, use_inotify: bool
) -> None:
    boxes = _maildir(tmp_path, "INBOX", "Sent")
    w = LocalWatch(use_inotify=use_inotify)
    try:
        w.set_boxes("near", [str(tmp_path)], boxes)
        assert w.inotify == use_inotify
        read = w.read if use_inotify else w.poll
        assert read() == []
        (tmp_path / "INBOX" / "tmp" / "m").write_text("x")
        assert read() == []  # tmp/ is not watched: not a message yet
        os.rename(tmp_path / "INBOX" / "tmp" / "m", tmp_path / "INBOX" / "new" / "m")
        got = read()
        assert {(e.store, e.box) for e in got} == {("near", "INBOX")}
        if use_inotify:
            assert got[0].path == str(tmp_path / "INBOX" / "new" / "m")
        os.rename(tmp_path / "INBOX" / "new" / "m", tmp_path / "INBOX" / "cur" / "m:2,S")
        assert {(e.store, e.box) for e in read()} == {("near", "INBOX")}
        (tmp_path / "INBOX" / ".mbsyncstate").write_text("state")
        assert read() == []  # state files beside cur/ and new/ are not mail
        (tmp_path / "Lists").mkdir()
        assert {(e.store, e.box) for e in read()} == {("near", None)}
    finally:
        w.close()


@pytest.mark.parametrize("use_inotify", [True, False], ids=["inotify", "polling"])
def test_a_box_made_in_steps_is_seen_when_it_becomes_one(tmp_path: Path, use_inotify: bool) -> None:
    """``mkdir Lists``, a rescan (no box yet), then ``mkdir Lists/cur``: the second step
    must be seen too, or the box is never watched and its mail never synced."""
    boxes = _maildir(tmp_path, "INBOX")
    w = LocalWatch(use_inotify=use_inotify)
    try:
        assert w.set_boxes("near", [str(tmp_path)], boxes) == [str(tmp_path / "INBOX")]
        read = w.read if use_inotify else w.poll
        (tmp_path / "Lists").mkdir()
        assert {(e.store, e.box) for e in read()} == {("near", None)}
        assert w.set_boxes("near", [str(tmp_path)], boxes) == []  # not a box yet
        time.sleep(0.01)  # polling compares directory times
        (tmp_path / "Lists" / "cur").mkdir()
        assert {(e.store, e.box) for e in read()} == {("near", None)}
        both = {**boxes, **_maildir(tmp_path, "Lists")}
        assert w.set_boxes("near", [str(tmp_path)], both) == [str(tmp_path / "Lists")]
    finally:
        w.close()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("0.5", 0.5), ("3000000", 1200.0), ("inf", 1200.0), ("nan", 1200.0),
     ("1e-9", 1200.0), ("-5", 1200.0), ("soon", 1200.0), (None, 1200.0)],
)
def test_watch_settings_out_of_range_fall_back_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, text: str | None,
    seconds: float,
) -> None:
    """A resync of 35 days overflowed the selector (an error every second, nothing
    synced), 1e-9 was a busy loop."""
    from syncmail.watch.daemon import RESYNC_ENV, WatchSettings

    if text is None:
        monkeypatch.delenv(RESYNC_ENV, raising=False)
    else:
        monkeypatch.setenv(RESYNC_ENV, text)
    assert WatchSettings.from_env().resync == seconds
    warned = [r.getMessage() for r in caplog.records if RESYNC_ENV in r.getMessage()]
    assert bool(warned) == (text not in (None, "90", "0.5"))


def test_a_plugin_directory_replaced_under_its_name_is_watched_again(tmp_path: Path) -> None:
    """`notmuch compact` renames a new Xapian directory over the old one: the watch on
    the old inode ends, and tag changes made through the library went unseen."""
    xapian = tmp_path / "xapian"
    xapian.mkdir()
    w = LocalWatch(use_inotify=True)
    try:
        if not w.inotify:
            pytest.skip("no inotify here")
        w.add_plugin_path(str(xapian))
        (tmp_path / "xapian.compact").mkdir()
        os.rename(xapian, tmp_path / "xapian.old")
        os.rename(tmp_path / "xapian.compact", xapian)
        shutil.rmtree(tmp_path / "xapian.old")
        assert any(e.store == PLUGIN for e in w.read())  # the swap itself: look now
        (xapian / "record.glass").write_text("tags changed")
        assert {e.store for e in w.read()} == {PLUGIN}  # the new directory is watched
    finally:
        w.close()


def test_sd_notify_sends_one_datagram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert sd_notify("READY=1\nSTATUS=watching")
        assert sock.recv(100) == b"READY=1\nSTATUS=watching"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not sd_notify("READY=1")  # not under systemd: nothing to do


@pytest.mark.parametrize(
    ("argv", "args", "all_", "verbose"),
    [
        (["watch", "-a"], ("watch",), True, False),
        (["-V", "watch", "work", "home:INBOX"], ("watch", "work", "home:INBOX"), False, True),
        (["watch", "-V", "-a"], ("watch",), True, True),
        (["work", "-a"], ("work", "-a"), False, False),  # mbsync: options end at a channel
    ],
)
def test_watch_reads_options_after_the_command(
    argv: list[str], args: tuple[str, ...], all_: bool, verbose: bool
) -> None:
    inv = parse_args(argv)
    assert inv.args == args
    assert inv.all == all_
    assert (inv.verbosity > 0) == verbose
