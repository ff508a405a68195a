"""A small, deliberately misbehaving IMAP server on 127.0.0.1, for the hostile-server tests.

It speaks just enough IMAP4rev1 for a read-only pull (CAPABILITY, LOGIN/AUTHENTICATE
PLAIN, LIST, SELECT, UID FETCH, UID SEARCH, NOOP, LOGOUT) from boxes held in memory, and
can be told to misbehave per box: see ``FAULTS``.  One thread per connection; every
loop is bounded in bytes and time, so a test can never hang on it or fill the disk.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

HOST = "127.0.0.1"
USER = "hostile"
PASSWORD = "hostile-secret"

# What a box can be told to do (``Box.fault``):
FAULTS = {
    "": "behave",
    "huge_literal": "announce a 10 GB body literal, then stream junk (at most 400 MB)",
    "huge_meta_literal": "send FLAGS as a 64 MiB literal in the listing",
    "huge_header_literal": "answer the X-TUID/Message-ID header fetch with a 64 MiB literal",
    "trickle": "send every response to SELECT and after one byte a second",
    "stall": "send nothing at all in answer to the body FETCH",
    "truncated_literal": "announce a body literal and close the connection half way",
    "unbalanced_parens": "leave a FETCH response's parenthesis open",
    "garbage_flags": "send junk in a FLAGS list",
    "unasked_uids": "answer a body FETCH with an extra message of a UID never asked for",
    "duplicate_uids": "list two messages claiming the same UID",
    "out_of_order": "list messages in descending UID order",
    "uidvalidity_zero": "announce UIDVALIDITY 0",
    "size_lies": "announce an RFC822.SIZE far smaller than the body",
    "huge_size": "announce an RFC822.SIZE of 10 GB for UID 2",
    "bye_mid_fetch": "send BYE in the middle of the body FETCH and close",
    "select_no": "answer SELECT with NO",
    "select_bad": "answer SELECT with BAD",
    "mixed_responses": "answer a body FETCH with other responses between the messages "
    "(EXISTS, a flag update without UID) and a message with two literals",
    "parallel_fetch": "run pipelined body FETCHes at once, as Dovecot may: the next one's "
    "messages come before this one's completion",
}


@dataclass
class Message:
    uid: int
    body: bytes
    flags: tuple[str, ...] = ()


@dataclass
class Box:
    name: str
    messages: list[Message] = field(default_factory=list)
    uidvalidity: int = 1234
    fault: str = ""
    # Listed by LIST but not selectable: names only (dangerous-name tests).
    list_only: bool = False
    # Sent as a literal in the LIST response (names with NUL, CR, LF).
    raw_name: bytes | None = None


class HostileServer:
    """``with HostileServer(boxes) as srv:`` then connect to ``srv.port``."""

    def __init__(self, boxes: list[Box], *, drop_at_command: int = 0) -> None:
        self.boxes = {b.name: b for b in boxes}
        self.listed = list(boxes)
        # Close the first connection when it sends its Nth command (1-based); 0: never.
        self.drop_at_command = drop_at_command
        self.connections = 0
        self.commands: list[str] = []
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> HostileServer:
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        for t in self._threads:
            t.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            first = self.connections == 1
            t = threading.Thread(target=self._serve, args=(conn, first), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket, first: bool) -> None:
        conn.settimeout(30)
        session = _Session(self, conn, first)
        try:
            session.run()
        except (OSError, _Closed):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


class _Closed(Exception):
    pass


_COMMAND = re.compile(rb"^(\S+) (?:UID )?([A-Za-z]+)\s*(.*)$", re.DOTALL)
_LITERAL_END = re.compile(rb"\{(\d+)\+?\}$")
_BODY_ITEM = re.compile(rb"BODY(?:\.PEEK)?\[([^\]]*)\]", re.IGNORECASE)


class _Session:
    def __init__(self, server: HostileServer, conn: socket.socket, first: bool) -> None:
        self.server = server
        self.conn = conn
        self.first = first
        self.buf = b""
        self.selected: Box | None = None
        self.trickle = False
        self.count = 0

    # --- wire ---

    def send(self, data: bytes) -> None:
        if not self.trickle:
            self.conn.sendall(data)
            return
        deadline = time.monotonic() + 120
        for i in range(len(data)):
            if self.server._stop.is_set() or time.monotonic() > deadline:
                raise _Closed
            self.conn.sendall(data[i : i + 1])
            time.sleep(1.0)

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                raise _Closed
            self.buf += chunk
            if len(self.buf) > 1 << 20:
                raise _Closed
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def read_command(self) -> bytes:
        """One command line, literals (synchronising or LITERAL+) included."""
        text = self.line()
        while m := _LITERAL_END.search(text):
            size = int(m.group(1))
            if not m.group(0).endswith(b"+}"):
                self.send(b"+ go ahead\r\n")
            while len(self.buf) < size:
                chunk = self.conn.recv(65536)
                if not chunk:
                    raise _Closed
                self.buf += chunk
            text += b"\r\n" + self.buf[:size]
            self.buf = self.buf[size:]
            text += self.line()
        return text

    # --- dispatch ---

    def run(self) -> None:
        self.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hostile ready\r\n")
        while not self.server._stop.is_set():
            text = self.read_command()
            self.count += 1
            self.server.commands.append(text.decode("latin-1")[:200])
            if self.first and self.count == self.server.drop_at_command:
                raise _Closed
            m = _COMMAND.match(text)
            if not m:
                self.send(b"* BAD no tag\r\n")
                continue
            tag, name, args = m.group(1), m.group(2).upper(), m.group(3)
            handler = getattr(self, "cmd_" + name.decode("ascii", "replace").lower(), None)
            if handler is None:
                self.send(tag + b" BAD unknown command\r\n")
                continue
            handler(tag, args)

    def ok(self, tag: bytes, text: bytes = b"done") -> None:
        self.send(tag + b" OK " + text + b"\r\n")

    def cmd_capability(self, tag: bytes, args: bytes) -> None:
        self.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+\r\n")
        self.ok(tag)

    def cmd_login(self, tag: bytes, args: bytes) -> None:
        self.ok(tag, b"logged in")

    def cmd_authenticate(self, tag: bytes, args: bytes) -> None:
        if len(args.split()) < 2:
            self.send(b"+ \r\n")
            self.line()
        self.ok(tag, b"logged in")

    def cmd_noop(self, tag: bytes, args: bytes) -> None:
        self.ok(tag)

    def cmd_logout(self, tag: bytes, args: bytes) -> None:
        self.trickle = False
        self.send(b"* BYE bye\r\n")
        self.ok(tag)
        raise _Closed

    def cmd_close(self, tag: bytes, args: bytes) -> None:
        self.selected = None
        self.ok(tag)

    cmd_unselect = cmd_close

    def cmd_list(self, tag: bytes, args: bytes) -> None:
        if args.endswith(b'""'):
            self.send(b'* LIST (\\Noselect) "/" ""\r\n')
            self.ok(tag)
            return
        for box in self.server.listed:
            if box.raw_name is not None:
                raw = box.raw_name
                self.send(b'* LIST () "/" {%d}\r\n' % len(raw) + raw + b"\r\n")
            else:
                self.send(b'* LIST () "/" "' + box.name.encode("utf-8") + b'"\r\n')
        self.ok(tag)

    def cmd_select(self, tag: bytes, args: bytes) -> None:
        name = args.strip().strip(b'"').decode("utf-8", "replace")
        box = self.server.boxes.get(name)
        if box is None or box.list_only:
            self.send(tag + b" NO [NONEXISTENT] no such mailbox\r\n")
            return
        if box.fault == "select_no":
            self.send(tag + b" NO [SERVERBUG] cannot open this one\r\n")
            return
        if box.fault == "select_bad":
            self.send(tag + b" BAD what mailbox\r\n")
            return
        self.selected = box
        if box.fault == "trickle":
            self.trickle = True
        uidvalidity = 0 if box.fault == "uidvalidity_zero" else box.uidvalidity
        uidnext = max((m.uid for m in box.messages), default=0) + 1
        self.send(
            b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
            b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] ok\r\n"
            + b"* %d EXISTS\r\n* 0 RECENT\r\n" % len(box.messages)
            + b"* OK [UIDVALIDITY %d] ok\r\n* OK [UIDNEXT %d] ok\r\n" % (uidvalidity, uidnext)
        )
        self.ok(tag, b"[READ-WRITE] selected")

    def cmd_search(self, tag: bytes, args: bytes) -> None:
        box = self.selected
        uids = b" ".join(b"%d" % m.uid for m in box.messages) if box else b""
        self.send(b"* SEARCH " + uids + b"\r\n")
        self.ok(tag)

    def cmd_store(self, tag: bytes, args: bytes) -> None:
        self.ok(tag)

    def cmd_expunge(self, tag: bytes, args: bytes) -> None:
        self.ok(tag)

    def cmd_fetch(self, tag: bytes, args: bytes) -> None:
        box = self.selected
        if box is None:
            self.send(tag + b" BAD nothing selected\r\n")
            return
        uid_set, _, items = args.partition(b" ")
        if b"X-GUID" in items.upper():
            # Dovecot's own item: a server that is not Dovecot refuses it, as it should.
            self.send(tag + b" BAD unknown fetch attribute X-GUID\r\n")
            return
        wanted = _select(box, uid_set)
        body = _BODY_ITEM.search(items)
        if body is not None and body.group(1) == b"":
            self._fetch_bodies(tag, box, wanted)
            return
        header = body.group(1) if body is not None else None
        self._fetch_meta(tag, box, wanted, items.upper(), header)

    def _fetch_meta(
        self, tag: bytes, box: Box, wanted: list[Message], items: bytes, header: bytes | None
    ) -> None:
        order = list(reversed(wanted)) if box.fault == "out_of_order" else wanted
        for seq, msg in enumerate(order, 1):
            parts = [b"UID %d" % msg.uid]
            if b"FLAGS" in items:
                parts.append(self._flags(box, msg))
            if b"RFC822.SIZE" in items:
                size = 3 if box.fault == "size_lies" else len(msg.body)
                if box.fault == "huge_size" and msg.uid == 2:
                    size = 10 << 30
                parts.append(b"RFC822.SIZE %d" % size)
            if b"INTERNALDATE" in items:
                parts.append(b'INTERNALDATE "01-Jan-2024 10:00:00 +0000"')
            if header is not None:
                if box.fault == "huge_header_literal":
                    self.send(b"* %d FETCH (%s BODY[%s] {%d}\r\n" % (
                        seq, b" ".join(parts), header, 64 << 20))
                    self._stream_junk(64 << 20)
                    self.send(b")\r\n")
                    continue
                value = _header_fields(msg.body, header)
                parts.append(b"BODY[%s] {%d}\r\n" % (header, len(value)) + value)
            close = b"" if box.fault == "unbalanced_parens" else b")"
            self.send(b"* %d FETCH (" % seq + b" ".join(parts) + close + b"\r\n")
            if box.fault == "duplicate_uids" and seq == 1:
                self.send(b"* 2 FETCH (" + b" ".join(parts) + b")\r\n")
        self.ok(tag)

    def _flags(self, box: Box, msg: Message) -> bytes:
        if box.fault == "huge_meta_literal":
            size = 64 << 20
            self.send(b"* 1 FETCH (UID %d FLAGS {%d}\r\n" % (msg.uid, size))
            self._stream_junk(size)
            return b""
        if box.fault == "garbage_flags":
            return b"FLAGS (\\Seen ))) junk ((("
        return b"FLAGS (" + " ".join(msg.flags).encode() + b")"

    def _fetch_bodies(self, tag: bytes, box: Box, wanted: list[Message]) -> None:
        if box.fault == "stall":
            deadline = time.monotonic() + 120
            while not self.server._stop.is_set() and time.monotonic() < deadline:
                time.sleep(0.1)
            raise _Closed
        for seq, msg in enumerate(wanted, 1):
            head = b"* %d FETCH (UID %d FLAGS (%s) INTERNALDATE \"01-Jan-2024 10:00:00 +0000\" " % (
                seq, msg.uid, " ".join(msg.flags).encode())
            if box.fault == "huge_literal":
                self.send(head + b"BODY[] {10737418240}\r\n")
                self._stream_junk(400 << 20)
                raise _Closed
            if box.fault == "truncated_literal":
                self.send(head + b"BODY[] {%d}\r\n" % (len(msg.body) + 1000) + msg.body)
                raise _Closed
            if box.fault == "bye_mid_fetch" and seq == 2:
                self.send(b"* BYE server shutting down\r\n")
                raise _Closed
            if box.fault == "mixed_responses" and seq == 2:
                # An empty header literal before the body: two literals in one response.
                head += b"BODY[HEADER.FIELDS (X-NOTE)] {0}\r\n "
                self.send(b"* %d EXISTS\r\n" % len(box.messages))
                self.send(b"* 1 FETCH (FLAGS (\\Seen))\r\n")
            self.send(head + b"BODY[] {%d}\r\n" % len(msg.body) + msg.body + b")\r\n")
        if box.fault == "parallel_fetch" and self._next_body_fetch(tag, box):
            return
        if box.fault == "unasked_uids":
            junk = b"From: x\r\n\r\nnot asked for\r\n"
            self.send(b"* 99 FETCH (UID 999 FLAGS () BODY[] {%d}\r\n" % len(junk) + junk + b")\r\n")
        self.ok(tag)

    def _next_body_fetch(self, tag: bytes, box: Box) -> bool:
        """If a body FETCH is already pipelined behind ``tag``'s: its messages, then both
        completions (as a server running both at once may answer)."""
        self.conn.settimeout(0.5)
        try:
            text = self.read_command()
        except (TimeoutError, _Closed):
            return False
        finally:
            self.conn.settimeout(None)
        self.server.commands.append(text.decode("latin-1")[:200])
        m = _COMMAND.match(text)
        body = _BODY_ITEM.search(text)
        if not m or m.group(2).upper() != b"FETCH" or body is None or body.group(1):
            raise _Closed  # the test only pipelines body FETCHes
        for seq, msg in enumerate(_select(box, m.group(3).partition(b" ")[0]), 1):
            self.send(b"* %d FETCH (UID %d FLAGS () BODY[] {%d}\r\n" % (
                seq, msg.uid, len(msg.body)) + msg.body + b")\r\n")
        self.ok(tag)
        self.ok(m.group(1))
        return True

    def _stream_junk(self, limit: int) -> None:
        chunk = b"x" * 65536
        sent = 0
        while sent < limit and not self.server._stop.is_set():
            n = min(len(chunk), limit - sent)
            self.conn.sendall(chunk[:n])
            sent += n


def _select(box: Box, uid_set: bytes) -> list[Message]:
    out: list[Message] = []
    for msg in box.messages:
        if any(_in_range(msg.uid, part) for part in uid_set.split(b",")):
            out.append(msg)
    return out


def _in_range(uid: int, part: bytes) -> bool:
    lo, sep, hi = part.partition(b":")
    a = 1 << 32 if lo == b"*" else int(lo)
    b = a if not sep else (1 << 32 if hi == b"*" else int(hi))
    return min(a, b) <= uid <= max(a, b)


def _header_fields(body: bytes, spec: bytes) -> bytes:
    names = {n.lower() for n in re.findall(rb"[A-Za-z0-9-]+", spec.split(b"(", 1)[-1])}
    out = b""
    for line in body.split(b"\r\n"):
        if not line:
            break
        key = line.split(b":", 1)[0].lower()
        if key in names:
            out += line + b"\r\n"
    return out + b"\r\n"


def iter_faults() -> Iterator[str]:
    return iter(k for k in FAULTS if k)
