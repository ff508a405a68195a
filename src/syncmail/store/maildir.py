"""The Maildir driver: boxes with either of mbsync's UID schemes (``,U=`` names and
``.uidvalidity``, or AltMap's ``.isyncuidmap.db``; see ``maildir_uidmap``).

Files written here are the files mbsync writes, and files mbsync wrote are read back
unchanged, so both tools can take turns on one Maildir.  Beyond mbsync, UIDs broken by
other tools (copied files, duplicates) are healed with a warning instead of failing.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from syncmail import flags as mflags
from syncmail.config.model import MaildirStoreConfig
from syncmail.errors import BoxError, MessageError, StoreError
from syncmail.record import record
from syncmail.store import maildir_files as mf
from syncmail.store import maildir_names as mn
from syncmail.store import maildir_scan as ms
from syncmail.store import maildir_uidmap as mu
from syncmail.store.base import (
    Box,
    BoxStatus,
    FetchedMessage,
    FlagChange,
    Listing,
    ListRequest,
    MessageInfo,
    OutgoingMessage,
    Store,
    StoredMessage,
    as_listing,
)
from syncmail.store.maildir_layout import MaildirBoxError, MaildirLayout
from syncmail.store.maildir_scan import Stamps

__all__ = ["MaildirBox", "MaildirBoxError", "MaildirStore"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# A batch of stored messages is synced to disk at once; results wait for the batch.
_BATCH_MESSAGES = 512
_BATCH_BYTES = 32 << 20
_RESCANS_PER_CALL = 3


class _Rescan(Exception):
    """A file vanished or was renamed under our feet: list the box again."""


@record(slots=True, hot=True)
class _Pending:
    """A message written to tmp/, waiting for its batch to be synced and renamed."""

    base: str
    tmp_name: str
    flags: int
    done: bool = False


class _BatchSync:
    """A batch of tmp/ files made durable on a thread of its own.

    syncfs(2) and fsync(2) wait on the disk with the GIL released, so the run goes on
    fetching and writing the next batch meanwhile.  The thread only syncs: UIDs,
    renames and results stay on the run's thread, in order.
    """

    def __init__(self, box: MaildirBox, batch: list[_Pending]) -> None:
        self.batch = batch
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(box,), name="syncmail-maildir-sync", daemon=True
        )
        self._thread.start()

    def _run(self, box: MaildirBox) -> None:
        try:
            box.sync_batch(self.batch)
        except BaseException as e:  # handed to the run's thread by wait()
            self._error = e

    def join(self) -> None:
        """Wait for the thread (its error, if any, is dropped: the run is failing)."""
        self._thread.join()

    def wait(self) -> None:
        """Wait until the batch is durable; raise what syncing it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error


def _write_tmp(
    store: MaildirStore, box_dir: str, msg: OutgoingMessage, flags: int, fsync: bool
) -> tuple[str, str]:
    """Write ``msg`` to ``box_dir``/tmp under a fresh name (O_EXCL, 0600), without a UID;
    returns the base and the file name.  ``OSError`` names the file."""
    tmp_dir = os.path.join(box_dir, "tmp", "")
    for _ in range(1000):
        base = store.new_base()
        tmp_name = mn.make_name(base, None, flags, store.info_delimiter)
        path = tmp_dir + tmp_name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        break
    else:
        raise OSError(errno.EEXIST, "no free file name", os.path.join(box_dir, "tmp"))
    try:
        try:
            for piece in msg.chunks if msg.chunks is not None else (msg.data,):
                view = memoryview(piece)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            if msg.date is not None:
                # CopyArrivalDate: the file's times carry the message's arrival time.
                os.utime(fd if os.utime in os.supports_fd else path, (msg.date, msg.date))
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise OSError(e.errno, e.strerror, path) from None
    return base, tmp_name


class MaildirBox(Box):
    """One opened Maildir box."""

    # Eight of its durability batches per call, so that most of them overlap.
    store_batch = 8 * _BATCH_MESSAGES

    def __init__(
        self, store: MaildirStore, name: str, path: str, uv: mu.UidMap, fsync: bool
    ) -> None:
        self.name = name
        # Absolute directory of the box (the one holding cur/ new/ tmp/).
        self.path = path
        # path + "/": file paths are made per message, os.path.join costs more than this.
        self._dir_prefix = os.path.join(path, "")
        self._store = store
        self._uv = uv
        self._fsync = fsync
        self._delim = store.info_delimiter
        self._prefix = mn.info_prefix(self._delim)
        # UID -> "cur/<name>" or "new/<name>", from the last listing plus what we did since.
        self._where: dict[int, str] = {}
        # UIDs trash_messages() moved out of the box (a later expunge skips them).
        self._trashed: set[int] = set()
        self._closed = False
        # A scan made ahead of time, for the next listing (``adopt_scan``).
        self._ahead: ms.BoxScan | None = None
        stamps, settled = self._settled_stamps()
        self.status = BoxStatus(
            uidvalidity=uv.uidvalidity,
            uidnext=uv.nuid + 1,
            change_marker=self._marker(stamps) if settled else None,
        )

    # --- helpers ----------------------------------------------------------------------

    def _error(self, message: str) -> MaildirBoxError:
        return MaildirBoxError(self._store.name, self.name, message)

    def _check_open(self) -> None:
        if self._closed:
            raise self._error("box is closed")

    def _abs(self, rel: str) -> str:
        return self._dir_prefix + rel

    def _own(self, *paths: str) -> None:
        """Paths this process is about to rename or unlink (see ``own_writes``)."""
        if self._store.own_writes is not None:
            self._store.own_writes.update(paths)

    def _stamps(self) -> Stamps:
        try:
            return ms.dir_stamps(self.path)
        except ms.ScanFailed as e:
            raise self._error(str(e)) from None

    def _settled_stamps(self) -> tuple[Stamps, bool]:
        try:
            return ms.settled_stamps(self.path)
        except ms.ScanFailed as e:
            raise self._error(str(e)) from None

    def _marker(self, stamps: Stamps) -> str:
        return ms.box_marker(self._uv.uidvalidity, self._uv.nuid, stamps)

    def adopt_scan(self, scan: ms.BoxScan) -> None:
        """A scan of this box made ahead of time (``syncmail.sync.lookahead``): the next
        listing takes it if the directories have not changed since."""
        self._ahead = scan

    def _scan(self) -> ms.BoxScan:
        """All message files, from a consistent look at cur/ and new/."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and self._stamps() == ahead.stamps:
            if not isinstance(self._uv, mf.UidValidityFile) or self._uv.delimiter != self._delim:
                ahead.uids = None  # read by a map of another kind: ask this box's own
            return ahead
        try:
            return ms.scan_box(self.path)
        except ms.ScanFailed as e:
            raise self._error(str(e)) from None

    def _keeps_its_uid_first(self, rel: str) -> tuple[int, Any, str]:
        """Sort key among files sharing a UID: the first keeps it.  mbsync refuses such a
        box; here the file that was there first keeps the UID its pair in the state
        knows, and the others (a file moved or copied in with its old name, which
        another tool left) are numbered anew.  A file that came in was renamed or made
        since, so the oldest inode change wins; names (arrival order) break ties."""
        try:
            changed = os.stat(self._abs(rel)).st_ctime_ns
        except FileNotFoundError:
            raise _Rescan from None
        except OSError:
            changed = 0
        return changed, mn.name_order(rel[4:]), rel

    def _assign(self, scan: ms.BoxScan, number_new: bool = True) -> dict[int, str]:
        """UID -> path of every file, giving new UIDs to files without one (unless not
        ``number_new``: then they are left out) and healing UIDs other tools broke
        (beyond the highest assigned, duplicates)."""
        uv = self._uv
        nuid = uv.nuid
        where: dict[int, str] = {}
        unassigned: list[str] = []
        stray: dict[str, str] = {}
        dups: dict[int, list[str]] = {}
        renumber = not uv.ok
        mine = self._where
        rels = scan.rels
        uids = scan.uids if scan.uids is not None else uv.uids(rels)
        for rel, uid in zip(rels, uids, strict=True):
            # A new UIDVALIDITY makes old UIDs meaningless, except those we gave since.
            if renumber and mine.get(uid) != rel:
                uid = 0
            if not uid:
                unassigned.append(rel)
            elif uid > nuid:
                stray[rel] = f"UID {uid} of {self._abs(rel)} is beyond highest assigned UID {nuid}"
            elif uid in where:
                dups.setdefault(uid, [where[uid]]).append(rel)
            else:
                where[uid] = rel
        for uid, group in dups.items():
            group.sort(key=self._keeps_its_uid_first)
            where[uid] = group[0]
            for rel in group[1:]:
                stray[rel] = (
                    f"duplicate UID {uid} of {self._abs(rel)} ({self._abs(group[0])} keeps it)"
                )
        if not number_new and unassigned:
            if renumber:
                return where  # still no valid UIDs; the next full listing numbers them
            unassigned = []
        todo = unassigned + list(stray)
        if not todo:
            uv.ok = True
            return where
        if renumber and unassigned:
            log.info(
                "Maildir box %s: new UIDVALIDITY, numbering %d messages in %s",
                self.name,
                len(unassigned),
                self.path,
            )
        todo.sort(key=lambda r: mn.name_order(r[4:]))
        names = self._own_keys(where, todo)
        first, finals = uv.assign(names)
        self.status.uidnext = uv.nuid + 1
        for k, rel in enumerate(todo):
            uid = first + k
            new_rel = rel[:4] + finals[k]
            if new_rel != rel:
                try:
                    self._own(self._abs(rel), self._abs(new_rel))
                    os.rename(self._abs(rel), self._abs(new_rel))
                except FileNotFoundError:
                    raise _Rescan from None
                except OSError as e:
                    raise self._error(f"cannot rename {self._abs(rel)}: {e.strerror}") from None
            where[uid] = new_rel
            # Known as ours even if a rescan follows (a fresh UIDVALIDITY renumbers the rest).
            self._where[uid] = new_rel
            reason = stray.get(rel)
            if reason:
                log.warning("Maildir box %s: %s: gave it UID %d", self.name, reason, uid)
        uv.ok = True
        return where

    def _own_keys(self, where: dict[int, str], todo: list[str]) -> list[str]:
        """The names the files ``todo`` get their UIDs under.

        A file whose UID key another file has already (AltMap: the same name up to the
        info part, e.g. a copy in both new/ and cur/) gets a fresh unique part, since one
        key holds one UID.  Natively every file is its own key.
        """
        uv = self._uv
        taken = {uv.uid_key(rel) for rel in where.values()}
        names: list[str] = []
        for rel in todo:
            name = rel[4:]
            key = uv.uid_key(rel)
            if key in taken:
                i = name.find(self._delim)
                name = self._store.new_base() + (name[i:] if i >= 0 else "")
                key = uv.uid_key(rel[:4] + name)
                log.warning(
                    "Maildir box %s: %s has the UID key of another file: renaming it to %s",
                    self.name,
                    self._abs(rel),
                    name,
                )
            taken.add(key)
            names.append(name)
        return names

    def _read_header_fields(
        self, rel: str, uid: int, want_tuid: bool, want_msgid: bool
    ) -> tuple[str | None, str | None]:
        try:
            return mf.read_header_fields(self._abs(rel), want_tuid, want_msgid)
        except FileNotFoundError:
            raise _Rescan from None
        except OSError as e:
            raise MessageError(self.name, uid, f"cannot read {e.filename}: {e.strerror}") from None

    def _describe(self, where: dict[int, str], request: ListRequest) -> Listing:
        min_uid = request.min_uid
        extra = request.extra_uids | request.message_id_uids
        msgid_uids = request.message_id_uids
        tuid_from = request.tuid_from
        want_stat = request.want_size or request.want_date
        uids = sorted(where)
        if min_uid > 1 or extra:
            uids = [uid for uid in uids if uid >= min_uid or uid in extra]
        rels = [where[uid] for uid in uids]
        flag_list = mn.parse_flags_bulk(rels, self._prefix)
        if not want_stat and tuid_from is None and not msgid_uids:
            # Flags and paths only: no object per message (see ``Listing``).
            return Listing(
                dict(zip(uids, flag_list, strict=True)), paths=dict(zip(uids, rels, strict=True))
            )
        out: dict[int, MessageInfo] = {}
        for uid, rel, flags in zip(uids, rels, flag_list, strict=True):
            info = MessageInfo(uid=uid, flags=flags, path=rel)
            if want_stat:
                try:
                    st = os.stat(self._abs(rel))
                except FileNotFoundError:
                    raise _Rescan from None
                except OSError as e:
                    raise MessageError(
                        self.name, uid, f"cannot stat {e.filename}: {e.strerror}"
                    ) from None
                if request.want_size:
                    info.size = st.st_size
                if request.want_date:
                    info.date = st.st_mtime
            want_tuid = tuid_from is not None and uid >= tuid_from
            want_msgid = uid in msgid_uids
            if want_tuid or want_msgid:
                info.tuid, info.message_id = self._read_header_fields(
                    rel, uid, want_tuid, want_msgid
                )
            out[uid] = info
        return Listing.of(out)

    def _rescan_where(self) -> None:
        """Find where every UID lives now (another program renamed files since listing)."""
        rels = self._scan().rels
        where: dict[int, str] = {}
        known = self._where
        for rel in rels:
            uid = self._uv.uid_of(rel)
            if not uid or not (self._uv.ok or uid in known):
                continue
            if uid not in where or mn.compare_names(rel[4:], where[uid][4:]) < 0:
                where[uid] = rel
        self._where = where

    def _on_file(self, uid: int, op: Callable[[str], _T], budget: list[int]) -> _T | None:
        """Run ``op`` on the file of ``uid``, following it if it was renamed; None if gone."""
        rel = self._where.get(uid)
        tried: set[str] = set()
        while True:
            if rel is not None and rel not in tried:
                tried.add(rel)
                try:
                    return op(rel)
                except FileNotFoundError:
                    pass
            if budget[0] <= 0:
                return None
            budget[0] -= 1
            self._rescan_where()
            rel = self._where.get(uid)
            if rel is None or rel in tried:
                return None

    # --- the Box contract ---------------------------------------------------------------

    def list_messages(self, request: ListRequest) -> Listing:
        """Messages as ``request`` asks; assigns UIDs to new files first.

        ``status.change_marker`` becomes the fingerprint of the box as this listing
        saw it, before any renaming it did: any change by anyone afterwards (our own
        included) gives a different marker.
        """
        self._check_open()
        for _ in range(ms.MAX_RESCANS):
            scan = self._scan()
            marker = self._marker(scan.stamps) if scan.settled else None
            try:
                where = self._assign(scan, request.number_new)
                infos = self._describe(where, request)
            except _Rescan:
                continue
            self._where = where
            self.status.change_marker = marker
            self.status.uidnext = self._uv.nuid + 1
            return infos
        raise self._error("files keep vanishing while the box is listed; try again later")

    def confirm_listing(self, before: Mapping[int, MessageInfo]) -> Listing | None:
        """All messages now, if the box holds exactly the files this object knows of
        (``before``, a listing of it, plus its own changes since); None if anyone else
        changed it (then list it again).

        Cheaper than ``list_messages``: the names are compared, and only those that
        differ from ``before`` are parsed.  Sets the change marker like a listing.
        """
        self._check_open()
        scan = self._scan()
        rels, where = scan.rels, self._where
        # The scan's names are distinct (one directory entry each), and so are the
        # known ones: equal counts and every name known means the same set.
        if len(rels) != len(where):
            return None
        known_rels = set(where.values())
        if len(known_rels) != len(rels) or not known_rels.issuperset(rels):
            return None
        before = as_listing(before)
        known_flags, known_path = before.flags, before.paths().get
        flags: dict[int, int] = {}
        # Two lists, not a list of pairs: after an initial pull every file is new to
        # ``before``, and a tuple each would be 2.5 MiB more at a pull's peak (31k files).
        changed_uids: list[int] = []
        changed_rels: list[str] = []
        for uid, rel in where.items():
            if known_path(uid) == rel:
                flags[uid] = known_flags[uid]
            else:
                changed_uids.append(uid)
                changed_rels.append(rel)
        flag_list = mn.parse_flags_bulk(changed_rels, self._prefix)
        flags.update(zip(changed_uids, flag_list, strict=True))
        out = Listing(flags, paths=dict(where))
        for uid, info in before.described().items():
            if where.get(uid) == info.path:
                out[uid] = info  # with what else was listed of it (its size, say)
        self.status.change_marker = self._marker(scan.stamps) if scan.settled else None
        self.status.uidnext = self._uv.nuid + 1
        return out

    def is_empty(self) -> bool:
        self._check_open()
        return mf.box_is_empty(self._store.name, self.name, self.path)

    def spool_dir(self) -> str | None:
        return os.path.join(self.path, "tmp")

    def fetch_messages(
        self,
        uids: Sequence[int],
        spool_dir: str | None = None,
        *,
        dates: bool = True,
        sizes: Mapping[int, int] | None = None,
    ) -> Iterator[FetchedMessage]:
        self._check_open()
        budget = [_RESCANS_PER_CALL]
        prefix = self._prefix

        def read(rel: str) -> tuple[str, bytes, float]:
            with mf.open_message(self._abs(rel)) as f:
                data = f.read()
                return rel, data, os.fstat(f.fileno()).st_mtime

        for uid in uids:
            try:
                got = self._on_file(uid, read, budget)
            except OSError as e:
                raise MessageError(
                    self.name, uid, f"cannot read {e.filename}: {e.strerror}"
                ) from None
            if got is None:
                log.debug("Maildir box %s: UID %d vanished before it was fetched", self.name, uid)
                continue
            rel, data, mtime = got
            yield FetchedMessage(uid=uid, data=data, flags=mn.parse_flags(rel, prefix), date=mtime)

    def store_messages(self, messages: Iterable[OutgoingMessage]) -> Iterator[StoredMessage]:
        """Messages are written to tmp/ in batches.  A full batch is made durable on a
        thread while the next one is written (the disk's wait overlaps the source's
        and ours); then it gets its UIDs, goes into place, and its results are yielded,
        each only once its message is durable."""
        self._check_open()
        batch: list[_Pending] = []
        size = 0
        syncing: _BatchSync | None = None
        try:
            for msg in messages:
                batch.append(self._write_tmp(msg))
                size += len(msg.data)
                if len(batch) >= _BATCH_MESSAGES or size >= _BATCH_BYTES:
                    if syncing is not None:
                        syncing.wait()
                        yield from self._place(syncing.batch)
                    syncing = _BatchSync(self, batch)
                    batch, size = [], 0
            if syncing is not None:
                syncing.wait()
                yield from self._place(syncing.batch)
                syncing = None
            if batch:
                # Nothing left to overlap with: the last batch is synced here.
                self.sync_batch(batch)
                results = self._place(batch)
                batch = []
                yield from results
        finally:
            if syncing is not None:
                syncing.join()
                batch += syncing.batch
            for pending in batch:
                if not pending.done:
                    try:
                        os.unlink(os.path.join(self.path, "tmp", pending.tmp_name))
                    except OSError:
                        pass

    def _write_tmp(self, msg: OutgoingMessage) -> _Pending:
        """Write one message to tmp/ (O_EXCL, 0600); it gets its UID when its batch commits
        (and is synced then, with its batch)."""
        flags = msg.flags & mflags.ALL
        try:
            base, tmp_name = _write_tmp(self._store, self.path, msg, flags, False)
        except OSError as e:
            raise self._error(f"cannot write {e.filename}: {e.strerror}") from None
        return _Pending(base=base, tmp_name=tmp_name, flags=flags)

    def sync_batch(self, batch: list[_Pending]) -> None:
        """Make the data of a batch's tmp/ files durable (run on a ``_BatchSync`` thread)."""
        if self._fsync:
            self._store.sync_files(self, [self._abs("tmp/" + p.tmp_name) for p in batch])

    def _place(self, batch: list[_Pending]) -> list[StoredMessage]:
        """A batch made durable: UIDs allocated, renamed, directories synced."""
        first, finals = self._uv.assign([p.tmp_name for p in batch])
        self.status.uidnext = self._uv.nuid + 1
        results: list[StoredMessage] = []
        touched: set[str] = set()
        for k, pending in enumerate(batch):
            uid = first + k
            # mbsync puts Seen messages in cur/, others in new/.
            sub = "cur" if pending.flags & mflags.SEEN else "new"
            rel = f"{sub}/{finals[k]}"
            src = self._abs("tmp/" + pending.tmp_name)
            try:
                self._own(self._abs(rel))
                os.rename(src, self._abs(rel))
            except OSError as e:
                raise self._error(
                    f"cannot rename {src} to {self._abs(rel)}: {e.strerror}"
                ) from None
            pending.done = True
            touched.add(sub)
            self._where[uid] = rel
            results.append(StoredMessage(uid=uid, path=rel))
        if self._fsync:
            for sub in sorted(touched):
                try:
                    mf.fsync_dir(os.path.join(self.path, sub))
                except OSError as e:
                    raise self._error(f"cannot sync {self.path}/{sub}: {e.strerror}") from None
        return results

    def set_flags(self, changes: Sequence[FlagChange]) -> None:
        self._check_open()
        budget = [_RESCANS_PER_CALL]
        prefix = self._prefix

        def rename(rel: str, change: FlagChange) -> str:
            name = rel[4:]
            old = mn.parse_flags(name, prefix)
            new = (old | change.add) & ~change.remove & mflags.ALL
            # Any flag change moves a message out of new/, as mbsync does.
            new_rel = "cur/" + mn.with_flags(name, new, prefix)
            if new_rel != rel:
                self._own(self._abs(rel), self._abs(new_rel))
                os.rename(self._abs(rel), self._abs(new_rel))
            return new_rel

        for change in changes:
            try:
                done = self._on_file(change.uid, functools.partial(rename, change=change), budget)
            except OSError as e:
                raise MessageError(
                    self.name, change.uid, f"cannot rename {e.filename}: {e.strerror}"
                ) from None
            if done is None:
                log.warning(
                    "Maildir box %s: UID %d vanished, its flags were not changed",
                    self.name,
                    change.uid,
                )
                self._where.pop(change.uid, None)
                continue
            self._where[change.uid] = done

    def expunge(self, uids: Sequence[int]) -> None:
        self._check_open()
        budget = [_RESCANS_PER_CALL]
        gone: list[str] = []

        def unlink(rel: str) -> bool:
            self._own(self._abs(rel))
            os.unlink(self._abs(rel))
            gone.append(rel[4:])
            return True

        try:
            for uid in uids:
                if uid in self._trashed:
                    continue  # moved away already: no rescans looking for it
                try:
                    done = self._on_file(uid, unlink, budget)
                except OSError as e:
                    raise MessageError(
                        self.name, uid, f"cannot remove {e.filename}: {e.strerror}"
                    ) from None
                if done is None:
                    log.debug("Maildir box %s: UID %d was already gone", self.name, uid)
                self._where.pop(uid, None)
        finally:
            self._uv.forget(gone)

    def trash_messages(self, uids: Sequence[int], trash_box: str) -> None:
        self._check_open()
        if not uids:
            return
        store = self._store
        # The Trash may be this very box (synced as a box of its own): then its deleted
        # messages only get new names without a UID, as mbsync's rename does.
        trash_dir = store.box_path(trash_box)
        mf.prepare_box_dir(store.name, trash_box, trash_dir, True)
        budget = [_RESCANS_PER_CALL]
        prefix = self._prefix
        touched: set[str] = set()
        moved: list[str] = []

        def move(rel: str, uid: int) -> str:
            sub, name = rel[:3], rel[4:]
            i = name.find(prefix)
            info = name[i:] if i >= 0 else ""
            # rename() would silently replace a file of the same name.
            while True:
                dest = os.path.join(trash_dir, sub, store.new_base() + info)
                if not os.path.lexists(dest):
                    break
            src = self._abs(rel)
            try:
                self._own(src, dest)
                os.rename(src, dest)
            except FileNotFoundError:
                if not os.path.lexists(src):
                    raise
                # The message is there but the trash is not: never skip it as "vanished",
                # the caller expunges it next.
                raise MessageError(
                    self.name, uid, f"cannot move {src} to {dest}: trash directory vanished"
                ) from None
            touched.add(sub)
            moved.append(name)
            return dest

        try:
            for uid in uids:
                try:
                    done = self._on_file(uid, functools.partial(move, uid=uid), budget)
                except OSError as e:
                    raise MessageError(
                        self.name, uid, f"cannot move {e.filename} to the trash: {e.strerror}"
                    ) from None
                if done is None:
                    log.debug(
                        "Maildir box %s: UID %d vanished before it was trashed", self.name, uid
                    )
                self._where.pop(uid, None)
                self._trashed.add(uid)
        finally:
            self._uv.forget(moved)
        if self._fsync:
            for sub in sorted(touched):
                for parent in (trash_dir, self.path):
                    try:
                        mf.fsync_dir(os.path.join(parent, sub))
                    except OSError as e:
                        raise self._error(f"cannot sync {parent}/{sub}: {e.strerror}") from None

    def path_of(self, uid: int) -> str | None:
        """Absolute path of the message file of ``uid`` as last seen, None if unknown."""
        rel = self._where.get(uid)
        return self._abs(rel) if rel is not None else None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._uv.close()
            self._store.forget(self)


class MaildirStore(Store):
    """A ``MaildirStore`` section: the Inbox, the boxes under Path."""

    def __init__(self, cfg: MaildirStoreConfig, *, fsync: bool = True) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.crlf = False
        self.capabilities = frozenset({"uidplus"})
        self.info_delimiter = cfg.info_delimiter or ":"
        self._fsync = fsync
        self._layout = MaildirLayout(cfg)
        self._counter = 0
        self._host: str | None = None
        self._syncfs: Callable[[int], int] | None = None
        self._syncfs_loaded = False
        self._open: list[MaildirBox] = []
        # Absolute paths this process renamed into, out of, or unlinked, for a watcher
        # that must tell its own changes from the user's (None: not recorded).
        self.own_writes: set[str] | None = None

    # --- used by MaildirBox -------------------------------------------------------------

    def new_base(self) -> str:
        """A fresh ``<time>.<pid>_<n>.<host>`` (the counter is per store: O_EXCL settles
        the rare clash with another store of this process)."""
        if self._host is None:
            import socket

            self._host = mn.host_part(socket.gethostname())
        self._counter += 1
        return mn.make_base(int(time.time()), os.getpid(), self._counter, self._host)

    def has_syncfs(self) -> bool:
        if not self._syncfs_loaded:
            self._syncfs = mf.load_syncfs()
            self._syncfs_loaded = True
        return self._syncfs is not None

    def sync_files(self, box: MaildirBox, paths: list[str]) -> None:
        """Make the data of ``paths`` durable: one syncfs(2), else fsync per file."""
        if self.has_syncfs() and self._syncfs is not None:
            fd = os.open(box.path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                err = self._syncfs(fd)
            finally:
                os.close(fd)
            if not err:
                return
            if err != errno.ENOSYS:
                raise MaildirBoxError(
                    self.name, box.name, f"cannot sync {box.path}: {os.strerror(err)}"
                )
            self._syncfs = None
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as e:
                raise MaildirBoxError(
                    self.name, box.name, f"cannot sync {path}: {e.strerror}"
                ) from None

    def forget(self, box: MaildirBox) -> None:
        if box in self._open:
            self._open.remove(box)

    # --- the Store contract -------------------------------------------------------------

    def connect(self) -> None:
        if len(self.info_delimiter) != 1 or self.info_delimiter in "/\0":
            raise StoreError(self.name, f"unusable InfoDelimiter {self.info_delimiter!r}")
        root = self._layout.root
        if root is not None and os.path.exists(root) and not os.path.isdir(root):
            raise StoreError(self.name, f"cannot open store '{root}': not a directory")
        if self.cfg.trash:
            try:
                self._layout.box_dir(self.cfg.trash)
            except BoxError as e:
                raise StoreError(self.name, f"Trash: {e.message}") from None

    def box_path(self, name: str) -> str:
        """Directory of the box ``name`` (whether it exists or not)."""
        return self._layout.box_dir(name)

    def list_boxes(self, *, inbox: bool = True) -> list[str]:
        return self._layout.list_boxes(inbox=inbox)

    def watch_roots(self) -> list[str]:
        """Directories in which boxes of this store are created (``Path``'s directory and
        ``Inbox``), for a watcher of box creations."""
        roots = [self._layout.root] if self._layout.root is not None else []
        return [os.path.abspath(r) for r in [*roots, self._layout.inbox]]

    def open_box(self, name: str, *, create: bool = False) -> MaildirBox:
        path = self._layout.box_dir(name)
        alt_map = self.cfg.alt_map
        # The INBOX is always there: it is created whenever it is missing.
        create = create or self._layout.driver_name(name) == "INBOX"
        if create or os.path.isdir(os.path.join(path, "cur")):
            # A missing database library fails the box before anything is created or
            # cleaned (a box that is missing is reported as missing, as always).
            mu.check_uid_map(self.name, name, path, alt_map)
        mf.prepare_box_dir(self.name, name, path, create)
        mf.clear_stale_tmp(self.name, name, path)
        uv = mu.open_uid_map(
            self.name, name, path, alt_map=alt_map, delimiter=self.info_delimiter, fsync=self._fsync
        )
        try:
            box = MaildirBox(self, name, path, uv, self._fsync)
        except BaseException:
            uv.close()
            raise
        self._open.append(box)
        return box

    def store_in_trash(
        self, name: str, messages: Callable[[str | None], Iterable[OutgoingMessage]]
    ) -> Iterator[None]:
        """Trash copies get no UID and the Trash box no ``.uidvalidity`` (mbsync's
        ``maildir_store_msg`` with ``to_trash``): nothing pairs them."""
        path = self._layout.box_dir(name)
        mf.prepare_box_dir(self.name, name, path, True)
        for msg in messages(os.path.join(path, "tmp")):
            flags = msg.flags & mflags.ALL
            # mbsync puts Seen messages in cur/, others in new/.
            sub = "cur" if flags & mflags.SEEN else "new"
            try:
                _base, tmp_name = _write_tmp(self, path, msg, flags, self._fsync)
                final = os.path.join(path, sub, tmp_name)
                self._record_own(final)
                os.rename(os.path.join(path, "tmp", tmp_name), final)
                if self._fsync:
                    mf.fsync_dir(os.path.join(path, sub))
            except OSError as e:
                raise MaildirBoxError(
                    self.name, name, f"cannot store into the trash: {e.filename}: {e.strerror}"
                ) from None
            yield None

    def _record_own(self, path: str) -> None:
        if self.own_writes is not None:
            self.own_writes.add(path)

    def delete_box(self, name: str) -> None:
        """Remove an empty box as mbsync does; subfolders stay."""
        path = self._layout.box_dir(name)
        try:
            os.stat(path)
        except FileNotFoundError:
            return
        except OSError as e:
            raise MaildirBoxError(
                self.name, name, f"cannot access mailbox '{path}': {e.strerror}"
            ) from None
        if not os.path.isdir(path):
            raise MaildirBoxError(self.name, name, f"'{path}' is no valid mailbox")
        if not mf.box_is_empty(self.name, name, path):
            raise MaildirBoxError(self.name, name, "not deleting: box is not empty")
        for box in list(self._open):
            if box.path == path:
                box.close()
        mf.remove_box_dir(self.name, name, path)

    def finish_delete_box(self, name: str) -> None:
        """The directory goes last, as in mbsync (``maildir_finish_delete_box``): a
        SyncState * state inside it has been removed by now.  Subfolders keep it."""
        path = self._layout.box_dir(name)
        try:
            os.rmdir(path)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                raise MaildirBoxError(
                    self.name, name, f"cannot remove '{path}': {e.strerror}"
                ) from None

    def close(self) -> None:
        for box in list(self._open):
            box.close()
