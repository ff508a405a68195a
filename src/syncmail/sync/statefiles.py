"""Where a box pair's sync state lives, and its lock / load / journal / commit cycle.

File names and the commit protocol are mbsync's (mbsync.md 3.1, 3.3, 3.4), so mbsync
and syncmail can take turns on the same state.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
from typing import BinaryIO

from syncmail.config.model import ChannelConfig, Config
from syncmail.errors import BoxError, LockedError, StateError, SyncmailError
from syncmail.record import record
from syncmail.sync.journal import VERSION, Journal, replay
from syncmail.sync.state import SyncState, parse_state, state_chunks

log = logging.getLogger(__name__)

# syncmail's notes beside a state ``<state>``: ``<state>.syncmail`` and
# ``<state>.syncmail-<what>`` (keywords, snapshots, the move log, ...), with the ``.tmp``
# an interrupted write-by-rename leaves.
_NOTE_SUFFIX = re.compile(r"\.syncmail(?:-[a-z]+)?(?:\.tmp)?")


def write_note(path: str, data: bytes) -> str | None:
    """Write one of syncmail's files beside a state by rename (a reader never sees half of
    it); returns what went wrong, or None."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        return f"cannot write {path}: {e.strerror}"
    return None


def remove_note(path: str) -> None:
    """Remove one of syncmail's files beside a state (notes, snapshots, the move log):
    gone already is fine, and any other failure only costs a full listing next time."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.debug("cannot remove %s: %s", path, e.strerror)


def remove_notes(state_path: str) -> None:
    """Remove all of syncmail's notes beside the state ``state_path`` (it is going away:
    notes of a state that no longer exists would only lie to a pair made again later)."""
    folder, base = os.path.split(state_path)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return
    for name in names:
        if name.startswith(base) and _NOTE_SUFFIX.fullmatch(name, len(base)):
            remove_note(os.path.join(folder, name))


def intents_path(state_path: str) -> str:
    """The DetectMoves log of server copies about to be made (``syncmail.sync.movescan``)."""
    return state_path + ".syncmail-moves"


@record(frozen=True)
class StatePaths:
    """The state file and its companions; ``lock_label`` names the pair in lock errors."""

    state: str
    new: str
    journal: str
    lock: str
    lock_label: str = ""


def default_state_dir() -> str:
    """mbsync 1.5's default global SyncState: XDG state dir, or ``~/.mbsync/`` if only it exists."""
    home = os.environ.get("HOME") or os.path.expanduser("~")
    state_home = os.environ.get("XDG_STATE_HOME")
    xdg = f"{state_home}/isync/" if state_home else f"{home}/.local/state/isync/"
    legacy = f"{home}/.mbsync/"
    xdg_exists = os.path.lexists(xdg)
    legacy_exists = os.path.lexists(legacy)
    if legacy_exists and not xdg_exists:
        return legacy
    if xdg_exists and legacy_exists:
        raise SyncmailError(f"both {xdg} and {legacy} exist; delete one or set SyncState globally.")
    return xdg


def _clean(box: str) -> str:
    # Box names become one path component.
    return box.replace("/", "!")


def state_paths(
    config: Config,
    channel: ChannelConfig,
    far_store_name: str,
    far_box_on_store: str,
    near_store_name: str,
    near_box_on_store: str,
    near_box_dir: str | None,
) -> StatePaths:
    """The state file names of one box pair (mbsync's ``prepare_state``).

    ``near_box_dir`` is the near box's directory (Maildir), needed for ``SyncState *``.
    Nothing is created here; ``StateFiles`` makes the directory when it first writes.
    """
    setting = channel.sync_state if channel.sync_state is not None else config.globals.sync_state
    if setting == "*":
        if near_box_dir is None:
            raise BoxError(
                channel.name,
                near_box_on_store,
                f"store '{near_store_name}' does not support in-box sync state",
            )
        state = f"{near_box_dir.rstrip('/')}/.mbsyncstate"
    elif channel.sync_state is not None:
        state = channel.sync_state + _clean(near_box_on_store)
    else:
        prefix = config.globals.sync_state or default_state_dir()
        c = config.globals.field_delimiter
        state = (
            f"{prefix}{c}{far_store_name}{c}{_clean(far_box_on_store)}"
            f"_{c}{near_store_name}{c}{_clean(near_box_on_store)}"
        )
    if "/" not in state:
        raise BoxError(channel.name, near_box_on_store, f"invalid SyncState location '{state}'")
    label = f":{far_store_name}:{far_box_on_store}-:{near_store_name}:{near_box_on_store}"
    return StatePaths(state, state + ".new", state + ".journal", state + ".lock", label)


@record(slots=True)
class StateRead:
    """A state file read and parsed ahead of its pair (``syncmail.sync.lookahead``),
    with the identity of the file it was read from (``file_identity``)."""

    identity: tuple[int, int, int]
    state: SyncState


def file_identity(st: os.stat_result) -> tuple[int, int, int]:
    """What tells one version of a state file from another: every writer (mbsync and
    syncmail) replaces the file by rename, so a new version is a new inode."""
    return st.st_ino, st.st_mtime_ns, st.st_size


class StateFiles:
    """One box pair's state on disk: lock, load (+ replay), journal, commit, delete.

    With ``dry_run`` nothing is created, written, locked or deleted; the journal still
    applies changes in memory.  ``fsync=False`` (mbsync's ``FSync no``) skips fdatasync.
    """

    def __init__(
        self,
        paths: StatePaths,
        *,
        fsync: bool = True,
        channel: str = "",
        box: str = "",
        dry_run: bool = False,
        expire_side: str = "near",
    ) -> None:
        self.paths = paths
        self.fsync = fsync
        self.channel = channel
        self.box = box
        self.dry_run = dry_run
        self.expire_side = expire_side
        self.replayed = False
        # True once commit() has written the state (this run's end state is on disk).
        self.committed = False
        self.saved_uidnext: dict[str, int] = {}
        self.trashed: set[tuple[str, int]] = set()
        # Highest UID being propagated per side after a replay (mbsync's newmaxuid).
        self.new_maxuid: dict[str, int] = {}
        self.existing = False
        self._lock_fd: int | None = None
        self._journal: Journal | None = None
        self._new_fp: BinaryIO | None = None
        # After a replay that ended in a torn line: where appending must start.
        self._journal_keep: int | None = None

    # --- locking --------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    def lock(self) -> None:
        """Take the ``.lock`` (non-blocking, fcntl like mbsync); LockedError if held."""
        if self.dry_run or self._lock_fd is not None:
            return
        self._make_dir()
        try:
            fd = os.open(self.paths.lock, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as e:
            raise BoxError(
                self.channel, self.box, f"cannot create lock file {self.paths.lock}: {e.strerror}"
            ) from None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EACCES, errno.EAGAIN):
                raise BoxError(
                    self.channel, self.box, f"cannot lock {self.paths.lock}: {e.strerror}"
                ) from None
            label = self.paths.lock_label or f"{self.channel}:{self.box}"
            raise LockedError(self.channel, self.box, f"channel {label} is locked") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release and remove the lock (mbsync unlinks it at the end of the box)."""
        if self._lock_fd is None:
            return
        try:
            os.unlink(self.paths.lock)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.debug("cannot remove lock file %s: %s", self.paths.lock, e.strerror)
        os.close(self._lock_fd)
        self._lock_fd = None

    # --- loading --------------------------------------------------------------------

    def load(self, ahead: StateRead | None = None) -> SyncState:
        """The stored state (empty if none), with a crashed run's journal replayed.

        Locks first when there is anything to read.  A journal without ``.new`` is a
        leftover of a finished run and is ignored (it gets overwritten).  ``ahead``: the
        state as read earlier, taken if the file is still the one it was read from.
        """
        try:
            with open(self.paths.state, "rb") as f:
                if ahead is not None and ahead.identity == file_identity(os.fstat(f.fileno())):
                    data = None
                else:
                    ahead = None
                    data = f.read()
        except FileNotFoundError:
            ahead = data = None
        except OSError as e:
            raise self._error(self.paths.state, f"cannot read sync state: {e.strerror}") from None
        if ahead is not None:
            self.lock()
            state = ahead.state
            self.existing = True
        elif data is not None:
            self.lock()
            state = parse_state(
                data,
                self.paths.state,
                expire_side=self.expire_side,
                channel=self.channel,
                box=self.box,
            )
            self.existing = True
        else:
            state = SyncState()
        self.new_maxuid = {"far": state.max_pulled, "near": state.max_pushed}
        try:
            jf = open(self.paths.journal, "rb")
        except FileNotFoundError:
            return state
        except OSError as e:
            raise self._error(self.paths.journal, f"cannot read journal: {e.strerror}") from None
        with jf:
            self.lock()
            if not os.path.exists(self.paths.new):
                log.debug("ignoring stale journal %s (no %s)", self.paths.journal, self.paths.new)
                return state
            info = replay(
                state,
                jf,
                self.paths.journal,
                expire_side=self.expire_side,
                channel=self.channel,
                box=self.box,
            )
            size = os.fstat(jf.fileno()).st_size
        if info.lines:
            self.replayed = True
            self.saved_uidnext = info.saved_uidnext
            self.trashed = info.trashed
            self.new_maxuid = info.new_maxuid
            if info.valid_length < size:
                self._journal_keep = info.valid_length
            log.debug("replayed %d journal entries from %s", info.lines - 1, self.paths.journal)
        return state

    # --- journal and commit ---------------------------------------------------------

    def journal(self) -> Journal:
        """This run's journal; the files (``.new``, the journal) appear with its first line."""
        if self._journal is None:
            opener = None if self.dry_run else self._open_journal
            # Tests only: boxsync.FORCE_JOURNAL_ENV (mbsync's -TJ).
            force = os.environ.get("SYNCMAIL_TEST_FORCE_JOURNAL") == "1"
            self._journal = Journal(
                opener=opener, fsync=self.fsync, expire_side=self.expire_side, force=force
            )
        return self._journal

    def _open_journal(self) -> BinaryIO:
        self._make_dir()
        try:
            self._new_fp = open(self.paths.new, "wb")
        except OSError as e:
            msg = f"cannot create new sync state: {e.strerror}"
            raise self._error(self.paths.new, msg) from None
        try:
            if self.replayed:
                fp = open(self.paths.journal, "ab")
                if self._journal_keep is not None:
                    # Appending to a torn line would glue two entries into a wrong one.
                    fp.truncate(self._journal_keep)
                    self._journal_keep = None
            else:
                fp = open(self.paths.journal, "wb")
                fp.write(f"{VERSION}\n".encode("ascii"))
                fp.flush()
        except OSError as e:
            raise self._error(self.paths.journal, f"cannot create journal: {e.strerror}") from None
        return fp

    @property
    def changed(self) -> bool:
        """True when commit() will write: something was journalled or replayed."""
        return self.replayed or (self._journal is not None and self._journal.opened)

    def commit(self, state: SyncState) -> None:
        """Write ``.new``, sync it, rename it over the state, then drop the journal.

        Does nothing when nothing was journalled or replayed, and in a dry run.
        """
        if self.dry_run or not self.changed:
            return
        try:
            if self._new_fp is None:
                self._new_fp = open(self.paths.new, "wb")
            fp = self._new_fp
            fp.writelines(state_chunks(state, expire_side=self.expire_side))
            fp.flush()
            if self.fsync:
                os.fdatasync(fp.fileno())
            fp.close()
        except OSError as e:
            msg = f"cannot write new sync state: {e.strerror}"
            raise self._error(self.paths.new, msg) from None
        finally:
            self._new_fp = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self.replayed = False
        # Order matters: once the state is renamed in, the journal is obsolete.
        try:
            os.rename(self.paths.new, self.paths.state)
        except OSError as e:
            log.warning("cannot commit sync state %s: %s", self.paths.state, e.strerror)
            return
        self.committed = True
        try:
            os.unlink(self.paths.journal)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("cannot delete journal %s: %s", self.paths.journal, e.strerror)
        self.existing = True

    def delete(self) -> None:
        """Remove the state and its companions, syncmail's notes included (both boxes
        of the pair are gone)."""
        if self.dry_run:
            return
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._new_fp is not None:
            self._new_fp.close()
            self._new_fp = None
        # Notes first: a crash in between leaves a state without notes, which costs
        # nothing, rather than notes no run will ever look at again.
        remove_notes(self.paths.state)
        for path in (self.paths.new, self.paths.journal, self.paths.state, self.paths.lock):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise BoxError(
                    self.channel, self.box, f"sync state cannot be deleted: {path}: {e.strerror}"
                ) from None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.existing = False

    def close(self) -> None:
        """Drop open files without committing (error path), and unlock."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._new_fp is not None:
            self._new_fp.close()
            self._new_fp = None
        self.unlock()

    def __enter__(self) -> StateFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- helpers --------------------------------------------------------------------

    def _make_dir(self) -> None:
        parent = os.path.dirname(self.paths.state)
        if parent:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as e:
                raise BoxError(
                    self.channel,
                    self.box,
                    f"cannot create SyncState directory '{parent}': {e.strerror}",
                ) from None

    def _error(self, path: str, message: str) -> StateError:
        return StateError(self.channel, self.box, path, 0, message)
