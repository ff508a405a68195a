"""Lookahead: the next box pair's local files, read while this pair waits on its server.

A resync of big boxes waits on the server for a good part of its time (the UID STOREs
of local flag changes, bodies being fetched), and spends as much again reading local
files: each Maildir's names and each state file.  When a pair starts on its changes,
a thread reads the next pair's Maildir directories and state file
(``boxsync.start_lookahead``).  The next pair takes what was read only if it is still
what is on disk (the directories' stamps, the state file's identity) and reads it
again otherwise, so the result is the same as without the thread.  The thread only
reads: the journal, the state, the events and the output stay in the order and shape
they always have.
"""

from __future__ import annotations

import os
import threading

from syncmail.store import maildir_files as mf
from syncmail.store import maildir_names as mn
from syncmail.store import maildir_scan as ms
from syncmail.store.base import Store
from syncmail.sync.sidecar import Sidecar
from syncmail.sync.state import parse_state
from syncmail.sync.statefiles import StateRead, file_identity

# Which pair a lookahead is for: (channel name, far box name, near box name).
PairKey = tuple[str, str, str]


class Lookahead:
    """One box pair's local files, read by ``start`` on a thread of its own.

    ``maildirs``: per side, the box directory and InfoDelimiter of a Maildir side
    (None for an IMAP side).  The answers (``scan``, ``state``) wait for the thread.
    """

    def __init__(
        self,
        key: PairKey,
        state_path: str,
        maildirs: tuple[tuple[str, str] | None, tuple[str, str] | None],
        *,
        expire_side: str,
        box: str,
        if_changed: bool = False,
    ) -> None:
        """``if_changed``: read only if a Maildir side changed since the pair's notes
        (a pair guessed to come next, which may well have nothing to do)."""
        self.key = key
        self._if_changed = if_changed
        self._state_path = state_path
        self._maildirs = maildirs
        self._expire_side = expire_side
        self._box = box
        self._scans: list[ms.BoxScan | None] = [None, None]
        self._state: StateRead | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.read, name="syncmail-lookahead", daemon=True)
        self._thread.start()

    def read(self) -> None:
        """Read everything (the thread's work).  Whatever cannot be read is left to the
        pair, which reads it again and reports any error where it always does: nothing
        raised here may end the thread with a traceback on stderr."""
        try:
            self._read()
        except Exception:  # noqa: BLE001 - any failure: the pair reads it itself
            return

    def _read(self) -> None:
        if self._if_changed and not self._maildir_changed():
            return
        for t, maildir in enumerate(self._maildirs):
            if maildir is not None:
                self._scans[t] = _scan(*maildir)
        with open(self._state_path, "rb") as f:
            identity = file_identity(os.fstat(f.fileno()))
            data = f.read()
        state = parse_state(
            data, self._state_path, expire_side=self._expire_side,
            channel=self.key[0], box=self._box,
        )  # fmt: skip
        self._state = StateRead(identity, state)

    def _maildir_changed(self) -> bool:
        """Whether a Maildir side is seen to differ from the pair's notes (not when its
        marker cannot be had: a box whose UIDs live in a database, say)."""
        for t, maildir in enumerate(self._maildirs):
            marker = None if maildir is None else _marker(maildir[0])
            if marker is not None and not Sidecar.side_as_noted(self._state_path, t, marker):
                return True
        return False

    def scan(self, side: int) -> ms.BoxScan | None:
        self._wait()
        return self._scans[side]

    def state(self) -> StateRead | None:
        self._wait()
        return self._state

    def _wait(self) -> None:
        if self._thread is not None:
            self._thread.join()


def _scan(path: str, delimiter: str) -> ms.BoxScan | None:
    try:
        scan = ms.scan_box(path)
    except ms.ScanFailed:
        return None
    if os.path.exists(os.path.join(path, ".uidvalidity")):
        # UIDs in the names (the native map): read them here too.
        scan.uids = mn.parse_uids(scan.rels, delimiter)
    return scan


def _marker(path: str) -> str | None:
    """The change marker a Maildir box at ``path`` with its UIDs in its names
    (``.uidvalidity``) has now, as ``MaildirBox`` makes it; None if it cannot be had."""
    try:
        # Not by a plain open(): closing it would drop the lock of a box holding it.
        data = mf.read_unheld(os.path.join(path, ".uidvalidity"), 127)
        stamps = ms.dir_stamps(path)
    except (OSError, ms.ScanFailed):
        return None
    parsed = None if data is None else mn.parse_uidvalidity(data)
    return None if parsed is None else ms.box_marker(*parsed, stamps)


def maildir_side(store: Store, name: str) -> tuple[str, str] | None:
    """What a ``Lookahead`` needs of the box ``name`` of ``store``: its directory and
    InfoDelimiter when it is a Maildir, else None."""
    from syncmail.store.maildir import MaildirStore

    if not isinstance(store, MaildirStore):
        return None
    return store.box_path(name), store.info_delimiter
