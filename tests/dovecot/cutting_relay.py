"""A TCP relay between an IMAP client and a server that cuts the connection at command N.

It counts the client's commands across all connections (a command is a tagged line with
its literals: ``{N}``/``{N+}`` at a line's end announces N bytes that are data, not
commands, and the command goes on after them).  Told ``cut_at=N`` it closes both sockets
of the connection carrying command N, once:

- ``mode="before"``: the command never reaches the server;
- ``mode="after"``: the server gets the whole command and answers it, but the answer is
  held back and the connection closed (the server did the work, the client never knew).

With ``dead_after_cut`` every later connection is accepted and closed at once, as a
server that went away for good.  SASL continuation lines (AUTHENTICATE) would be counted
as commands; the tests log in with LOGIN.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field

HOST = "127.0.0.1"
# The most connections relayed at once; more are closed on arrival.
MAX_CONNECTIONS = 8
# How long an "after" cut waits for the server's tagged answer before cutting anyway.
ANSWER_WAIT = 5.0

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n$")


@dataclass
class CommandParser:
    """Splits a client's byte stream into commands; ``feed`` yields ``(piece, event)``.

    ``event`` is ``"start"`` for the first line of a command, ``"end"`` for the piece
    that completes one (a piece can be both: ``"start+end"``), else ``""``.
    """

    _pending: bytearray = field(default_factory=bytearray)
    _literal_left: int = 0
    _in_command: bool = False

    def feed(self, data: bytes) -> list[tuple[bytes, str]]:
        out: list[tuple[bytes, str]] = []
        self._pending += data
        while self._pending:
            if self._literal_left:
                take = min(self._literal_left, len(self._pending))
                out.append((bytes(self._pending[:take]), ""))
                del self._pending[:take]
                self._literal_left -= take
                continue
            nl = self._pending.find(b"\n")
            if nl < 0:
                break  # a line is forwarded only once it is whole
            line = bytes(self._pending[: nl + 1])
            del self._pending[: nl + 1]
            events = [] if self._in_command else ["start"]
            m = _LITERAL.search(line)
            if m:
                self._literal_left = int(m.group(1))
                self._in_command = True
            else:
                self._in_command = False
                events.append("end")
            out.append((line, "+".join(events)))
        return out


def command_name(line: bytes) -> str:
    """``UID FETCH`` of ``b"A7 UID FETCH 1:* (FLAGS)"``, ``SELECT INBOX`` of a SELECT; no
    other arguments (LOGIN's are secrets)."""
    words = line.split(None, 3)
    name = words[1].decode("ascii", "replace").upper() if len(words) > 1 else "?"
    if name == "UID" and len(words) > 2:
        name += " " + words[2].decode("ascii", "replace").upper()
    elif name in ("SELECT", "EXAMINE") and len(words) > 2:
        name += " " + words[2].decode("utf-8", "replace").strip().strip('"')
    return name


class CuttingRelay:
    """Listens on 127.0.0.1:``port``, relays to ``upstream_port``; see the module docstring."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = (HOST, upstream_port)
        self.cut_at: int | None = None
        self.mode = "before"
        self.dead_after_cut = False
        # Every command seen, in order: (number, name).
        self.commands: list[tuple[int, str]] = []
        self.connections = 0
        self.cut_done = False
        self.refused = 0
        # Commands that fetch whole messages (BODY[] / BODY.PEEK[]).
        self.body_fetches = 0
        # Bytes relayed client -> server and server -> client (not exact under threads
        # racing on the counters; good for a measurement).
        self.sent = self.received = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server((HOST, 0))
        self.port = int(self._listener.getsockname()[1])
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    # --- control ---

    def start(self) -> CuttingRelay:
        self._acceptor.start()
        return self

    def reset(self, cut_at: int | None = None, mode: str = "before", dead: bool = False) -> None:
        """Forget the counts and arm (or disarm, ``cut_at=None``) the next cut."""
        assert mode in ("before", "after")
        with self._lock:
            self.cut_at, self.mode, self.dead_after_cut = cut_at, mode, dead
            self.commands = []
            self.body_fetches = 0
            self.sent = self.received = 0
            self.connections = 0
            self.refused = 0
            self.cut_done = False

    def cut_all(self) -> int:
        """Close every relayed connection now (a network that dropped); how many."""
        with self._lock:
            socks = list(self._sockets)
            self._sockets.clear()
        for sock in socks:
            _close(sock)
        return len(socks) // 2

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            for sock in list(self._sockets):
                _close(sock)
        self._acceptor.join(5)
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> CuttingRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- relaying ---

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                gone = self.cut_done and self.dead_after_cut
                full = len(self._sockets) >= 2 * MAX_CONNECTIONS
                if gone:
                    self.refused += 1
                else:
                    self.connections += 1
            if gone or full:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            self._run_connection(client, server)
            self._threads = [t for t in self._threads if t.is_alive()]

    def _run_connection(self, client: socket.socket, server: socket.socket) -> None:
        conn = _Connection(self, client, server)
        with self._lock:
            self._sockets.update((client, server))
        for target in (conn.client_to_server, conn.server_to_client):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)

    def _count(self, line: bytes) -> tuple[int, bool]:
        """Number the command starting with ``line``; whether it is the one to cut."""
        with self._lock:
            n = len(self.commands) + 1
            self.commands.append((n, command_name(line)))
            if b"BODY[]" in line.upper() or b"BODY.PEEK[]" in line.upper():
                self.body_fetches += 1
            cut = not self.cut_done and self.cut_at == n
            if cut:
                self.cut_done = True
            return n, cut

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._sockets.discard(sock)
                _close(sock)


class _Connection:
    """One relayed connection: two pump threads and the cut."""

    def __init__(self, relay: CuttingRelay, client: socket.socket, server: socket.socket) -> None:
        self.relay = relay
        self.client = client
        self.server = server
        # Set for an "after" cut: server data is held back; the tag whose answer ends it.
        self.muted = False
        self.awaited_tag = b""
        self.answered = threading.Event()

    def client_to_server(self) -> None:
        parser = CommandParser()
        cutting = False
        try:
            while data := self.client.recv(65536):
                for piece, event in parser.feed(data):
                    if "start" in event:
                        _, cutting = self.relay._count(piece)
                        if cutting and self.relay.mode == "before":
                            return
                        if cutting:
                            self.awaited_tag = piece.split(None, 1)[0] + b" "
                    if cutting and "end" in event:
                        self.muted = True
                        self.server.sendall(piece)
                        self.answered.wait(ANSWER_WAIT)
                        return
                    self.server.sendall(piece)
                    self.relay.sent += len(piece)
        except OSError:
            pass
        finally:
            self.relay._forget(self.client, self.server)

    def server_to_client(self) -> None:
        held = b""
        try:
            while data := self.server.recv(65536):
                if self.muted:
                    held += data
                    if held.startswith(self.awaited_tag) or b"\n" + self.awaited_tag in held:
                        self.answered.set()
                    continue
                self.client.sendall(data)
                self.relay.received += len(data)
        except OSError:
            pass
        finally:
            self.answered.set()
            self.relay._forget(self.client, self.server)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
