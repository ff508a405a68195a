"""syncmail plugin: keep a notmuch database in step with what the sync does.

Deliveries into Maildirs under the notmuch database are indexed (with ``new.tags`` and
flag tags), flag renames and removals are followed, and before a sync tag changes made
in notmuch are written to the Maildir flags so that the sync sends them to the server.
notmuch2 is imported only when a hook needs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from syncmail import hookimpl
from syncmail.config.model import Config, ExtraKeyword, Target
from syncmail.events import FlagsChanged, MessageRemoved, NewMessage, RunSummary
from syncmail_notmuch import revstate
from syncmail_notmuch.index import BATCH, Operation, batches, to_db_path
from syncmail_notmuch.kwsource import NotmuchKeywords, changed_dirs
from syncmail_notmuch.settings import (
    Settings,
    SettingsError,
    config_keywords,
    may_write_database,
    notmuch_configured,
    settings_from_config,
)
from syncmail_notmuch.tagmap import TagMap

if TYPE_CHECKING:
    from syncmail.keywords import KeywordSource
    from syncmail_notmuch.revstate import Revision

log = logging.getLogger(__name__)

__all__ = ["Settings", "install_hook"]


class _Run:
    """What one run has buffered for notmuch, from ``pre_sync`` to ``post_sync``.

    pluggy registers this module itself, so the buffer lives here; it is emptied at
    the end of every run. The lock serialises database access: opening notmuch
    read-write twice in one process deadlocks.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.settings = Settings()
        self.pending: list[Operation] = []
        # The revision our tag push and our own writes have reached; None = not tracking.
        self.baseline: Revision | None = None
        self.baseline_dirty = False
        self.root: str | None = None
        # Where the mail files are (database.mail_root, else the database path).
        self.mail_root: str | None = None
        self.warned = False
        self.enabled: bool | None = None
        # Box directories whose tags changed since the last run (None: unknown).
        self.tag_dirs: set[str] | None = None
        self.tagmap: TagMap | None = None

    def reset(self, settings: Settings) -> None:
        with self.lock:
            self.settings = settings
            self.pending = []
            self.baseline = None
            self.baseline_dirty = False
            self.root = None
            self.mail_root = None
            self.warned = False
            self.enabled = None
            self.tag_dirs = None
            self.tagmap = None

    def is_enabled(self) -> bool:
        """Index or tag work to do and a notmuch to do it in (looked up once per run)."""
        if self.enabled is None:
            self.enabled = self.settings.active and notmuch_configured(self.settings)
            if not self.enabled:
                log.debug("notmuch: not configured or switched off; plugin idle")
        return self.enabled


_run = _Run()


def install_hook(notmuch_config: str | None = None, syncmail_config: str | None = None) -> str:
    """Install the pre-new hook script; see ``syncmail_notmuch.hook.install_hook``."""
    from syncmail_notmuch.hook import install_hook as install

    return install(notmuch_config, syncmail_config)


@hookimpl
def syncmail_config_keywords() -> list[ExtraKeyword]:
    return config_keywords()


@hookimpl
def syncmail_pre_sync(config: Config, targets: Sequence[Target]) -> str | None:
    try:
        settings = settings_from_config(config)
    except SettingsError as exc:
        return str(exc)
    _run.reset(settings)
    if settings.keywords and _run.is_enabled():
        with _run.lock:
            _note_tag_changes(settings)
    if settings.sync_tags and _run.is_enabled():
        with _run.lock:
            _push_tags(settings)
    return None


@hookimpl
def syncmail_watch_paths(config: Config) -> list[str]:
    """The Xapian directory: a tag change there is pushed to the flags by the next run."""
    try:
        settings = settings_from_config(config)
    except SettingsError:
        return []
    if not (settings.sync_tags and settings.active and notmuch_configured(settings)):
        return []
    db = _open(settings, "ro")
    if db is None:
        return []
    with db:
        from syncmail_notmuch.index import database_path, xapian_dirs

        return xapian_dirs(database_path(db))


@hookimpl
def syncmail_new_message(event: NewMessage) -> None:
    if event.path is not None:
        _queue(Operation("new", event.path))


@hookimpl
def syncmail_flags_changed(event: FlagsChanged) -> None:
    if event.path is not None:
        _queue(Operation("flags", event.path, event.old_flags))


@hookimpl
def syncmail_message_removed(event: MessageRemoved) -> None:
    if event.path is not None:
        _queue(Operation("removed", event.path))


@hookimpl
def syncmail_keyword_source(store: str, box: str, path: str) -> KeywordSource | None:
    settings = _run.settings
    if not settings.keywords or not _run.is_enabled() or _run.tagmap is None:
        return None
    # Under the mail files' root: with database.mail_root set apart from database.path,
    # the database's own directory holds no mail.
    if _run.mail_root is None or to_db_path(_run.mail_root, path) is None:
        return None
    return NotmuchKeywords(path, _run.tagmap, _open_flushed, _run.tag_dirs, _after_write)


def _open_flushed(mode: str) -> Any | None:
    """The database, after this run's buffered deliveries were indexed."""
    with _run.lock:
        _flush()
        return _open(_run.settings, mode)


def _after_write(before: Revision, after: Revision) -> None:
    with _run.lock:
        _advance_baseline(before, after)


def _note_tag_changes(settings: Settings) -> None:
    """Which box directories had tags changed since the last run, and the tag map."""
    from syncmail_notmuch.index import database_path, mail_root, new_tags

    db = _open(settings, "ro")
    if db is None:
        return
    with db:
        root = _run.root = database_path(db)
        _run.mail_root = mail_root(db)
        _run.tagmap = TagMap.build(
            new_tags(db), settings.never_push, dict(settings.map_keywords)
        )
        known = revstate.load(root)
        if known is None or known.uuid != revstate.from_db(db).uuid:
            _run.tag_dirs = None
            return
        _run.tag_dirs = changed_dirs(db, known.rev)


@hookimpl
def syncmail_post_sync(summary: RunSummary) -> None:
    with _run.lock:
        try:
            if not summary.dry_run:
                _flush()
            if _run.baseline is not None and _run.baseline_dirty:
                _save_baseline()
        finally:
            # The next run starts from its own pre_sync (or from the defaults).
            _run.reset(Settings())


def _queue(op: Operation) -> None:
    if not _run.settings.index or not _run.is_enabled():
        return
    with _run.lock:
        _run.pending.append(op)
        if len(_run.pending) >= BATCH:
            # Events come after each box is committed, so writing now is safe and
            # keeps the buffer (and each write-lock hold) small.
            _flush()


def _open(settings: Settings, mode: str) -> Any | None:
    """Open the notmuch database, or None (logged) when there is none or notmuch2 is missing."""
    try:
        import notmuch2
    except ImportError:
        _note(settings, "notmuch2 is not installed (pip install notmuch2); notmuch not updated")
        return None
    config: Any = settings.config_file or notmuch2.Database.CONFIG.SEARCH
    try:
        return notmuch2.Database(mode=mode, config=config)
    except (notmuch2.NotmuchError, OSError) as exc:
        if settings.config_where is not None:
            # notmuch's message names no file ("cannot load config file"): say which.
            where = f"{settings.config_where} {settings.config_file}: "
        else:
            where = ""
        _note(settings, f"{where}cannot open the notmuch database: {exc}")
        return None


def _note(settings: Settings, message: str) -> None:
    # Without a Notmuch section the plugin is opportunistic: no notmuch, no noise.
    if settings.configured and not _run.warned:
        log.warning("notmuch: %s", message)
        _run.warned = True
    else:
        log.debug("notmuch: %s", message)


def _flush() -> None:
    pending, _run.pending = _run.pending, []
    if not pending:
        return
    if not may_write_database():
        log.info("notmuch < 0.32 holds its lock during pre-new: `notmuch new` will index the mail")
        return
    from syncmail_notmuch.index import apply_operations

    for chunk in batches(pending):
        # One short read-write session per batch so alot / `notmuch tag` get a turn.
        db = _open(_run.settings, "rw")
        if db is None:
            return
        with db:
            before = revstate.from_db(db)
            counts = apply_operations(db, chunk)
            _advance_baseline(before, revstate.from_db(db))
        log.debug("notmuch: %s", counts)


def _advance_baseline(before: Revision, after: Revision) -> None:
    # Our own writes need not be pushed back to the flags, but someone else's writes
    # since the baseline must be: only skip ahead when nobody else wrote in between.
    if _run.baseline is not None and before == _run.baseline:
        _run.baseline = after
        _run.baseline_dirty = True


def _push_tags(settings: Settings) -> None:
    from syncmail_notmuch.index import (
        database_path,
        mail_root,
        push_tags,
        scope_query,
        synchronize_flags,
    )

    if not may_write_database():
        log.info("notmuch < 0.32 holds its lock during pre-new: tags are not pushed to flags")
        return
    db = _open(settings, "ro")
    if db is None:
        return
    with db:
        if not synchronize_flags(db):
            return
        root = _run.root = database_path(db)
        files_root = mail_root(db)
        current = revstate.from_db(db)
    known = revstate.load(root)
    _run.baseline = current
    if known is None or known.uuid != current.uuid:
        # First run (or a rebuilt database): flags and tags are taken to agree now.
        revstate.save(root, current)
        return
    scope = scope_query(files_root, settings.maildir_roots)
    if scope is None or current.rev <= known.rev:
        _run.baseline_dirty = current != known
        return
    db = _open(settings, "rw")
    if db is None:
        return
    with db:
        counts = push_tags(db, known.rev, scope)
        _run.baseline = revstate.from_db(db)
    revstate.save(root, _run.baseline)
    log.info("notmuch: tag changes written to the flags of %d messages", counts.flagged_files)


def _save_baseline() -> None:
    if _run.root is not None and _run.baseline is not None:
        revstate.save(_run.root, _run.baseline)
    _run.baseline_dirty = False
