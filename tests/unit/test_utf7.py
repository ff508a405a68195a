"""Modified UTF-7 (RFC 3501 5.1.3) encoding and strict decoding."""

from __future__ import annotations

import pytest

from syncmail.store import utf7

TABLE = [
    ("INBOX", "INBOX"),
    ("", ""),
    ("a&b", "a&-b"),
    ("&", "&-"),
    ("Entwürfe", "Entw&APw-rfe"),
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("Ströme & Flüsse", "Str&APY-me &- Fl&APw-sse"),
    ("x\U0001f600y", "x&2D3eAA-y"),  # surrogate pair
    ("élan/übel", "&AOk-lan/&APw-bel"),
]


@pytest.mark.parametrize(("text", "wire"), TABLE)
def test_encode(text: str, wire: str) -> None:
    assert utf7.encode(text) == wire


@pytest.mark.parametrize(("text", "wire"), TABLE)
def test_decode(text: str, wire: str) -> None:
    assert utf7.decode(wire) == text
    assert utf7.decode(wire.encode("ascii")) == text


@pytest.mark.parametrize(
    "bad",
    [
        "&",  # unterminated shift
        "&Jjo!",  # no terminating '-'
        "&Jj-",  # truncated UTF-16 unit
        "&AGE-",  # "a" needlessly encoded: a second spelling of a plain name
        "&AC4ALg-",  # ".." hidden in base64: would defeat the '..' check
        "a\u00e9",  # raw 8-bit
        "&A/w-",  # '/' is not in the modified base64 alphabet
        "&2D0-",  # lone high surrogate
    ],
)
def test_decode_rejects_invalid(bad: str) -> None:
    with pytest.raises(ValueError):
        utf7.decode(bad)


def test_round_trip_of_every_bmp_block() -> None:
    text = "".join(chr(c) for c in range(0x20, 0xD800, 97)) + "&&-"
    assert utf7.decode(utf7.encode(text)) == text
