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
