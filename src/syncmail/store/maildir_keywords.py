"""Keywords in Maildir file names, Dovecot's way: letters ``a``-``z`` after the flags.

Each box directory has a ``dovecot-keywords`` file of ``<index> <keyword>`` lines
(``0`` is ``a``), so at most 26 keywords per box.  mbsync and notmuch keep lowercase
letters when they rename a file for its flags, and NeoMutt keeps them too.  Used as the
Maildir side's keyword source with ``KeywordLetters yes`` (off by default).  Unlike
Dovecot we take no ``dovecot-uidlist`` lock: the file is replaced by rename only and
only grows, so a reader never sees half of it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from syncmail.keywords import fold, is_keyword

log = logging.getLogger(__name__)

FILE = "dovecot-keywords"
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def parse(text: str) -> dict[int, str]:
    """Index -> keyword of a ``dovecot-keywords`` text; bad lines are skipped."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        index, _, name = line.partition(" ")
        if index.isdigit() and int(index) < len(LETTERS) and is_keyword(name):
            out[int(index)] = name
    return out


class LetterKeywords:
    """The keyword source of one Maildir box directory (see the module docstring)."""

    def __init__(self, box_dir: str, prefix: str = ":2,") -> None:
        self.box_dir = box_dir
        self.prefix = prefix
        self.names = self._load()
        self.warned = False
        # Letters found in file names that dovecot-keywords does not name (the file lost
        # or damaged): what they mean is unknown, so they are neither read nor reused.
        self.unnamed: set[int] = set()

    def _load(self) -> dict[int, str]:
        try:
            with open(os.path.join(self.box_dir, FILE), encoding="ascii", errors="replace") as f:
                return parse(f.read())
        except FileNotFoundError:
            return {}
        except OSError as e:
            log.warning("Warning: cannot read %s/%s: %s", self.box_dir, FILE, e.strerror)
            return {}

    def _index(self, keyword: str) -> int | None:
        key = fold(keyword)
        for index, name in self.names.items():
            if fold(name) == key:
                return index
        return None

    def changed(self) -> bool:
        return False  # a letter changes the file name, so the directory shows it

    def allowed(self, keyword: str) -> bool:
        if self._index(keyword) is not None or len(self.names) < len(LETTERS):
            return True
        if not self.warned:
            self.warned = True
            log.warning(
                "Warning: %s: all 26 keyword letters are taken; further keywords are not "
                "synced for this box",
                self.box_dir,
            )
        return False

    def _letters(self, path: str) -> str:
        name = os.path.basename(path)
        i = name.find(self.prefix)
        return "" if i < 0 else "".join(c for c in name[i + 3 :] if c in LETTERS)

    def read(self, paths: Sequence[str]) -> dict[str, frozenset[str]]:
        """The keywords of ``paths``; a file with a letter no keyword is named for is left
        out (not synced this run): taking it for "no keyword" would delete the other
        side's keywords."""
        out: dict[str, frozenset[str]] = {}
        unknown = 0
        for path in paths:
            indexes = [LETTERS.index(c) for c in self._letters(path)]
            unnamed = {i for i in indexes if i not in self.names}
            if unnamed:
                self.unnamed |= unnamed
                unknown += 1
                continue
            out[path] = frozenset(self.names[i] for i in indexes)
        if unknown:
            letters = "".join(LETTERS[i] for i in sorted(self.unnamed))
            log.warning(
                "Warning: %s: %s names no keyword for letter(s) %s, found in %d file(s); "
                "their keywords are not synced until it does",
                self.box_dir, FILE, letters, unknown,
            )  # fmt: skip
        return out

    def write(self, edits: Sequence[tuple[str, frozenset[str], frozenset[str]]]) -> None:
        grew = False
        for _path, add, _remove in edits:
            for keyword in add:
                taken = set(self.names) | self.unnamed
                if self._index(keyword) is None and len(taken) < len(LETTERS):
                    free = min(set(range(len(LETTERS))) - taken)
                    self.names[free] = keyword
                    grew = True
        if grew:
            self._save()
        for path, add, remove in edits:
            self._rename(path, add, remove)

    def _save(self) -> None:
        target = os.path.join(self.box_dir, FILE)
        tmp = f"{target}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.writelines(f"{i} {name}\n" for i, name in sorted(self.names.items()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def _rename(self, path: str, add: frozenset[str], remove: frozenset[str]) -> None:
        name = os.path.basename(path)
        i = name.find(self.prefix)
        base, info = (name, "") if i < 0 else (name[:i], name[i + 3 :])
        letters = set(info)
        for keyword in remove:
            index = self._index(keyword)
            if index is not None:
                letters.discard(LETTERS[index])
        for keyword in add:
            index = self._index(keyword)
            if index is not None:
                letters.add(LETTERS[index])
        # ASCII order (uppercase flags first), as mbsync and notmuch write and expect.
        new = base + self.prefix + "".join(sorted(letters))
        sub = os.path.basename(os.path.dirname(path))
        # A file in new/ with info goes to cur/, as any flag change moves it.
        target = os.path.join(self.box_dir, "cur" if sub == "new" else sub, new)
        if target != path:
            try:
                os.rename(path, target)
            except OSError as e:
                log.warning("Warning: cannot rename %s: %s", path, e.strerror)
