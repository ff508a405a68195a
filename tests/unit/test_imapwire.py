"""Pure parts of the IMAP session layer: UID sets, response codes, FETCH parsing, names."""

from __future__ import annotations

import types
from datetime import UTC, datetime

import pytest

from syncmail.config.model import IMAPAccountConfig, IMAPStoreConfig, Location
from syncmail.errors import AuthenticationFailed, ConnectionFailed, StoreError
from syncmail.store.imap import IMAPBoxError, IMAPStore, check_box_name
from syncmail.store.imapwire import (
    MAX_SET_LEN,
    CommandFailed,
    Session,
    body_item,
    compress_uids,
    expand_uid_set,
    internaldate,
    internaldate_timestamp,
    iter_fetch,
    parse_appenduid,
    parse_copyuid,
    parse_fetch,
    translate,
    uid_set_chunks,
)


@pytest.mark.parametrize(
    ("uids", "text"),
    [
        ([1, 2, 3, 7], "1:3,7"),
        ([], ""),
        ([5], "5"),
        ([7, 3, 2, 1, 3], "1:3,7"),
        ([1, 3, 5, 6], "1,3,5:6"),
        (range(1, 50_001), "1:50000"),
    ],
)
def test_compress_uids(uids: list[int], text: str) -> None:
    assert compress_uids(uids) == text


def test_chunks_cover_50000_sparse_uids_under_the_line_limit() -> None:
    uids = list(range(1, 100_001, 2))
    chunks = list(uid_set_chunks(uids))
    assert len(chunks) > 1
    assert all(len(c) <= MAX_SET_LEN for c in chunks)
    assert [u for c in chunks for u in expand_uid_set(c)] == uids


def test_chunks_keep_runs_whole() -> None:
    assert list(uid_set_chunks([1, 2, 3, 10, 11, 20], max_len=6)) == ["1:3", "10:11", "20"]


def test_expand_uid_set() -> None:
    assert expand_uid_set("4:6,9") == [4, 5, 6, 9]
    assert expand_uid_set("9:7") == [9, 8, 7]


def test_appenduid_and_copyuid() -> None:
    assert parse_appenduid(b"[APPENDUID 1795636039 9] Append completed.") == (1795636039, [9])
    assert parse_appenduid("[APPENDUID 38505 3955:3957] done") == (38505, [3955, 3956, 3957])
    assert parse_appenduid(b"Append completed.") is None
    assert parse_copyuid(b"[COPYUID 38505 304,319:320 3956:3958] Done") == (
        38505,
        [304, 319, 320],
        [3956, 3957, 3958],
    )
    assert parse_copyuid(b"[COPYUID 1 1:3 5] mismatched") is None


def test_parse_fetch_fast_and_generic_paths() -> None:
    data = [
        b"1 (UID 4 FLAGS (\\Seen $Forwarded) RFC822.SIZE 120)",
        b"2 (FLAGS () UID 7)",
        b"3 (FLAGS (\\Deleted))",  # unsolicited: no UID
        (b"4 (UID 9 BODY[HEADER.FIELDS (X-TUID)] {20}", b"X-TUID: abcdef123456"),
        b' INTERNALDATE "17-Jul-1996 02:44:25 -0700")',
    ]
    items = parse_fetch(data)
    by_seq = {i[b"SEQ"]: i for i in items}
    assert by_seq[1][b"UID"] == 4
    assert by_seq[1][b"FLAGS"] == (b"\\Seen", b"$Forwarded")
    assert by_seq[1][b"RFC822.SIZE"] == 120
    assert by_seq[2] == {b"SEQ": 2, b"FLAGS": (), b"UID": 7}
    assert b"UID" not in by_seq[3]
    assert body_item(by_seq[4], b"HEADER.FIELDS") == b"X-TUID: abcdef123456"
    stamp = internaldate_timestamp(by_seq[4][b"INTERNALDATE"])
    assert stamp == datetime(1996, 7, 17, 9, 44, 25, tzinfo=UTC).timestamp()


def test_parse_fetch_reads_simple_bodies_itself_and_others_generically() -> None:
    data = [
        (b"1 (UID 5 FLAGS (\\Seen $Forwarded) BODY[] {5}", b"hello"),
        b")",
        (b"2 (UID 6 FLAGS () BODY[] {0}", b""),
        b")",
        # Items after the literal, or a date: the generic parser.
        (b"3 (BODY[] {3}", b"xyz"),
        b" UID 9)",
        (b'4 (UID 7 INTERNALDATE "17-Jul-1996 02:44:25 -0700" BODY[] {2}', b"xy"),
        b")",
    ]
    by_seq = {i[b"SEQ"]: i for i in parse_fetch(data)}
    assert by_seq[1] == {
        b"SEQ": 1, b"UID": 5, b"FLAGS": (b"\\Seen", b"$Forwarded"), b"BODY[]": b"hello"
    }
    assert by_seq[2] == {b"SEQ": 2, b"UID": 6, b"FLAGS": (), b"BODY[]": b""}
    assert by_seq[3][b"UID"] == 9 and body_item(by_seq[3]) == b"xyz"
    assert by_seq[4][b"UID"] == 7 and body_item(by_seq[4]) == b"xy"
    assert isinstance(by_seq[4][b"INTERNALDATE"], datetime)


def test_iter_fetch_gives_parse_fetchs_items_one_at_a_time() -> None:
    data = [
        b"1 (UID 4 FLAGS (\\Seen) RFC822.SIZE 120)",
        (b"2 (UID 9 BODY[HEADER.FIELDS (X-TUID)] {20}", b"X-TUID: abcdef123456"),
        b' INTERNALDATE "17-Jul-1996 02:44:25 -0700")',
        b"3 (UID 5 FLAGS () RFC822.SIZE 7)",
    ]
    lazy = iter_fetch(data)
    assert next(lazy)[b"UID"] == 4  # before the rest is parsed
    assert [i[b"SEQ"] for i in lazy] == [3, 2]  # simple ones first, as parse_fetch
    assert list(iter_fetch(data)) == parse_fetch(data)


def test_iter_fetch_refuses_a_bad_item_when_it_gets_there() -> None:
    lazy = iter_fetch([b"1 (UID 4 FLAGS ())", b"2 (UID 0 FLAGS ())"])
    assert next(lazy)[b"UID"] == 4
    with pytest.raises(ValueError, match="UID"):
        next(lazy)


def test_the_whole_body_is_body_and_not_another_section_sent_first() -> None:
    data = [
        (b"2 (UID 2 BODY[HEADER.FIELDS (X-NOTE)] {0}", b""),
        (b" BODY[] {9}", b"Subject:x"),
        b")",
    ]
    [item] = parse_fetch(data)
    assert body_item(item) == b"Subject:x"
    assert body_item(item, b"HEADER.FIELDS") == b""


def test_a_literal_shorter_than_announced_is_not_taken_as_simple() -> None:
    import imaplib

    with pytest.raises((ValueError, imaplib.IMAP4.error)):
        parse_fetch([(b"1 (UID 5 BODY[] {9}", b"short"), b")"])


def test_parse_fetch_keeps_a_spooled_body_whatever_its_size() -> None:
    import tempfile

    from syncmail.store.base import SpooledBody

    file = tempfile.TemporaryFile()
    file.write(b"Subject: big\r\n\r\n" + b"x" * 1000)
    body = SpooledBody(file, 1017)
    data = [(b"1 (UID 5 FLAGS (\\Seen) BODY[] {5000000000}", body), b")"]
    [item] = parse_fetch(data)
    assert item[b"UID"] == 5 and body_item(item) is body
    assert body.head(12) == b"Subject: big"
    body.close()


def test_internaldate_is_english_and_round_trips() -> None:
    text = internaldate(1_000_000_000.0)
    day, month, rest = text.split("-", 2)
    assert month in ("Sep",)
    parsed = datetime.strptime(text, "%d-%b-%Y %H:%M:%S %z")
    assert parsed.timestamp() == 1_000_000_000.0


def test_translate_never_leaks_and_classifies() -> None:
    import imaplib

    from imapclient.exceptions import LoginError

    assert isinstance(
        translate(LoginError("b'[AUTHENTICATIONFAILED] no'"), "s", "LOGIN"), AuthenticationFailed
    )
    assert isinstance(translate(TimeoutError(), "s", "FETCH"), ConnectionFailed)
    assert isinstance(
        translate(imaplib.IMAP4.abort("socket error: EOF"), "s", "X"), ConnectionFailed
    )
    assert isinstance(translate(ConnectionRefusedError(111, "refused"), "s", "c"), ConnectionFailed)
    failed = translate(imaplib.IMAP4.error("select failed: NONEXISTENT"), "s", "SELECT")
    assert isinstance(failed, CommandFailed)
    # Worth a new connection or not: a lost one is, a time-out or a bug is not.
    lost = translate(imaplib.IMAP4.abort("socket error: EOF"), "s", "X")
    assert isinstance(lost, ConnectionFailed) and lost.retryable
    timeout = translate(TimeoutError("no answer"), "s", "FETCH")
    assert isinstance(timeout, ConnectionFailed) and not timeout.retryable
    bug = translate(AttributeError("no attribute 'x'"), "s", "LIST")
    assert isinstance(bug, ConnectionFailed) and not bug.retryable
    assert "unexpected error during LIST: AttributeError" in str(bug)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("INBOX", True),
        ("Lists/python", True),
        ("a..b", True),
        ("..", False),
        ("foo/../bar", False),
        ("../etc", False),
        ("x/..", False),
        ("tab\there", False),
        ("cur", False),
        ("Lists/new", False),
        ("tmp/x", False),
        ("current/news", True),
        ("L" * 255, True),
        ("L" * 256, False),
        ("/".join(["L" * 200] * 6), False),
    ],
)
def test_check_box_name(name: str, safe: bool) -> None:
    assert (check_box_name(name) is None) is safe


def _store(delim: str, prefix: str, **store_fields: str) -> IMAPStore:
    here = Location("f", 1)
    cfg = IMAPStoreConfig(
        name="s",
        defined_at=here,
        account=IMAPAccountConfig(name="a", defined_at=here),
        **store_fields,  # type: ignore[arg-type]
    )
    store = IMAPStore(cfg)
    store.delimiter = delim
    store.prefix = prefix
    return store


@pytest.mark.parametrize(
    ("delim", "prefix", "canonical", "server"),
    [
        ("/", "", "INBOX", "INBOX"),
        ("/", "", "Lists/python", "Lists/python"),
        (".", "INBOX.", "Lists/python", "INBOX.Lists.python"),
        (".", "INBOX.", "INBOX", "INBOX"),
        (".", "", "INBOX/sub", "INBOX.sub"),
        ("/", "mail/", "Sent", "mail/Sent"),
    ],
)
def test_name_mapping_round_trips(delim: str, prefix: str, canonical: str, server: str) -> None:
    store = _store(delim, prefix)
    assert store.server_name(canonical) == server
    assert store.on_store_name(canonical) == canonical  # what mbsync names state files by
    assert store._canonical(server) == canonical


def test_inbox_case_is_normalised() -> None:
    store = _store("/", "")
    assert store._canonical("inbox") == "INBOX"
    assert store._canonical("Inbox/Sub") == "INBOX/Sub"
    assert store.server_name("inbox") == "INBOX"


def test_names_outside_the_prefix_and_slashes_in_dot_names_are_dropped() -> None:
    store = _store(".", "INBOX.")
    assert store._canonical("Other") is None
    assert store._canonical("INBOX.a/b") is None


def test_flatten_and_map_inbox() -> None:
    store = _store("/", "INBOX/", flatten=".", map_inbox="Inbox")
    # State files are named like mbsync's: Flatten applied, MapInbox resolved, no Path.
    assert store.on_store_name("Lists/python") == "Lists.python"
    assert store.on_store_name("Inbox") == "INBOX"
    assert store.server_name("Lists/python") == "INBOX/Lists.python"
    assert store.server_name("Inbox") == "INBOX"
    assert store.accept_listed((), b"INBOX/Lists.python") == "Lists/python"
    # INBOX stays INBOX; like mbsync, list_boxes adds the MapInbox name besides it.
    assert store.accept_listed((), b"INBOX") == "INBOX"
    assert store.accept_listed((), b"INBOX/a/b") is None  # real hierarchy cannot be flattened
    with pytest.raises(IMAPBoxError, match="Flatten"):
        store.on_store_name("a.b/c")


# Found by fuzzing (tests/fuzz/test_fuzz_imap_parse.py): answers that parsed, but into
# values store.imap then used outside the session's guard (int(b"x"), iterating None),
# or that made imapclient's own parser raise AttributeError; all became internal errors.
@pytest.mark.parametrize(
    "data",
    [
        [b"1 (UID 5 FLAGS NIL)"],
        [b"1 (UID (5))"],
        [b"1 (UID 0)"],
        [b"1 (UID 5 RFC822.SIZE x)"],
        [b"1 (UID 5 BODY[] 7)"],
        [b"54 (UID 3 INTERNALDATE 5)"],
        [b'54 (UID 3 INTERNALDATE "junk")'],
        [b"2 (UID 3 INTERNALDATE 5 FLAGS NIL)"],
    ],
)
def test_parse_fetch_refuses_values_of_the_wrong_type(data: list[bytes]) -> None:
    with pytest.raises(ValueError) as info:
        parse_fetch(data)
    assert isinstance(translate(info.value, "s", "UID FETCH"), CommandFailed)


@pytest.mark.parametrize(
    "text",
    [
        b"[APPENDUID 1 1:] done",
        b"[APPENDUID 1 ,] done",
        b"[APPENDUID 0 5] done",
        b"[APPENDUID 1 0] done",
        b"[APPENDUID 1 1:4294967295] done",  # would have built a list of 2^32 UIDs
        b"[APPENDUID 1 99999999999] done",
        b"[APPENDUID " + b"9" * 5000 + b" 1] done",
    ],
)
def test_broken_appenduid_is_no_appenduid(text: bytes) -> None:
    assert parse_appenduid(text) is None
    assert parse_copyuid(text.replace(b"APPENDUID", b"COPYUID").replace(b"]", b" 1]")) is None


@pytest.mark.parametrize("text", ["", "1:", ",", "0", "1:x", "\u0663", "1:200001"])
def test_expand_uid_set_refuses_bad_sets(text: str) -> None:
    with pytest.raises(ValueError):
        expand_uid_set(text, limit=200_000)


class _NamespaceClient:
    """Just enough of imapclient for IMAPStore._namespace: a server with a broken prefix."""

    def __init__(self, prefix: bytes) -> None:
        self._imap = types.SimpleNamespace(debug=0)
        self.prefix = prefix

    def namespace(self) -> object:
        return types.SimpleNamespace(personal=((self.prefix, b"/"),))


def test_invalid_utf7_namespace_prefix_is_a_store_error() -> None:
    store = _store("/", "")
    session = Session(_NamespaceClient(b"&Jjo"), "s")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="invalid NAMESPACE prefix"):
        store._namespace(session, frozenset({"NAMESPACE"}))
    session = Session(_NamespaceClient(b"Mail/&ZeVnLIqe-/"), "s")  # type: ignore[arg-type]
    store._namespace(session, frozenset({"NAMESPACE"}))
    assert (store.prefix, store.delimiter) == ("Mail/\u65e5\u672c\u8a9e/", "/")


@pytest.mark.parametrize(
    "line",
    [
        b"1 (UID 4 FLAGS (\\Seen) RFC822.SIZE 120 X-GUID 0c6d0e1a5c58fb5e2a0b0000ad2a0c6a)",
        b"2 (UID 5 X-GUID 1733353200.M1P2.host FLAGS ())",
        b"3 (UID 6 FLAGS () X-GUID 12345)",
        b'4 (UID 7 FLAGS () X-GUID "a quoted guid")',
        b"5 (UID 8 X-GUID NIL)",
    ],
)
def test_x_guid_lines_read_alike_on_both_paths(line: bytes) -> None:
    """A DetectMoves listing on Dovecot carries X-GUID: the fast path reads an atom one as
    the generic parser does (a quoted one goes to the generic parser)."""
    from imapclient.response_parser import parse_fetch_response

    from syncmail.store.imapwire import _SIMPLE_FETCH

    assert bool(_SIMPLE_FETCH.fullmatch(line)) == (b'"' not in line)
    [generic] = parse_fetch_response([line], uid_is_key=False).values()
    assert parse_fetch([line]) == [generic]
