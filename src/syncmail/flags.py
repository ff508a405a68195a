"""Message flags: mbsync's bitmask, Maildir info letters and IMAP system flags; pure.

A flag set is an ``int`` bitmask with mbsync's bit values (they are also what its
journal writes): D=1 F=2 P=4 R=8 S=16 T=32.  Letters are always written in this
order, which is also ASCII order.
"""

from __future__ import annotations

DRAFT = 1
FLAGGED = 2
PASSED = 4
REPLIED = 8
SEEN = 16
TRASHED = 32

ALL = DRAFT | FLAGGED | PASSED | REPLIED | SEEN | TRASHED

LETTERS = "DFPRST"
_BIT_OF_LETTER = {letter: 1 << i for i, letter in enumerate(LETTERS)}

# IMAP spelling of each bit; $Forwarded is the keyword mbsync uses for Passed.
IMAP_NAMES = {
    DRAFT: "\\Draft",
    FLAGGED: "\\Flagged",
    PASSED: "$Forwarded",
    REPLIED: "\\Answered",
    SEEN: "\\Seen",
    TRASHED: "\\Deleted",
}
_BIT_OF_IMAP = {name.lower(): bit for bit, name in IMAP_NAMES.items()}


def to_letters(flags: int) -> str:
    """``DFPRST`` letters of ``flags``, in canonical order (``0`` gives ``""``)."""
    return "".join(letter for letter in LETTERS if flags & _BIT_OF_LETTER[letter])


def from_letters(letters: str) -> int:
    """Bitmask of the DFPRST letters in ``letters``; other characters are ignored."""
    flags = 0
    for ch in letters:
        flags |= _BIT_OF_LETTER.get(ch, 0)
    return flags


def to_imap(flags: int) -> list[str]:
    """IMAP flag names for ``flags``, in bit order."""
    return [name for bit, name in IMAP_NAMES.items() if flags & bit]


def from_imap(names: object) -> int:
    """Bitmask of the system flags among IMAP flag names (str or bytes); keywords ignored."""
    flags = 0
    for name in names:  # type: ignore[attr-defined]
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        flags |= _BIT_OF_IMAP.get(text.lower(), 0)
    return flags


def merge_maildir_info(info_flags: str, flags: int) -> str:
    """Maildir ``2,`` flag string for ``flags``, keeping letters we do not own.

    Known letters are replaced by ``flags``; any other letter (Dovecot keyword
    letters ``a``-``z``, for instance) is kept; the result is sorted in ASCII order
    without duplicates, as mbsync and notmuch write it.
    """
    kept = {ch for ch in info_flags if ch not in _BIT_OF_LETTER}
    return "".join(sorted(kept | set(to_letters(flags))))
