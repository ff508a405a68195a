"""Reading from an IMAP server that cannot be trusted: bounded literals, no hang, bodies on disk.

``BoundedReader`` takes the place of imaplib's socket file.  It enforces, whatever the
server sends:

- a per-read timeout (the account's ``Timeout``) and a minimum-progress rule: while an
  answer is due, less than ``MIN_PROGRESS`` bytes in ``Timeout`` seconds is a timeout, so
  a server trickling one byte a second cannot hold a run forever;
- a size limit on every literal, chosen by what the literal is for (``limits``): a few
  MiB where flags or header fields are expected, the message size limit for bodies;
- literals over ``SPOOL_THRESHOLD`` are written to an unlinked temporary file as they
  arrive (a ``SpooledBody``) instead of being held in memory.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from syncmail.record import record
from syncmail.store.base import SpooledBody

# The longest line imaplib accepts (its _MAXLINE); longer is a protocol error.
MAX_LINE = 1_000_000
# Bytes a server must deliver per Timeout window while an answer is due.
MIN_PROGRESS = 1024
# A literal where no message body is expected (flags, header fields, mailbox names).
METADATA_LIMIT = 4 * 1024 * 1024
# Literals larger than this go to disk as they arrive.  A body held in memory is copied
# a few times on its way to the target (read, converted, written), so this bounds the
# peak a single large message adds; the few messages above it cost a temporary file.
SPOOL_THRESHOLD = 1024 * 1024
# The default largest message accepted (IMAPAccount MessageSizeLimit).
DEFAULT_MESSAGE_LIMIT = 1024 * 1024 * 1024
_CHUNK = 256 * 1024
# Waiting idle, a read after the poll said "readable" waits at most this for its bytes.
IDLE_READ_TIMEOUT = 1.0


class ProtocolViolation(Exception):
    """The server broke the protocol in a way that leaves the connection unusable."""

    retryable = True


class LimitExceeded(ProtocolViolation):
    """A literal over its limit: asking again would get the same answer."""

    retryable = False


class StalledServer(TimeoutError):
    """The server sent nothing, or too little, in the time allowed."""


def describe_size(n: int) -> str:
    """``n`` bytes for a message: ``10.0 GiB``, ``12.5 MiB``, ``512 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


@record
class Limits:
    """What the next literals may be: their largest size, and whether bodies are expected."""

    literal: int = METADATA_LIMIT
    bodies: bool = False


class BoundedReader:
    """A readline/read file over ``sock`` that cannot be made to hang or to fill memory."""

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self.sock = sock
        self.timeout = timeout if timeout else None
        self.limits = Limits()
        self.spool_dir: str | None = None
        self._buf = bytearray()
        self._window_start = time.monotonic()
        self._window_bytes = 0
        # What the client is waiting for, for error messages ("the answer to UID FETCH").
        self.waiting_for = "the server's answer"
        # Waiting idle: the server closed the connection.
        self.eof = False

    # --- the progress rule ---

    def command_sent(self, what: str) -> None:
        """A command went out: its answer is due from now on."""
        self.waiting_for = f"the answer to {what}"
        self._window_start = time.monotonic()
        self._window_bytes = 0

    def _recv(self) -> bytes:
        if self.timeout is None:
            self.sock.settimeout(None)
            data = self.sock.recv(_CHUNK)
        else:
            data = self._recv_with_progress(self.timeout)
        self._window_bytes += len(data)
        return data

    def _recv_with_progress(self, timeout: float) -> bytes:
        now = time.monotonic()
        if now - self._window_start >= timeout:
            if self._window_bytes < MIN_PROGRESS:
                raise self._stalled(now)
            self._window_start, self._window_bytes = now, 0
        remaining = timeout - (now - self._window_start)
        self.sock.settimeout(max(remaining, 0.01))
        try:
            return self.sock.recv(_CHUNK)
        except TimeoutError:
            now = time.monotonic()
            if now - self._window_start >= timeout and self._window_bytes >= MIN_PROGRESS:
                # Enough came in this window; a new one starts with this silence.
                self._window_start, self._window_bytes = now, 0
                self.sock.settimeout(timeout)
                return self.sock.recv(_CHUNK)
            raise self._stalled(now) from None

    def _stalled(self, now: float) -> StalledServer:
        got = self._window_bytes
        seconds = now - self._window_start
        if got == 0:
            return StalledServer(
                f"no answer in {seconds:.0f} s while waiting for {self.waiting_for}"
            )
        return StalledServer(
            f"only {got} byte(s) in {seconds:.0f} s while waiting for {self.waiting_for} "
            f"(less than {MIN_PROGRESS} bytes per Timeout)"
        )

    # --- imaplib's file interface ---

    def readline(self, limit: int = -1) -> bytes:
        cap = MAX_LINE + 1 if limit < 0 else limit
        start = 0
        while True:
            nl = self._buf.find(b"\n", start)
            if nl >= 0 and nl < cap:
                line = bytes(self._buf[: nl + 1])
                del self._buf[: nl + 1]
                return line
            if len(self._buf) >= cap:
                line = bytes(self._buf[:cap])
                del self._buf[:cap]
                return line
            start = len(self._buf)
            data = self._recv()
            if not data:
                line = bytes(self._buf)
                self._buf.clear()
                return line
            self._buf += data

    def read(self, size: int) -> bytes | SpooledBody:
        """A literal of ``size`` bytes: refused over the limit, spooled when large."""
        if size > self.limits.literal:
            what = "message" if self.limits.bodies else "literal where no message body is due"
            raise LimitExceeded(
                f"the server announced a {describe_size(size)} {what} while waiting for "
                f"{self.waiting_for}; the limit is {describe_size(self.limits.literal)}"
            )
        if self.limits.bodies and size > SPOOL_THRESHOLD:
            return self._spool(size)
        return self._read_exact(size)

    def _more(self, size: int, came: int, what: str) -> None:
        """Append the next data to the buffer; a closed connection in the middle of a
        ``size``-byte ``what`` of which ``came`` bytes arrived is a protocol violation."""
        data = self._recv()
        if not data:
            raise ProtocolViolation(
                f"the connection closed in the middle of a {size}-byte {what} "
                f"({came} bytes came) while waiting for {self.waiting_for}"
            )
        self._buf += data

    def _read_exact(self, size: int) -> bytes:
        while len(self._buf) < size:
            self._more(size, len(self._buf), "literal")
        # One copy: slicing the bytearray itself would make a second.
        with memoryview(self._buf) as view:
            out = bytes(view[:size])
        del self._buf[:size]
        return out

    def _spool(self, size: int) -> SpooledBody:
        # Imported here: tempfile pulls in shutil, bz2 and lzma (2 ms of every IMAP run).
        import tempfile

        file = tempfile.TemporaryFile(dir=self.spool_dir)  # noqa: SIM115 - owned by the body
        try:
            left = size
            while left:
                if not self._buf:
                    self._more(size, size - left, "message")
                take = min(left, len(self._buf))
                file.write(self._buf[:take])
                del self._buf[:take]
                left -= take
            file.flush()
        except BaseException:
            file.close()
            raise
        return SpooledBody(file, size)

    # --- waiting idle (IDLE / NOTIFY) ---

    def idle_lines(self, *, receive: bool) -> list[bytes]:
        """Waiting mode: the complete lines received so far, after one read of what the
        socket holds when ``receive`` (the caller's poll said it is readable).

        A watching connection is silent for minutes by design, so the progress rule does
        not apply here; the caller bounds the wait itself.  ``eof`` is set once the
        server closed the connection (a readable socket with nothing to read).
        """
        if receive:
            self.sock.settimeout(IDLE_READ_TIMEOUT)
            while True:
                try:
                    data = self.sock.recv(_CHUNK)
                except TimeoutError:
                    break  # half a TLS record: the rest comes with the next wake-up
                if not data:
                    self.eof = True
                    break
                self._buf += data
                # TLS may hold decrypted bytes the poll cannot see.
                pending = getattr(self.sock, "pending", None)
                if not callable(pending) or not pending():
                    break
        lines = []
        while (nl := self._buf.find(b"\n")) >= 0:
            lines.append(bytes(self._buf[: nl + 1]))
            del self._buf[: nl + 1]
        if len(self._buf) > MAX_LINE:
            raise ProtocolViolation("a line of more than 1 MB while waiting idle")
        return lines

    def unread(self, line: bytes) -> None:
        """Put ``line`` back in front of what is still to be read."""
        self._buf[:0] = line

    def has_lines(self) -> bool:
        """A complete line is buffered (a poll of the socket would not show it)."""
        return b"\n" in self._buf

    def close(self) -> None:
        self._buf.clear()


def install(imap: object, timeout: float | None) -> BoundedReader | None:
    """Put a ``BoundedReader`` in place of ``imap``'s socket file (an imaplib.IMAP4).

    Called once the greeting is read (and again after STARTTLS, which makes a new file);
    the server is then waiting for a command, so imaplib's old file holds nothing.
    Connections without a socket (a Tunnel's pipes) keep their own reading.  Sending
    through ``imap.send`` starts the answer's progress window.
    """
    sock = getattr(imap, "sock", None)
    if not isinstance(sock, socket.socket):
        return None
    reader = getattr(imap, "_syncmail_reader", None)
    if isinstance(reader, BoundedReader):
        reader.sock = sock
    else:
        reader = BoundedReader(sock, timeout)
        original_send: Callable[[bytes], None] = imap.send  # type: ignore[attr-defined]

        def send(data: bytes) -> None:
            assert reader is not None
            reader.command_sent(_command_name(data))
            original_send(data)

        imap.send = send  # type: ignore[attr-defined]
        imap._syncmail_reader = reader  # type: ignore[attr-defined]
    imap.file = reader  # type: ignore[attr-defined]
    return reader


def _command_name(data: bytes) -> str:
    """``UID FETCH`` of ``b"ABCD3 UID FETCH 1:* (FLAGS)\\r\\n"`` (never arguments: secrets)."""
    words = bytes(data[:64]).split(None, 3)
    if len(words) < 2:
        return "a command"
    name = words[1].decode("ascii", "replace").upper()
    if name == "UID" and len(words) > 2:
        name += " " + words[2].decode("ascii", "replace").upper()
    return name if name.replace(" ", "").isalpha() else "a command"
