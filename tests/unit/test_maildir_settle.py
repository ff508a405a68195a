"""When a Maildir's directory times are settled enough for the fast-path notes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from syncmail.store import maildir_scan as maildir
from syncmail.store.maildir_scan import settle_wait

S = 1_000_000_000
MS = 1_000_000
TICK = maildir._COARSE_TICK_NS / 1e9 or 0.001


@pytest.mark.parametrize(
    ("mtimes", "now", "coarse", "expected"),
    [
        pytest.param((5 * S + 3 * MS, 5 * S + 1 * MS), 6 * S, 6 * S, 0, id="older-than-the-tick"),
        pytest.param((5 * S + 4 * MS, 5 * S), 5 * S + 5 * MS, 5 * S + 4 * MS, TICK,
                     id="stamped-in-the-current-tick-waits-one"),
        pytest.param((5 * S + 4_123_456, 5 * S), 5 * S + 5 * MS, 5 * S + 4 * MS, 0,
                     id="fine-grained-multigrain-stamp"),
        pytest.param((5 * S + 9 * MS, 5 * S), 5 * S + 5 * MS, 5 * S + 4 * MS, None,
                     id="in-the-future-never"),
        pytest.param((5 * S, 4 * S), 5 * S + 300 * MS, 5 * S + 300 * MS, 0.7,
                     id="whole-seconds-fs-waits-out-the-second"),
        pytest.param((5 * S, 4 * S), 6 * S, 6 * S, 0, id="whole-seconds-fs-next-second"),
        pytest.param((5 * S + 1 * MS, 5 * S), 5 * S + 5 * MS, None, 0.016,
                     id="no-coarse-clock-20ms-window"),
        pytest.param((5 * S + 1 * MS, 5 * S), 5 * S + 30 * MS, None, 0, id="no-coarse-clock-old"),
    ],
)
def test_settle_wait(
    mtimes: tuple[int, int], now: int, coarse: int | None, expected: float | None
) -> None:
    got = settle_wait(mtimes, now, coarse)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


@pytest.mark.skipif(maildir._COARSE_CLOCK is None, reason="no coarse clock (not Linux)")
def test_a_change_after_a_settled_look_changes_the_mtime(tmp_path: Path) -> None:
    """The property the notes rely on, on this machine's real file system: once
    ``settle_wait`` says 0, the next change gives the directory another mtime."""
    for i in range(200):
        (tmp_path / f"a{i}").touch()
        while (wait := settle_wait([os.stat(tmp_path).st_mtime_ns], time.time_ns(),
                                   maildir._coarse_now())) != 0:
            assert wait is not None
            time.sleep(wait)
        seen = os.stat(tmp_path).st_mtime_ns
        (tmp_path / f"b{i}").touch()
        assert os.stat(tmp_path).st_mtime_ns != seen


MESSAGES = ["cur/1.1_1.host,U=1:2,S", "cur/2.1_2.host,U=2:2,", "new/3.1_3.host,U=3"]


def _box(tmp_path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "cur" / "1.1_1.host,U=1:2,S").write_bytes(b"a\n")
    (tmp_path / "cur" / "2.1_2.host,U=2:2,").write_bytes(b"b\n")
    (tmp_path / "new" / "3.1_3.host,U=3").write_bytes(b"c\n")
    (tmp_path / "cur" / ".hidden").write_bytes(b"not mail\n")
    return tmp_path


def test_a_scan_lists_the_message_files(tmp_path: Path) -> None:
    box = _box(tmp_path)
    # No subdirectories: the link count is 2 and one listdir() per directory does.
    assert os.stat(box / "cur").st_nlink == 2
    scan = maildir.scan_box(str(box))
    assert sorted(scan.rels) == MESSAGES


def test_a_scan_leaves_subdirectories_out(tmp_path: Path) -> None:
    box = _box(tmp_path)
    (box / "cur" / "4.1_4.host,U=4:2,S").mkdir()
    (box / "new" / "stray").mkdir()
    scan = maildir.scan_box(str(box))
    assert sorted(scan.rels) == MESSAGES


def test_a_link_count_that_says_nothing_looks_at_each_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # btrfs counts 1 link for any directory: the count cannot rule subdirectories out.
    box = _box(tmp_path)
    (box / "cur" / "sub").mkdir()

    class OneLink:
        st_nlink = 1

        def __init__(self, st: os.stat_result) -> None:
            self._st = st

        def __getattr__(self, name: str) -> object:
            return getattr(self._st, name)

    class BtrfsOs:
        """The os module, as the scan sees it, on a file system counting 1 link."""

        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

        def stat(self, path: str) -> object:
            st = os.stat(path)
            return OneLink(st) if path.endswith(("/cur", "/new")) else st

    monkeypatch.setattr(maildir, "os", BtrfsOs())
    scan = maildir.scan_box(str(box))
    assert sorted(scan.rels) == MESSAGES
