"""A look at a Maildir box's directories: the names of its message files, taken while
``cur/`` and ``new/`` held still, with the stamps that tell whether they changed since.

``MaildirBox`` lists its files with ``scan_box``; so does a thread reading the next box
pair's files ahead of time (``syncmail.sync.lookahead``), which is why this only reads.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from syncmail.record import record

# Directory stamps of a box: (inode, mtime in ns) of cur/, then of new/.
Stamps = tuple[tuple[int, int], tuple[int, int]]

# How long a box may take to hold still (``settled_stamps``), and how often it is
# listed again when it changed while being listed.
SETTLE_MAX_WAIT = 2.0
MAX_RESCANS = 20

# Linux's coarse clock, the one that stamps file times; None elsewhere.
_COARSE_CLOCK = getattr(time, "CLOCK_REALTIME_COARSE", 5 if sys.platform == "linux" else None)
_COARSE_TICK_NS = int(time.clock_getres(_COARSE_CLOCK) * 1e9) if _COARSE_CLOCK else 0
# Where there is no coarse clock to read: how old a directory time must be.
_SETTLE_NS = 20_000_000
_SECOND = 1_000_000_000


def _coarse_now() -> int | None:
    return time.clock_gettime_ns(_COARSE_CLOCK) if _COARSE_CLOCK is not None else None


def settle_wait(mtimes: Sequence[int], now: int, coarse_now: int | None) -> float | None:
    """Seconds to wait before directories with these mtimes (ns) are settled: 0 when any
    later change is sure to give them another mtime; None when that cannot be known
    (an mtime in the future: another clock stamped it).

    mbsync sleeps a second when a directory changed in the current second.  A file system
    that keeps whole seconds needs that too.  Otherwise the kernel stamps a change with its
    coarse clock, one tick (1-10 ms) wide: an mtime older than the clock's current tick
    is settled.  An mtime finer than that tick (Linux's multigrain timestamps, 6.13 on)
    is settled at once: once its directory was looked at (we just did), the next change
    gets a later fine-grained time.
    """
    newest = max(mtimes)
    if newest > now:
        return None
    if all(m % _SECOND == 0 for m in mtimes):
        age = now - newest
        return 0 if age >= _SECOND else (_SECOND - age) / 1e9
    if coarse_now is None:
        age = now - newest
        return 0 if age >= _SETTLE_NS else (_SETTLE_NS - age) / 1e9
    if all(m != coarse_now for m in mtimes):
        return 0
    return _COARSE_TICK_NS / 1e9 or 0.001


class ScanFailed(Exception):
    """The box's directories could not be looked at; the text says which and why."""


@record(slots=True)
class BoxScan:
    """The message files of a box (``cur/name``, ``new/name``) as its directories held
    them at ``stamps``; ``settled``: no later change can leave those stamps as they are
    (``settle_wait``)."""

    rels: list[str]
    stamps: Stamps
    settled: bool
    # The UIDs in the names (``maildir_names.parse_uids``), when the scan was asked to
    # read them (a box whose UIDs live in its names).
    uids: list[int] | None = None


def box_marker(uidvalidity: int, nuid: int, stamps: Stamps) -> str:
    """A box's change marker (``BoxStatus.change_marker``): its UIDVALIDITY, highest
    assigned UID and directory stamps."""
    (cur_ino, cur_mtime), (new_ino, new_mtime) = stamps
    return f"{uidvalidity}.{nuid}:{cur_ino}.{cur_mtime}:{new_ino}.{new_mtime}"


def dir_stamps(path: str) -> Stamps:
    try:
        cur = os.stat(os.path.join(path, "cur"))
        new = os.stat(os.path.join(path, "new"))
    except OSError as e:
        raise ScanFailed(f"cannot stat {e.filename}: {e.strerror}") from None
    return (cur.st_ino, cur.st_mtime_ns), (new.st_ino, new.st_mtime_ns)


def settled_stamps(path: str) -> tuple[Stamps, bool]:
    """Directory stamps such that any later change will change them (``settle_wait``);
    False when the box would not settle in time."""
    deadline = time.monotonic() + SETTLE_MAX_WAIT
    while True:
        stamps = dir_stamps(path)
        wait = settle_wait((stamps[0][1], stamps[1][1]), time.time_ns(), _coarse_now())
        if wait == 0:
            return stamps, True
        if wait is None or time.monotonic() + wait > deadline:
            return stamps, False
        time.sleep(wait)


def _message_files(directory: str, head: str) -> list[str]:
    """``head`` + the name of each message file in ``directory`` (cur/ or new/): dot
    files and subdirectories are left out.

    A directory's link count is 2 plus its subdirectories on the usual file systems
    (btrfs says 1, ext4 1 past 65,000), so at 2 there are none and a plain listdir()
    will do; otherwise each entry's type is looked at.  A subdirectory made meanwhile
    changes the directory's stamps, and the caller lists again.
    """
    if os.stat(directory).st_nlink == 2:
        return [head + name for name in os.listdir(directory) if name[0] != "."]
    with os.scandir(directory) as it:
        return [
            head + entry.name
            for entry in it
            if entry.name[0] != "." and not entry.is_dir(follow_symlinks=False)
        ]


def scan_box(path: str) -> BoxScan:
    """Relative paths of all message files of the box at ``path``, from a consistent
    look at cur/ and new/; ScanFailed when it cannot be had."""
    for _ in range(MAX_RESCANS):
        before, settled = settled_stamps(path)
        rels: list[str] = []
        for sub in ("cur", "new"):
            try:
                rels += _message_files(os.path.join(path, sub), sub + "/")
            except OSError as e:
                raise ScanFailed(f"cannot list {e.filename}: {e.strerror}") from None
        # A file moved between new/ and cur/ while we listed would be missed or
        # seen twice: list again until both directories held still.
        if dir_stamps(path) == before:
            return BoxScan(rels, before, settled)
    raise ScanFailed("the box keeps changing while it is listed; try again later")
