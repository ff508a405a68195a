"""Keywords: validity, the tag <-> keyword escaping, the three-way merge, the notes,
the notmuch plugin's tag map, KeywordConflict and PERMANENTFLAGS (issue 11, part A)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from syncmail_notmuch.tagmap import TagMap

from syncmail.config.parser import parse_config
from syncmail.errors import ConfigError
from syncmail.keywords import decode_keyword, encode_tag, is_keyword, keywords_of
from syncmail.sync import kwnotes
from syncmail.sync.keywords import merge

# RFC 3501 flag-keyword: atom characters without "]".
_ATOM = re.compile(r'^[^\x00-\x20\x7f-\U0010ffff(){%*"\\\]]+$')


@pytest.mark.parametrize(
    ("tag", "keyword"),
    [
        ("todo", "todo"),
        ("$label1", "$label1"),
        ("a b", "a=20b"),
        ("café", "caf=c3=a9"),
        ("x=y", "x=3dy"),
        ("\\Seen", "=5cSeen"),
        ("(paren)", "=28paren=29"),
        ("list[1]", "list=5b1=5d"),
        ("x" * 50, "x" * 50),
        ("x" * 51, None),
        ("é" * 9, None),  # 54 characters escaped
        ("", None),
    ],
)
def test_encode_tag(tag: str, keyword: str | None) -> None:
    assert encode_tag(tag) == keyword
    if keyword is not None:
        assert decode_keyword(keyword) == tag


@given(st.text(min_size=1, max_size=60))
def test_every_tag_encodes_to_a_valid_keyword_and_back(tag: str) -> None:
    keyword = encode_tag(tag)
    if keyword is None:
        assert len(tag.encode()) > 16  # only long ones are skipped
        return
    assert is_keyword(keyword) and _ATOM.match(keyword) and len(keyword) <= 50
    assert decode_keyword(keyword) == tag


def test_keywords_of_a_flag_list() -> None:
    names = [b"\\Seen", b"$Forwarded", b"work", "$Junk", b"\\Recent", b"a]b"]
    assert keywords_of(names) == {"work", "$Junk"}


def test_foreign_escapes_decode_or_stay() -> None:
    assert decode_keyword("=zz") == "=zz"
    assert decode_keyword("=ff") == "=ff"  # not UTF-8: kept as it is
    assert decode_keyword("A=42") == "AB"


B = frozenset


@pytest.mark.parametrize(
    ("base", "far", "near", "policy", "out"),
    [
        # Per keyword, the side that differs from the base changed it.
        (B("a"), B("ab"), B("a"), "add", B("ab")),  # far added b
        (B("ab"), B("a"), B("ab"), "add", B("a")),  # far removed b
        (B("ab"), B("abc"), B("a"), "add", B("ac")),  # far added c, near removed b
        (B(""), B("x"), B("y"), "near", B("xy")),  # both added: a base leaves no conflict
        (B("x"), B(""), B(""), "add", B("")),  # both removed
        # No base: the policy decides where they differ.
        (None, B("ab"), B("bc"), "add", B("abc")),
        (None, B("ab"), B("bc"), "far", B("ab")),
        (None, B("ab"), B("bc"), "near", B("bc")),
    ],
)
def test_three_way_merge(
    base: frozenset[str] | None, far: frozenset[str], near: frozenset[str], policy: str,
    out: frozenset[str],
) -> None:  # fmt: skip
    assert merge(base, far, near, policy=policy) == out


def test_merge_leaves_keywords_a_side_cannot_hold() -> None:
    got = merge(B("ab"), B("abz"), B("a"), synced=lambda k: k != "z")
    assert got == B("a")  # b removed by near; z not synced at all


def test_notes_round_trip_and_voiding(tmp_path: Path) -> None:
    path = str(tmp_path / "s.syncmail-keywords")
    assert kwnotes.load(path, (1, 2)) is None
    kwnotes.save(path, (1, 2), {(1, 1): B({"todo", "work"}), (2, 2): B()})
    # Pairs without keywords are not written: the notes are complete without them.
    assert kwnotes.load(path, (1, 2)) == {(1, 1): B({"todo", "work"})}
    assert kwnotes.load(path, (1, 3)) is None  # another UIDVALIDITY
    Path(path).write_text("{broken")
    assert kwnotes.load(path, (1, 2)) is None


@pytest.mark.parametrize(
    ("tag", "keyword"),
    [
        ("todo", "todo"),
        ("inbox", None),
        ("unread", None),
        ("attachment", None),
        ("new", None),
        ("mine", None),  # in new.tags
        ("spam", "$junk"),
        ("a b", "a=20b"),
    ],
)
def test_tag_map_outgoing(tag: str, keyword: str | None) -> None:
    assert TagMap.build(["mine", "inbox"], [], {}).keyword_of(tag) == keyword


@pytest.mark.parametrize(
    ("keyword", "tag"),
    [
        ("todo", "todo"),
        ("$Junk", "spam"),
        ("$MDNSent", None),
        ("NonJunk", None),
        ("$label4", "$label4"),
        ("inbox", None),  # never pushed, so never pulled either
        ("a=20b", "a b"),
        ("=61", None),  # decodes to "a", which would go back as "a": left alone
    ],
)
def test_tag_map_incoming(keyword: str, tag: str | None) -> None:
    assert TagMap.build(["inbox"], [], {}).tag_of(keyword) == tag


def test_tag_map_configured() -> None:
    tm = TagMap.build([], ["private"], {"$label4": "todo", "$Junk": ""})
    assert tm.keyword_of("private") is None
    assert tm.tag_of("$LABEL4") == "todo" and tm.keyword_of("todo") == "$label4"
    assert tm.tag_of("$Junk") is None and tm.keyword_of("spam") == "spam"


def test_keyword_conflict_setting() -> None:
    text = "KeywordConflict far\n\nMaildirStore a\nPath /a/\n\nChannel c\nFar :a:\nNear :a:\n"
    assert parse_config(text, "rc").channels["c"].keyword_conflict == "far"
    with pytest.raises(ConfigError, match="rc:9: KeywordConflict must be add, far or near"):
        parse_config(text + "KeywordConflict both\n", "rc")


def test_no_new_keywords_without_backslash_star(caplog: pytest.LogCaptureFixture) -> None:
    from syncmail.config.model import IMAPStoreConfig, Location
    from syncmail.store.imap import IMAPStore
    from syncmail.store.imapbox import IMAPBox

    store = IMAPStore(IMAPStoreConfig(name="m365", defined_at=Location("rc", 1)))
    box = IMAPBox(store, "INBOX")
    box.permanent_flags = frozenset({"\\seen", "$junk"})
    with caplog.at_level(logging.WARNING):
        assert box.keywords_allowed("$junk")
        assert not box.keywords_allowed("todo")
        assert not box.keywords_allowed("work")
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Warning:")]
    assert len(warnings) == 1 and "store m365" in warnings[0]
    box.permanent_flags = frozenset({"\\*"})
    assert box.keywords_allowed("todo")
