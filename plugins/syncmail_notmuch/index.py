"""The notmuch side of the plugin: index deliveries, follow renames and removals, push tags.

Every function takes an open ``notmuch2.Database``; the caller decides when to open it
read-write and keeps that short (notmuch's writers wait for each other).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from syncmail.record import record

log = logging.getLogger(__name__)

BATCH = 500
INFO = ":2,"

OperationKind = Literal["new", "flags", "removed"]


@record(frozen=True, hot=True)
class Operation:
    """One buffered change to mirror into notmuch; ``path`` is the file's current (or last) name."""

    kind: OperationKind
    path: str
    old_flags: str = ""


@record
class Counts:
    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: int = 0
    flagged_files: int = 0


def batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def database_path(db: Any) -> str:
    return os.fsdecode(db.path)


def mail_root(db: Any) -> str:
    """Where the mail files are: ``database.mail_root`` when the config splits it from
    the database (notmuch >= 0.32), else the database path."""
    try:
        root = db.config.get("database.mail_root")
    except Exception:  # noqa: BLE001 - an older libnotmuch without the key
        root = None
    return str(root) if root else database_path(db)


def xapian_dirs(root: str) -> list[str]:
    """Where the Xapian files of the database at ``root`` may be: inside it (the
    classic layout) or under ``$XDG_DATA_HOME`` (notmuch >= 0.32 split layout)."""
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    profile = os.environ.get("NOTMUCH_PROFILE") or "default"
    candidates = [
        os.path.join(root, ".notmuch", "xapian"),
        os.path.join(root, "xapian"),  # database.path apart from mail_root
        os.path.join(data, "notmuch", profile, "xapian"),
    ]
    return [c for c in candidates if os.path.isdir(c)]


def to_db_path(root: str, path: str) -> str | None:
    """``path`` spelled under the database root as notmuch stores it, or None if outside."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root + os.sep):
        return None
    return os.path.join(root, os.path.relpath(real, real_root))


def new_tags(db: Any) -> list[str]:
    raw = db.config.get("new.tags") or "unread;inbox"
    return [tag.strip() for tag in str(raw).split(";") if tag.strip()]


def synchronize_flags(db: Any) -> bool:
    raw = db.config.get("maildir.synchronize_flags")
    return raw is None or str(raw).strip().lower() not in ("false", "no", "0", "off")


def apply_operations(db: Any, operations: Iterable[Operation]) -> Counts:
    """Mirror buffered deliveries, flag renames and removals into the (read-write) database."""
    import notmuch2

    root = mail_root(db)
    tags = new_tags(db)
    sync = synchronize_flags(db)
    counts = Counts()
    relevant: list[tuple[Operation, str]] = []
    for op in operations:
        db_path = to_db_path(root, op.path)
        if db_path is None:
            log.debug("notmuch: %s is outside the database %s; not indexed", op.path, root)
            counts.skipped += 1
            continue
        relevant.append((op, db_path))
    for chunk in batches(relevant):
        with db.atomic():
            for op, db_path in chunk:
                try:
                    if op.kind == "new":
                        _index(db, db_path, tags, sync, counts)
                    elif op.kind == "flags":
                        _flags_changed(db, db_path, op.old_flags, tags, sync, counts)
                    else:
                        db.remove(db_path)
                        counts.removed += 1
                except notmuch2.NotmuchError as exc:
                    log.warning("notmuch: %s: %s", db_path, exc)
                    counts.skipped += 1
    return counts


def _index(db: Any, path: str, tags: list[str], sync: bool, counts: Counts) -> None:
    import notmuch2

    try:
        msg, dup = db.add(path, sync_flags=False)
    except notmuch2.FileNotEmailError:
        log.warning("notmuch: %s is not an email; not indexed", path)
        counts.skipped += 1
        return
    except notmuch2.FileError:
        # Gone again (moved by another tool); the next `notmuch new` sees where it went.
        log.debug("notmuch: %s vanished before indexing", path)
        counts.skipped += 1
        return
    with msg.frozen():
        if not dup:
            # db.add() does not apply new.tags; `notmuch new` would.
            for tag in tags:
                msg.tags.add(tag)
        if sync:
            msg.tags.from_maildir_flags()
    counts.added += 1


def _flags_changed(
    db: Any, path: str, old_flags: str, tags: list[str], sync: bool, counts: Counts
) -> None:
    try:
        msg = db.get(path)
    except LookupError:
        old = _old_name(db, path, old_flags)
        if not os.path.lexists(path):
            # Renamed, then expunged in the same run (a deletion, an upgraded
            # placeholder): only the old name is left to drop.
            if old is not None and not os.path.lexists(old):
                db.remove(old)
                counts.removed += 1
            return
        if old is None:
            # Never indexed (e.g. delivered before the plugin was enabled): index it now.
            _index(db, path, tags, sync, counts)
            return
        db.add(path, sync_flags=False)
        if not os.path.lexists(old):
            db.remove(old)
        msg = db.get(path)
    if sync:
        msg.tags.from_maildir_flags()
    counts.updated += 1


def _split_name(path: str) -> tuple[str, str]:
    """(box directory, unique part of the file name before the info suffix)."""
    box_dir = os.path.dirname(os.path.dirname(path))
    name = os.path.basename(path)
    base = name.split(INFO, 1)[0]
    return box_dir, base


def _old_name(db: Any, path: str, old_flags: str) -> str | None:
    """The name notmuch still has for the file that was renamed to ``path``."""
    box_dir, base = _split_name(path)
    candidates = [os.path.join(box_dir, sub, base + INFO + old_flags) for sub in ("cur", "new")]
    candidates.append(os.path.join(box_dir, "new", base))
    for candidate in candidates:
        if candidate == path:
            continue
        try:
            db.get(candidate)
        except LookupError:
            continue
        return candidate
    # Flags outside D F P R S T (keywords, unsorted letters) defeat the guess: look the
    # message up by Message-ID and pick its file with the same unique name in this box.
    message_id = read_message_id(path)
    if message_id is None:
        return None
    try:
        msg = db.find(message_id)
    except LookupError:
        return None
    for filename in msg.filenames():
        name = os.fsdecode(filename)
        other_box, other_base = _split_name(name)
        if name != path and other_box == box_dir and other_base == base:
            return name
    return None


def read_message_id(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            from email.parser import BytesHeaderParser  # only when indexing: 5 ms

            headers = BytesHeaderParser().parse(handle)
    except OSError:
        return None
    value = headers.get("Message-ID")
    if not value:
        return None
    text = str(value).strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return text or None


def scope_query(root: str, maildir_roots: Sequence[str]) -> str | None:
    """A ``path:`` query covering the Maildir roots under the database; None if none is."""
    real_root = os.path.realpath(root)
    parts: list[str] = []
    for maildir_root in maildir_roots:
        real = os.path.realpath(maildir_root)
        if real == real_root:
            return ""
        if not real.startswith(real_root + os.sep):
            continue
        rel = os.path.relpath(real, real_root).replace('"', '""')
        parts.append(f'path:"{rel}/**"')
    if not parts:
        return None
    return "(" + " or ".join(parts) + ")"


def push_tags(db: Any, since: int, scope: str) -> Counts:
    """Rename files so their flags follow tag changes made after revision ``since``."""
    import notmuch2

    counts = Counts()
    query = f"lastmod:{since + 1}.."
    if scope:
        query = f"{query} and {scope}"
    # Collect ids first: renaming while a query iterates would invalidate it.
    ids = [
        str(msg.messageid)
        for msg in db.messages(query, omit_excluded=notmuch2.Database.EXCLUDE.FALSE)
    ]
    for chunk in batches(ids):
        with db.atomic():
            for message_id in chunk:
                try:
                    msg = db.find(message_id)
                    msg.tags.to_maildir_flags()
                except LookupError:
                    continue
                except notmuch2.NotmuchError as exc:
                    log.warning("notmuch: cannot update flags of id:%s: %s", message_id, exc)
                    continue
                counts.flagged_files += 1
    return counts
