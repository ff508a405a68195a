"""Watching one IMAP store for changes on a connection of its own.

Where the server offers NOTIFY (RFC 5465): no box selected, ``NOTIFY SET STATUS`` for
every personal mailbox, then IDLE; each change arrives as an untagged ``STATUS`` (or
``LIST`` for a created, renamed or deleted mailbox).  Without NOTIFY: INBOX examined and
IDLE on it; the daemon polls the other boxes.  IDLE is renewed every ``RENEW`` seconds,
and a DONE not answered in ``ANSWER_WAIT`` seconds means the connection is dead.

NOTIFY says which mailbox changed, never which message: the follow-up is an ordinary
box sync on the daemon's other connection (QRESYNC makes it cheap).
"""

from __future__ import annotations

import logging
import re
import socket
import time
from typing import TYPE_CHECKING, Any

from syncmail.errors import ConnectionFailed, StoreError
from syncmail.record import record
from syncmail.store.imapwire import CommandFailed

if TYPE_CHECKING:
    from syncmail.config.model import Config, IMAPStoreConfig
    from syncmail.store.imap import IMAPStore
    from syncmail.store.imapreader import BoundedReader

log = logging.getLogger(__name__)

# What NOTIFY reports.  STATUS makes flag changes visible (HIGHESTMODSEQ) in boxes not
# selected; without it Dovecot says nothing about a \Flagged set elsewhere.
NOTIFY_SET = b"(personal (MessageNew MessageExpunge FlagChange MailboxName))"
# IDLE is ended and begun again this often (servers and NAT boxes drop longer ones).
RENEW = 600.0
# The longest wait for the answer to DONE (and for IDLE's continuation).
ANSWER_WAIT = 30.0

_QUOTED = rb'"((?:[^"\\]|\\.)*)"'
_STATUS = re.compile(rb"^\* STATUS (?:" + _QUOTED + rb"|([^\s(]+)) \(", re.IGNORECASE)
_IN_BOX = re.compile(rb"^\* (?:\d+ (?:EXISTS|EXPUNGE|FETCH)\b|VANISHED\b)", re.IGNORECASE)
_MODSEQ = re.compile(rb"HIGHESTMODSEQ (\d+)", re.IGNORECASE)
_LITERAL = re.compile(rb"\{\d+\+?\}\r?\n$")


@record(frozen=True)
class ServerEvent:
    """Something changed in store ``store``: box ``box``, or (None) any of its boxes,
    mailboxes created or removed included.  ``modseq``: the box's HIGHESTMODSEQ now,
    when the server said."""

    store: str
    box: str | None
    why: str
    modseq: int | None = None


def highest_modseq(store: IMAPStore, box: str) -> int | None:
    """``STATUS box (HIGHESTMODSEQ)`` on a connected store (None: not known)."""
    from syncmail.store import utf7

    if not store.condstore:
        return None
    session = store.session
    imap = session.client._imap
    imap.untagged_responses.pop("STATUS", None)
    try:
        session.simple("STATUS", _quote(utf7.encode(store.server_name(box))), "(HIGHESTMODSEQ)")
    except CommandFailed:
        return None
    for line in imap.untagged_responses.pop("STATUS", []):
        m = _MODSEQ.search(line if isinstance(line, bytes) else b"")
        if m:
            return int(m.group(1))
    return None


def set_keepalive(sock: Any) -> None:
    """TCP keepalive and a user timeout, so that a dead peer is noticed in about a
    minute rather than the kernel's two hours (tcp(7))."""
    if not isinstance(sock, socket.socket):
        return
    options = [
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPIDLE", None), 60),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPINTVL", None), 10),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPCNT", None), 3),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_USER_TIMEOUT", None), 30_000),
    ]
    for level, option, value in options:
        if option is None:
            continue
        try:
            sock.setsockopt(level, option, value)
        except OSError:
            pass  # not a TCP socket (a test's socketpair), or an old kernel


class ServerWatch:
    """The watching connection of one IMAP store.  ``connect`` it, poll ``fileno`` and
    call ``events`` when readable, ``tick`` at ``deadline``; errors are ``StoreError``."""

    def __init__(
        self, store_cfg: IMAPStoreConfig, config: Config, pm: Any, *, renew: float = RENEW
    ) -> None:
        self.name = store_cfg.name
        self.renew = renew
        self._cfg = store_cfg
        self._config = config
        self._pm = pm
        self.store: IMAPStore | None = None
        self.mode = ""  # "notify" or "idle"
        self.idle_box = store_cfg.watch_idle_box
        self._tag = b""
        self.deadline = 0.0

    # --- connection ---

    def connect(self) -> None:
        """Log in and start watching (NOTIFY if offered, else IDLE on INBOX, or on the
        store's ``WatchIdleBox``)."""
        from syncmail.store.imap import IMAPStore

        self.close()
        store = IMAPStore(self._cfg, plugin_manager=self._pm)
        store.connect()
        self.store = store
        try:
            session = store.session
            if session.reader is None:
                raise ConnectionFailed(
                    self.name, "cannot watch over a Tunnel (no socket to wait on)",
                    retryable=False,
                )  # fmt: skip
            set_keepalive(session.client._imap.sock)
            if "NOTIFY" in store.server_caps and self._notify():
                self.mode = "notify"
            else:
                box = store.server_name(self.idle_box)
                from syncmail.store import utf7

                session.simple("EXAMINE", _quote(utf7.encode(box)))
                self.mode = "idle"
            session.client._imap.untagged_responses.clear()
            self._idle()
        except BaseException:
            self.close()
            raise
        log.info("store %s: watching with %s", self.name, self.mode.upper())

    def _notify(self) -> bool:
        assert self.store is not None
        session = self.store.session
        with session.guard("NOTIFY"):
            try:
                typ, data = session.client._raw_command(
                    b"NOTIFY", [b"SET", b"STATUS", NOTIFY_SET], uid=False
                )
            except session.client.Error as exc:  # BAD: the server cannot do what we ask
                log.info("store %s: NOTIFY refused (%s); using IDLE", self.name, exc)
                return False
        if typ != "OK":
            log.info("store %s: NOTIFY refused; using IDLE", self.name)
            return False
        return True

    def close(self) -> None:
        if self.store is not None:
            if self._tag and self.store._session is not None and not self.store._session.dead:
                try:
                    self._done()  # out of IDLE, so that LOGOUT is a command again
                except StoreError:
                    pass
            self._tag = b""
            try:
                self.store.close()
            except StoreError as exc:
                log.debug("store %s: closing the watch: %s", self.name, exc)
            self.store = None
        self.mode = ""

    @property
    def connected(self) -> bool:
        return self.store is not None

    def fileno(self) -> int:
        assert self.store is not None
        return int(self.store.session.client._imap.sock.fileno())

    @property
    def _reader(self) -> BoundedReader:
        assert self.store is not None
        reader = self.store.session.reader
        assert reader is not None
        return reader

    def has_lines(self) -> bool:
        return self.store is not None and self._reader.has_lines()

    # --- IDLE ---

    def _idle(self) -> list[ServerEvent]:
        """Send IDLE and wait for its continuation."""
        assert self.store is not None
        session = self.store.session
        imap = session.client._imap
        events: list[ServerEvent] = []
        with session.guard("IDLE"), self._answer_wait():
            self._tag = imap._new_tag()
            imap.send(self._tag + b" IDLE\r\n")
            while True:
                line = self._reader.readline()
                if not line:
                    raise ConnectionFailed(self.name, "the server closed the connection")
                if line.startswith(b"+"):
                    break
                if line.startswith(self._tag + b" "):
                    raise ConnectionFailed(
                        self.name, f"IDLE refused: {_text(line)}", retryable=False
                    )
                events += self._parse(line)
        self.deadline = time.monotonic() + self.renew
        return events

    def _done(self) -> list[ServerEvent]:
        """End IDLE: DONE, and the events that came before its tagged answer."""
        assert self.store is not None
        session = self.store.session
        events: list[ServerEvent] = []
        with session.guard("DONE"), self._answer_wait():
            session.client._imap.send(b"DONE\r\n")
            while True:
                line = self._reader.readline()
                if not line:
                    raise ConnectionFailed(self.name, "the server closed the connection")
                if line.startswith(self._tag + b" "):
                    answer = line[len(self._tag) + 1 :]
                    self._tag = b""
                    if not answer.upper().startswith(b"OK"):
                        raise ConnectionFailed(self.name, f"IDLE ended with {_text(line)}")
                    return events
                events += self._parse(line)

    def _answer_wait(self) -> Any:
        """Within: the reader's timeout is at most ``ANSWER_WAIT``."""
        from contextlib import contextmanager

        reader = self._reader

        @contextmanager
        def bounded() -> Any:
            saved = reader.timeout
            reader.timeout = min(saved or ANSWER_WAIT, ANSWER_WAIT)
            try:
                yield
            finally:
                reader.timeout = saved

        return bounded()

    def tick(self) -> list[ServerEvent]:
        """At ``deadline``: renew IDLE (DONE, IDLE), which also proves the link alive."""
        events = self._done()
        return events + self._idle()

    # --- events ---

    def events(self, *, receive: bool = True) -> list[ServerEvent]:
        """What the server reported since the last call (``receive``: the socket is
        readable).  A closed connection raises ``ConnectionFailed``."""
        assert self.store is not None
        session = self.store.session
        with session.guard("IDLE"):
            lines = self._reader.idle_lines(receive=receive)
        events: list[ServerEvent] = []
        for line in lines:
            events += self._parse(line)
        if self._reader.eof:
            session._kill("closed by the server")
            raise ConnectionFailed(self.name, "the server closed the watching connection")
        return events

    def _parse(self, line: bytes) -> list[ServerEvent]:
        assert self.store is not None
        upper = line[:40].upper()
        if _LITERAL.search(line):
            # A name sent as a literal: the stream cannot be followed line by line.
            self.store.session._kill("a literal in an unsolicited response")
            raise ConnectionFailed(self.name, "a mailbox name the watch cannot follow")
        if upper.startswith(b"* BYE"):
            self.store.session._kill("BYE")
            raise ConnectionFailed(self.name, f"the server said {_text(line)}")
        if upper.startswith(b"* STATUS "):
            return [self._status(line)]
        if upper.startswith(b"* LIST ") or upper.startswith(b"* LSUB "):
            return [ServerEvent(self.name, None, "mailbox created, renamed or deleted")]
        if upper.startswith(b"* NO ") or b"[NOTIFICATIONOVERFLOW]" in upper:
            # Events may be lost and NOTIFY is off: resync, on a fresh connection.
            self.store.session._kill("NOTIFY overflow")
            raise ConnectionFailed(self.name, f"the server said {_text(line)}")
        if self.mode == "idle" and _IN_BOX.match(line):
            return [ServerEvent(self.name, self.idle_box, "IDLE")]
        return []  # * OK Still here, * n RECENT, ...

    def _status(self, line: bytes) -> ServerEvent:
        assert self.store is not None
        m = _STATUS.match(line)
        if m is None:
            return ServerEvent(self.name, None, "unparsed STATUS")
        raw = m.group(1) if m.group(1) is not None else m.group(2)
        wire = re.sub(rb"\\(.)", rb"\1", raw).decode("ascii", "replace")
        box = self.store.box_from_server(wire)
        if box is None:
            return ServerEvent(self.name, None, f"STATUS of {wire}")
        m = _MODSEQ.search(line)
        return ServerEvent(self.name, box, "NOTIFY", int(m.group(1)) if m else None)


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").strip()


__all__ = ["ANSWER_WAIT", "RENEW", "ServerEvent", "ServerWatch", "set_keepalive"]
