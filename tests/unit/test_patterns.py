"""mbsync's Patterns: wildcards, exclusions, last match wins, INBOX-first order."""

from __future__ import annotations

import pytest

from syncmail.config.patterns import (
    ListScope,
    box_sort_key,
    filter_boxes,
    is_inbox,
    list_scope,
    matches,
)


@pytest.mark.parametrize(
    ("name", "pattern", "result"),
    [
        ("INBOX", "INBOX", True),
        ("INBOX", "inbox", False),
        ("Work", "*", True),
        ("Work/Sub", "*", True),
        ("", "*", True),
        ("Work", "%", True),
        ("Work/Sub", "%", False),
        ("Work/Sub", "Work/%", True),
        ("Work/Sub/Deep", "Work/%", False),
        ("Work/Sub/Deep", "Work/*", True),
        ("Work", "Work/*", False),
        ("Work", "W%k", True),
        ("Wo/rk", "W%k", False),
        ("Archive.2020", "Archive.*", True),
        ("Archivex2020", "Archive.*", False),  # '.' is literal
        ("[Gmail]/Sent Mail", "[Gmail]*", True),
        ("a+b(c)", "a+b(c)", True),
        ("abc", "a*c", True),
        ("ac", "a*c", True),
        ("ab", "a*c", False),
        ("x", "", False),
        ("", "", True),
    ],
)
def test_matches(name: str, pattern: str, result: bool) -> None:
    assert matches(name, pattern) is result


BOXES = ["Work", "INBOX", "Archive", "Work/Old", "INBOX/Sub", "Drafts", "Trash", "Zed/a"]


@pytest.mark.parametrize(
    ("patterns", "selected"),
    [
        (["*"], ["INBOX", "INBOX/Sub", "Archive", "Drafts", "Trash", "Work", "Work/Old", "Zed/a"]),
        (["%"], ["INBOX", "Archive", "Drafts", "Trash", "Work"]),
        (["*", "!Work*"], ["INBOX", "INBOX/Sub", "Archive", "Drafts", "Trash", "Zed/a"]),
        (["!Work*", "*"], ["INBOX", "INBOX/Sub", "Archive", "Drafts", "Trash", "Work", "Work/Old",
                           "Zed/a"]),
        (["*", "!Work*", "Work/Old"], ["INBOX", "INBOX/Sub", "Archive", "Drafts", "Trash",
                                       "Work/Old", "Zed/a"]),
        (["Work"], ["Work"]),
        (["INBOX", "Trash"], ["INBOX", "Trash"]),
        (["!Trash"], []),
        ([], []),
        (["nothing"], []),
    ],
)  # fmt: skip
def test_filter_boxes(patterns: list[str], selected: list[str]) -> None:
    assert filter_boxes(BOXES, patterns) == selected


def test_filter_boxes_with_prefix() -> None:
    names = ["INBOX", "INBOX.Work", "INBOX.Archive", "Other"]
    assert filter_boxes(names, ["*"], prefix="INBOX.") == ["Archive", "Work"]


def test_order_is_inbox_first_then_byte_order() -> None:
    names = ["b", "INBOX/z", "B", "a", "INBOX", "INBOXES", "Ä", "_x"]
    assert sorted(names, key=box_sort_key) == ["INBOX", "INBOX/z", "B", "INBOXES", "_x", "a",
                                               "b", "Ä"]  # fmt: skip
    assert filter_boxes(names, ["*"]) == sorted(names, key=box_sort_key)


def test_duplicates_are_listed_once() -> None:
    assert filter_boxes(["a", "a", "INBOX"], ["*"]) == ["INBOX", "a"]


def test_is_inbox() -> None:
    assert is_inbox("INBOX") and is_inbox("INBOX/x")
    assert not is_inbox("INBOXES") and not is_inbox("Inbox")


@pytest.mark.parametrize(
    ("patterns", "prefix", "flattened", "scope"),
    [
        (["*"], "", False, ListScope(path=True)),
        (["INBOX"], "", False, ListScope(inbox=True)),
        (["INBOX*"], "", False, ListScope(inbox=True, path_maybe=True)),
        (["INBOX%"], "", False, ListScope(inbox=True, path_maybe=True)),
        (["INBOX/Sub"], "", False, ListScope(inbox=True)),
        (["INBOX/Sub"], "", True, ListScope(path=True)),
        (["INBOXES"], "", False, ListScope(path=True)),
        (["INBOX", "!Trash", "Work"], "", False, ListScope(inbox=True, path=True)),
        (["*"], "INBOX/", False, ListScope(inbox=True)),
        (["!*"], "", False, ListScope()),
    ],
)
def test_list_scope(patterns: list[str], prefix: str, flattened: bool, scope: ListScope) -> None:
    assert list_scope(patterns, prefix, flattened=flattened) == scope
