"""Low-level Maildir file work: the locked ``.uidvalidity``, box directories, header peeking.

Everything here follows mbsync's ``drv_maildir.c`` (``maildir_validate``,
``maildir_uidval_lock``, ``maildir_store_uidval``, ``maildir_clear_tmp``,
``maildir_delete_box``); ``maildir.py`` builds the Box on top of it.  ``UidValidityFile``
is the native one of the two UID maps (``maildir_uidmap`` has the other).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from typing import BinaryIO

from syncmail.errors import BoxError
from syncmail.store import maildir_names as mn
from syncmail.store.base import BoxMissing
from syncmail.store.maildir_keywords import FILE as KEYWORDS_FILE
from syncmail.store.maildir_layout import MaildirBoxError

log = logging.getLogger(__name__)

STALE_TMP_SECONDS = 24 * 3600
_HEADER_CHUNK = 16384
_TUID_LEN = 12


def mkdir_p(path: str) -> None:
    """Create ``path`` and missing parents, 0700 like mbsync's mkdir_p."""
    try:
        os.mkdir(path, 0o700)
        return
    except FileExistsError:
        return
    except FileNotFoundError:
        pass
    parent = os.path.dirname(path.rstrip("/"))
    if parent and parent != path:
        mkdir_p(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_syncfs() -> Callable[[int], int] | None:
    """libc's syncfs(2) (Linux): one call flushes a whole batch of new files."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.syncfs
    except (OSError, AttributeError, ImportError):
        return None
    func.argtypes = [ctypes.c_int]
    func.restype = ctypes.c_int

    def syncfs(fd: int) -> int:
        if func(fd) != 0:
            return ctypes.get_errno() or errno.EIO
        return 0

    return syncfs


def lock_file(fd: int, path: str) -> None:
    """Take mbsync's whole-file fcntl write lock on ``fd``, waiting for it if need be."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EAGAIN):
            raise
        log.info("waiting for the lock on %s (another mbsync or syncmail)", path)
        fcntl.lockf(fd, fcntl.LOCK_EX)


# The ``.uidvalidity`` files this process has open (and locked, or about to be).
# Closing *any* descriptor of a file drops every fcntl lock this process holds on it,
# so no other code of this process may open one of these meanwhile: the lookahead
# thread reads the files through ``read_unheld``, which leaves these alone.
_held: set[str] = set()
_held_guard = threading.Lock()


def read_unheld(path: str, size: int) -> bytes | None:
    """The first ``size`` bytes of the file at ``path``, unless this process holds it open
    as a box's ``.uidvalidity`` (then None: opening and closing it would drop the box's
    lock, and another process could change the box under this one)."""
    key = os.path.normpath(path)
    with _held_guard:
        if key in _held:
            return None
        with open(key, "rb") as f:
            return f.read(size)


class UidValidityFile:
    """A box's ``.uidvalidity``: opened, fcntl-locked (blocking) while the box is open.

    The native UID map: a file's UID is the ``,U=`` tag in its name.
    """

    def __init__(
        self, store: str, box: str, box_dir: str, fsync: bool, delimiter: str = ":"
    ) -> None:
        self.store = store
        self.box = box
        self.path = os.path.join(box_dir, ".uidvalidity")
        self.fsync = fsync
        self.delimiter = delimiter
        self.fd = -1
        with _held_guard:
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise MaildirBoxError(
                    store, box, f"cannot write {self.path}: {e.strerror}"
                ) from None
            _held.add(os.path.normpath(self.path))
        try:
            lock_file(self.fd, self.path)
        except OSError as e:
            self.close()
            raise MaildirBoxError(store, box, f"cannot lock {self.path}: {e.strerror}") from None
        try:
            data = os.pread(self.fd, 127, 0)
        except OSError as e:
            self.close()
            raise MaildirBoxError(store, box, f"cannot read {self.path}: {e.strerror}") from None
        # ok: the UIDs in file names belong to this UIDVALIDITY (False for a new one).
        self.ok = True
        if not data:
            log.info("Maildir notice: no UIDVALIDITY in %s, creating new.", box_dir)
            self.uidvalidity = int(time.time()) & mn.UINT_MAX
            self.nuid = 0
            self.ok = False
            try:
                self._write()
            except BoxError:
                self.close()
                raise
            return
        parsed = mn.parse_uidvalidity(data)
        if parsed is None:
            self.close()
            raise MaildirBoxError(
                store,
                box,
                f"cannot read UIDVALIDITY in {self.path}: "
                "expected '<uidvalidity>\\n<highest assigned UID>\\n'",
            )
        self.uidvalidity, self.nuid = parsed

    def _write(self) -> None:
        data = mn.format_uidvalidity(self.uidvalidity, self.nuid)
        try:
            if os.pwrite(self.fd, data, 0) != len(data):
                raise OSError(errno.ENOSPC, "short write")
            os.ftruncate(self.fd, len(data))
            if self.fsync:
                os.fdatasync(self.fd)
        except OSError as e:
            raise MaildirBoxError(
                self.store, self.box, f"cannot write UIDVALIDITY in {self.path}: {e.strerror}"
            ) from None

    def allocate(self, count: int) -> int:
        """Reserve ``count`` new UIDs, durable before any of them is used; the first one."""
        if self.nuid + count > mn.UINT_MAX:
            raise MaildirBoxError(self.store, self.box, "UIDs exhausted")
        first = self.nuid + 1
        self.nuid += count
        self._write()
        return first

    # --- the UidMap interface (maildir_uidmap.UidMap) -----------------------------------

    def uids(self, rels: list[str]) -> list[int]:
        return mn.parse_uids(rels, self.delimiter)

    def uid_of(self, rel: str) -> int:
        return mn.parse_uid(rel)

    def uid_key(self, rel: str) -> str:
        # Each file carries its own UID: no two files ever share one.
        return rel

    def assign(self, names: list[str]) -> tuple[int, list[str]]:
        first = self.allocate(len(names))
        return first, [mn.with_uid(name, first + k, self.delimiter) for k, name in enumerate(names)]

    def forget(self, names: Iterable[str]) -> None:
        pass  # the UID left with the file name

    def close(self) -> None:
        if self.fd >= 0:
            with _held_guard:
                # Closing the descriptor drops the fcntl lock.
                os.close(self.fd)
                self.fd = -1
                _held.discard(os.path.normpath(self.path))


def open_message(path: str) -> BinaryIO:
    """A message file opened for reading; ``OSError`` ("not a regular file") for anything
    else found among the messages: a FIFO would block the run forever, a device such as
    /dev/zero never end.  Opened without blocking, then checked."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_header_fields(
    path: str, want_tuid: bool, want_msgid: bool
) -> tuple[str | None, str | None]:
    """X-TUID and Message-ID of a message file, reading only its header (mbsync's rules:
    ``X-TUID: `` exactly, 12 characters; Message-ID case-insensitive, maybe folded)."""
    with open_message(path) as f:
        head = b""
        while True:
            chunk = f.read(_HEADER_CHUNK)
            if not chunk:
                break
            head += chunk
            if head.startswith((b"\n", b"\r\n")) or b"\n\n" in head or b"\n\r\n" in head:
                break
    tuid: str | None = None
    msgid: str | None = None
    in_msgid = False
    for raw in head.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line:
            break
        if want_tuid and line.startswith(b"X-TUID: "):
            if len(line) < 8 + _TUID_LEN:
                log.error("Maildir error: malformed X-TUID header in %s", path)
                continue
            tuid = line[8 : 8 + _TUID_LEN].decode("ascii", "replace")
            want_tuid = False
            in_msgid = False
            continue
        if want_msgid and line[:11].upper() == b"MESSAGE-ID:":
            value = line[11:]
        elif in_msgid:
            if not line[:1].isspace():
                in_msgid = False
                continue
            value = line
        else:
            continue
        value = value.strip()
        if not value:
            in_msgid = True
            continue
        msgid = value.decode("utf-8", "replace")
        want_msgid = False
        in_msgid = False
        if not want_tuid:
            break
    return tuid, msgid


def prepare_box_dir(store: str, name: str, path: str, create: bool) -> None:
    """Check (and with ``create`` make) the box directory and its cur/ new/ tmp/.

    cur/ says "this is a box": without it and without ``create`` the box is missing.
    new/ and tmp/ are always made when missing.
    """
    try:
        os.stat(path)
    except FileNotFoundError:
        if not create:
            raise BoxMissing(f"Maildir store {store}: box {name} does not exist ({path})") from None
        try:
            mkdir_p(path)
        except OSError as e:
            raise MaildirBoxError(
                store, name, f"cannot create mailbox '{path}': {e.strerror}"
            ) from None
    except OSError as e:
        raise MaildirBoxError(
            store, name, f"cannot access mailbox '{path}': {e.strerror}"
        ) from None
    else:
        if not os.path.isdir(path):
            raise MaildirBoxError(store, name, f"'{path}' is no valid mailbox")
    for i, sub in enumerate(("cur", "new", "tmp")):
        sub_path = os.path.join(path, sub)
        try:
            os.stat(sub_path)
        except FileNotFoundError:
            if i == 0 and not create:
                raise BoxMissing(
                    f"Maildir store {store}: box {name} does not exist ({path})"
                ) from None
            try:
                os.mkdir(sub_path, 0o700)
            except FileExistsError:
                pass
            except OSError as e:
                raise MaildirBoxError(
                    store, name, f"cannot create directory {sub_path}: {e.strerror}"
                ) from None
            continue
        except OSError as e:
            raise MaildirBoxError(store, name, f"cannot access {sub_path}: {e.strerror}") from None
        if not os.path.isdir(sub_path):
            raise MaildirBoxError(store, name, f"'{path}' is no valid mailbox")


def clear_stale_tmp(store: str, name: str, path: str) -> None:
    """Remove files left in tmp/ for a day or more (a crashed delivery)."""
    tmp = os.path.join(path, "tmp")
    now = time.time()
    try:
        with os.scandir(tmp) as it:
            entries = list(it)
    except OSError as e:
        raise MaildirBoxError(store, name, f"cannot list {tmp}: {e.strerror}") from None
    for entry in entries:
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("Maildir error: cannot access %s: %s", entry.path, e.strerror)
            continue
        if entry.is_file() and now - st.st_ctime >= STALE_TMP_SECONDS:
            log.info("Maildir notice: removing stale file %s", entry.path)
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("Maildir error: cannot remove %s: %s", entry.path, e.strerror)


def box_is_empty(store: str, name: str, path: str) -> bool:
    """True when cur/ and new/ hold no message file."""
    for sub in ("cur", "new"):
        try:
            with os.scandir(os.path.join(path, sub)) as it:
                if any(not e.name.startswith(".") for e in it):
                    return False
        except FileNotFoundError:
            continue
        except OSError as e:
            raise MaildirBoxError(store, name, f"cannot list {e.filename}: {e.strerror}") from None
    return True


def remove_box_dir(store: str, name: str, path: str) -> None:
    """mbsync's box removal: stale tmp/ files, the UID files, tmp/ new/ cur/ (cur/ last,
    so an interrupted removal can be resumed), then the directory unless it has subfolders.
    The keyword letters' names (``KeywordLetters``) go with the UID files: they name
    letters of messages that are gone, and would keep the directory."""
    if os.path.isdir(os.path.join(path, "tmp")):
        clear_stale_tmp(store, name, path)
    try:
        for leftover in (".uidvalidity", ".isyncuidmap.db", KEYWORDS_FILE):
            try:
                os.unlink(os.path.join(path, leftover))
            except FileNotFoundError:
                pass
        for sub in ("tmp", "new", "cur"):
            try:
                os.rmdir(os.path.join(path, sub))
            except FileNotFoundError:
                pass
    except OSError as e:
        raise MaildirBoxError(store, name, f"cannot remove '{e.filename}': {e.strerror}") from None
    try:
        os.rmdir(path)
    except OSError as e:
        # Subfolders (or a sync state) keep the directory; the box itself is gone.
        if e.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
            raise MaildirBoxError(store, name, f"cannot remove '{path}': {e.strerror}") from None
