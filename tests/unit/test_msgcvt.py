"""syncmail.sync.msgcvt: line endings and X-TUID, as byte literals (isync's tst_msg_cvt)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncmail.sync.msgcvt import (
    convert_line_endings,
    convert_message,
    header_value,
    insert_tuid,
    make_tuid,
)

T = "one+two/tuid"
TL = b"X-TUID: one+two/tuid"


def test_make_tuid_alphabet() -> None:
    tuids = {make_tuid() for _ in range(50)}
    assert len(tuids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9+/]{12}", t) for t in tuids)


@pytest.mark.parametrize(
    ("lf", "crlf"),
    [
        (b"", b""),
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"no newline", b"no newline"),
        (b"stray\rcr\n", b"stray\rcr\r\n"),
        (b"\n\n", b"\r\n\r\n"),
    ],
)
def test_line_endings_round_trip(lf: bytes, crlf: bytes) -> None:
    assert convert_line_endings(lf, source_crlf=False, target_crlf=True) == crlf
    assert convert_line_endings(crlf, source_crlf=True, target_crlf=False) == lf


def test_mixed_input_to_crlf_keeps_existing_crlf() -> None:
    data = b"a\r\nb\nc\r\r\n"
    assert convert_line_endings(data, source_crlf=False, target_crlf=True) == b"a\r\nb\r\nc\r\r\n"
    assert convert_line_endings(data, source_crlf=True, target_crlf=False) == b"a\nb\nc\r\n"


def test_same_convention_untouched() -> None:
    data = b"a\r\nb\n"
    assert convert_line_endings(data, source_crlf=True, target_crlf=True) is data


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # The usual case: last header line.
        (b"From: a\nSubject: s\n\nbody\n", b"From: a\nSubject: s\n" + TL + b"\n\nbody\n"),
        # An existing X-TUID is replaced in place, whatever its case.
        (b"x-tuid: oldoldoldold\nSubject: s\n\nb\n", TL + b"\nSubject: s\n\nb\n"),
        (b"Subject: s\nX-TUID: short\n\nb\n", b"Subject: s\n" + TL + b"\n\nb\n"),
        # An X-TUID in the body is not ours.
        (b"Subject: s\n\nX-TUID: body\n", b"Subject: s\n" + TL + b"\n\nX-TUID: body\n"),
        # No header at all.
        (b"\nbody\n", TL + b"\n\nbody\n"),
        # Empty message.
        (b"", TL + b"\n"),
        # Header without terminating blank line.
        (b"Subject: s\n", b"Subject: s\n" + TL + b"\n"),
        # ... and without final newline: our line goes first, every byte stays.
        (b"Subject: s", TL + b"\nSubject: s"),
        (b"Subject: s\r", TL + b"\nSubject: s\r"),
        (b"Subject: s\n\r", TL + b"\nSubject: s\n\r"),
        (b"\r\r\r", TL + b"\n\r\r\r"),
        (b"no header at all", TL + b"\nno header at all"),
        # A line holding only a stray CR ends the header too.
        (b"Subject: s\n\r\nbody", b"Subject: s\n" + TL + b"\n\r\nbody"),
    ],
)
def test_insert_tuid_lf(before: bytes, after: bytes) -> None:
    assert insert_tuid(before, T, crlf=False) == after


def test_insert_tuid_crlf() -> None:
    msg = b"Subject: s\r\n\r\nbody\r\n"
    assert insert_tuid(msg, T, crlf=True) == b"Subject: s\r\n" + TL + b"\r\n\r\nbody\r\n"
    assert insert_tuid(b"Subject: s", T, crlf=True) == TL + b"\r\nSubject: s"


def test_convert_message_lf_to_crlf_with_tuid() -> None:
    out = convert_message(b"Subject: s\n\nbody\n", source_crlf=False, target_crlf=True, tuid=T)
    assert out == b"Subject: s\r\n" + TL + b"\r\n\r\nbody\r\n"


def test_convert_message_crlf_to_lf_with_tuid() -> None:
    data = b"Subject: s\r\nX-TUID: abcdefghijkl\r\n\r\nbody\r\n"
    out = convert_message(data, source_crlf=True, target_crlf=False, tuid=T)
    assert out == b"Subject: s\n" + TL + b"\n\nbody\n"


def test_big_message_is_fast_enough_and_exact() -> None:
    body = b"0123456789" * 7 + b"\n"
    data = b"Subject: big\n\n" + body * 80_000  # ~5.7 MB
    out = convert_message(data, source_crlf=False, target_crlf=True, tuid=T)
    assert out.count(b"\r\n") == data.count(b"\n") + 1
    back = convert_message(out, source_crlf=True, target_crlf=False)
    assert back == b"Subject: big\n" + TL + b"\n\n" + body * 80_000


def test_bad_tuid_length() -> None:
    with pytest.raises(ValueError):
        insert_tuid(b"", "short", crlf=False)


def test_header_value_message_id() -> None:
    msg = b"From: a@b\nMessage-ID: <x@y>\nSubject: s\n\nMessage-ID: <body@y>\n"
    assert header_value(msg, b"message-id") == "<x@y>"
    # Any case of the field name, CRLF, a field that is the first line.
    assert header_value(b"message-id:  <x@y> \r\n\r\nbody\r\n", b"message-id") == "<x@y>"
    assert header_value(b"MESSAGE-ID:<x@y>\r\n\r\n", b"message-id") == "<x@y>"


def test_header_value_folded() -> None:
    assert header_value(b"Message-Id:\n <x@y>\nTo: t\n\nb\n", b"message-id") == "<x@y>"
    assert header_value(b"Message-Id:\r\n\t<x@y>\r\n\r\n", b"message-id") == "<x@y>"
    assert header_value(b"Subject: a\n b\n\tc\nTo: t\n\n", b"subject") == "a b c"
    # The last header line, no empty line after it.
    assert header_value(b"To: t\nMessage-ID: <x@y>", b"message-id") == "<x@y>"


def test_header_value_absent_or_empty() -> None:
    # Only in the body, or as part of another field's name or a continuation line.
    assert header_value(b"To: t\n\nMessage-ID: <x@y>\n", b"message-id") is None
    assert header_value(b"X-Message-ID: <x@y>\n\n", b"message-id") is None
    assert header_value(b"To: t,\n Message-ID: <x@y>\n\n", b"message-id") is None
    assert header_value(b"\nMessage-ID: <x@y>\n", b"message-id") is None
    assert header_value(b"Message-ID:\nTo: t\n\n", b"message-id") is None
    assert header_value(b"Message-ID:   \n\n", b"message-id") is None
    assert header_value(b"", b"message-id") is None


def _header_end_by_lines(data: bytes) -> int:
    """The definition, slowly: the offset of the first line that is empty or a lone CR."""
    pos = 0
    while (nl := data.find(b"\n", pos)) >= 0:
        if data[pos : nl + 1] in (b"\n", b"\r\n"):
            return pos
        pos = nl + 1
    return -1


@given(st.lists(st.sampled_from([b"a", b":", b" ", b"\r", b"\n", b"\r\n", b"X-TUID: x"]),
                max_size=40))
def test_header_end_is_the_first_empty_line(pieces: list[bytes]) -> None:
    from syncmail.sync.msgcvt import _header_end

    data = b"".join(pieces)
    assert _header_end(data) == _header_end_by_lines(data)
