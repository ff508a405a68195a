"""BoundedReader over a real socket pair: literal limits, bodies on disk, the progress rule."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from syncmail.store import imapreader
from syncmail.store.base import SpooledBody
from syncmail.store.imapreader import (
    BoundedReader,
    LimitExceeded,
    Limits,
    ProtocolViolation,
    StalledServer,
)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_lines_and_small_literals(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    server.sendall(b"* 1 FETCH (BODY[] {5}\r\nhello)\r\n")
    reader = BoundedReader(client, 5)
    assert reader.readline() == b"* 1 FETCH (BODY[] {5}\r\n"
    assert reader.read(5) == b"hello"
    assert reader.readline() == b")\r\n"


def test_a_literal_over_its_limit_is_refused_before_it_is_read(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, _server = pair  # nothing is sent: a read would block
    reader = BoundedReader(client, 5)
    with pytest.raises(LimitExceeded, match="64.0 MiB literal where no message body is due"):
        reader.read(64 << 20)
    reader.limits = Limits(literal=1 << 30, bodies=True)
    with pytest.raises(LimitExceeded, match=r"10.0 GiB message .* limit is 1.0 GiB"):
        reader.read(10 << 30)


def test_a_large_body_goes_to_disk_exactly(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    size = imapreader.SPOOL_THRESHOLD + 12345
    payload = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    sender = threading.Thread(target=server.sendall, args=(payload + b")\r\n",))
    sender.start()
    reader = BoundedReader(client, 5)
    reader.limits = Limits(literal=1 << 30, bodies=True)
    body = reader.read(size)
    sender.join()
    assert isinstance(body, SpooledBody) and body.size == size
    assert b"".join(body.chunks(100_000)) == payload
    assert reader.readline() == b")\r\n"
    body.close()


def test_a_literal_cut_short_is_a_protocol_violation(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    server.sendall(b"only part")
    server.close()
    reader = BoundedReader(client, 5)
    with pytest.raises(ProtocolViolation, match="closed in the middle of a 100-byte literal"):
        reader.read(100)


def test_silence_is_a_timeout_naming_the_command(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, _server = pair
    reader = BoundedReader(client, 0.3)
    reader.command_sent("UID FETCH")
    with pytest.raises(StalledServer, match="no answer in 0 s while waiting for the answer to"):
        reader.readline()


def test_a_trickle_is_a_timeout_though_every_read_gets_a_byte(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            try:
                server.sendall(b"x")
            except OSError:
                return
            time.sleep(0.05)

    t = threading.Thread(target=trickle)
    t.start()
    reader = BoundedReader(client, 0.5)
    reader.command_sent("SELECT")
    start = time.monotonic()
    try:
        with pytest.raises(StalledServer, match=r"only \d+ byte\(s\) .* answer to SELECT"):
            reader.readline()
    finally:
        stop.set()
        t.join()
    # The bound is the window, not a read timeout that each byte resets.
    assert time.monotonic() - start < 5


def test_enough_progress_is_never_a_timeout(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    chunk = b"y" * (imapreader.MIN_PROGRESS * 2)

    def steady() -> None:
        for _ in range(12):
            server.sendall(chunk)
            time.sleep(0.1)
        server.sendall(b"\r\n")

    t = threading.Thread(target=steady)
    t.start()
    reader = BoundedReader(client, 0.3)
    reader.command_sent("UID FETCH")
    line = reader.readline()
    t.join()
    assert line.endswith(b"\r\n") and len(line) == 12 * len(chunk) + 2
