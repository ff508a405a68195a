"""IMAP keywords (user flags beyond the six system flags) and local tag names; pure.

A keyword is an IMAP atom (ASCII 0x21-0x7E without ``( ) { % * " \\ ]``) that does not
start with ``\\`` and has at most ``MAX_LENGTH`` characters (Dovecot's default
``mail_max_keyword_length``).  Keywords compare case-insensitively (RFC 3501), so the
engine handles them by their ``fold``.  ``encode_tag``/``decode_keyword`` map any local
tag (a notmuch tag, say) to a keyword and back: a tag that already is a valid keyword
goes as is, anything else is escaped reversibly in Thunderbird's ``=hh`` style.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

__all__ = [
    "MAX_LENGTH",
    "KeywordSource",
    "NOT_KEYWORDS",
    "NO_KEYWORDS",
    "decode_keyword",
    "encode_tag",
    "fold",
    "is_keyword",
    "keywords_of",
]

MAX_LENGTH = 50

# Atom-specials of RFC 3501 (besides SP and CTL, which the range excludes) and ``]``
# (resp-specials, not allowed in a flag-keyword).
_SPECIALS = frozenset('(){%*"\\]')
# Escaped by encode_tag besides the specials: "=" (the escape itself) and characters
# Thunderbird escapes too, so that keywords it made decode the same way.
_ESCAPED = _SPECIALS | frozenset("=[<>;&")

# Names in a FETCH FLAGS list that are no keywords for the engine: $Forwarded is the
# Passed flag (syncmail.flags), anything starting with a backslash is a system flag.
NOT_KEYWORDS = frozenset({"$forwarded"})


NO_KEYWORDS: frozenset[str] = frozenset()


def fold(keyword: str) -> str:
    """The comparison key of ``keyword`` (keywords are case-insensitive)."""
    return keyword.lower()


def is_keyword(text: str) -> bool:
    """Whether ``text`` may be sent as an IMAP keyword as it is."""
    return (
        0 < len(text) <= MAX_LENGTH
        and not text.startswith("\\")
        and all(0x21 <= ord(ch) <= 0x7E and ch not in _SPECIALS for ch in text)
    )


def keywords_of(names: Iterable[object]) -> frozenset[str]:
    """The keywords among IMAP flag names (str or bytes): no system flag, no $Forwarded,
    nothing that is not a valid keyword."""
    out: set[str] = set()
    for name in names:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        if is_keyword(text) and fold(text) not in NOT_KEYWORDS:
            out.add(text)
    # Most messages have none: one shared empty set, not 200 bytes per message listed.
    return frozenset(out) if out else NO_KEYWORDS


def encode_tag(tag: str) -> str | None:
    """The keyword for local tag ``tag``, or None when even escaped it is too long.

    A valid keyword without ``=`` goes as is; otherwise every byte of the UTF-8 form
    that is not printable ASCII, or is one of ``( ) { % * " \\ ] = [ < > ; &``, becomes
    ``=hh`` (lower-case hex), as Thunderbird writes tag keys.
    """
    if is_keyword(tag) and "=" not in tag:
        return tag
    out: list[str] = []
    for byte in tag.encode("utf-8"):
        ch = chr(byte)
        if 0x21 <= byte <= 0x7E and ch not in _ESCAPED:
            out.append(ch)
        else:
            out.append(f"={byte:02x}")
    text = "".join(out)
    if text.startswith("\\"):
        text = "=5c" + text[1:]
    return text if 0 < len(text) <= MAX_LENGTH else None


def decode_keyword(keyword: str) -> str:
    """The local tag for ``keyword``: ``=hh`` escapes undone (``encode_tag``'s inverse).

    A ``=`` not followed by two hex digits, or escapes that do not form UTF-8, are kept
    as they are: such a keyword was not made by ``encode_tag``.
    """
    if "=" not in keyword:
        return keyword
    raw = bytearray()
    i = 0
    while i < len(keyword):
        ch = keyword[i]
        hexpart = keyword[i + 1 : i + 3]
        if ch == "=" and len(hexpart) == 2 and all(c in "0123456789abcdefABCDEF" for c in hexpart):
            raw.append(int(hexpart, 16))
            i += 3
        else:
            raw.extend(ch.encode("utf-8"))
            i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return keyword


@runtime_checkable
class KeywordSource(Protocol):
    """Where a Maildir box's keywords live, provided by a plugin (hook
    ``syncmail_keyword_source``); paths are absolute file names of the box's messages.
    """

    def changed(self) -> bool:
        """Whether a keyword of a message in the box may have changed since the last run
        (a box pair with no other change is then synced all the same)."""
        ...

    def allowed(self, keyword: str) -> bool:
        """Whether the box can hold ``keyword`` (folded); others are never synced."""
        ...

    def read(self, paths: Sequence[str]) -> dict[str, frozenset[str]]:
        """The keywords of each file; a file it cannot tell about is left out."""
        ...

    def write(self, edits: Sequence[tuple[str, frozenset[str], frozenset[str]]]) -> None:
        """Apply ``(path, add, remove)`` keyword edits."""
        ...
