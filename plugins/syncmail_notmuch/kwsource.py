"""notmuch tags as the keywords of a Maildir box (``syncmail_keyword_source``).

Tags are per message, keywords per file: every file of a message shows the message's
tags.  Reads and writes open the database briefly (notmuch's writers wait for each
other); deliveries buffered by the plugin are indexed first, so that this run's new
mail has its tags.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from syncmail.keywords import fold
from syncmail_notmuch.tagmap import TagMap

log = logging.getLogger(__name__)


class NotmuchKeywords:
    """The keyword source of one box directory."""

    def __init__(
        self,
        box_dir: str,
        tagmap: TagMap,
        open_db: Callable[[str], Any | None],
        changed_dirs: set[str] | None,
        after_write: Callable[[Any, Any], None],
    ) -> None:
        self.box_dir = os.path.realpath(box_dir)
        self.tagmap = tagmap
        self.open_db = open_db
        self.changed_dirs = changed_dirs
        self.after_write = after_write

    def changed(self) -> bool:
        # Unknown (first run, rebuilt database): look.
        return self.changed_dirs is None or self.box_dir in self.changed_dirs

    def allowed(self, keyword: str) -> bool:
        return self.tagmap.tag_of(keyword) is not None

    def read(self, paths: Sequence[str]) -> dict[str, frozenset[str]]:
        db = self.open_db("ro")
        if db is None:
            return {}
        out: dict[str, frozenset[str]] = {}
        with db:
            for path in paths:
                try:
                    msg = db.get(path)
                except LookupError:
                    continue  # not indexed (yet): its keywords wait for the next run
                out[path] = self.tagmap.keywords(str(t) for t in msg.tags)
        return out

    def write(self, edits: Sequence[tuple[str, frozenset[str], frozenset[str]]]) -> None:
        if not edits:
            return
        import notmuch2

        from syncmail_notmuch import revstate

        db = self.open_db("rw")
        if db is None:
            return
        with db:
            before = revstate.from_db(db)
            with db.atomic():
                for path, add, remove in edits:
                    try:
                        msg = db.get(path)
                        with msg.frozen():
                            for keyword in remove:
                                self._discard(msg, keyword)
                            for keyword in add:
                                tag = self.tagmap.tag_of(keyword)
                                if tag is not None:
                                    msg.tags.add(tag)
                    except LookupError:
                        continue
                    except notmuch2.NotmuchError as exc:
                        log.warning("notmuch: cannot tag %s: %s", path, exc)
            self.after_write(before, revstate.from_db(db))

    def _discard(self, msg: Any, keyword: str) -> None:
        key = fold(keyword)
        for tag in list(msg.tags):
            mapped = self.tagmap.keyword_of(str(tag))
            if mapped is not None and fold(mapped) == key:
                msg.tags.discard(tag)


def changed_dirs(db: Any, since: int) -> set[str]:
    """Box directories of the files of messages whose tags or files changed after ``since``."""
    import notmuch2

    dirs: set[str] = set()
    query = f"lastmod:{since + 1}.."
    for msg in db.messages(query, omit_excluded=notmuch2.Database.EXCLUDE.FALSE):
        for filename in msg.filenames():
            name = os.fsdecode(filename)
            dirs.add(os.path.realpath(os.path.dirname(os.path.dirname(name))))
    return dirs
