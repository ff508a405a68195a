"""The sync run: targets -> channels -> stores (connected once) -> box pairs.

Each box pair is synced by ``syncmail.sync.boxsync``; errors are collected by blast
radius (a store's channels are skipped, a box pair is skipped) and the run goes on.
A lost connection is made again and the work redone (``syncmail.sync.retry``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import field, replace
from typing import Any

from syncmail.config.model import ChannelConfig, ChannelOps, Config, Operations, Target
from syncmail.errors import (
    BoxError,
    ConnectionFailed,
    LockedError,
    RunVetoed,
    ServerTimeout,
    StoreError,
    SyncmailError,
    Unreachable,
)
from syncmail.events import BoxResult, Progress, RunSummary
from syncmail.record import record
from syncmail.store.base import Store
from syncmail.sync.boxsync import (
    CRASH_ENV,
    FAKE_EXPUNGE_ENV,
    NO_UIDPLUS_ENV,
    RunContext,
    look_ahead,
    sync_box,
)
from syncmail.sync.loads import FAR, NEAR
from syncmail.sync.retry import RETRY_DELAYS, retrying

log = logging.getLogger(__name__)

__all__ = [
    "CRASH_ENV",
    "FAKE_EXPUNGE_ENV",
    "NO_UIDPLUS_ENV",
    "RunOptions",
    "RunResult",
    "run",
]


@record(frozen=True)
class RunOptions:
    """How to run: command-line operation overrides, dry run, progress callback, and
    ``force`` (--force: no deletion safety rail)."""

    cli_ops: ChannelOps = ChannelOps()
    dry_run: bool = False
    progress: Callable[[Progress], None] | None = None
    force: bool = False
    # Asked between box pairs: True stops the run there (``syncmail watch`` on SIGTERM).
    should_stop: Callable[[], bool] | None = None
    # Whether a box whose listed status (LIST-STATUS) matches the notes may be skipped
    # unopened.  ``syncmail watch`` says no: its whole-channel runs are the safety net
    # for what the server does not report (Dovecot's STATUS can miss mail written into
    # its Maildir behind its back within the same second; its SELECT does not).
    trust_listed_status: bool = True
    # A box pair whose state another process holds locked: an error (a one-shot run),
    # or ``syncmail watch``'s everyday wait (it tries again shortly): logged at info.
    locked_is_error: bool = True


@record
class RunResult:
    """What a run did, its errors, and which sides it changed (for ``--ext-exit``)."""

    summary: RunSummary
    errors: list[SyncmailError] = field(default_factory=list)
    far_changed: bool = False
    near_changed: bool = False

    def exit_code(self, ext_exit: bool) -> int:
        code = 1 if self.errors else 0
        if ext_exit:
            code |= (32 if self.far_changed else 0) | (64 if self.near_changed else 0)
        return code


def run(
    config: Config,
    targets: Sequence[Target],
    options: RunOptions,
    plugin_manager: Any = None,
    *,
    stores: dict[str, Store | StoreError] | None = None,
) -> RunResult:
    """Sync ``targets``; errors are collected per store / box and the run goes on.

    ``stores`` (store name -> connected store, or the error it failed with) lets a caller
    that runs again and again (``syncmail watch``) keep its connections: the run uses and
    updates that dict and leaves its stores open.  Without it, the run connects what it
    needs and closes it at the end.
    """
    r = RunContext(
        config, plugin_manager, options.dry_run, options.progress, force=options.force
    )
    r.should_stop = options.should_stop
    r.trust_listed_status = options.trust_listed_status
    r.locked_is_error = options.locked_is_error
    if stores is not None:
        r.stores = stores
        for kept in stores.values():
            if isinstance(kept, Store):
                kept.forget_statuses()  # listed by an earlier run: stale now
    if plugin_manager is not None:
        from syncmail.plugins import deliver, pre_sync

        reason = pre_sync(plugin_manager, config, targets)
        if reason is not None:
            err = RunVetoed(f"sync vetoed by {reason}")
            summary = RunSummary(channels=0, errors=(str(err),), dry_run=options.dry_run)
            # Every plugin's pre_sync ran: each hears that the run is over.
            deliver(plugin_manager, "syncmail_post_sync", summary=summary)
            return RunResult(summary, [err])
    r.progress.channels_total = len(targets)
    try:
        for target in targets:
            if r.should_stop is not None and r.should_stop():
                break
            _sync_channel(r, target, options.cli_ops)
            r.progress.channels_done += 1
            r.report()
    finally:
        for store in r.stores.values() if stores is None else ():
            if isinstance(store, Store):
                try:
                    store.close()
                except SyncmailError as e:
                    log.debug("closing store %s: %s", store.name, e)
    summary = RunSummary(
        channels=len(targets),
        boxes=tuple(r.boxes),
        errors=tuple(str(e) for e in r.errors),
        dry_run=options.dry_run,
        reconnects=tuple(r.reconnects.items()),
    )
    if plugin_manager is not None:
        from syncmail.plugins import deliver

        deliver(plugin_manager, "syncmail_post_sync", summary=summary)
    return RunResult(summary, r.errors, r.changed[FAR], r.changed[NEAR])


def _store(r: RunContext, name: str) -> Store:
    """The connected store ``name``, connected at its first use in the run and again
    after its connection was dropped; a store the run gave up on raises its error."""
    got = r.stores.get(name)
    if isinstance(got, StoreError):
        raise got
    if got is not None:
        return got
    from syncmail.store import make_store

    store = make_store(r.config.stores[name], r.config, r.pm)
    try:
        store.connect()
    except Unreachable as e:
        if name not in r.reached:
            # Not there at all, before anything was lost: a user offline wants the
            # answer now, not after the back-off.
            e.retryable = False
        raise
    r.reached.add(name)
    r.stores[name] = store
    return store


def _drop(r: RunContext, e: ConnectionFailed) -> None:
    """Forget the broken connection of ``e.store`` so that the next try makes a new one."""
    old = r.stores.get(e.store)
    if isinstance(old, StoreError):
        raise old from None  # given up earlier in this run: no more tries
    _close_store(r, e.store)


def _close_store(r: RunContext, name: str) -> None:
    old = r.stores.pop(name, None)
    if isinstance(old, Store):
        try:
            old.close()
        except SyncmailError as err:
            log.debug("closing store %s: %s", name, err)


def _sync_channel(r: RunContext, target: Target, cli_ops: ChannelOps) -> None:
    channel = r.config.channels[target.channel]
    from syncmail.config.ops import effective_operations

    def open_channel() -> list[tuple[str, str, str]]:
        far = _store(r, channel.far.store)
        near = _store(r, channel.near.store)
        _check_expunge_solo(ops, far, near)
        _look_ahead_at_first_pair(r, channel, target)
        pairs = _box_pairs(channel, target, far, near, ops)
        if not r.trust_listed_status:
            far.forget_statuses()
            near.forget_statuses()
        return pairs

    try:
        ops = effective_operations(r.config.globals, channel, cli_ops)
        pairs, retries = retrying(
            open_channel, lambda e: _drop(r, e), f"connecting for channel {channel.name}"
        )
    except StoreError as e:
        _store_failed(r, e)
        return
    except SyncmailError as e:
        r.errors.append(e)
        log.error("%s", e)
        return
    if retries:
        r.reconnects[channel.name] = retries
    r.progress.boxes_total += len(pairs)
    if channel.detect_moves and not r.dry_run:
        from syncmail.sync.movescan import scan_moves

        try:
            r.moves = scan_moves(
                r, channel, ops, (_store(r, channel.far.store), _store(r, channel.near.store)),
                pairs,
            )  # fmt: skip
        except SyncmailError as e:
            log.info("Notice: channel %s: no move detection this run: %s", channel.name, e)
        if r.moves is not None:
            from syncmail.sync.moves import order_for_moves

            pairs = order_for_moves(pairs, r.moves)
    try:
        _sync_pairs(r, channel, ops, pairs)
    finally:
        _end_moves(r)


def _end_moves(r: RunContext) -> None:
    """The channel's moves are done: stash links go, held-back events are delivered."""
    if r.moves is not None:
        from syncmail.sync.movescan import discard_stash

        discard_stash(r.moves)
        r.moves = None
    events, r.deferred_events = r.deferred_events, []
    if r.pm is not None and events:
        from syncmail.plugins import deliver

        for hook, event in events:
            deliver(r.pm, hook, event=event)


def _sync_pairs(
    r: RunContext, channel: ChannelConfig, ops: Operations, pairs: list[tuple[str, str, str]]
) -> None:
    for i, (name, far_name, near_name) in enumerate(pairs):
        if r.should_stop is not None and r.should_stop():
            return
        r.next_pair = (channel, pairs[i + 1]) if i + 1 < len(pairs) else None
        label = name or near_name
        started = time.monotonic()
        try:
            result = _sync_pair(r, channel, ops, (name, far_name, near_name))
        except StoreError as e:
            # The store is gone for the rest of the run: its other channels are skipped.
            _store_failed(r, e)
            seconds = time.monotonic() - started
            r.boxes.append(BoxResult(channel.name, label, error=str(e), seconds=seconds))
            return
        except SyncmailError as e:
            # BoxError and anything narrower (a message, a plugin): this box pair only.
            if not isinstance(e, BoxError):
                e = BoxError(channel.name, label, str(e))
            r.errors.append(e)
            quiet = isinstance(e, LockedError) and not r.locked_is_error
            log.log(logging.INFO if quiet else logging.ERROR, "%s", e)
            result = BoxResult(channel.name, label, error=str(e))
        r.boxes.append(replace(result, seconds=time.monotonic() - started))
        r.progress.boxes_done += 1
        r.report()


def _sync_pair(
    r: RunContext, channel: ChannelConfig, ops: Operations, names: tuple[str, str, str]
) -> BoxResult:
    """``sync_box``, again from its journal after a lost connection, each time on a new
    connection (``syncmail.sync.retry``).  When the connection keeps breaking on this
    box, the box fails and the next box connects anew; when the server cannot be
    reached again, the store fails (StoreError)."""
    label = names[0] or names[2]
    in_box = False
    # What broken tries did before they broke, counted into the box's result.
    partial = dict.fromkeys(_WORK, 0)

    def attempt() -> BoxResult:
        nonlocal in_box
        in_box = False
        far = _store(r, channel.far.store)
        near = _store(r, channel.near.store)
        in_box = True
        before = _work_done(r)
        try:
            return sync_box(r, channel, ops, far, near, *names)
        except ConnectionFailed:
            for key, value in _work_done(r).items():
                partial[key] += value - before[key]
            raise

    try:
        result, retries = retrying(attempt, lambda e: _drop(r, e), f"syncing box {label}")
    except ConnectionFailed as e:
        if not in_box or isinstance(e, ServerTimeout):
            # A server that stopped answering is given up for the run: its other boxes
            # would each wait as long.
            raise
        if e.retryable:
            raise BoxError(
                channel.name, label, f"gave up after {len(RETRY_DELAYS)} retries: {e}"
            ) from None
        raise BoxError(channel.name, label, str(e)) from None
    if not retries:
        return result
    more = {key: getattr(result, key) + partial[key] for key in _WORK}
    return replace(result, retries=retries, **more)


# BoxResult's counts of work done, by the progress counters that count them as it is done.
_WORK = {
    "pulled_new": ("near", "new_done"),
    "pushed_new": ("far", "new_done"),
    "pulled_flags": ("near", "flags_done"),
    "pushed_flags": ("far", "flags_done"),
    "expunged_far": ("far", "expunged_done"),
    "expunged_near": ("near", "expunged_done"),
}


def _work_done(r: RunContext) -> dict[str, int]:
    return {
        key: getattr(getattr(r.progress, side), counter) for key, (side, counter) in _WORK.items()
    }


def _store_failed(r: RunContext, e: StoreError) -> None:
    """The run gives up on store ``e.store``: its error is reported once, and every
    later use of the store raises it."""
    if e not in r.errors:
        r.errors.append(e)
        log.error("%s", e)
    _close_store(r, e.store)
    r.stores[e.store] = e


def _check_expunge_solo(ops: Operations, far: Store, near: Store) -> None:
    """ExpungeSolo must expunge single messages: an IMAP store needs UIDPLUS for that
    (without it, EXPUNGE takes every deleted message)."""
    for side, store in (("far", far), ("near", near)):
        if side in ops.expunge_solo and store.crlf and "uidplus" not in store.capabilities:
            raise SyncmailError(f"Error: Store {store.name} does not support ExpungeSolo.")


def _look_ahead_at_first_pair(r: RunContext, channel: ChannelConfig, target: Target) -> None:
    """While the boxes are listed (a wait on the server), read the local files of the
    pair that will most likely come first.  A wrong guess is dropped unused when the
    first pair starts."""
    guess = likely_first_pair(channel, target)
    if guess is not None:
        look_ahead(r, channel, guess, guessed=True)


def likely_first_pair(channel: ChannelConfig, target: Target) -> tuple[str, str, str] | None:
    """The pair ``_box_pairs`` most likely puts first, known before any box is listed:
    the only one, the first one named, else INBOX (sorted first wherever it is)."""
    fpfx, npfx = channel.far.box, channel.near.box
    if not channel.patterns and target.boxes is None:
        return ("", fpfx or "INBOX", npfx or "INBOX")
    if target.boxes is not None:
        if not target.boxes:
            return None
        name = target.boxes[0] or "INBOX"
    else:
        from syncmail.config.patterns import filter_boxes

        if not filter_boxes(["INBOX"], channel.patterns):
            return None
        name = "INBOX"
    return (name, fpfx + name, npfx + name)


def _box_pairs(
    channel: ChannelConfig, target: Target, far: Store, near: Store, ops: Operations
) -> list[tuple[str, str, str]]:
    """(name, far box, near box) of every box pair to sync: the union of both sides'
    boxes that pass the Patterns (or the boxes named on the command line)."""
    if not channel.patterns and target.boxes is None:
        return [("", channel.far.box or "INBOX", channel.near.box or "INBOX")]
    fpfx, npfx = channel.far.box, channel.near.box
    if target.boxes is not None:
        names = [b or "INBOX" for b in target.boxes]
    else:
        from syncmail.config.patterns import filter_boxes, list_scope

        # Like mbsync, "*" does not ask for a Maildir INBOX that is not under Path.
        far_inbox = list_scope(channel.patterns, fpfx).inbox
        near_inbox = list_scope(channel.patterns, npfx).inbox
        far_names = {
            n[len(fpfx) :] for n in far.list_boxes(inbox=far_inbox) if n.startswith(fpfx)
        }
        near_names = {
            n[len(npfx) :] for n in near.list_boxes(inbox=near_inbox) if n.startswith(npfx)
        }
        names = filter_boxes(far_names | near_names, channel.patterns)
    return [(name, fpfx + name, npfx + name) for name in names]
