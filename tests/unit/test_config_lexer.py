"""The mbsyncrc lexer: tokens, quoting, escapes, comments, blank lines (mbsync.md 1.1)."""

from __future__ import annotations

import pytest

from syncmail.config.lexer import LexError, Line, lex, split_line


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Host imap.example.com", ["Host", "imap.example.com"]),
        ("  Host\t imap.example.com  ", ["Host", "imap.example.com"]),
        ('Pass "a b"', ["Pass", "a b"]),
        ('Pass a"b c"d', ["Pass", "ab cd"]),
        ('Pass ""', ["Pass", ""]),
        (r"Pass a\"b", ["Pass", 'a"b']),
        (r"Pass a\\b", ["Pass", "a\\b"]),
        (r'Pass "a\"b c"', ["Pass", 'a"b c']),
        (r"Pass a\ b", ["Pass", "a b"]),
        ("Host foo # note", ["Host", "foo"]),
        ("Host foo #note more", ["Host", "foo"]),
        ("Pass ab#cd", ["Pass", "ab#cd"]),
        ('Pass "#notacomment"', ["Pass", "#notacomment"]),
        (r"Pass \#x", ["Pass", "#x"]),
        ("# whole line", []),
        ("", []),
        ("   \t ", []),
        ("Patterns * !Trash INBOX/%", ["Patterns", "*", "!Trash", "INBOX/%"]),
        ("PassCmd \"pass show 'mail/x' | head -1\"", ["PassCmd", "pass show 'mail/x' | head -1"]),
    ],
)
def test_split_line(text: str, tokens: list[str]) -> None:
    assert split_line(text) == tokens


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('Pass "abc', "missing closing quote"),
        ('Pass a"b c', "missing closing quote"),
        ("Pass abc\\", "unterminated escape sequence"),
        ("Pass abc\\\t", "unterminated escape sequence"),
    ],
)
def test_split_line_errors(text: str, message: str) -> None:
    with pytest.raises(LexError, match=message):
        split_line(text)


def test_lex_numbers_lines_and_skips_comment_lines() -> None:
    text = "# head\nA 1\n  # indented comment\n\nB 2\n   \nC 3"
    assert list(lex(text)) == [
        Line(2, ("A", "1")),
        Line(4, ()),
        Line(5, ("B", "2")),
        Line(6, ()),
        Line(7, ("C", "3")),
    ]


def test_comment_line_is_not_blank() -> None:
    lines = list(lex("A 1\n# c\nB 2\n"))
    assert [line.number for line in lines] == [1, 3]
    assert not any(line.blank for line in lines)


def test_lex_error_line_is_neither_blank_nor_content() -> None:
    (line,) = list(lex('Pass "x\n'))
    assert line.error == "missing closing quote"
    assert not line.blank
    assert line.words == ()


def test_crlf_line_endings() -> None:
    lines = list(lex("A 1\r\n\r\nB 2\r\n"))
    assert lines == [Line(1, ("A", "1")), Line(2, ()), Line(3, ("B", "2"))]


def test_long_lines_are_kept_whole_and_flagged() -> None:
    value = "x" * 3000
    (line,) = list(lex(f"PassCmd {value}\n"))
    assert line.words == ("PassCmd", value)
    assert line.too_long
    (short,) = list(lex("PassCmd " + "y" * 100))
    assert not short.too_long
