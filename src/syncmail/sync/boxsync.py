"""One box pair of a channel: opened here (Create/Remove, or nothing to do at all), then
listed, planned, applied journalled and committed by ``syncmail.sync.openpair``.

Order of work (mbsync's): TUID matches, killed pairs, new pairs (``_`` placeholders,
``~`` expiry starts); flag changes (one store call per side, then ``*`` and ``~``);
``F`` UIDNEXT and ``#`` TUIDs, journal synced, then copies in batches (``%``, store,
``<``/``>``; copies without a UID are found by X-TUID); per side trash (``T``) then
expunge; pruning, max UIDs, pruning of expired pairs; commit; only then plugin events
(at least once across a crash).  Unlike mbsync, pruning (orphaning after an expunge)
and the max UIDs are journalled, so a run whose only change they are still saves the
state; their order keeps every prefix of the journal a state a resumed run can start
from.

``<state>.syncmail`` (``syncmail.sync.sidecar``) lets a run skip listing a box pair when
the boxes' change markers, the state file, the operations and the channel's and stores'
plan settings are what they were the last time nothing was to be done.  New messages
are copied by ``syncmail.sync.copying``.

Test hook: with the environment variable ``SYNCMAIL_TEST_CRASH_AFTER=N`` the process
ends with ``os._exit(100)`` right after the N-th journal line of the run (mbsync's
``-Ts<N>``), so tests can interrupt a sync at every step and check the resume.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from syncmail.config.model import ChannelConfig, Config, Operations
from syncmail.errors import (
    BoxError,
    StoreError,
    SyncmailError,
)
from syncmail.events import BoxResult, CopyProgress, Progress
from syncmail.record import record
from syncmail.store.base import (
    Box,
    BoxMissing,
    Store,
)
from syncmail.sync.kwsync import keywords_changed
from syncmail.sync.loads import FAR, NEAR, SIDES
from syncmail.sync.lookahead import Lookahead, maildir_side
from syncmail.sync.sidecar import Sidecar, plan_settings
from syncmail.sync.statefiles import (
    StateFiles,
    StatePaths,
    state_paths,
)

__all__ = [
    "CRASH_ENV",
    "FORCE_JOURNAL_ENV",
    "FAKE_EXPUNGE_ENV",
    "NO_UIDPLUS_ENV",
    "CrashHook",
    "RunContext",
    "sync_box",
]

if TYPE_CHECKING:
    from syncmail.sync.journal import Journal
    from syncmail.sync.moves import MoveSet

log = logging.getLogger(__name__)

CRASH_ENV = "SYNCMAIL_TEST_CRASH_AFTER"
# Tests only (mbsync's -Tu): ignore the UIDs stores report for new copies, so that
# they are found by X-TUID as on a server without UIDPLUS (sync.copying).
NO_UIDPLUS_ENV = "SYNCMAIL_TEST_NO_UIDPLUS"
# Tests only (mbsync's -Tx): decide expunges but do not make them.
FAKE_EXPUNGE_ENV = "SYNCMAIL_TEST_FAKE_EXPUNGE"
# Tests only (mbsync's -TJ, which run-tests.pl uses): pre-commit lines are journalled
# too, so a run whose only changes are pre-commit ones saves the state.
FORCE_JOURNAL_ENV = "SYNCMAIL_TEST_FORCE_JOURNAL"


class CrashHook:
    """Counts journal lines across the run; exits the process at the limit (tests only)."""

    def __init__(self) -> None:
        value = os.environ.get(CRASH_ENV)
        self.limit = int(value) if value and value.isdigit() else 0
        self.count = 0

    def install(self, journal: Journal) -> None:
        if not self.limit:
            return
        inner = journal._log  # noqa: SLF001 - the test hook wraps the one line writer

        def log_and_count(line: str, pre_commit: bool = False) -> None:
            before = journal.lines_written
            inner(line, pre_commit)
            if journal.lines_written > before:
                self.count += 1
                if self.count >= self.limit:
                    os._exit(100)

        setattr(journal, "_log", log_and_count)  # noqa: B010


@record
class RunContext:
    """What one run carries from box pair to box pair: errors, counts, progress."""

    config: Config
    pm: Any
    dry_run: bool = False
    progress_cb: Callable[[Progress], None] | None = None
    # --force: the deletion safety rail is off.
    force: bool = False
    stores: dict[str, Store | StoreError] = field(default_factory=dict)
    errors: list[SyncmailError] = field(default_factory=list)
    boxes: list[BoxResult] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)
    changed: list[bool] = field(default_factory=lambda: [False, False])
    crash: CrashHook = field(default_factory=CrashHook)
    # Stores connected at least once this run (a lost one is worth reaching again).
    reached: set[str] = field(default_factory=set)
    # Channel -> retries it took to connect its stores and list its boxes.
    reconnects: dict[str, int] = field(default_factory=dict)
    # Asked between box pairs: True ends the run there.
    should_stop: Callable[[], bool] | None = None
    # RunOptions.trust_listed_status, RunOptions.locked_is_error.
    trust_listed_status: bool = True
    locked_is_error: bool = True
    # DetectMoves: the moves of the channel being synced (syncmail.sync.moves).
    moves: MoveSet | None = None
    # Plugin events held back until the channel's box pairs are done (removals of the
    # files of moved messages: the new file is announced first).
    deferred_events: list[tuple[str, Any]] = field(default_factory=list)
    # The box pair after the one being synced (its channel and names), and the reading
    # of its local files under way (``start_lookahead``).
    next_pair: tuple[ChannelConfig, tuple[str, str, str]] | None = None
    lookahead: Lookahead | None = None

    def report(self) -> None:
        if self.progress_cb is not None:
            self.progress_cb(self.progress)


def _on_store(store: Store, name: str) -> str:
    on_store = getattr(store, "on_store_name", None)
    return str(on_store(name)) if callable(on_store) else name


def pair_state_paths(
    config: Config, channel: ChannelConfig, far: Store, near: Store, far_name: str, near_name: str
) -> StatePaths:
    """The state files of the box pair ``far_name`` / ``near_name`` of ``channel``."""
    from syncmail.store.maildir import MaildirStore

    near_dir = near.box_path(near_name) if isinstance(near, MaildirStore) else None
    return state_paths(
        config,
        channel,
        far.name,
        _on_store(far, far_name),
        near.name,
        _on_store(near, near_name),
        near_dir,
    )


def start_lookahead(r: RunContext) -> None:
    """Start reading the local files of the pair after this one on a thread
    (``syncmail.sync.lookahead``), while this one waits on its server."""
    if r.next_pair is not None:
        look_ahead(r, *r.next_pair)


def look_ahead(
    r: RunContext, channel: ChannelConfig, names: tuple[str, str, str], *, guessed: bool = False
) -> None:
    """Start reading the local files of the pair ``names`` of ``channel`` on a thread,
    unless a reading is under way.  A ``guessed`` pair (the first, before the boxes are
    listed) is read only if its Maildir changed since its notes."""
    if r.lookahead is not None:
        return
    name, far_name, near_name = names
    far, near = r.stores.get(channel.far.store), r.stores.get(channel.near.store)
    if not isinstance(far, Store) or not isinstance(near, Store):
        return
    paths = pair_state_paths(r.config, channel, far, near, far_name, near_name)
    r.lookahead = Lookahead(
        (channel.name, far_name, near_name),
        paths.state,
        (maildir_side(far, far_name), maildir_side(near, near_name)),
        expire_side=channel.expire_side,
        box=name or near_name,
        if_changed=guessed,
    )
    r.lookahead.start()


def _take_lookahead(r: RunContext, key: tuple[str, str, str]) -> Lookahead | None:
    """The lookahead read for the pair ``key``, if one was; the run forgets it."""
    ahead, r.lookahead = r.lookahead, None
    return ahead if ahead is not None and ahead.key == key else None


def sync_box(
    r: RunContext,
    channel: ChannelConfig,
    ops: Operations,
    far: Store,
    near: Store,
    name: str,
    far_name: str,
    near_name: str,
) -> BoxResult:
    label = name or near_name
    r.progress.channel, r.progress.box = channel.name, label
    r.progress.copies = CopyProgress()
    ahead = _take_lookahead(r, (channel.name, far_name, near_name))
    paths = pair_state_paths(r.config, channel, far, near, far_name, near_name)
    sf = StateFiles(
        paths,
        fsync=r.config.globals.fsync,
        channel=channel.name,
        box=label,
        dry_run=r.dry_run,
        expire_side=channel.expire_side,
    )
    opened: list[Box | None] = [None, None]
    with sf:
        # Locked by load() when a state exists, else once both boxes are there: a box
        # that is missing and not created gets no directory for a lock file.
        try:
            stores = (far, near)
            names = (far_name, near_name)
            # A status the box listing gave (LIST-STATUS) spares opening the box when
            # nothing changed; the others are opened now.
            statuses = [stores[t].peek_status(names[t]) for t in (FAR, NEAR)]
            for t in (FAR, NEAR):
                if statuses[t] is None:
                    box = opened[t] = _try_open(stores[t], names[t])
                    statuses[t] = box.status if box is not None else None
            if os.path.exists(paths.state):
                sf.lock()  # mbsync or another syncmail may be at work on this pair
            fs, ns = statuses
            if (
                fs is not None
                and ns is not None
                and not os.path.exists(paths.journal)
                and Sidecar(
                    paths.state + ".syncmail", ops, (fs, ns), plan_settings(r.config, channel)
                ).unchanged()
                and not keywords_changed(r.pm, (far, near), (far_name, near_name))
            ):
                # Not even the state needs reading.
                log.debug(
                    "channel %s, box %s: nothing changed since the last run", channel.name, label
                )
                return BoxResult(channel.name, label)
            for t in (FAR, NEAR):
                if opened[t] is None and statuses[t] is not None:
                    opened[t] = _try_open(stores[t], names[t])
            if ahead is not None:
                _adopt_scans(ahead, opened)
            state = sf.load(ahead.state() if ahead is not None else None)
            missing = [t for t in (FAR, NEAR) if opened[t] is None]
            if missing:
                done = _missing_boxes(r, channel, ops, stores, names, opened, sf, missing, label)
                if done is not None:
                    return done
            fbox, nbox = opened
            assert fbox is not None and nbox is not None
            sf.lock()
            # Imported here: a run whose pairs all take the fast path above never needs
            # the planning and copying machinery (a tenth of its start-up).
            from syncmail.sync.openpair import sync_open_pair

            return sync_open_pair(r, channel, ops, stores, (fbox, nbox), sf, state, label)
        finally:
            for box in opened:
                if box is not None:
                    box.close()


def _adopt_scans(ahead: Lookahead, opened: list[Box | None]) -> None:
    from syncmail.store.maildir import MaildirBox

    for t in (FAR, NEAR):
        box, scan = opened[t], ahead.scan(t)
        if isinstance(box, MaildirBox) and scan is not None:
            box.adopt_scan(scan)


def _try_open(store: Store, name: str) -> Box | None:
    try:
        return store.open_box(name)
    except BoxMissing:
        return None


def _missing_boxes(
    r: RunContext,
    channel: ChannelConfig,
    ops: Operations,
    stores: tuple[Store, Store],
    names: tuple[str, str],
    opened: list[Box | None],
    sf: StateFiles,
    missing: list[int],
    label: str,
) -> BoxResult | None:
    """mbsync's rules for absent boxes: Create, Remove, or an error.

    Returns the result when the pair is finished, None when both boxes are open now.
    """
    if len(missing) == 2:
        if not sf.existing:
            raise BoxError(
                channel.name,
                label,
                f"both far side {names[FAR]} and near side {names[NEAR]} cannot be opened",
            )
        # Both gone: an interrupted deletion propagation; the state goes too.
        sf.delete()
        return BoxResult(channel.name, label)
    t = missing[0]
    other = opened[1 - t]
    assert other is not None
    if sf.existing:
        if SIDES[1 - t] not in ops.remove:
            raise BoxError(
                channel.name, label, f"{SIDES[t]} box {names[t]} cannot be opened anymore"
            )
        if not other.is_empty():
            log.warning(
                "Warning: channel %s: %s box %s cannot be opened anymore, and %s box %s "
                "is not empty.",
                channel.name,
                SIDES[t],
                names[t],
                SIDES[1 - t],
                names[1 - t],
            )
            return BoxResult(channel.name, label)
        log.info("Deleting %s box %s...", SIDES[1 - t], names[1 - t])
        if r.dry_run:
            return BoxResult(channel.name, label)
        other.close()
        opened[1 - t] = None
        stores[1 - t].delete_box(names[1 - t])
        r.changed[1 - t] = True
        sf.delete()
        stores[1 - t].finish_delete_box(names[1 - t])
        return BoxResult(channel.name, label)
    if SIDES[t] not in ops.create:
        raise BoxError(channel.name, label, f"{SIDES[t]} box {names[t]} cannot be opened")
    log.info("Creating %s box %s...", SIDES[t], names[t])
    if r.dry_run:
        return BoxResult(channel.name, label)
    opened[t] = stores[t].open_box(names[t], create=True)
    r.changed[t] = True
    return None
