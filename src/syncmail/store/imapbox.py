"""An opened IMAP mailbox (``IMAPBox``): SELECT, listing, bodies, flags, keywords,
appends, copies and expunges of one box of an ``IMAPStore``."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from syncmail import flags
from syncmail.errors import MessageError
from syncmail.keywords import NO_KEYWORDS, fold, keywords_of
from syncmail.store.base import (
    Box,
    BoxChanges,
    BoxStatus,
    FetchedMessage,
    FlagChange,
    KeywordEdit,
    Listing,
    ListRequest,
    MessageInfo,
    OutgoingMessage,
    SpooledBody,
    StoredMessage,
)
from syncmail.store.imap import _MAX_UID, IMAPBoxError, _quote, _str, check_box_name
from syncmail.store.imapreader import describe_size
from syncmail.store.imapwire import (
    CommandFailed,
    FetchItem,
    Session,
    body_item,
    internaldate_timestamp,
    parse_appenduid,
    uid_set_chunks,
)

if TYPE_CHECKING:
    from syncmail.store.imap import IMAPStore

log = logging.getLogger(__name__)

__all__ = ["IMAPBox"]

# Messages per FETCH batch of bodies; its bytes are at most half the store's BufferLimit
# (with one batch fetched ahead, two are in flight).
FETCH_BATCH = 200
# Messages per MULTIAPPEND command; its bytes are at most the store's BufferLimit.
STORE_BATCH = 200


class IMAPBox(Box):
    """A selected IMAP mailbox; re-selected on use when another box took the connection."""

    def __init__(self, store: IMAPStore, name: str) -> None:
        self.store = store
        self.name = name
        self.wire_name = store._wire_name(name)
        self.status = BoxStatus(uidvalidity=0, uidnext=1)
        self.permanent_flags: frozenset[str] = frozenset()
        self.closed = False

    # --- selection ---

    def select(self) -> None:
        session = self.store.session
        client = session.client
        # Through imaplib directly: select_folder would log a decoding warning for
        # Dovecot's UTF-8 "[NONEXISTENT]" texts.
        client._imap.untagged_responses = {}
        self.store._selected = None
        session.box = self.name
        try:
            session.simple("SELECT", _quote(self.wire_name))
        except CommandFailed:
            client._imap.state = "AUTH"  # a failed SELECT leaves nothing selected
            raise
        client._imap.state = "SELECTED"
        with session.guard("SELECT"):
            info = client._process_select_response(client._imap.untagged_responses)
        self.store._selected = self
        uidvalidity = info.get(b"UIDVALIDITY")
        if not isinstance(uidvalidity, int):
            raise self._error("the server sent no UIDVALIDITY")
        if not 0 < uidvalidity <= _MAX_UID:
            raise self._error(f"the server sent an invalid UIDVALIDITY {uidvalidity}")
        uidnext = info.get(b"UIDNEXT")
        if not isinstance(uidnext, int):
            uidnext = self._probe_uidnext(int(info.get(b"EXISTS", 0) or 0))
        marker = info.get(b"HIGHESTMODSEQ")
        self.status = BoxStatus(
            uidvalidity=uidvalidity,
            uidnext=uidnext,
            change_marker=str(marker) if self.store.condstore and marker is not None else None,
        )
        self.permanent_flags = frozenset(
            _str(f).lower() for f in info.get(b"PERMANENTFLAGS", ()) or ()
        )

    def _probe_uidnext(self, exists: int) -> int:
        if not exists:
            return 1
        items = self.store.session.uid_fetch("*", "UID")
        return max((int(i[b"UID"]) for i in items), default=0) + 1

    def _use(self) -> Session:
        if self.closed:
            raise self._error("box is closed")
        if self.store._selected is not self:
            try:
                self.select()
            except CommandFailed as exc:
                raise self._error(f"cannot select: {exc.text}") from None
        return self.store.session

    def _error(self, message: str) -> IMAPBoxError:
        return IMAPBoxError(self.store.name, self.name, message)

    def close(self) -> None:
        self.closed = True
        if self.store._selected is self:
            self.store._selected = None

    # --- listing ---

    def list_changes(self, since: str, *, want_size: bool = False) -> BoxChanges | None:
        """``CHANGEDSINCE`` flags, with QRESYNC's VANISHED or else ``UID SEARCH ALL``."""
        if not self.store.condstore or not since.isdigit():
            return None
        session = self._use()
        items = "UID FLAGS RFC822.SIZE" if want_size else "UID FLAGS"
        try:
            # The search first: a message added between the two is then a changed one.
            present = None if self.store.qresync else session.uid_search_all()
            got, vanished = session.fetch_changed(items, int(since), vanished=self.store.qresync)
        except CommandFailed as exc:
            log.debug("store %s, box %s: no change listing: %s", self.store.name, self.name, exc)
            return None
        changes = BoxChanges(
            flags={}, vanished=vanished if self.store.qresync else None, present=present
        )
        for item in got:
            uid = int(item[b"UID"])
            changes.flags[uid] = flags.from_imap(item.get(b"FLAGS", ()))
            changes.keywords[uid] = keywords_of(item.get(b"FLAGS", ()))
            if want_size:
                changes.sizes[uid] = int(item.get(b"RFC822.SIZE", 0) or 0)
        if changes.flags:
            self.status.uidnext = max(self.status.uidnext, max(changes.flags) + 1)
        return changes

    def list_messages(self, request: ListRequest) -> Listing:
        session = self._use()
        items = "UID FLAGS"
        if request.want_size:
            items += " RFC822.SIZE"
        if request.want_date:
            items += " INTERNALDATE"
        id_item = self._id_item(request)
        try:
            out = self._list(session, request, f"{items}{id_item}")
        except CommandFailed as exc:
            if id_item != " X-GUID" or self.store.x_guid is not None or exc.command != "UID FETCH":
                raise self._error(f"listing failed: {exc.text}") from None
            # The probe's answer (a BAD or NO to the item): no X-GUID on this server.
            # A refusal for another reason comes back when listing again without it.
            log.debug("store %s: no X-GUID (%s)", self.store.name, exc.text)
            self.store.x_guid = False
            return self.list_messages(request)
        if id_item == " X-GUID" and self.store.x_guid is None and out:
            # A server that ignores the item: no use asking again.
            self.store.x_guid = any(info.object_id for info in out.values())
        if out:
            self.status.uidnext = max(self.status.uidnext, max(out) + 1)
        return out

    def _id_item(self, request: ListRequest) -> str:
        """The FETCH item of the server's own message id: RFC 8474 EMAILID where it
        offers OBJECTID, else Dovecot's X-GUID unless known to be missing."""
        if not request.want_object_id:
            return ""
        if "objectid" in self.store.capabilities:
            return " EMAILID"
        return "" if self.store.x_guid is False else " X-GUID"

    def _list(self, session: Session, request: ListRequest, items: str) -> Listing:
        # Flags (keywords) and sizes only, the usual request: no object per message.
        plain = items in ("UID FLAGS", "UID FLAGS RFC822.SIZE")
        plain = plain and request.tuid_from is None and not request.message_id_uids
        flag_of: dict[int, int] = {}
        sizes: dict[int, int] | None = {} if plain and request.want_size else None
        keywords: dict[int, frozenset[str]] = {}
        out: dict[int, MessageInfo] = {}
        # UIDs are 32 bit: a larger min_uid (the engine's NOTHING) asks for no range,
        # and the server would reject it as an invalid set.
        ranged = request.min_uid <= _MAX_UID
        seqs: dict[int, int] = {}

        def take(uid: int, item: FetchItem) -> None:
            self._check_unique(seqs, uid, item)
            if plain:
                names = item.get(b"FLAGS", ())
                flag_of[uid] = flags.from_imap(names)
                if (found := keywords_of(names)) is not NO_KEYWORDS:
                    keywords[uid] = found
                if sizes is not None:
                    sizes[uid] = int(item.get(b"RFC822.SIZE", 0) or 0)
            else:
                out[uid] = _info(uid, item)

        listing = session.uid_fetch_listing(f"{max(request.min_uid, 1)}:*", items)
        for item in listing if ranged else ():
            uid = int(item[b"UID"])
            if uid >= request.min_uid:
                take(uid, item)
        extra = [u for u in request.extra_uids if u < request.min_uid and u > 0]
        for item in session.fetch_uids(extra, items):
            uid = int(item[b"UID"])
            if uid in request.extra_uids:
                take(uid, item)
        if plain:
            return Listing(flag_of, sizes=sizes, keywords=keywords, no_keywords=NO_KEYWORDS)
        if request.tuid_from is not None:
            tuid_from = max(request.tuid_from, 1)
            wanted = [u for u in out if u >= tuid_from]
            for item in session.fetch_uids(wanted, "UID BODY.PEEK[HEADER.FIELDS (X-TUID)]"):
                info = out.get(int(item[b"UID"]))
                if info is not None:
                    info.tuid = _header(body_item(item, b"HEADER.FIELDS"), b"x-tuid")
        ids = [u for u in request.message_id_uids if u in out]
        for item in session.fetch_uids(ids, "UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"):
            info = out.get(int(item[b"UID"]))
            if info is not None:
                info.message_id = _header(body_item(item, b"HEADER.FIELDS"), b"message-id")
        return Listing.of(out)

    def _check_unique(self, seqs: dict[int, int], uid: int, item: FetchItem) -> None:
        """Two messages (two sequence numbers) claiming one UID: neither can be trusted."""
        seq = item.get(b"SEQ")
        if not isinstance(seq, int):
            return
        other = seqs.setdefault(uid, seq)
        if other != seq:
            raise self._error(
                f"the server gives UID {uid} to two messages (sequence numbers {other} and "
                f"{seq}); nothing of this box was changed"
            )

    # --- bodies ---

    def fetch_messages(
        self,
        uids: Sequence[int],
        spool_dir: str | None = None,
        *,
        dates: bool = True,
        sizes: Mapping[int, int] | None = None,
    ) -> Iterator[FetchedMessage]:
        """Bodies in batches, the next one asked for while this one is stored; one over
        MessageSizeLimit is refused before it is read (a MessageError naming it, after
        the ones before it).  The sizes, for the batches and the limit, are the listed
        ones when given, else asked for."""
        session = self._use()
        if not uids:
            return
        if sizes is None or not all(sizes.get(uid, 0) > 0 for uid in uids):
            sizes = self._sizes(session, uids)
        limit = self.store.message_size_limit
        batches, refused = _batches(uids, sizes, limit, self.store.buffer_limit // 2)
        # INTERNALDATE only for CopyArrivalDate, as mbsync asks for it.
        items = "UID FLAGS INTERNALDATE BODY.PEEK[]" if dates else "UID FLAGS BODY.PEEK[]"
        # A batch is at most FETCH_BATCH UIDs: its set is always one command line.
        answers = session.fetch_ahead(batches, items, limit, spool_dir)
        for batch in batches:
            try:
                got = next(answers)
            except CommandFailed as exc:
                raise self._error(f"fetch failed: {exc.text}") from None
            yield from self._batch_messages(batch, got)
        if refused is not None:
            raise MessageError(self.name, refused[0], self._too_big(refused[1], limit))

    def _sizes(self, session: Session, uids: Sequence[int]) -> dict[int, int]:
        """``RFC822.SIZE`` of ``uids``, those still there."""
        try:
            return {
                int(i[b"UID"]): int(i.get(b"RFC822.SIZE", 0) or 0)
                for i in session.fetch_uids(uids, "UID RFC822.SIZE")
            }
        except CommandFailed as exc:
            raise self._error(f"fetch failed: {exc.text}") from None

    def _too_big(self, size: int, limit: int) -> str:
        return (
            f"the message is {describe_size(size)}, over the limit of {describe_size(limit)} "
            f"(MessageSizeLimit of IMAPAccount {self.store.account.name}); not fetched"
        )

    def _batch_messages(
        self, batch: list[int], got: dict[int, FetchItem]
    ) -> Iterator[FetchedMessage]:
        for uid in batch:
            item = got.pop(uid, None)
            if item is None:
                continue
            data = body_item(item)
            if data is None:
                continue
            yield FetchedMessage(
                uid=uid,
                data=b"" if isinstance(data, SpooledBody) else data,
                flags=flags.from_imap(item.get(b"FLAGS", ())),
                date=internaldate_timestamp(item.get(b"INTERNALDATE")),
                spool=data if isinstance(data, SpooledBody) else None,
            )
        for uid, item in got.items():
            # Bodies the server sent unasked: dropped (and their files with them).
            log.warning(
                "Warning: store %s, box %s: the server sent UID %d, which was not asked "
                "for; ignored", self.store.name, self.name, uid,
            )  # fmt: skip
            extra = body_item(item)
            if isinstance(extra, SpooledBody):
                extra.close()

    # --- writing ---

    def _imap_flags(self, value: int) -> list[str]:
        names = flags.to_imap(value)
        if value & flags.PASSED and not (
            "$forwarded" in self.permanent_flags or "\\*" in self.permanent_flags
        ):
            names.remove(flags.IMAP_NAMES[flags.PASSED])
        return names

    def store_messages(self, messages: Iterable[OutgoingMessage]) -> Iterator[StoredMessage]:
        # Dovecot commits (and fsyncs) once per APPEND command, so MULTIAPPEND batches are
        # an order of magnitude faster than one APPEND per message.
        multi = "MULTIAPPEND" in self.store.server_caps
        batch: list[OutgoingMessage] = []
        size = 0
        for msg in messages:
            if msg.chunks is not None:
                # IMAP -> IMAP: a large message goes out as one literal, held here.
                msg.data, msg.chunks = b"".join(msg.chunks), None
            if batch and (
                not multi
                or len(batch) >= STORE_BATCH
                or size + len(msg.data) > self.store.buffer_limit
            ):
                yield from self._append(batch)
                batch, size = [], 0
            batch.append(msg)
            size += len(msg.data)
        if batch:
            yield from self._append(batch)

    def _append(self, batch: list[OutgoingMessage]) -> Iterator[StoredMessage]:
        session = self._use()
        try:
            text = session.multiappend(
                self.wire_name, [(m.data, self._imap_flags(m.flags), m.date) for m in batch]
            )
        except CommandFailed as exc:
            raise self._error(f"APPEND failed: {exc.text}") from None
        parsed = parse_appenduid(text) if "uidplus" in self.store.capabilities else None
        uids: list[int | None] = [None] * len(batch)
        if parsed is not None and parsed[0] == self.status.uidvalidity:
            if len(parsed[1]) == len(batch):
                uids = list(parsed[1])
                self.status.uidnext = max(self.status.uidnext, max(parsed[1]) + 1)
        for uid in uids:
            yield StoredMessage(uid)

    def set_flags(self, changes: Sequence[FlagChange]) -> None:
        stores = _grouped_stores(changes, self._imap_flags)
        try:
            self._use().uid_stores(stores)
        except CommandFailed as exc:
            raise self._error(f"STORE failed: {exc.text}") from None

    def keywords_allowed(self, keyword: str) -> bool:
        # Without \\* only the keywords PERMANENTFLAGS names may be stored (RFC 3501).
        if "\\*" in self.permanent_flags or fold(keyword) in self.permanent_flags:
            return True
        if not self.store.keyword_warned:
            self.store.keyword_warned = True
            log.warning(
                "Warning: store %s: the server allows no new keywords (no \\* in "
                "PERMANENTFLAGS of %s); keywords are only pulled from it.",
                self.store.name,
                self.name,
            )
        return False

    def set_keywords(self, changes: Sequence[KeywordEdit]) -> None:
        stores = _grouped_stores(changes, sorted)
        try:
            self._use().uid_stores(stores)
        except CommandFailed as exc:
            raise self._error(f"STORE of keywords failed: {exc.text}") from None

    def expunge(self, uids: Sequence[int]) -> None:
        if not uids:
            return
        session = self._use()
        try:
            session.uid_store(uids, "+FLAGS.SILENT", ["\\Deleted"])
            if "uidplus" in self.store.capabilities:
                session.uid_expunge(uids)
            else:
                # Without UIDPLUS every \Deleted message goes, as with mbsync's CLOSE.
                session.simple("EXPUNGE")
                session.drop_expunge_responses()
        except CommandFailed as exc:
            raise self._error(f"EXPUNGE failed: {exc.text}") from None

    def copy_from(
        self, source: str, uids: Sequence[int], *, move: bool = False
    ) -> dict[int, int]:
        if "uidplus" not in self.store.capabilities:
            raise NotImplementedError("copy_from needs UIDPLUS (COPYUID)")
        from syncmail.store.imapwire import parse_copyuid

        move = move and "move" in self.store.capabilities
        command = "UID MOVE" if move else "UID COPY"
        box = self.store.open_box(source)
        assert isinstance(box, IMAPBox)
        try:
            session = box._use()
            target = _quote(self.wire_name)
            done: dict[int, int] = {}
            for chunk in uid_set_chunks(uids):
                try:
                    text = session.uid_copy(chunk, target, move=move)
                except CommandFailed as exc:
                    raise self._error(f"{command} from {source} failed: {exc.text}") from None
                answer = parse_copyuid(text)
                if answer is None or answer[0] != self.status.uidvalidity:
                    # Copies were (maybe) made that nothing names: the caller's intent
                    # log finds them in the next run; guessing now could double them.
                    raise self._error(f"{command} from {source} named no new UIDs")
                done.update(zip(answer[1], answer[2], strict=False))
            return done
        finally:
            box.close()

    def trash_messages(self, uids: Sequence[int], trash_box: str) -> None:
        if not uids:
            return
        why = check_box_name(trash_box)
        if why is not None:
            raise self._error(f"unusable Trash {trash_box!r} ({why})")
        if self.store._wire_name(trash_box) == self.wire_name:
            # A COPY into itself followed by the caller's expunge would only renumber.
            raise self._error(f"the Trash box {trash_box} is this box itself")
        session = self._use()
        # MOVE takes the messages out of this box at once; COPY leaves them to the
        # caller's expunge (mbsync's order: trash first, expunge after).
        command = "MOVE" if "move" in self.store.capabilities else "COPY"
        target = _quote(self.store._wire_name(trash_box))
        created = False
        for chunk in uid_set_chunks(uids):
            while True:
                try:
                    session.uid_command(command, chunk, target)
                    break
                except CommandFailed as exc:
                    if created or "[TRYCREATE]" not in exc.text.upper():
                        raise self._error(
                            f"UID {command} to {trash_box} failed: {exc.text}"
                        ) from None
                log.info("store %s: creating Trash box %s", self.store.name, trash_box)
                self.store.create_box(trash_box)
                created = True
        if command == "MOVE":
            session.drop_expunge_responses()


# --- helpers ----------------------------------------------------------------------------


def _batches(
    uids: Sequence[int], sizes: Mapping[int, int], limit: int, budget_bytes: int
) -> tuple[list[list[int]], tuple[int, int] | None]:
    """``uids`` still there (in ``sizes``) in FETCH batches of at most FETCH_BATCH
    messages and ``budget_bytes`` (a larger message goes alone), up to the first one
    over ``limit``: that one's UID and size come back apart (it is refused after the
    messages before it)."""
    batches: list[list[int]] = []
    batch: list[int] = []
    budget = 0
    for uid in uids:
        if uid not in sizes:
            continue  # vanished
        size = sizes[uid]
        if size > limit:
            return [*batches, batch] if batch else batches, (uid, size)
        if batch and (len(batch) >= FETCH_BATCH or budget + size > budget_bytes):
            batches.append(batch)
            batch, budget = [], 0
        batch.append(uid)
        budget += size
    return [*batches, batch] if batch else batches, None


def _grouped_stores(
    changes: Iterable[FlagChange | KeywordEdit], names: Callable[[Any], list[str]]
) -> list[tuple[list[int], str, list[str]]]:
    """The ``UID STORE``s for ``changes`` (flag bits or keyword sets, which ``names``
    spells): one per distinct set added, one per distinct set removed, each for all the
    UIDs sharing it."""
    groups: dict[tuple[Any, Any], list[int]] = {}
    for change in changes:
        if change.add or change.remove:
            groups.setdefault((change.add, change.remove), []).append(change.uid)
    stores: list[tuple[list[int], str, list[str]]] = []
    for (add, remove), uids in groups.items():
        if add and (added := names(add)):
            stores.append((uids, "+FLAGS.SILENT", added))
        if remove and (removed := names(remove)):
            stores.append((uids, "-FLAGS.SILENT", removed))
    return stores


def _info(uid: int, item: FetchItem) -> MessageInfo:
    return MessageInfo(
        uid=uid,
        flags=flags.from_imap(item.get(b"FLAGS", ())),
        size=int(item.get(b"RFC822.SIZE", 0) or 0),
        date=internaldate_timestamp(item.get(b"INTERNALDATE")),
        keywords=keywords_of(item.get(b"FLAGS", ())),
        object_id=_object_id(item),
    )


def _object_id(item: FetchItem) -> str | None:
    """The server's own id of the message, its kind as a prefix (ids of two kinds are
    never compared): ``e:`` RFC 8474's ``EMAILID (M6d99ac3275bb4e)``, ``x:`` Dovecot's
    ``X-GUID`` (its Maildir base name or mdbox GUID, an astring).  Anything else is no
    id (move detection then goes by Message-ID)."""
    value = item.get(b"EMAILID")
    if isinstance(value, tuple) and len(value) == 1:
        text = _atom(value[0])
        if text is not None and _OBJECTID.fullmatch(text):
            return "e:" + text
    text = _atom(item.get(b"X-GUID"))
    if text is not None and _X_GUID.fullmatch(text):
        return "x:" + text
    return None


def _atom(value: object) -> str | None:
    if isinstance(value, int):
        return str(value)  # the parser reads an all-digit atom as a number
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return value if isinstance(value, str) else None


# RFC 8474: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
_OBJECTID = re.compile(r"[A-Za-z0-9_-]{1,255}")
# X-GUID: printable ASCII, no space (a Maildir base name has dots, commas, "=").
_X_GUID = re.compile(r"[!-~]{1,255}")


_FOLD = re.compile(rb"\r?\n[ \t]+")


def _header(block: bytes | SpooledBody | None, name: bytes) -> str | None:
    """Value of header ``name`` (lower-case) in a HEADER.FIELDS block, unfolded."""
    if not block or isinstance(block, SpooledBody):
        return None
    for line in _FOLD.sub(b" ", block).splitlines():
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            text = value.strip().decode("utf-8", "replace")
            return text or None
    return None
