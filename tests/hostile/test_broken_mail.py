"""Broken mail is stored byte for byte: only CRLF pairs become LF (a lone CR stays) and
one X-TUID line is added, as mbsync adds it; nothing is skipped."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.conftest import run_syncmail, write_rc
from tests.hostile.server import Box, HostileServer, Message
from tests.hostile.test_hostile_server import assert_clean, strip_tuid

BROKEN = {
    "empty": b"",
    "no header": b"just a body line\r\nand another\r\n",
    "only lone CRs": b"\r\r\r",
    "header without blank line": b"Subject: s\r\nFrom: f@example.org\r\n",
    "header without newline": b"Subject: s",
    "no final newline": b"Subject: s\r\n\r\nthe body ends here",
    "NULs": b"Subject: n\r\n\r\n\x00\x00binary\x00\r\n",
    "8-bit and junk": b"Subject: \xe9t\xe9 \xff\r\n\r\n\x80\x81\xfe\xfd\r\n\x1b[31m\r\n",
    "lone CRs in the body": b"Subject: c\r\n\r\nline\rmiddle\r\n\rstart\r\nend\r",
    "CR before CRLF": b"Subject: c\r\n\r\na\r\r\nb\r\n",
    "bare LF lines": b"Subject: l\n\nlf only\nlines\n",
    "a stray-CR line ends the header": b"Subject: s\r\n\r\r\nbody\r\n",
    "X-TUID of its own": b"Subject: t\r\nX-TUID: abcdefghijkl\r\n\r\nbody\r\n",
}


def expected(body: bytes) -> bytes:
    """What must land in the Maildir, less the X-TUID line: CRLF pairs as LF."""
    return body.replace(b"\r\n", b"\n")


def test_broken_messages_land_byte_for_byte(tmp_path: Path) -> None:
    box = Box("INBOX", [Message(i, body) for i, body in enumerate(BROKEN.values(), 1)])
    with HostileServer([box]) as server:
        run = run_syncmail(write_rc(tmp_path, server.port), "-a")
    assert_clean(run)
    assert run.returncode == 0, run.stderr
    files = {int(p.name.split(",U=")[1].split(":")[0].split(",")[0]): p
             for p in (tmp_path / "mail/INBOX").glob("*/*")}  # fmt: skip
    assert sorted(files) == list(range(1, len(BROKEN) + 1))
    for uid, (what, body) in enumerate(BROKEN.items(), 1):
        stored = files[uid].read_bytes()
        if what == "X-TUID of its own":
            # The message's own X-TUID line is replaced by syncmail's (mbsync does so).
            assert stored.replace(stored[stored.find(b"X-TUID: ") + 8 :][:12], b"abcdefghijkl") \
                == expected(body), what
            continue
        assert strip_tuid(stored) == expected(body), what


def test_a_large_message_streams_to_disk_in_bounded_memory(tmp_path: Path) -> None:
    """A 160 MiB body (under MessageSizeLimit) passes through in pieces: byte-exact, and
    the process never holds it whole (peak RSS well under the body's size)."""
    import hashlib

    line = b"0123456789abcdef" * 4 + b"\r\n"
    # A CRLF split at every possible piece boundary, and lone CRs, somewhere in the body.
    body = b"Subject: big\r\n\r\n" + line * (160 * 1024 * 1024 // len(line)) + b"a\rb\r\r\n\r"
    want = hashlib.sha256(expected(body)).hexdigest()
    with HostileServer([Box("INBOX", [Message(1, body)])]) as server:
        del body
        run = run_syncmail(write_rc(tmp_path, server.port, timeout=20), "-a")
    assert_clean(run)
    assert run.returncode == 0, run.stderr
    [stored] = (tmp_path / "mail/INBOX").glob("*/*")
    assert hashlib.sha256(strip_tuid(stored.read_bytes())).hexdigest() == want
    assert run.peak_rss_mb < 60, run.peak_rss_mb
