"""Thin session layer over imapclient: UID sets, chunked raw commands, response codes, errors.

Everything here speaks imapclient/imaplib on one side and syncmail's error tree on the other;
``store.imap`` builds the Store contract on top of it.
"""

from __future__ import annotations

import imaplib
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from syncmail.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    ProtocolError,
    ServerTimeout,
    StoreError,
)
from syncmail.store.base import SpooledBody
from syncmail.store.imapreader import (
    BoundedReader,
    Limits,
    ProtocolViolation,
    install,
)

if TYPE_CHECKING:
    from imapclient import IMAPClient  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

# Dovecot refuses command lines over 64 KiB ("Too long argument"); stay well under it.
MAX_SET_LEN = 16_000
# UID STOREs sent before their answers are read: their answers are short, so a window
# this size never fills a socket buffer (which would stall both ends).
STORE_WINDOW = 32
# The most of a server's text quoted in an error message.
MAX_QUOTE = 200

FetchItem = dict[bytes, Any]
T = TypeVar("T")


class CommandFailed(Exception):
    """The server answered NO or BAD; ``text`` is its (secret-free) response text."""

    def __init__(self, command: str, text: str) -> None:
        self.command = command
        self.text = shorten(text)
        super().__init__(f"{command} failed: {text}")


# --- UID sets ------------------------------------------------------------------------------


def compress_uids(uids: Iterable[int]) -> str:
    """IMAP sequence-set for ``uids`` with runs collapsed: ``[1, 2, 3, 7] -> "1:3,7"``."""
    return ",".join(_ranges(sorted(set(uids))))


def _ranges(ordered: Sequence[int]) -> Iterator[str]:
    i = 0
    n = len(ordered)
    while i < n:
        start = ordered[i]
        j = i
        while j + 1 < n and ordered[j + 1] == ordered[j] + 1:
            j += 1
        yield str(start) if j == i else f"{start}:{ordered[j]}"
        i = j + 1


def uid_set_chunks(uids: Iterable[int], max_len: int = MAX_SET_LEN) -> Iterator[str]:
    """Compressed UID sets covering ``uids`` in ascending order, each at most ``max_len`` long."""
    parts: list[str] = []
    length = 0
    for part in _ranges(sorted(set(uids))):
        if parts and length + 1 + len(part) > max_len:
            yield ",".join(parts)
            parts = []
            length = 0
        length += len(part) + (1 if parts else 0)
        parts.append(part)
    if parts:
        yield ",".join(parts)


# The most UIDs an explicit set from the server may name (an APPENDUID or COPYUID answers
# one batch): "1:4294967295" must not become a list of four billion numbers.
MAX_EXPANDED_UIDS = 100_000


def expand_uid_set(text: str, limit: int = MAX_EXPANDED_UIDS) -> list[int]:
    """UIDs of an explicit set such as ``"4:6,9"`` in the order written (``*`` not allowed).

    Raises ValueError for anything else: an empty or non-numeric part, a UID outside
    1..2^32-1, or more than ``limit`` UIDs.
    """
    out: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.partition(":")
        a = _uid(lo)
        b = _uid(hi) if sep else a
        if len(out) + abs(b - a) + 1 > limit:
            raise ValueError(f"UID set names more than {limit} UIDs")
        step = 1 if b >= a else -1
        out.extend(range(a, b + step, step))
    return out


def _uid(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        raise ValueError(f"invalid UID {text[:20]!r}")
    value = int(text)
    if not 1 <= value <= 0xFFFFFFFF:
        raise ValueError(f"invalid UID {value}")
    return value


def parse_vanished(data: Iterable[Any]) -> list[tuple[int, int]]:
    """UID ranges of untagged ``VANISHED`` data (``b"(EARLIER) 4:6,9"`` or ``b"9"``).

    Kept as ranges: a server may name far more UIDs than ever existed (RFC 7162 3.2.10).
    Raises ValueError on anything else.
    """
    out: list[tuple[int, int]] = []
    for element in data:
        if element is None:
            continue
        text = element.decode("ascii") if isinstance(element, bytes) else str(element)
        text = text.strip()
        if text[:1] == "(":
            tag, sep, text = text.partition(")")
            if not sep or tag[1:].strip().upper() != "EARLIER":
                raise ValueError(f"unexpected VANISHED data {text!r}")
            text = text.strip()
        for part in text.split(","):
            lo, sep, hi = part.partition(":")
            a = int(lo)
            b = int(hi) if sep else a
            out.append((min(a, b), max(a, b)))
    return out


# --- response codes ------------------------------------------------------------------------

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", re.IGNORECASE)
_COPYUID = re.compile(rb"\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", re.IGNORECASE)


def _as_bytes(text: bytes | str) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", "replace")


def parse_appenduid(text: bytes | str) -> tuple[int, list[int]] | None:
    """``(uidvalidity, uids)`` from an ``[APPENDUID v set]`` response code, else None."""
    m = _APPENDUID.search(_as_bytes(text))
    if not m:
        return None
    try:
        return _uid(m.group(1).decode()), expand_uid_set(m.group(2).decode("ascii"))
    except ValueError:
        return None  # a broken code is no code: the copies are found by their TUID


def parse_copyuid(text: bytes | str) -> tuple[int, list[int], list[int]] | None:
    """``(uidvalidity, source_uids, dest_uids)`` from ``[COPYUID v src dst]``, else None."""
    m = _COPYUID.search(_as_bytes(text))
    if not m:
        return None
    try:
        uidvalidity = _uid(m.group(1).decode())
        src = expand_uid_set(m.group(2).decode("ascii"))
        dst = expand_uid_set(m.group(3).decode("ascii"))
    except ValueError:
        return None
    if len(src) != len(dst):
        return None
    return uidvalidity, src, dst


# --- FETCH parsing -------------------------------------------------------------------------

# A literal-free FETCH line made only of atoms, numbers and flag lists: the common case
# (UID FLAGS RFC822.SIZE MODSEQ, and Dovecot's X-GUID atom for DetectMoves) is parsed
# here, far faster than the generic parser.
_X_GUID_ATOM = rb"X-GUID [^\s()\"{}%*\\\]]+"
_SIMPLE_FETCH = re.compile(
    rb"(\d+) \(((?:(?:[A-Z0-9.]+ (?:\([^()\"{]*\)|\d+)|" + _X_GUID_ATOM + rb") ?)*)\)",
    re.IGNORECASE,
)
_SIMPLE_ITEM = re.compile(rb"([A-Z0-9.]+|X-GUID) (\(([^()]*)\)|[^\s()]+)", re.IGNORECASE)


def parse_fetch(data: Sequence[Any]) -> list[FetchItem]:
    """Per-message dicts of imaplib's FETCH data, in order; keys are upper-case bytes.

    Values: ``UID``/``RFC822.SIZE``/``SEQ`` int, ``FLAGS`` tuple of bytes, ``INTERNALDATE``
    aware datetime, ``BODY[...]`` bytes.  A server answer that parses but breaks these
    types (``FLAGS NIL``, ``UID (5)``, ``RFC822.SIZE x``) raises ValueError, which the
    session turns into an "unparsable response" of the command.
    """
    items = _parse_fetch(data)
    try:
        for item in items:
            _check_item(item)
    except ValueError:
        for item in items:
            for value in item.values():
                if isinstance(value, SpooledBody):
                    value.close()
        raise
    return items


_UID_MAX = 0xFFFFFFFF


def _check_item(item: FetchItem) -> None:
    """ValueError unless ``item``'s values have the types ``parse_fetch`` promises."""
    for key, value in item.items():
        if key in (b"UID", b"RFC822.SIZE", b"SEQ"):
            # A UID of 0 would read as "no message" in the sync state.
            ok = isinstance(value, int) and value >= 0 and (
                key != b"UID" or 1 <= value <= _UID_MAX
            )
            if not ok:
                raise ValueError(f"FETCH {key.decode()} is not a valid number: {value!r:.80}")
        elif key == b"FLAGS":
            if not isinstance(value, tuple) or not all(
                isinstance(f, (bytes, str, int)) for f in value
            ):
                raise ValueError(f"FETCH FLAGS is not a list of flags: {value!r:.80}")
        elif key == b"INTERNALDATE":
            if not isinstance(value, datetime):
                raise ValueError(f"FETCH INTERNALDATE is not a date: {value!r:.80}")
        elif isinstance(key, bytes) and key.startswith(b"BODY["):
            if value is not None and not isinstance(value, (bytes, SpooledBody)):
                raise ValueError(f"FETCH {key.decode('ascii', 'replace')} is not a string")


# A message body as the one literal of a FETCH response, after simple items only
# (``* 1 FETCH (UID 5 FLAGS (\\Seen) BODY[] {1234}`` + literal + ``)``): the shape of
# every body a pull fetches, parsed here instead of by the generic parser.
_BODY_FETCH = re.compile(
    rb"(\d+) \(((?:[A-Z0-9.]+ (?:\([^()\"{]*\)|\d+) )*)BODY\[\] \{(\d+)\}", re.IGNORECASE
)


def _simple_items(seq: bytes, items: bytes) -> FetchItem:
    item: FetchItem = {b"SEQ": int(seq)}
    for im in _SIMPLE_ITEM.finditer(items):
        key = im.group(1).upper()
        value = im.group(2)
        if im.group(3) is not None:
            item[key] = tuple(im.group(3).split())
        elif value.isdigit():
            item[key] = int(value)
        else:  # an atom (X-GUID), as the generic parser gives it
            item[key] = None if value.upper() == b"NIL" else value
    return item


def _body_item(element: Any, after: Any) -> FetchItem | None:
    """The item of a body literal ``element`` (imaplib's (head, literal) tuple) closed by
    ``after``, when it has the simple shape; None sends it to the generic parser."""
    if after != b")" or not isinstance(element, tuple) or len(element) != 2:
        return None
    head, body = element
    m = _BODY_FETCH.fullmatch(head) if isinstance(head, bytes) else None
    if m is None:
        return None
    size = int(m.group(3))
    if not (isinstance(body, SpooledBody) or (isinstance(body, bytes) and len(body) == size)):
        return None
    item = _simple_items(m.group(1), m.group(2))
    item[b"BODY[]"] = body
    return item


def _parse_fetch(data: Sequence[Any]) -> list[FetchItem]:
    return list(_iter_parse_fetch(data))


def iter_fetch(data: Sequence[Any]) -> Iterator[FetchItem]:
    """``parse_fetch`` one message at a time, for a listing: a box of 100,000 messages
    never has all its per-message dicts alive at once.  A malformed item raises
    ValueError when it is reached (the items before it were already yielded)."""
    for item in _iter_parse_fetch(data):
        _check_item(item)
        yield item


def _iter_parse_fetch(data: Sequence[Any]) -> Iterator[FetchItem]:
    """The items of the simple shapes as they come, then the others (imapclient's parser
    reads those all at once)."""
    rest: list[Any] = []
    skip = False
    for i, element in enumerate(data):
        if skip:
            skip = False
            continue
        if isinstance(element, bytes):
            m = _SIMPLE_FETCH.fullmatch(element)
            if m:
                yield _simple_items(m.group(1), m.group(2))
                continue
        elif isinstance(element, tuple):
            got = _body_item(element, data[i + 1] if i + 1 < len(data) else None)
            if got is not None:
                yield got
                skip = True  # its closing ")"
                continue
        if element is not None:
            rest.append(element)
    if rest:
        yield from _parse_generic(rest)


def _parse_generic(rest: list[Any]) -> list[FetchItem]:
    from imapclient.response_parser import parse_fetch_response  # type: ignore[import-untyped]

    rest, spooled = _hide_spooled(rest)
    try:
        parsed = parse_fetch_response(rest, normalise_times=False, uid_is_key=False)
    except Exception as exc:
        for body in spooled.values():
            body.close()
        if isinstance(exc, (ValueError, MemoryError, imaplib.IMAP4.error)):
            raise
        # imapclient's parser trips over some answers itself (AttributeError on
        # "INTERNALDATE 5"): still an answer we cannot read, not a bug of ours.
        raise ValueError(f"unparsable FETCH response ({type(exc).__name__}: {exc})") from exc
    slow: list[FetchItem] = []
    for seq, fields in parsed.items():
        item = {b"SEQ": seq}
        for key, value in fields.items():
            if isinstance(value, bytes) and value in spooled:
                value = spooled.pop(value)
            item[key.upper() if isinstance(key, bytes) else key] = value
        slow.append(item)
    for body in spooled.values():
        body.close()
    return slow


def _with_uid(items: Iterable[FetchItem]) -> list[FetchItem]:
    """The items that carry a UID (unsolicited flag updates do not)."""
    return [item for item in items if isinstance(item.get(b"UID"), int)]


_LITERAL_SIZE = re.compile(rb"\{\d+\}$")
# An untagged FETCH response line as imaplib matches it (its type in capitals).
_FETCH_RESPONSE = re.compile(rb"\* (\d+) FETCH (.*)\r\n", re.DOTALL)


def _hide_spooled(data: list[Any]) -> tuple[list[Any], dict[bytes, SpooledBody]]:
    """``data`` with each on-disk literal replaced by a unique token, for imapclient's
    parser; the token -> body map puts them back."""
    spooled: dict[bytes, SpooledBody] = {}
    out: list[Any] = []
    for element in data:
        if isinstance(element, tuple) and isinstance(element[1], SpooledBody):
            token = b"\x00syncmail-spooled-%d\x00" % len(spooled)
            spooled[token] = element[1]
            # imapclient checks a literal against its announced size: announce the token's.
            head = _LITERAL_SIZE.sub(b"{%d}" % len(token), element[0])
            element = (head, token)
        out.append(element)
    return out, spooled


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def internaldate(timestamp: float) -> str:
    """IMAP date-time (``dd-Mon-yyyy hh:mm:ss +zzzz``) of a POSIX time, in local time.

    Month names are spelled out here because strftime's ``%b`` follows the locale.
    """
    t = datetime.fromtimestamp(timestamp, tz=UTC).astimezone()
    return f"{t.day:02d}-{_MONTHS[t.month - 1]}-{t.year:04d} " + t.strftime("%H:%M:%S %z")


def internaldate_timestamp(value: Any) -> float | None:
    """POSIX time of a parsed INTERNALDATE (aware datetime; naive taken as UTC)."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


def _close_bodies(items: Iterable[FetchItem]) -> None:
    """Remove the spool files of bodies nobody will store."""
    for item in items:
        for value in item.values():
            if isinstance(value, SpooledBody):
                value.close()


def body_item(item: FetchItem, section: bytes = b"") -> bytes | SpooledBody | None:
    """The ``BODY[section...]`` value of a parsed FETCH item, whatever the exact key spelling.

    A large body comes as a ``SpooledBody`` (on disk), only where bodies were asked for.
    The whole message (``section`` empty) is ``BODY[]`` itself, never another section
    the server sent along.
    """
    want = b"BODY[" + (section or b"]")
    for key, value in item.items():
        if isinstance(key, bytes) and key.startswith(want):
            if value is None:
                return b""
            if isinstance(value, SpooledBody):
                return value
            if not isinstance(value, (bytes, bytearray, memoryview)):
                name = section.decode("ascii", "replace")
                raise ProtocolViolation(f"BODY[{name}] is not a string")
            return bytes(value)
    return None


# --- the session ---------------------------------------------------------------------------


class Session:
    """One logged-in (or about to be) imapclient connection of store ``store``."""

    def __init__(self, client: IMAPClient, store: str, timeout: float | None = None) -> None:
        self.client = client
        self.store = store
        self.timeout = timeout
        # Set once the connection is unusable (lost, timed out, protocol broken).
        self.dead: str | None = None
        # The box selected, for error messages.
        self.box = ""
        # imaplib's per-line debug formatting costs time and would put LOGIN in logs.
        client._imap.debug = 0
        client.folder_encode = False  # names are encoded by store.utf7, as we choose
        self.reader: BoundedReader | None = install(client._imap, timeout)
        # Body FETCHes sent ahead (fetch_ahead) whose answers are still to be read, with
        # the body limits and spool directory they are read under.
        self._ahead: deque[tuple[str, int, str | None]] = deque()

    def reinstall_reader(self) -> None:
        """After STARTTLS: imaplib made a new socket file; bound that one too."""
        self.reader = install(self.client._imap, self.timeout)

    @contextmanager
    def bodies(self, limit: int, spool_dir: str | None = None) -> Iterator[None]:
        """Within: literals are message bodies of at most ``limit`` bytes (large ones on
        disk, in ``spool_dir``)."""
        if self.reader is None:
            yield
            return
        saved = self.reader.limits, self.reader.spool_dir
        self.reader.limits = Limits(literal=limit, bodies=True)
        self.reader.spool_dir = spool_dir
        try:
            yield
        finally:
            self.reader.limits, self.reader.spool_dir = saved

    # --- errors ---

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Translate whatever imapclient/socket/ssl raise during ``what`` into our errors.

        Answers still due to FETCHes sent ahead are read first: a command's answer must
        be its own."""
        if self._ahead and self.dead is None:
            self._drain_ahead()
        with self._guarded(what):
            yield

    @contextmanager
    def _guarded(self, what: str) -> Iterator[None]:
        if self.dead is not None:
            raise ConnectionFailed(self.store, f"connection unusable ({self.dead})")
        try:
            yield
        except CommandFailed:
            raise
        except StoreError as exc:
            self._kill(exc.message)
            raise
        except Exception as exc:  # noqa: BLE001 - this is the boundary
            err = translate(exc, self.store, what, self.box)
            if isinstance(err, StoreError):
                self._kill(err.message)
            raise err from None

    def _kill(self, why: str) -> None:
        """The stream is out of step or gone: nothing more may be sent or read on it."""
        self.dead = why
        try:
            self.client._imap.sock.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass

    def capabilities(self) -> frozenset[str]:
        with self.guard("CAPABILITY"):
            return frozenset(
                c.decode("ascii", "replace").upper() if isinstance(c, bytes) else str(c).upper()
                for c in self.client.capabilities()
            )

    # --- raw commands ---

    def _check(self, command: str, typ: str, data: Sequence[Any]) -> None:
        if typ != "OK":
            raise CommandFailed(command, _text(data))

    def uid_fetch(self, uid_set: str, items: str) -> list[FetchItem]:
        """``UID FETCH uid_set (items)`` via imaplib directly (imapclient cannot take ``n:*``).

        Only responses carrying a UID are returned (unsolicited flag updates are dropped).
        """
        with self.guard("UID FETCH"):
            return self._fetch_answer(self._send_fetch(uid_set, f"({items})"))

    def uid_fetch_listing(self, uid_set: str, items: str) -> Iterator[FetchItem]:
        """``uid_fetch`` of a listing (no bodies), its answer read at once and parsed
        as the caller goes: only one message's dict is alive at a time."""
        with self.guard("UID FETCH"):
            data = self._fetch_data(self._send_fetch(uid_set, f"({items})"))
        items_ = iter_fetch(data)
        while True:
            # Parsing is guarded as reading was (an unparsable answer is the command's
            # failure); the caller's own work between two items is not.
            with self._guarded("UID FETCH"):
                item = next(items_, None)
            if item is None:
                return
            if isinstance(item.get(b"UID"), int):
                yield item

    def fetch_ahead(
        self, batches: Sequence[list[int]], items: str, limit: int, spool_dir: str | None
    ) -> Iterator[dict[int, FetchItem]]:
        """``UID FETCH`` of each batch of UIDs, read as bodies of at most ``limit`` bytes
        (see ``bodies``), with the next batch's FETCH sent before this one's answer is
        read: the server reads the next batch from its disk while the caller stores this
        one (mbsync pipelines its fetches too).  One FETCH at most is ahead.

        Yields per batch its messages by UID, with any message no batch asked for (the
        caller says so).  A server may run pipelined FETCHes at once (Dovecot does), so a
        message of the next batch can come with this one's answer: it waits for its turn.
        A caller that stops early leaves the answer still due to the next command, which
        reads and drops it.
        """
        imap = self.client._imap
        if self._ahead:
            self._drain_ahead()
        asked = {uid for batch in batches for uid in batch}
        early: dict[int, FetchItem] = {}
        try:
            for k, batch in enumerate(batches):
                with self._guarded("UID FETCH"):
                    tag = imap._command("UID", "FETCH", compress_uids(batch), f"({items})")
                self._ahead.append((tag, limit, spool_dir))
                if k > 0:
                    yield self._batch_answer(batches[k - 1], asked, early)
            if batches:
                yield self._batch_answer(batches[-1], asked, early)
        finally:
            _close_bodies(early.values())

    def _batch_answer(
        self, batch: list[int], asked: set[int], early: dict[int, FetchItem]
    ) -> dict[int, FetchItem]:
        for item in self._answer_ahead():
            uid = item[b"UID"]
            known = early.get(uid)
            if known is not None:
                if body_item(item) is None:
                    continue  # a later flag update of the message: its body stays
                _close_bodies([known])
            early[uid] = item
        answer = {uid: early.pop(uid) for uid in batch if uid in early}
        for uid in [u for u in early if u not in asked]:
            answer[uid] = early.pop(uid)
        return answer

    def _answer_ahead(self) -> list[FetchItem]:
        tag, limit, spool_dir = self._ahead.popleft()
        with self.bodies(limit, spool_dir), self._guarded("UID FETCH"):
            # Nothing of this FETCH's answer is read yet: what is there is older.
            self.client._imap.untagged_responses.pop("FETCH", None)
            return self._fetch_answer(tag)

    def _drain_ahead(self) -> None:
        """Read and drop the answers of FETCHes sent ahead that nobody will read."""
        while self._ahead:
            try:
                _close_bodies(self._answer_ahead())
            except CommandFailed:
                continue

    def _send_fetch(self, *args: str) -> str:
        """Send ``UID FETCH args``; returns its tag.  FETCH data left from before is
        dropped: what comes now is this command's."""
        imap = self.client._imap
        imap.untagged_responses.pop("FETCH", None)
        tag: str = imap._command("UID", "FETCH", *args)
        return tag

    def _fetch_answer(self, tag: str) -> list[FetchItem]:
        """The messages of the FETCH ``tag`` (its answer is read now); within a guard."""
        return _with_uid(parse_fetch(self._fetch_data(tag)))

    def _fetch_data(self, tag: str) -> list[Any]:
        """The FETCH data of the answer to ``tag``, read now (its ``* n FETCH`` lines by
        ``_read_fetch_responses`` when the connection has our reader, the rest by
        imaplib); CommandFailed unless it is OK.  Within a guard."""
        imap = self.client._imap
        if self.reader is not None:
            self._read_fetch_responses()
        typ, data = imap._command_complete("FETCH", tag)
        if typ != "OK":
            raise CommandFailed("UID FETCH", _text(data))
        typ, data = imap._untagged_response(typ, data, "FETCH")
        fetched: list[Any] = data
        return fetched

    def _read_fetch_responses(self) -> None:
        """Read the ``* n FETCH`` responses that come next, as imaplib would, into its
        untagged responses; the first other line (the command's completion, anything
        unusual) is put back for imaplib.

        imaplib spends a dozen regex matches and a log entry on every line; a pull
        reads three lines a message.  Here a FETCH line costs one match, and the
        literals and their trailers are read exactly as imaplib reads them.
        """
        imap = self.client._imap
        reader = self.reader
        assert reader is not None
        fetches = imap.untagged_responses.setdefault("FETCH", [])
        literal = imap.Literal
        while True:
            line = self._response_line()
            m = _FETCH_RESPONSE.fullmatch(line)
            if m is None:
                reader.unread(line)
                return
            dat = m.group(1) + b" " + m.group(2) if m.group(2) else m.group(1)
            while (lm := literal.match(dat)) is not None:
                fetches.append((dat, imap.read(int(lm.group("size")))))
                dat = self._response_line()[:-2]
            fetches.append(dat)

    def _response_line(self) -> bytes:
        """The next line, with its CRLF, refused as imaplib refuses it."""
        imap = self.client._imap
        line: bytes = imap.readline()
        if not line:
            raise imap.abort("socket error: EOF")
        if not line.endswith(b"\r\n"):
            raise imap.abort(f"socket error: unterminated line: {line!r:.100}")
        return line

    def fetch_changed(
        self, items: str, modseq: int, *, vanished: bool
    ) -> tuple[list[FetchItem], list[tuple[int, int]]]:
        """``UID FETCH 1:* (items) (CHANGEDSINCE modseq [VANISHED])`` (RFC 7162).

        Returns the changed messages and the expunged UID ranges: those of ``VANISHED
        (EARLIER)`` (only with ``vanished``, which needs QRESYNC enabled) and of any
        other ``VANISHED`` the server sent meanwhile (expunged is expunged).
        """
        imap = self.client._imap
        modifier = f"(CHANGEDSINCE {modseq}{' VANISHED' if vanished else ''})"
        with self.guard("UID FETCH"):
            data = self._fetch_data(self._send_fetch("1:*", f"({items})", modifier))
            gone = imap.untagged_responses.pop("VANISHED", [])
            try:
                ranges = parse_vanished(gone)
            except ValueError as exc:
                raise CommandFailed("UID FETCH", f"bad VANISHED response: {exc}") from None
            return _with_uid(parse_fetch(data)), ranges

    def uid_search_all(self) -> set[int]:
        """Every UID of the selected box (``UID SEARCH ALL``)."""
        imap = self.client._imap
        with self.guard("UID SEARCH"):
            imap.untagged_responses.pop("SEARCH", None)
            typ, data = imap.uid("SEARCH", "ALL")
            self._check("UID SEARCH", typ, data)
            out: set[int] = set()
            for line in data:
                if isinstance(line, bytes):
                    out.update(int(u) for u in line.split())
            return out

    def fetch_uids(self, uids: Iterable[int], items: str) -> Iterator[FetchItem]:
        """``uid_fetch`` over explicit UIDs, in chunks short enough for the server."""
        for chunk in uid_set_chunks(uids):
            yield from self.uid_fetch(chunk, items)

    def uid_command(self, command: str, uid_set: str, *args: str) -> str:
        """``UID <command> <set> args...``; returns the tagged response text."""
        imap = self.client._imap
        with self.guard(f"UID {command}"):
            typ, data = imap.uid(command, uid_set, *args)
            self._check(f"UID {command}", typ, data)
            return _text(data)

    def uid_copy(self, uid_set: str, mailbox: str, *, move: bool = False) -> str:
        """``UID COPY <set> mailbox`` (``UID MOVE`` with ``move``, RFC 6851); returns its
        ``[COPYUID ...]`` answer as text ("" when there is none).  imaplib files the
        response code among the untagged responses (MOVE sends it in an untagged OK
        before the EXPUNGEs, COPY in the tagged OK), where a COPYUID of an earlier
        command must not be taken for this one's."""
        pending = self.client._imap.untagged_responses
        pending.pop("COPYUID", None)
        self.uid_command("MOVE" if move else "COPY", uid_set, mailbox)
        got = pending.pop("COPYUID", None) or []
        if move:
            self.drop_expunge_responses()
        return "".join(f"[COPYUID {_text([item])}]" for item in got[-1:])

    def uid_store(self, uids: Iterable[int], op: str, flags: Sequence[str]) -> None:
        """``UID STORE <set> op (flags)`` in chunks; ``op`` like ``+FLAGS.SILENT``."""
        self.uid_stores([(uids, op, flags)])

    def uid_stores(self, stores: Sequence[tuple[Iterable[int], str, Sequence[str]]]) -> None:
        """Several ``uid_store``s, pipelined as mbsync does: a window of commands is sent,
        then their answers are read, so that a resync changing flags in many groups waits
        for the server once per window instead of once per command.  A refusal raises
        ``CommandFailed`` once every answer of its window was read."""
        commands = [
            (chunk, op, "(" + " ".join(flags) + ")")
            for uids, op, flags in stores
            for chunk in uid_set_chunks(uids)
        ]
        imap = self.client._imap
        for start in range(0, len(commands), STORE_WINDOW):
            window = commands[start : start + STORE_WINDOW]
            with self.guard("UID STORE"):
                tags = [imap._command("UID", "STORE", *command) for command in window]
                answers = [imap._command_complete("STORE", tag) for tag in tags]
            for typ, data in answers:
                self._check("UID STORE", typ, data)

    def uid_expunge(self, uids: Iterable[int]) -> None:
        for chunk in uid_set_chunks(uids):
            self.uid_command("EXPUNGE", chunk)
            self.drop_expunge_responses()

    def drop_expunge_responses(self) -> None:
        # Nobody reads them (the caller knows what it expunged); do not let them pile up.
        for name in ("EXPUNGE", "VANISHED", "EXISTS", "RECENT"):
            self.client._imap.untagged_responses.pop(name, None)

    def simple(self, command: str, *args: str) -> tuple[str, list[Any]]:
        """An imaplib simple command (``SELECT``, ``CREATE``...); NO/BAD -> CommandFailed."""
        imap = self.client._imap
        with self.guard(command):
            try:
                typ, data = imap._simple_command(command, *args)
            except self.client.AbortError:
                raise  # the connection is lost, not the command refused: the guard's case
            except self.client.Error as exc:
                # imaplib raises on BAD; NO comes back as typ
                raise CommandFailed(command, str(exc)) from None
            self._check(command, typ, data)
            return typ, list(data)

    def append(self, mailbox: str, message: bytes, flags: Sequence[str], date: float | None) -> str:
        """``APPEND`` of one message; returns the tagged response text."""
        return self.multiappend(mailbox, [(message, flags, date)])

    def multiappend(
        self, mailbox: str, messages: Sequence[tuple[bytes, Sequence[str], float | None]]
    ) -> str:
        """One ``APPEND`` carrying ``messages`` (RFC 3502 MULTIAPPEND when more than one).

        Each message is a literal (LITERAL+ when offered). This goes around imaplib.append,
        which would rewrite bare CR/LF in the message. Returns the tagged response text.
        """
        from imapclient.imapclient import _literal, _quote  # type: ignore[import-untyped]

        args: list[bytes] = [_as_bytes(_quote(mailbox))]
        for message, flags, date in messages:
            args.append(("(" + " ".join(flags) + ")").encode())
            if date is not None:
                args.append(b'"' + internaldate(date).encode("ascii") + b'"')
            args.append(_literal(message))
        with self.guard("APPEND"):
            typ, data = self.client._raw_command(b"APPEND", args, uid=False)
            self._check("APPEND", typ, data)
            return _text(data)

    def list_status(
        self, pattern: str, make: Callable[[dict[bytes, int]], T | None]
    ) -> tuple[list[tuple[Any, Any, Any]], dict[bytes, T]]:
        """``LIST "" pattern RETURN (STATUS (...))`` (RFC 5819): the LIST entries as
        imapclient gives them, and ``make(status items)`` by raw box name.  Boxes whose
        STATUS is missing or unreadable are left out (the caller SELECTs those)."""
        from imapclient.response_parser import parse_response

        client = self.client
        imap = client._imap
        with self.guard("LIST"):
            imap.untagged_responses.pop("STATUS", None)
            typ, data = imap._simple_command(
                "LIST", '""', client._normalise_folder(pattern),
                "RETURN", "(STATUS (UIDVALIDITY UIDNEXT HIGHESTMODSEQ))",
            )  # fmt: skip
            self._check("LIST", typ, data)
            typ, data = imap._untagged_response(typ, data, "LIST")
            entries = client._proc_folder_list(data)
            raw_statuses = imap.untagged_responses.pop("STATUS", [])
        statuses: dict[bytes, T] = {}
        for element in raw_statuses:
            if not isinstance(element, bytes):
                continue  # a name sent as a literal: that box is SELECTed instead
            try:
                name, items = parse_response([element])
                pairs = dict(zip(items[::2], items[1::2], strict=True))
            except Exception:  # noqa: BLE001 - an unreadable status only costs a SELECT
                continue
            if isinstance(name, bytes) and all(isinstance(v, int) for v in pairs.values()):
                got = make({k.upper(): v for k, v in pairs.items() if isinstance(k, bytes)})
                if got is not None:
                    statuses[name] = got
        return entries, statuses

    def logout(self) -> None:
        if self.dead is not None:
            return
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            try:
                self.client.shutdown()
            except Exception:  # noqa: BLE001
                log.debug("store %s: connection already closed", self.store)


def _text(data: Sequence[Any]) -> str:
    parts = []
    for d in data:
        if isinstance(d, bytes):
            parts.append(d.decode("utf-8", "replace"))
        elif d is not None:
            parts.append(str(d))
    return " ".join(parts).strip()


def translate(
    exc: BaseException, store: str, what: str, box: str = ""
) -> StoreError | CommandFailed:
    """Our error for an exception raised by imapclient/imaplib/socket/ssl during ``what``.

    Texts come from the server or the OS, never from our arguments, so no secret leaks.
    ``box``, when known, is the box selected at the time.
    """
    import imaplib
    import ssl

    from imapclient import exceptions as ie

    where = f" (box {box})" if box else ""
    if isinstance(exc, ie.LoginError) and isinstance(exc.__context__, imaplib.IMAP4.abort):
        # imapclient turns every error during LOGIN into LoginError, a lost connection too.
        exc = exc.__context__
    if isinstance(exc, ProtocolViolation):
        return ProtocolError(
            store, f"protocol error{where}: {shorten(str(exc))}", retryable=exc.retryable
        )
    if isinstance(exc, TimeoutError) and str(exc):
        return ServerTimeout(store, f"timed out{where}: {exc}")
    if isinstance(exc, ie.LoginError):
        return AuthenticationFailed(store, f"login refused: {_clean(exc)}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectionFailed(
            store, f"TLS certificate verification failed: {exc.verify_message}", retryable=False
        )
    if isinstance(exc, ssl.SSLError):
        return ConnectionFailed(store, f"TLS error during {what}: {exc.reason or exc}")
    if isinstance(exc, TimeoutError):
        return ServerTimeout(store, f"timed out during {what}{where}")
    if isinstance(exc, (imaplib.IMAP4.abort, OSError, EOFError)):
        return ConnectionFailed(store, f"connection lost during {what}{where}: {_clean(exc)}")
    if isinstance(exc, MemoryError):
        return ProtocolError(
            store, f"out of memory reading the answer to {what}{where}", retryable=False
        )
    if isinstance(exc, imaplib.IMAP4.error):
        return CommandFailed(what, _clean(exc))
    if isinstance(exc, (ValueError, TypeError, KeyError, IndexError, UnicodeError)):
        # A response imapclient's parser (or ours) could not make sense of; the tagged
        # answer was read, so the connection is still in step.
        return CommandFailed(what, f"unparsable response: {_clean(exc)}")
    # Not a lost connection: a new one would meet the same (a bug, an unreadable answer).
    return ConnectionFailed(
        store,
        f"unexpected error during {what}{where}: {type(exc).__name__}: {shorten(str(exc))}",
        retryable=False,
    )


def shorten(text: str, limit: int = MAX_QUOTE) -> str:
    """``text`` cut to ``limit`` characters, control characters shown escaped."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "..."


def _clean(exc: BaseException) -> str:
    text = str(exc)[: MAX_QUOTE * 4]
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return shorten(text.strip()) or type(exc).__name__
