"""Splits an mbsyncrc into lines of tokens, each with its line number (mbsync's ``get_arg``).

Quoting, escapes and comments follow isync's ``src/config.c``; the parser sees only tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

from syncmail.record import record

# mbsync reads lines into a 1024-byte buffer; we accept longer ones but say so.
MBSYNC_LINE_LIMIT = 1023
# C's isspace() in the "C" locale; Python's str.isspace() also knows Unicode spaces.
_SPACE = frozenset(" \t\n\r\f\v")


class LexError(ValueError):
    """A line that cannot be split into tokens; ``str()`` is mbsync's message."""


@record(frozen=True)
class Line:
    """One significant line: ``words`` is empty for a blank line (it ends a section).

    ``error`` is set (and ``words`` empty) when the line could not be tokenized; such a
    line neither counts as content nor ends a section.
    """

    number: int
    words: tuple[str, ...]
    error: str | None = None
    too_long: bool = False

    @property
    def blank(self) -> bool:
        return not self.words and self.error is None


def split_line(text: str) -> list[str]:
    """The tokens of one line; a token starting with an unquoted ``#`` ends the line."""
    tokens: list[str] = []
    pos = 0
    end = len(text)
    while True:
        while pos < end and text[pos] in _SPACE:
            pos += 1
        if pos >= end or text[pos] == "#":
            return tokens
        out: list[str] = []
        escaped = quoted = False
        while pos < end:
            c = text[pos]
            pos += 1
            if escaped and ord(c) >= 32:
                escaped = False
                out.append(c)
            elif c == "\\":
                escaped = True
            elif c == '"':
                quoted = not quoted
            elif not quoted and c in _SPACE:
                break
            else:
                out.append(c)
        if escaped:
            raise LexError("unterminated escape sequence")
        if quoted:
            raise LexError("missing closing quote")
        tokens.append("".join(out))


def lex(text: str) -> Iterator[Line]:
    """Yield every blank or significant line of ``text``; comment-only lines are skipped.

    A line whose first token starts with ``#`` is dropped entirely, so it does not end
    a section the way an empty line does.
    """
    raws = text.split("\n")
    if raws and raws[-1] == "":
        raws.pop()
    for number, raw in enumerate(raws, start=1):
        try:
            words = split_line(raw)
        except LexError as exc:
            yield Line(number, (), str(exc))
            continue
        if not words:
            stripped = raw.strip(" \t\n\r\f\v")
            if stripped.startswith("#"):
                continue
            yield Line(number, ())
            continue
        # Undecodable bytes arrive as surrogates (the file is read like mbsync, as bytes).
        size = len(raw.encode("utf-8", "surrogateescape"))
        yield Line(number, tuple(words), too_long=size > MBSYNC_LINE_LIMIT - 1)
