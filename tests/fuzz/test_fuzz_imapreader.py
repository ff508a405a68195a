"""Fuzzing the bounded reader of a server's bytes (fed through a real socketpair): lines and
literals come out exactly as sent, in order, or a ProtocolViolation says why not."""

from __future__ import annotations

import socket
from unittest import mock

from hypothesis import event, given
from hypothesis import strategies as st

from syncmail.store import imapreader
from syncmail.store.base import SpooledBody
from syncmail.store.imapreader import BoundedReader, LimitExceeded, ProtocolViolation

# Small limits, so that the fuzzer reaches the over-the-limit and spool-to-disk paths.
LITERAL_LIMIT = 300
SPOOL_THRESHOLD = 40

stream = st.one_of(
    st.binary(min_size=1, max_size=2000),
    st.lists(st.sampled_from([b"* 1 FETCH (UID 1 BODY[] {5}\r\n", b"hello", b")\r\n", b"\n",
                              b"\r", b"x" * 100, b"A1 OK done\r\n"]), max_size=30).map(b"".join),
)  # fmt: skip
operation = st.one_of(
    st.tuples(st.just("readline"), st.sampled_from([-1, -1, 0, 1, 7, 64])),
    st.tuples(st.just("read"), st.integers(0, 60)),
    st.tuples(st.just("read"), st.integers(0, LITERAL_LIMIT + 10)),
)


def body_bytes(value: bytes | SpooledBody) -> bytes:
    if isinstance(value, bytes):
        return value
    data = b"".join(value.chunks(64))
    value.close()
    return data


@given(stream, st.lists(operation, min_size=1, max_size=20), st.booleans(), st.integers(1, 4))
def test_reader_gives_back_what_was_sent(
    sent: bytes, ops: list[tuple[str, int]], bodies: bool, pieces: int
) -> None:
    ours, theirs = socket.socketpair()
    try:
        step = max(1, len(sent) // pieces)
        for i in range(0, len(sent), step):
            theirs.sendall(sent[i : i + step])
        theirs.shutdown(socket.SHUT_WR)
        reader = BoundedReader(ours, timeout=None)
        reader.limits = imapreader.Limits(literal=LITERAL_LIMIT, bodies=bodies)
        got = b""
        with mock.patch.object(imapreader, "SPOOL_THRESHOLD", SPOOL_THRESHOLD):
            for name, arg in ops:
                if name == "readline":
                    line = reader.readline(arg)
                    cap = imapreader.MAX_LINE + 1 if arg < 0 else arg
                    assert len(line) <= cap
                    ends = line.endswith(b"\n") or len(line) == cap
                    assert ends or got + line == sent, line
                    got += line
                    continue
                try:
                    value = reader.read(arg)
                except LimitExceeded:
                    assert arg > LITERAL_LIMIT
                    break
                except ProtocolViolation:
                    assert len(sent) - len(got) < arg  # the stream ended inside the literal
                    break
                event("spooled" if isinstance(value, SpooledBody) else "in memory")
                data = body_bytes(value)
                assert len(data) == arg
                got += data
        assert sent.startswith(got)
    finally:
        ours.close()
        theirs.close()
