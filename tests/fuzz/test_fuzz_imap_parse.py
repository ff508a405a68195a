"""Fuzzing the parsing of IMAP server answers: FETCH data, VANISHED, APPENDUID/COPYUID and
modified UTF-7 names.  Whatever a server sends gives a result of the documented types, or an
error the session turns into a clean message (``translate``), never another exception."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from syncmail.errors import ConnectionFailed, ProtocolError
from syncmail.store import utf7
from syncmail.store.base import SpooledBody
from syncmail.store.imapwire import (
    CommandFailed,
    body_item,
    expand_uid_set,
    parse_appenduid,
    parse_copyuid,
    parse_fetch,
    parse_vanished,
    translate,
)


def assert_clean(exc: Exception, what: str) -> None:
    """``exc`` is one the session reports as a failed command or a protocol error."""
    err = translate(exc, "store", what)
    assert isinstance(err, (CommandFailed, ProtocolError)) or (
        isinstance(err, ConnectionFailed) and "unexpected error" not in err.message
    ), f"{type(exc).__name__}: {exc}"


# --- FETCH ---------------------------------------------------------------------------------

number = st.one_of(
    st.integers(0, 5000), st.integers(0, 2**32), st.just(2**64),
).map(lambda n: str(n).encode())  # fmt: skip
odd_atom = st.sampled_from([b"NIL", b"-1", b"x", b"()", b"(1 2)", b'""', b'"q"', b"\\Seen", b"{"])
flag = st.sampled_from(
    [b"\\Seen", b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Draft", b"\\Recent",
     b"$Forwarded", b"kw", b"\\*", b"1", b"NIL", b'"q"', b"(", b")"]
)  # fmt: skip
date = st.sampled_from(
    [b'"17-Jul-1996 02:44:25 -0700"', b'" 1-Jan-2024 00:00:00 +0000"',
     b'"31-Feb-2024 25:61:61 +9999"', b'"junk"', b"NIL", b"5", b'"17-Jul-1996"']
)  # fmt: skip
literal = st.binary(max_size=40)


def item_strategy() -> st.SearchStrategy[list[Any]]:
    """One FETCH item as pieces: bytes are inline text, a 1-tuple is a literal's body."""
    return st.one_of(
        st.builds(lambda v: [b"UID " + v], st.one_of(number, odd_atom)),
        st.builds(lambda v: [b"RFC822.SIZE " + v], st.one_of(number, odd_atom)),
        st.builds(lambda v: [b"MODSEQ (" + v + b")"], number),
        st.builds(lambda fs: [b"FLAGS (" + b" ".join(fs) + b")"], st.lists(flag, max_size=4)),
        st.builds(lambda v: [b"FLAGS " + v], odd_atom),
        st.builds(lambda v: [b"INTERNALDATE " + v], date),
        st.builds(lambda sec, body: [b"BODY[" + sec + b"] ", (body,)],
                  st.sampled_from([b"", b"HEADER.FIELDS (X-TUID)", b"HEADER", b"1"]), literal),
        st.builds(lambda sec, v: [b"BODY[" + sec + b"] " + v],
                  st.sampled_from([b"", b"HEADER.FIELDS (MESSAGE-ID)"]), odd_atom),
        st.builds(lambda junk: [junk], st.binary(max_size=12)),
    )  # fmt: skip


def render(seq: bytes, items: list[list[Any]]) -> list[Any]:
    """imaplib's untagged FETCH data for one message: text up to each literal, the literal
    as ``(text, body)``, and the text after the last one."""
    out: list[Any] = []
    text = seq + b" ("
    first = True
    for pieces in items:
        if not first:
            text += b" "
        first = False
        for piece in pieces:
            if isinstance(piece, tuple):
                out.append((text + b"{%d}" % len(piece[0]), piece[0]))
                text = b""
            else:
                text += piece
    out.append(text + b")")
    return out


fetch_data = st.lists(
    st.one_of(
        st.builds(render, number, st.lists(item_strategy(), max_size=5)).map(tuple),
        st.builds(lambda b: (b,), st.binary(max_size=30)),
        st.just((None,)),
    ),
    max_size=4,
).map(lambda messages: [element for m in messages for element in m])


def check_types(item: dict[bytes, Any]) -> None:
    """What ``parse_fetch`` promises, and what ``store.imap`` relies on."""
    for key in (b"SEQ", b"UID", b"RFC822.SIZE"):
        if key in item:
            assert isinstance(item[key], int) and item[key] >= 0, (key, item[key])
    if b"UID" in item:
        assert 1 <= item[b"UID"] <= 0xFFFFFFFF
    if b"FLAGS" in item:
        assert isinstance(item[b"FLAGS"], tuple)
    if b"INTERNALDATE" in item:
        assert item[b"INTERNALDATE"] is None or isinstance(item[b"INTERNALDATE"], datetime)
    for section in (b"", b"HEADER.FIELDS (X-TUID)"):
        body = body_item(item, section)
        assert body is None or isinstance(body, (bytes, SpooledBody))


@given(fetch_data)
def test_fetch_responses(data: list[Any]) -> None:
    try:
        items = parse_fetch(data)
    except Exception as exc:  # noqa: BLE001 - the property is about which exceptions
        assert_clean(exc, "UID FETCH")
        return
    for item in items:
        check_types(item)


# --- VANISHED, APPENDUID, COPYUID ------------------------------------------------------------

uid_set = st.lists(
    st.one_of(number, st.builds(lambda a, b: a + b":" + b, number, number), st.just(b"")),
    min_size=1, max_size=4,
).map(b",".join)  # fmt: skip


@given(st.lists(st.one_of(
    uid_set, uid_set.map(lambda s: b"(EARLIER) " + s), st.binary(max_size=20), st.none(),
), max_size=3))  # fmt: skip
def test_vanished(data: list[bytes | None]) -> None:
    try:
        ranges = parse_vanished(data)
    except ValueError:
        return  # the documented contract: fetch_changed reports a bad VANISHED response
    assert all(lo <= hi for lo, hi in ranges)


@given(st.one_of(
    st.builds(lambda v, s: b"[APPENDUID " + v + b" " + s + b"] done", number, uid_set),
    st.builds(lambda v, s, d: b"[COPYUID " + v + b" " + s + b" " + d + b"]", number, uid_set,
              uid_set),
    st.binary(max_size=60),
))  # fmt: skip
def test_response_codes(text: bytes) -> None:
    for decoded in (text, text.decode("latin-1")):
        appended = parse_appenduid(decoded)
        if appended is not None:
            assert 1 <= appended[0] <= 0xFFFFFFFF and appended[1]
        copied = parse_copyuid(decoded)
        if copied is not None:
            assert len(copied[1]) == len(copied[2])


@given(uid_set.map(bytes.decode))
def test_uid_sets(text: str) -> None:
    try:
        uids = expand_uid_set(text, limit=10_000)
    except ValueError:
        return
    assert 0 < len(uids) <= 10_000 and all(1 <= u <= 0xFFFFFFFF for u in uids)


# --- modified UTF-7 ------------------------------------------------------------------------

utf7_name = st.one_of(
    st.text(alphabet="&-+,ABCabc019/ .", max_size=20),
    st.text(max_size=10).map(utf7.encode).map(lambda s: s + "&"),
    st.binary(max_size=20),
    st.text(max_size=20),
)


@given(utf7_name)
def test_utf7_decode(name: str | bytes) -> None:
    try:
        text = utf7.decode(name)
    except ValueError:
        return  # the documented contract: the store skips the box with a warning
    assert utf7.decode(utf7.encode(text)) == text


@given(st.text())
def test_utf7_round_trip(text: str) -> None:
    encoded = utf7.encode(text)
    assert encoded.isascii()
    assert utf7.decode(encoded) == text
