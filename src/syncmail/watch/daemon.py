"""The watch loop: a full sync, then a sync of each box pair soon after it changed.

One thread and one ``selectors`` loop over the IMAP watching connections, inotify and a
signal pipe, with deadlines for quiet periods, reconnects, IDLE renewal and the safety
resync.  Syncing is the engine's ``run`` with the daemon's connected stores, so plugins
see what they see in a one-shot run; the mbsync lock of a box is held only while that
box is synced.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import field
from typing import Any

from syncmail.config.model import Config, IMAPStoreConfig, MaildirStoreConfig, Target
from syncmail.errors import (
    AuthenticationFailed,
    LockedError,
    RunVetoed,
    StoreError,
    SyncmailError,
)
from syncmail.events import BoxResult
from syncmail.record import record
from syncmail.store.base import Store
from syncmail.watch import early
from syncmail.watch.local import PLUGIN, POLL_INTERVAL, LocalEvent, LocalWatch
from syncmail.watch.sdnotify import sd_notify
from syncmail.watch.server import (
    RENEW,
    ServerEvent,
    ServerWatch,
    highest_modseq,
    set_keepalive,
)
from syncmail.watch.timing import Backoff, Debouncer, SuspendDetector

log = logging.getLogger(__name__)

# Settings from the environment (seconds): the safety resync of everything, and the
# poll of the boxes an IDLE-only server cannot report.
RESYNC_ENV = "SYNCMAIL_WATCH_RESYNC"
POLL_ENV = "SYNCMAIL_WATCH_POLL"
RENEW_ENV = "SYNCMAIL_WATCH_RENEW"
RESYNC = 20 * 60.0
POLL = 5 * 60.0
# A box whose mbsync lock is held (a cron job's sync) is tried again after this.
LOCKED_RETRY = 2.0
# A worker connection unused for this long is closed before the next sync rather than
# found dead by it (Dovecot logs out clients silent for 30 minutes).
WORKER_IDLE = 10 * 60.0

# How long a path the daemon wrote waits for its inotify event.
OWN_WRITES_KEPT = 10.0

# (channel, box pair name) or (channel, None): the whole channel, its box list included.
Key = tuple[str, str | None]
# A run for the plugins' sake (see ``syncmail_watch_paths``).
PLUGIN_KEY: Key = (PLUGIN, None)


@record
class WatchSettings:
    resync: float = RESYNC
    poll: float = POLL
    renew: float = RENEW
    use_inotify: bool = True

    @classmethod
    def from_env(cls) -> WatchSettings:
        return cls(
            resync=_seconds(RESYNC_ENV, RESYNC),
            poll=_seconds(POLL_ENV, POLL),
            renew=_seconds(RENEW_ENV, RENEW),
        )


# What the settings may be: a timer near zero is a busy loop, one longer than a week
# overflows the selector's timeout (and says the same as never).
SECONDS_RANGE = (0.1, 7 * 24 * 3600.0)


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None:
        return default
    low, high = SECONDS_RANGE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN too
        log.warning(
            "Warning: %s=%s is not a number of seconds from %g to %g; using %g",
            name, text, low, high, default,
        )  # fmt: skip
        return default
    return value


@record
class _Signals:
    stop: bool = False
    resync: bool = False
    reload: bool = False


@record
class Watcher:
    """``syncmail watch``: ``run()`` returns the exit status once stopped by a signal."""

    config: Config
    targets: Sequence[Target]
    run_options: Any  # syncmail.sync.engine.RunOptions
    pm: Any
    reload: Callable[[], tuple[Config, Sequence[Target]]] | None = None
    settings: WatchSettings = field(default_factory=WatchSettings.from_env)
    say: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.signals = _Signals()
        self.pending = Debouncer()
        self.stores: dict[str, Store | StoreError] = {}
        self.servers: dict[str, ServerWatch] = {}
        self.backoff: dict[str, Backoff] = {}
        self.reconnect_at: dict[str, float] = {}
        self.stopped_accounts: set[str] = set()
        self.local = LocalWatch(use_inotify=self.settings.use_inotify)
        self.suspend = SuspendDetector()
        self.selector = selectors.DefaultSelector()
        self.next_resync = 0.0
        self.next_poll: dict[str, float] = {}
        self.next_local_poll = 0.0
        self.last_round = time.monotonic()
        self.exit_code = 0
        self.vetoed: list[str] = []  # the last run's plugin vetoes, said once
        # IMAP store -> file descriptor of its watching connection in the selector.
        self.registered: dict[str, int] = {}
        # Paths the daemon's syncs renamed or unlinked (-> when): their inotify events
        # are its own, not the user's.
        self.own: dict[str, float] = {}
        # (IMAP store, box) -> HIGHESTMODSEQ after the daemon's own changes to it: the
        # server reports those back to the watching connection, as anyone's.
        self.known_modseq: dict[tuple[str, str], int] = {}

    # --- the loop ---

    def run(self) -> int:
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old = self._install_signals(wake_w)
        self.selector.register(wake_r, selectors.EVENT_READ, "signal")
        try:
            self._start()
            self._round(self._all_keys(), "start")
            sd_notify("READY=1\nSTATUS=watching")
            self.suspend.slept()
            while not self.signals.stop:
                try:
                    self._turn(wake_r)
                except Exception as e:  # noqa: BLE001 - a daemon outlives its bugs
                    log.error("internal error in the watch loop: %s: %s", type(e).__name__, e)
                    log.debug("traceback", exc_info=True)
                    time.sleep(1.0)  # never a busy loop of the same error
        finally:
            sd_notify("STOPPING=1")
            self._teardown()
            self._deliver("syncmail_watch_stopped")
            self.selector.close()
            os.close(wake_r)
            os.close(wake_w)
            signal.set_wakeup_fd(-1)
            for signum, handler in old.items():
                signal.signal(signum, handler)
        return self.exit_code

    def _install_signals(self, wake_w: int) -> dict[int, Any]:
        def on_stop(signum: int, frame: Any) -> None:
            self.signals.stop = True

        def on_usr1(signum: int, frame: Any) -> None:
            self.signals.resync = True

        def on_hup(signum: int, frame: Any) -> None:
            self.signals.reload = True

        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        handlers: dict[int, Callable[[int, Any], None]] = {
            signal.SIGTERM: on_stop,
            signal.SIGINT: on_stop,
            signal.SIGUSR1: on_usr1,
            signal.SIGHUP: on_hup,
        }
        old: dict[int, Any] = {s: signal.signal(s, h) for s, h in handlers.items()}
        for signum in early.take():  # came while the command was starting
            handlers[signum](signum, None)
        return old

    def _turn(self, wake_r: int) -> None:
        """One wake-up of the loop: wait for the next thing to do, and do it."""
        now = time.monotonic()
        ready = self.selector.select(self._timeout(now))
        for key, _mask in ready:
            what = key.data
            if what == "signal":
                _drain(wake_r)
            elif what == "inotify":
                self._local_events(self.local.read())
            elif isinstance(what, ServerWatch):
                self._server_io(what, lambda w: w.events())
        for watch in list(self.servers.values()):
            if watch.connected and watch.has_lines():
                self._server_io(watch, lambda w: w.events(receive=False))
        if self.signals.stop:
            return
        self._signals()
        self._clocks(time.monotonic())
        due = self.pending.pop_due(time.monotonic())
        if due:
            self._round(due, "change")

    def _timeout(self, now: float) -> float:
        deadlines = [self.next_resync, *self.reconnect_at.values(), *self.next_poll.values()]
        deadlines += [w.deadline for w in self.servers.values() if w.connected]
        if not self.local.inotify:
            deadlines.append(self.next_local_poll)
        due = self.pending.next_due()
        if due is not None:
            deadlines.append(due)
        return max(min(deadlines) - now, 0.0)

    def _signals(self) -> None:
        if self.signals.reload:
            self.signals.reload = False
            self._reload()
        if self.signals.resync:
            self.signals.resync = False
            log.info("SIGUSR1: syncing everything")
            self._round(self._all_keys(), "SIGUSR1")

    def _clocks(self, now: float) -> None:
        slept = self.suspend.slept()
        if slept:
            log.info("resumed after %.0f s asleep: reconnecting and syncing everything", slept)
            for name in list(self.servers):
                self._server_lost(name, "suspended", immediately=True)
            self._close_workers()
            self._schedule(self._all_keys())
        if now >= self.next_resync:
            self.next_resync = now + self.settings.resync
            self._schedule(self._all_keys())
        for name, at in list(self.reconnect_at.items()):
            if now >= at:
                del self.reconnect_at[name]
                self._connect_server(name)
        for name, at in list(self.next_poll.items()):
            if now >= at:
                self.next_poll[name] = now + self.settings.poll
                self._schedule(self._keys_for(name, None))
        for watch in list(self.servers.values()):
            if watch.connected and now >= watch.deadline:
                self._server_io(watch, lambda w: w.tick())
        if not self.local.inotify and now >= self.next_local_poll:
            self.next_local_poll = now + POLL_INTERVAL
            self._local_events(self.local.poll())

    # --- starting and stopping ---

    def _start(self) -> None:
        self._deliver("syncmail_watch_started", config=self.config, targets=list(self.targets))
        self.next_resync = time.monotonic() + self.settings.resync
        fd = self.local.fileno()
        if fd is not None:
            self.selector.register(fd, selectors.EVENT_READ, "inotify")
        for name in self._store_names():
            cfg = self.config.stores[name]
            if isinstance(cfg, IMAPStoreConfig):
                self.servers[name] = ServerWatch(
                    cfg, self.config, self.pm, renew=self.settings.renew
                )
                self._connect_server(name)
            elif isinstance(cfg, MaildirStoreConfig):
                self._watch_maildir(name)
        if self.pm is not None:
            from syncmail.plugins import call_isolated

            for plugin, paths in call_isolated(
                self.pm, "syncmail_watch_paths", config=self.config
            ):
                for path in paths:
                    log.info("plugin %s: watching %s", plugin, path)
                    self.local.add_plugin_path(path)

    def _teardown(self) -> None:
        for watch in self.servers.values():
            self._unregister(watch)
            watch.close()
        self.servers.clear()
        self._close_workers(everything=True)
        fd = self.local.fileno()
        if fd is not None:
            self.selector.unregister(fd)
        self.local.close()

    def _close_workers(self, *, everything: bool = False) -> None:
        """Close the IMAP stores' sync connections (``everything``: all stores)."""
        from syncmail.store.maildir import MaildirStore

        for name, store in list(self.stores.items()):
            if isinstance(store, MaildirStore) and not everything:
                continue
            if isinstance(store, Store):
                try:
                    store.close()
                except SyncmailError as e:
                    log.debug("closing store %s: %s", name, e)
            if not isinstance(store, AuthenticationFailed):
                del self.stores[name]

    def _reload(self) -> None:
        if self.reload is None:
            return
        try:
            config, targets = self.reload()
        except SyncmailError as e:
            log.error("SIGHUP: the config was not reloaded: %s", e)
            return
        log.info("SIGHUP: config reloaded")
        self._teardown()
        # The watch under the old config has ended; _start() begins the new one.
        self._deliver("syncmail_watch_stopped")
        self.config, self.targets = config, targets
        self.stores.clear()
        self.stopped_accounts.clear()
        self.reconnect_at.clear()
        self.next_poll.clear()
        self.local = LocalWatch(use_inotify=self.settings.use_inotify)
        self._start()
        self._round(self._all_keys(), "SIGHUP")

    # --- server side ---

    def _connect_server(self, name: str) -> None:
        watch = self.servers[name]
        try:
            watch.connect()
        except AuthenticationFailed as e:
            self._stop_account(name, e)
            return
        except StoreError as e:
            if not getattr(e, "retryable", True):
                log.error("store %s: cannot watch (%s); polling every %.0f s", name, e.message,
                          self.settings.poll)  # fmt: skip
                self.next_poll[name] = time.monotonic() + self.settings.poll
                return
            self._server_lost(name, e.message)
            return
        self.registered[name] = watch.fileno()
        self.selector.register(self.registered[name], selectors.EVENT_READ, watch)
        if self.backoff.setdefault(name, Backoff()).failures:
            # Back after a loss: what happened meanwhile was reported to nobody.
            self.backoff[name].reset()
            self._schedule(self._keys_for(name, None))
        if watch.mode == "idle":
            self.next_poll[name] = time.monotonic() + self.settings.poll
        else:
            self.next_poll.pop(name, None)

    def _server_io(
        self, watch: ServerWatch, step: Callable[[ServerWatch], list[ServerEvent]]
    ) -> None:
        try:
            events = step(watch)
        except StoreError as e:
            self._server_lost(watch.name, e.message)
            return
        for event in events:
            known = self.known_modseq.get((event.store, event.box or ""))
            if event.modseq is not None and known is not None and event.modseq <= known:
                log.debug("store %s: %s: the daemon's own change", event.store, event.box)
                continue
            log.debug("store %s: %s %s", event.store, event.why, event.box or "(all boxes)")
            self._schedule(self._keys_for(event.store, event.box))

    def _server_lost(self, name: str, why: str, *, immediately: bool = False) -> None:
        """The watching connection is gone: reconnect after a back-off, then resync the
        store's channels (what happened meanwhile was not reported)."""
        watch = self.servers[name]
        if watch.connected:
            self._unregister(watch)
            watch.close()
        wait = 0.0 if immediately else self.backoff.setdefault(name, Backoff()).next_wait()
        log.warning("Warning: store %s: watch lost (%s); reconnecting in %.1f s", name, why, wait)
        self.reconnect_at[name] = time.monotonic() + wait
        # The worker connection went the same way, most likely.
        worker = self.stores.pop(name, None)
        if isinstance(worker, Store):
            try:
                worker.close()
            except SyncmailError:
                pass

    def _unregister(self, watch: ServerWatch) -> None:
        # By the number it was registered with: a socket closed by the loss has none.
        fd = self.registered.pop(watch.name, None)
        if fd is not None:
            self.selector.unregister(fd)

    def _stop_account(self, name: str, e: StoreError) -> None:
        log.error("store %s: %s; this account is stopped (fix it and send SIGHUP)", name, e.message)
        self.stopped_accounts.add(name)
        self.exit_code = 1

    # --- local side ---

    def _watch_maildir(self, name: str) -> None:
        from syncmail.store.maildir import MaildirStore

        store = self.stores.get(name)
        if not isinstance(store, MaildirStore):
            cfg = self.config.stores[name]
            assert isinstance(cfg, MaildirStoreConfig)
            store = MaildirStore(cfg, fsync=self.config.globals.fsync)
        try:
            boxes = {box: store.box_path(box) for box in store.list_boxes()}
        except SyncmailError as e:
            log.error("store %s: cannot list its boxes: %s", name, e)
            return
        fresh = self.local.set_boxes(name, store.watch_roots(), boxes)
        if fresh:
            # What the daemon wrote there before the watch began made no event: those
            # paths must not be taken for the user's next change of the same name.
            inside = tuple(path.rstrip("/") + "/" for path in fresh)
            self.own = {p: t for p, t in self.own.items() if not p.startswith(inside)}

    def _local_events(self, events: list[LocalEvent]) -> None:
        rewatch: set[str] = set()
        for event in events:
            if event.store == PLUGIN:
                # A plugin's data changed (notmuch tags): a run with no box pairs lets
                # its pre_sync turn that into Maildir changes, which come back here.
                self._schedule([PLUGIN_KEY])
                continue
            if event.box is None:
                rewatch.add(event.store)
            written = None if event.path is None else self.own.pop(event.path, None)
            if written is not None and time.monotonic() - written < OWN_WRITES_KEPT:
                continue  # the daemon's own rename or unlink
            log.debug("store %s: %s %s", event.store, event.why, event.box or "(box list)")
            self._schedule(self._keys_for(event.store, event.box))
        for name in rewatch:
            self._watch_maildir(name)

    # --- what to sync ---

    def _store_names(self) -> list[str]:
        names: dict[str, None] = {}
        for t in self.targets:
            ch = self.config.channels[t.channel]
            names.setdefault(ch.far.store)
            names.setdefault(ch.near.store)
        return list(names)

    def _all_keys(self) -> list[Key]:
        return [(t.channel, None) for t in self.targets]

    def _keys_for(self, store: str, box: str | None) -> list[Key]:
        """The box pairs (or whole channels) of the targets that ``store``'s ``box``
        (None: any box) belongs to."""
        from syncmail.config.patterns import filter_boxes

        keys: list[Key] = []
        for t in self.targets:
            ch = self.config.channels[t.channel]
            for side in (ch.far, ch.near):
                if side.store != store:
                    continue
                if box is None:
                    keys.append((ch.name, None))
                elif not ch.patterns and t.boxes is None:
                    if box == (side.box or "INBOX"):
                        keys.append((ch.name, None))
                elif box.startswith(side.box) and box != side.box:
                    name = box[len(side.box) :]
                    chosen = (
                        name in t.boxes or (name == "INBOX" and "" in t.boxes)
                        if t.boxes is not None
                        else bool(filter_boxes([name], ch.patterns))
                    )
                    if chosen:
                        keys.append((ch.name, name))
                break
        return keys

    def _schedule(self, keys: list[Key], *, delay: float | None = None) -> None:
        now = time.monotonic()
        for key in keys:
            self.pending.touch(key, now, delay=delay)

    # --- a round of syncs ---

    def _round(self, keys: Sequence[Hashable], why: str) -> None:
        """Sync the box pairs ``keys`` (one engine run), then log and follow up."""
        from syncmail.sync.engine import run

        targets = self._targets(keys)
        if not targets and PLUGIN_KEY not in keys:
            return
        self._prepare_maildirs()
        if time.monotonic() - self.last_round > WORKER_IDLE:
            self._close_workers()
        options = _with_stop(self.run_options, lambda: self.signals.stop)
        result = run(self.config, targets, options, self.pm, stores=self.stores)
        self.last_round = time.monotonic()
        for box in result.summary.boxes:
            self._report(box)
            if box.error is None:
                self._settle(box)
                self._note_modseq(box)
        self._collect_own_writes()
        for name in self.local.unwatched():
            self._watch_maildir(name)  # the run made its root: watch it, and its boxes
        self._after_round(result.errors)

    def _targets(self, keys: Sequence[Hashable]) -> list[Target]:
        whole = {k[0] for k in keys if isinstance(k, tuple) and k[1] is None and k != PLUGIN_KEY}
        boxes: dict[str, list[str]] = {}
        for key in keys:
            assert isinstance(key, tuple)
            channel, box = key
            if channel not in whole and box is not None:
                boxes.setdefault(channel, []).append(box)
        targets = []
        for t in self.targets:
            ch = self.config.channels[t.channel]
            if {ch.far.store, ch.near.store} & self.stopped_accounts:
                continue
            if t.channel in whole:
                targets.append(t)
            elif t.channel in boxes:
                targets.append(Target(t.channel, tuple(boxes[t.channel])))
        return targets

    def _report(self, box: BoxResult) -> None:
        if box.error is not None:
            return  # the engine logged it when it happened
        parts = [
            (box.pulled_new, "new pulled"),
            (box.pushed_new, "new pushed"),
            (box.pulled_flags, "flags pulled"),
            (box.pushed_flags, "flags pushed"),
            (box.expunged_far, "expunged far"),  # the trashed ones included
            (box.expunged_near, "expunged near"),
        ]
        done = ", ".join(f"{n} {what}" for n, what in parts if n)
        if done:
            self.say(f"{box.channel}:{box.box}: {done}")
        else:
            log.info("%s:%s: nothing to do", box.channel, box.box)

    def _after_round(self, errors: Sequence[SyncmailError]) -> None:
        vetoes = [str(e) for e in errors if isinstance(e, RunVetoed)]
        if vetoes and vetoes != self.vetoed:
            # The engine reports nothing itself: said once until the reason changes.
            for veto in vetoes:
                log.error("%s; nothing is synced until it is fixed (then send SIGHUP)", veto)
        self.vetoed = vetoes
        for e in errors:
            if isinstance(e, LockedError):
                # A cron job's sync holds the box: its turn comes again shortly.
                ch = self.config.channels.get(e.channel)
                box = e.box if ch is not None and ch.patterns else None
                self._schedule([(e.channel, box)], delay=LOCKED_RETRY)
        for name, got in list(self.stores.items()):
            if isinstance(got, AuthenticationFailed):
                if name not in self.stopped_accounts:
                    self._stop_account(name, got)
            elif isinstance(got, StoreError):
                del self.stores[name]
                wait = self.backoff.setdefault(name, Backoff()).next_wait()
                self._schedule(self._keys_for(name, None), delay=wait)
            elif isinstance(got, Store):
                session = getattr(got, "_session", None)
                if session is not None:
                    set_keepalive(session.client._imap.sock)

    def _settle(self, box: BoxResult) -> None:
        """Polling: the Maildir directories of a synced pair as the sync left them."""
        if not self.local.inotify:
            for path in self._box_dirs(box.channel, box.box):
                self.local.settled(path)

    def _prepare_maildirs(self) -> None:
        """Maildir stores made before the run uses them, so their writes are recorded."""
        from syncmail.store import make_store
        from syncmail.store.maildir import MaildirStore

        for name in self._store_names():
            cfg = self.config.stores[name]
            if name in self.stores or not isinstance(cfg, MaildirStoreConfig):
                continue
            store = make_store(cfg, self.config, self.pm)
            try:
                store.connect()
            except StoreError:
                continue  # the run meets the same error and reports it
            assert isinstance(store, MaildirStore)
            store.own_writes = set()
            self.stores[name] = store

    def _collect_own_writes(self) -> None:
        from syncmail.store.maildir import MaildirStore

        now = time.monotonic()
        self.own = {p: t for p, t in self.own.items() if now - t < OWN_WRITES_KEPT}
        for store in self.stores.values():
            if isinstance(store, MaildirStore) and store.own_writes:
                self.own.update(dict.fromkeys(store.own_writes, now))
                store.own_writes.clear()

    def _note_modseq(self, box: BoxResult) -> None:
        """After the daemon changed the far box: its HIGHESTMODSEQ, to know the echo."""
        from syncmail.store.imap import IMAPStore

        ch = self.config.channels[box.channel]
        store = self.stores.get(ch.far.store)
        if not isinstance(store, IMAPStore):
            return
        name = (ch.far.box or "INBOX") if not ch.patterns else ch.far.box + box.box
        try:
            modseq = highest_modseq(store, name)
        except StoreError:
            return  # the next sync finds the connection broken and makes a new one
        if modseq is not None:
            self.known_modseq[(store.name, name)] = modseq

    def _box_dirs(self, channel: str, label: str) -> list[str]:
        ch = self.config.channels[channel]
        dirs = []
        for side in (ch.far, ch.near):
            if not isinstance(self.config.stores[side.store], MaildirStoreConfig):
                continue
            name = label if not ch.patterns else side.box + label
            for path, (store, box) in self.local.boxes.items():
                if store == side.store and box == name:
                    dirs.append(path)
        return dirs

    def _deliver(self, hook: str, **kwargs: Any) -> None:
        if self.pm is None:
            return
        from syncmail.plugins import deliver

        deliver(self.pm, hook, **kwargs)


def _with_stop(options: Any, stop: Callable[[], bool]) -> Any:
    from dataclasses import replace

    return replace(options, should_stop=stop)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


__all__ = ["Watcher", "WatchSettings"]
