"""Where a Maildir box keeps its UIDs: the ``UidMap`` interface, mbsync's AltMap database
(``.isyncuidmap.db``) behind it, and the choice between that and the native ``.uidvalidity``.

The database follows isync's ``drv_maildir.c`` (``maildir_open_box``, ``maildir_uidval_lock``,
``maildir_store_uidval``, ``maildir_set_uid``, ``maildir_scan``, ``maildir_purge_msg``): a
Berkeley DB hash whose key ``UIDVALIDITY`` holds two native uint32s (UIDVALIDITY, highest
assigned UID) and whose other keys, a file name up to its first InfoDelimiter or ``,``,
hold that file's UID as a native uint32.  File names never carry ``,U=``.
"""

from __future__ import annotations

import errno
import fcntl
import importlib
import logging
import os
import struct
import time
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, Protocol, TypeVar

from syncmail.store import maildir_files as mf
from syncmail.store import maildir_names as mn
from syncmail.store.maildir_layout import MaildirBoxError

__all__ = ["DB_FILE", "UV_FILE", "UidMap", "UidMapDb", "check_uid_map", "open_uid_map"]

log = logging.getLogger(__name__)

UV_FILE = ".uidvalidity"
DB_FILE = ".isyncuidmap.db"

_UV_KEY = b"UIDVALIDITY"
# mbsync stores C uints as they lie in memory: native byte order, 4 bytes.
_UID = struct.Struct("=I")
_UV = struct.Struct("=II")
# Another process may take the lock in the instant the library reopens the file.
_MAX_LOCK_TRIES = 10

_T = TypeVar("_T")


class UidMap(Protocol):
    """A box's UIDVALIDITY, highest assigned UID and the UID of each message file.

    Held (locked) from the box's opening to its closing.  ``rels`` are ``cur/<name>`` or
    ``new/<name>``; ``names`` are bare file names.
    """

    path: str
    uidvalidity: int
    nuid: int
    # True while the UIDs found for files belong to ``uidvalidity`` (False for a new one).
    ok: bool

    def uids(self, rels: list[str]) -> list[int]:
        """The UID of each file, 0 for none; ``rels`` is a whole listing of the box."""
        ...

    def uid_of(self, rel: str) -> int:
        """The UID of one file, 0 for none."""
        ...

    def uid_key(self, rel: str) -> str:
        """What the UID of a file hangs on: files with equal keys cannot differ in UID."""
        ...

    def assign(self, names: list[str]) -> tuple[int, list[str]]:
        """Give the files ``names`` the next UIDs, durably, before any is used.

        Returns the first UID (the others follow in order) and the name each file must
        be renamed to (the same name when the UID does not live in the name).
        """
        ...

    def forget(self, names: Iterable[str]) -> None:
        """The files ``names`` left the box (expunged or trashed)."""
        ...

    def close(self) -> None:
        """Release the map and its lock."""
        ...


def check_uid_map(store: str, box: str, box_dir: str, alt_map: bool) -> None:
    """Fail before anything is touched when the box would need a library that is missing."""
    if _chosen_scheme(box_dir, alt_map) == "db":
        _load_berkeleydb(store, box, box_dir)


def open_uid_map(
    store: str, box: str, box_dir: str, *, alt_map: bool, delimiter: str, fsync: bool
) -> UidMap:
    """The locked UID map of an existing box directory, chosen as mbsync 1.4 does: an
    existing ``.uidvalidity`` wins, then an existing ``.isyncuidmap.db``; a box with neither
    gets the database when ``alt_map`` is on, ``.uidvalidity`` otherwise."""
    if _chosen_scheme(box_dir, alt_map) == "db":
        bdb = _load_berkeleydb(store, box, box_dir)
        return UidMapDb(store, box, box_dir, bdb, delimiter=delimiter, create=alt_map)
    return mf.UidValidityFile(store, box, box_dir, fsync, delimiter)


def _chosen_scheme(box_dir: str, alt_map: bool) -> str:
    if os.path.exists(os.path.join(box_dir, UV_FILE)):
        return "native"
    if alt_map or os.path.exists(os.path.join(box_dir, DB_FILE)):
        return "db"
    return "native"


def _load_berkeleydb(store: str, box: str, box_dir: str) -> ModuleType:
    """The ``berkeleydb.db`` module, imported only for boxes that use the database."""
    try:
        return importlib.import_module("berkeleydb.db")
    except ImportError:
        pass
    if os.path.exists(os.path.join(box_dir, DB_FILE)):
        what = f"{box_dir} keeps its UIDs in mbsync's AltMap database ({DB_FILE})"
        other = f"or convert the box with mdconvert -n '{box_dir}' and set AltMap no"
    else:
        what = f"{box_dir} would get mbsync's AltMap database ({DB_FILE}, AltMap yes)"
        other = "or set AltMap no"
    raise MaildirBoxError(
        store,
        box,
        f"{what}, which needs the Python package berkeleydb: "
        f"pip install 'syncmail[altmap]' (needs libdb5.3-dev), {other}",
    )


class UidMapDb:
    """A box's ``.isyncuidmap.db``: opened and fcntl-locked while the box is open.

    Holding the lock means nobody else changes the database meanwhile, so its contents
    are read once and kept in ``_uids`` alongside every write.
    """

    def __init__(
        self, store: str, box: str, box_dir: str, bdb: ModuleType, *, delimiter: str, create: bool
    ) -> None:
        self.store = store
        self.box = box
        self.path = os.path.join(box_dir, DB_FILE)
        self._bdb = bdb
        self._stops = delimiter + ","
        self._uids: dict[bytes, int] = {}
        self._db: Any = None
        self.ok = True
        self.uidvalidity = 0
        self.nuid = 0
        flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        try:
            self._fd = os.open(self.path, flags, 0o600)
        except OSError as e:
            raise self._error(f"cannot write {self.path}: {e.strerror}") from None
        try:
            self._open_locked()
            self._load()
        except BaseException:
            self.close()
            raise

    # --- opening ------------------------------------------------------------------------

    def _error(self, message: str) -> MaildirBoxError:
        return MaildirBoxError(self.store, self.box, message)

    def _call(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a database call; its errors become ours, naming the file."""
        try:
            return fn(*args)
        except self._bdb.DBError as e:
            detail = e.args[1] if len(e.args) > 1 else str(e)
            raise self._error(f"cannot {what} {self.path}: {detail}") from None
        except OSError as e:
            raise self._error(f"cannot {what} {self.path}: {e.strerror}") from None

    def _open_locked(self) -> None:
        """Lock the file, then open the database in it.

        Berkeley DB opens and closes the file while opening it, and closing any
        descriptor of a file drops this process's fcntl locks on it (mbsync has the same
        gap): the lock is taken again afterwards, and if someone slipped in, the
        database is reopened once their lock is gone.
        """
        for _ in range(_MAX_LOCK_TRIES):
            try:
                mf.lock_file(self._fd, self.path)
                size = os.fstat(self._fd).st_size
            except OSError as e:
                raise self._error(f"cannot lock {self.path}: {e.strerror}") from None
            db = self._call("open", self._bdb.DB)
            self._db = db
            # An empty file is the one we (or mbsync) just made to hold the lock.
            flags = self._bdb.DB_CREATE | self._bdb.DB_TRUNCATE if not size else 0
            self._call("open", db.open, self.path, None, self._bdb.DB_HASH, flags, 0o600)
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as e:
                if e.errno not in (errno.EACCES, errno.EAGAIN):
                    raise self._error(f"cannot lock {self.path}: {e.strerror}") from None
            self._db = None
            self._call("close", db.close)
        raise self._error(f"cannot lock {self.path}: another program keeps taking it")

    def _load(self) -> None:
        db = self._db
        items: list[tuple[bytes, bytes]] = self._call("read", db.items)
        uv: bytes | None = None
        for key, value in items:
            if key == _UV_KEY:
                uv = value
            elif len(value) == _UID.size:
                self._uids[key] = _UID.unpack(value)[0]
            else:
                # Not a UID: the file gets a new one, which replaces this value.
                log.debug("Maildir box %s: ignoring odd entry %r in %s", self.box, key, self.path)
        if uv is None:
            log.info("Maildir notice: no UIDVALIDITY in %s, creating new.", self.path)
            self._new_uidvalidity()
            return
        if len(uv) != _UV.size:
            raise self._error(
                f"cannot read UIDVALIDITY in {self.path}: expected 8 bytes, got {len(uv)}"
            )
        self.uidvalidity, self.nuid = _UV.unpack(uv)

    def _new_uidvalidity(self) -> None:
        """Start over: a fresh UIDVALIDITY and an empty map (mbsync's maildir_init_uidval)."""
        self.uidvalidity = int(time.time()) & mn.UINT_MAX
        self.nuid = 0
        self.ok = False
        self._call("truncate", self._db.truncate)
        self._uids.clear()
        self._store_uidval()

    def _store_uidval(self) -> None:
        """Write UIDVALIDITY and the highest UID, then make every pending write durable."""
        db = self._db
        self._call("write", db.put, _UV_KEY, _UV.pack(self.uidvalidity, self.nuid))
        self._call("sync", db.sync)

    # --- the UidMap interface -----------------------------------------------------------

    def _key(self, name: str) -> bytes:
        end = len(name)
        for stop in self._stops:
            i = name.find(stop, 0, end)
            if i >= 0:
                end = i
        # Names come from os.listdir as str; the key is their bytes on disk.
        return os.fsencode(name[:end])

    def uids(self, rels: list[str]) -> list[int]:
        known = self._uids
        keys = [self._key(rel[4:]) for rel in rels]
        out = [known.get(key, 0) for key in keys]
        # Entries of files that are gone go, as in mbsync's scan.
        stale = known.keys() - set(keys)
        if stale:
            db = self._db
            for key in stale:
                self._call("write", db.delete, key)
                del known[key]
            self._call("sync", db.sync)
        return out

    def uid_of(self, rel: str) -> int:
        return self._uids.get(self._key(rel[4:]), 0)

    def uid_key(self, rel: str) -> str:
        return os.fsdecode(self._key(rel[4:]))

    def assign(self, names: list[str]) -> tuple[int, list[str]]:
        count = len(names)
        if self.nuid + count > mn.UINT_MAX:
            raise self._error("UIDs exhausted")
        first = self.nuid + 1
        db = self._db
        for k, name in enumerate(names):
            key = self._key(name)
            self._call("write", db.put, key, _UID.pack(first + k))
            self._uids[key] = first + k
        self.nuid += count
        # One sync for the whole batch, before the caller hands out any of the UIDs.
        self._store_uidval()
        return first, list(names)

    def forget(self, names: Iterable[str]) -> None:
        # Not synced (nor in mbsync): a leftover entry is dropped by the next listing.
        db = self._db
        for name in names:
            key = self._key(name)
            if self._uids.pop(key, None) is not None:
                self._call("write", db.delete, key)

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except self._bdb.DBError as e:
                # Only unsynced removals of gone files can be lost; a listing redoes them.
                log.warning("Maildir box %s: cannot close %s: %s", self.box, self.path, e)
        if self._fd >= 0:
            # Closing the descriptor drops the fcntl lock (the database's close did already).
            os.close(self._fd)
            self._fd = -1
