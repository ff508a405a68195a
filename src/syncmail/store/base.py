"""The Store contract: the only way the sync engine touches mail.

A ``Store`` is one configured store (an IMAP account's mailboxes, or a Maildir
tree).  ``Store.open_box`` gives a ``Box``, one opened mailbox.  Both drivers
(``store.imap``, ``store.maildir``) implement exactly these methods; the engine
never looks past them.  Box names given to and returned by a store are
*canonical*: ``/``-separated, INBOX spelled ``INBOX``; mapping to on-store names
(Flatten, MapInbox, Path, SubFolders, modified UTF-7, delimiters) is the driver's
job.

Message bodies cross this interface one message at a time, in the store's native
line endings (``Store.crlf``): the engine converts between them.

Errors: a driver raises ``StoreError`` (or a subclass) when the whole store is
unusable, ``BoxError`` when one box is, ``MessageError`` for one message.  Never a
raw ``OSError`` or imapclient exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from syncmail.record import record


@dataclass(slots=True)
class MessageInfo:
    """What a listing tells about one message."""

    uid: int
    flags: int
    size: int = 0
    # X-TUID header value, only when the listing asked for it (``ListRequest.tuid_from``).
    tuid: str | None = None
    # Message-ID header value with angle brackets, only when asked for.
    message_id: str | None = None
    # Maildir: path of the file relative to the box directory (``cur/name:2,S``).
    path: str | None = None
    # Arrival time (IMAP INTERNALDATE / Maildir mtime) as a POSIX timestamp, when asked.
    date: float | None = None
    # IMAP keywords (user flags; ``syncmail.keywords``), None where the store has none.
    keywords: frozenset[str] | None = None
    # The server's own id of the message (RFC 8474 EMAILID, or Dovecot's X-GUID; kept
    # across MOVE and COPY), only when the listing asked for it and the server has one.
    # Prefixed with its kind ("e:", "x:"): ids of two kinds are never the same message.
    object_id: str | None = None


class Listing(MutableMapping[int, MessageInfo]):
    """A box's messages by UID, as ``Box.list_messages`` reports them.

    Most messages of a big box are asked nothing but their flags (is the pair still
    in sync?), so a listing keeps those in ``flags`` (UID -> flags, the dict the hot
    loops read) and makes a ``MessageInfo`` only for a UID that is looked up: 100,000
    of them would cost 45 ms and 10 MiB a side.  Change flags through the mapping
    (``listing[uid] = info``), never in ``flags`` alone.
    """

    __slots__ = ("_infos", "_keywords", "_no_keywords", "_paths", "_sizes", "flags")

    def __init__(
        self,
        flags: dict[int, int] | None = None,
        *,
        sizes: Mapping[int, int] | None = None,
        paths: dict[int, str] | None = None,
        keywords: Mapping[int, frozenset[str]] | None = None,
        no_keywords: frozenset[str] | None = None,
    ) -> None:
        """A listing of the messages ``flags`` with, for the ``MessageInfo`` made of
        each, its size, path (Maildir) and keywords (``keywords``, else
        ``no_keywords``), where given.  ``paths`` becomes the listing's own."""
        self.flags: dict[int, int] = {} if flags is None else flags
        self._sizes = sizes
        self._paths = paths
        self._keywords = keywords
        self._no_keywords = no_keywords
        self._infos: dict[int, MessageInfo] = {}

    @classmethod
    def of(cls, infos: dict[int, MessageInfo]) -> Listing:
        """The listing of messages already described (``infos`` is taken, not copied)."""
        listing = cls({uid: info.flags for uid, info in infos.items()})
        listing._infos = infos
        return listing

    def path(self, uid: int) -> str | None:
        """The path listed for ``uid`` (None: not listed, or not a Maildir), made
        into no ``MessageInfo``."""
        if self._paths is not None:
            return self._paths.get(uid)
        info = self._infos.get(uid)
        return None if info is None else info.path

    def paths(self) -> Mapping[int, str]:
        """UID -> the path listed for it (Maildir), of every message that has one."""
        if self._paths is not None:
            return self._paths  # kept true by every change through the mapping
        return {uid: info.path for uid, info in self._infos.items() if info.path is not None}

    def size(self, uid: int) -> int:
        """The size listed for ``uid`` (0 when sizes were not listed), made into no
        ``MessageInfo``."""
        info = self._infos.get(uid)
        if info is not None:
            return info.size
        return 0 if self._sizes is None else self._sizes.get(uid, 0)

    def keywords(self, uid: int) -> frozenset[str] | None:
        """The keywords listed for ``uid`` (None where the store has none), made into no
        ``MessageInfo``."""
        info = self._infos.get(uid)
        if info is not None:
            return info.keywords
        if self._keywords is None:
            return self._no_keywords
        return self._keywords.get(uid, self._no_keywords)

    def described(self) -> Mapping[int, MessageInfo]:
        """The ``MessageInfo`` made so far (all of them for ``Listing.of``), by UID."""
        return self._infos

    def _make(self, uid: int, flags: int) -> MessageInfo:
        keywords = self._no_keywords
        if self._keywords is not None:
            keywords = self._keywords.get(uid, keywords)
        paths, sizes = self._paths, self._sizes
        info = MessageInfo(
            uid, flags, 0 if sizes is None else sizes.get(uid, 0), None, None,
            None if paths is None else paths.get(uid), None, keywords,
        )  # fmt: skip
        self._infos[uid] = info
        return info

    def __getitem__(self, uid: int) -> MessageInfo:
        info = self._infos.get(uid)
        if info is None:
            return self._make(uid, self.flags[uid])
        return info

    def get(self, uid: int, default: MessageInfo | None = None) -> MessageInfo | None:  # type: ignore[override]
        info = self._infos.get(uid)
        if info is not None:
            return info
        flags = self.flags.get(uid)
        return default if flags is None else self._make(uid, flags)

    def __setitem__(self, uid: int, info: MessageInfo) -> None:
        self.flags[uid] = info.flags
        self._infos[uid] = info
        if self._paths is not None:
            if info.path is None:
                self._paths.pop(uid, None)
            else:
                self._paths[uid] = info.path

    def __delitem__(self, uid: int) -> None:
        del self.flags[uid]
        self._infos.pop(uid, None)
        if self._paths is not None:
            self._paths.pop(uid, None)

    def __contains__(self, uid: object) -> bool:
        return uid in self.flags

    def __iter__(self) -> Iterator[int]:
        return iter(self.flags)

    def __len__(self) -> int:
        return len(self.flags)

    def __repr__(self) -> str:
        return f"Listing({dict(self.items())!r})"


def as_listing(messages: Mapping[int, MessageInfo]) -> Listing:
    """``messages`` as a ``Listing`` (itself when it is one; a plain mapping is copied)."""
    return messages if isinstance(messages, Listing) else Listing.of(dict(messages))


@record(frozen=True, slots=True)
class ListRequest:
    """What ``Box.list_messages`` must report.

    Messages with ``uid >= min_uid`` are listed (all with ``min_uid=1``), plus
    every UID in ``extra_uids`` (older paired messages that must be seen).
    ``tuid_from``: for messages with ``uid >= tuid_from`` the X-TUID header is
    read (finding copies of an interrupted run).  ``message_id_uids``: read the
    Message-ID of these (UIDVALIDITY recovery).  ``want_object_id``: the server's
    own message id, where it has one (move detection).  ``number_new``: a store that numbers
    new messages itself when listing (Maildir) does so; without it they keep waiting,
    unlisted, as in mbsync, which numbers them only when it loads new messages (their
    numbers would otherwise not be the ones mbsync gives them later).
    """

    min_uid: int = 1
    extra_uids: frozenset[int] = frozenset()
    want_size: bool = False
    want_date: bool = False
    tuid_from: int | None = None
    message_id_uids: frozenset[int] = frozenset()
    want_object_id: bool = False
    number_new: bool = True


class SpooledBody:
    """A message body kept in an unlinked temporary file instead of memory."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file = file
        self.size = size

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        """The body from its start, ``size`` bytes at a time."""
        self.file.seek(0)
        while chunk := self.file.read(size):
            yield chunk

    def head(self, size: int) -> bytes:
        """The first ``size`` bytes (or all, when shorter)."""
        self.file.seek(0)
        return self.file.read(size)

    def close(self) -> None:
        self.file.close()


@dataclass(slots=True)
class FetchedMessage:
    """One message body, in the store's native line endings.

    A body too large to hold in memory comes in ``spool`` (a file, read with
    ``spool.chunks()``), and ``data`` is then empty: read it with ``body_chunks``.
    """

    uid: int
    data: bytes
    flags: int
    date: float | None = None
    spool: SpooledBody | None = None

    def body_chunks(self) -> Iterator[bytes]:
        """The body, whole or in pieces."""
        if self.spool is not None:
            yield from self.spool.chunks()
        else:
            yield self.data

    def head(self, size: int = 1 << 20) -> bytes:
        """At least the first ``size`` bytes (where the header is)."""
        return self.spool.head(size) if self.spool is not None else self.data


@dataclass(slots=True)
class OutgoingMessage:
    """One message to store, in the *target* store's native line endings."""

    data: bytes
    flags: int
    date: float | None = None
    tuid: str | None = None
    # A large message, in pieces; ``data`` is then empty.
    chunks: Iterable[bytes] | None = None


@dataclass(slots=True)
class StoredMessage:
    """Result of storing one message: its new UID (None if the server did not say)."""

    uid: int | None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class FlagChange:
    uid: int
    add: int
    remove: int


@dataclass(frozen=True, slots=True)
class KeywordEdit:
    """Keywords to add to and remove from message ``uid`` (IMAP spelling)."""

    uid: int
    add: frozenset[str]
    remove: frozenset[str]


@record(slots=True)
class BoxChanges:
    """What changed in a box since an earlier change marker (CONDSTORE/QRESYNC).

    ``flags``: every message changed or added since, UID -> flags (``sizes``: their
    sizes, when asked).  Expunges come as ``vanished`` (UID ranges, inclusive, possibly
    naming UIDs that never existed) or, when the store cannot tell, as ``present``:
    every UID in the box now.  Exactly one of the two is set.
    """

    flags: dict[int, int]
    vanished: list[tuple[int, int]] | None = None
    present: set[int] | None = None
    sizes: dict[int, int] = field(default_factory=dict)
    # Keywords of the messages in ``flags``, for stores that hold keywords.
    keywords: dict[int, frozenset[str]] = field(default_factory=dict)


@record(slots=True)
class BoxStatus:
    uidvalidity: int
    # The UID the next stored message will get at least (Maildir: highest assigned + 1).
    uidnext: int
    # CONDSTORE HIGHESTMODSEQ or a Maildir fingerprint; None when unknown.
    change_marker: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Box(ABC):
    """An opened mailbox of a store."""

    name: str
    status: BoxStatus
    # Copies handed to one store_messages() call, the caller's unit of work: after a
    # message error that does not name its message, the rest of the call's copies go
    # one at a time.  A store that overlaps the durability of its batches with
    # writing the next ones takes more per call.
    store_batch: int = 500

    @abstractmethod
    def list_messages(self, request: ListRequest) -> Listing:
        """Messages by UID, as ``request`` asks; UIDs never repeat."""

    def list_changes(self, since: str, *, want_size: bool = False) -> BoxChanges | None:
        """Changes since ``since``, an earlier ``status.change_marker`` of this box under
        the same UIDVALIDITY, or None when the store cannot tell (list in full then).

        Optional: only stores whose marker is a CONDSTORE mod-sequence implement it.
        """
        return None

    @abstractmethod
    def fetch_messages(
        self,
        uids: Sequence[int],
        spool_dir: str | None = None,
        *,
        dates: bool = True,
        sizes: Mapping[int, int] | None = None,
    ) -> Iterator[FetchedMessage]:
        """Bodies of ``uids`` in the given order, skipping ones that vanished; their
        arrival dates (``FetchedMessage.date``) only with ``dates``.  ``sizes``: each
        UID's size as listed, when the caller has it (a store that needs the sizes
        before fetching then does not ask for them again).

        Memory stays bounded: at most a batch of bodies is held at a time, and a body too
        large to hold comes as a ``SpooledBody``, written as it arrives to an unlinked
        file in ``spool_dir`` (the target's ``spool_dir()``, so that it stays on the
        target's file system; None: the system's temporary directory).
        """

    def spool_dir(self) -> str | None:
        """Where a body being copied *into* this box may wait on disk; None: anywhere."""
        return None

    @abstractmethod
    def store_messages(self, messages: Iterable[OutgoingMessage]) -> Iterator[StoredMessage]:
        """Store messages, yielding one result per input, in order.

        Durability: when the iterator is exhausted, everything stored is on disk /
        acknowledged by the server (a driver may batch fsyncs until then, and must
        yield a result only once its message is durable).
        """

    @abstractmethod
    def set_flags(self, changes: Sequence[FlagChange]) -> None:
        """Add and remove flags; a driver groups equal changes into one command."""

    def keywords_allowed(self, keyword: str) -> bool:
        """Whether ``set_keywords`` may add ``keyword`` (a valid keyword, folded) here.

        Optional: the default is a store without keywords (Maildir holds them only
        through a plugin's ``syncmail_keyword_source``).
        """
        return False

    def set_keywords(self, changes: Sequence[KeywordEdit]) -> None:
        """Add and remove keywords; equal changes go in one command.  Only stores whose
        ``keywords_allowed`` can be true are asked."""
        raise NotImplementedError

    @abstractmethod
    def expunge(self, uids: Sequence[int]) -> None:
        """Remove these messages for good (they carry \\Deleted / T already)."""

    @abstractmethod
    def trash_messages(self, uids: Sequence[int], trash_box: str) -> None:
        """Move ``uids`` into the box ``trash_box`` (canonical name) of this same store.

        The trash box is created when it is missing.  Messages that vanished meanwhile
        are skipped.  Trash copies keep the message bytes and flags; they get fresh
        UIDs in the trash box (which no sync state knows) and no X-TUID.

        - Maildir: each file is renamed into the trash box's ``cur/`` or ``new/`` (the
          sub-directory it was in) as ``<time>.<pid>_<n>.<host><D>2,FLAGS``, its UID
          dropped; it is gone from this box when this returns.
        - IMAP: ``UID MOVE`` when the server offers MOVE (gone from this box when this
          returns); otherwise ``UID COPY`` (after ``NO [TRYCREATE]``: ``CREATE``, then
          once more), which leaves the originals in this box.

        What the caller must do afterwards, whatever the driver or the server offered:
        journal each trashed UID (``Journal.trashed(side, uid)``, so a resumed run does
        not trash it twice), then call ``expunge(uids)`` on this box.  That removes the
        originals a COPY left behind (setting ``\\Deleted`` first) and is a harmless
        no-op for messages that were moved away.  Without UIDPLUS on the server that
        expunge removes *every* ``\\Deleted`` message of the box, as mbsync's CLOSE does.

        Raises ``BoxError`` when the trash box cannot be created or the server refuses
        the command, ``MessageError`` when one message cannot be moved.
        """

    def copy_from(
        self, source: str, uids: Sequence[int], *, move: bool = False
    ) -> dict[int, int]:
        """Copy messages ``uids`` of box ``source`` (canonical name, same store) into
        this box on the store itself, without their bytes crossing the connection;
        returns source UID -> UID of the copy here.  The copies keep the bytes, the
        flags and keywords the store copies with them; no X-TUID is added.

        Optional: only stores with ``"copy"`` in ``Store.capabilities`` implement it
        (IMAP with UIDPLUS: ``UID COPY``, the new UIDs from ``COPYUID``).  The originals
        stay where they are (their deletion is the caller's, as after a trash COPY),
        except with ``move`` on a store that has ``"move"`` too (IMAP MOVE, RFC 6851):
        then they leave ``source`` in the same step, expunged; the caller must allow
        expunging there.  A UID missing from the answer vanished before it was copied.
        Raises ``BoxError`` when the store refuses.

        Crash safety is the caller's: a copy carries no X-TUID, so a caller that dies
        before journalling the new UIDs must find them again by another mark
        (``syncmail.sync.moves`` logs each copy's Message-ID first).
        """
        raise NotImplementedError

    def is_empty(self) -> bool:
        """Whether the box holds no message at all (mbsync's ``confirm_box_empty``);
        a driver that numbers messages itself must not number them for this."""
        return not self.list_messages(ListRequest())

    def close(self) -> None:  # noqa: B027 - optional for drivers
        """Release locks and the selection; the box is unusable afterwards."""


class BoxMissing(Exception):
    """Raised by ``Store.open_box`` when the box does not exist and create is False."""


class Store(ABC):
    """One configured store."""

    name: str
    # Line endings of message bodies in this store: True for IMAP, False for Maildir.
    crlf: bool
    # Whether its calls wait on a server (IMAP), not on local files (Maildir).
    remote: bool = False
    # What the store can do, as data: e.g. {"uidplus", "move", "condstore", "qresync", "idle"};
    # "copy": ``Box.copy_from`` works.
    capabilities: frozenset[str]

    @abstractmethod
    def connect(self) -> None:
        """Connect / check the store root; raise ``StoreError`` if unusable."""

    @abstractmethod
    def list_boxes(self, *, inbox: bool = True) -> list[str]:
        """Canonical names of all boxes in the store (INBOX included if it exists).

        Without ``inbox`` a store whose INBOX is made on demand (Maildir) lists it only
        where it is found below the store's root (mbsync's ``LIST_INBOX`` unset).
        """

    @abstractmethod
    def open_box(self, name: str, *, create: bool = False) -> Box:
        """Open (and with ``create`` make) a box; ``BoxMissing`` if absent."""

    def peek_status(self, name: str) -> BoxStatus | None:
        """The status box ``name`` had when the boxes were last listed, if the listing
        gave it (IMAP LIST-STATUS), without opening the box; None when unknown.  Its
        ``change_marker`` equals the one an open box would have at that moment.  Given
        once: a second call answers None."""
        return None

    def forget_statuses(self) -> None:
        """Drop what ``peek_status`` would give: a store kept open from run to run
        (``syncmail watch``) must not answer a new run with an old listing."""
        return None

    def store_in_trash(
        self, name: str, messages: Callable[[str | None], Iterable[OutgoingMessage]]
    ) -> Iterator[None]:
        """Copy messages into this store's Trash box ``name`` (made when missing),
        yielding once per message when it is durable (TrashRemoteNew).  ``messages``
        is called with the directory where a large body may wait (see ``spool_dir``).

        Trash copies are never paired, so their UIDs do not matter: the default stores
        them as into any box; Maildir does not number them (as mbsync does not).
        """
        box = self.open_box(name, create=True)
        try:
            for _stored in box.store_messages(messages(box.spool_dir())):
                yield None
        finally:
            box.close()

    @abstractmethod
    def delete_box(self, name: str) -> None:
        """Remove an empty box (Remove option)."""

    def finish_delete_box(self, name: str) -> None:  # noqa: B027 - optional for drivers
        """After ``delete_box`` and the removal of the box pair's sync state: what the
        state kept from going (Maildir: the box directory, when the state lives in it)."""

    def close(self) -> None:  # noqa: B027 - optional for drivers
        """Log out / release everything."""
