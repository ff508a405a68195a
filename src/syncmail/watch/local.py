"""Watching Maildir stores for changes: inotify where there is inotify, else polling.

Watched: ``cur/`` and ``new/`` of every box (deliveries, flag renames, deletions), each
box directory and the directories boxes are created in (a box made or removed).  Not
``tmp/``: a message there is not a message yet.  Whether a change is the daemon's own
is decided later, by ``stamp`` (the directories' change times after its last sync).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from syncmail.record import record

log = logging.getLogger(__name__)

# How often directory times are compared when there is no inotify.
POLL_INTERVAL = 2.0

Stamp = tuple[int, int]
# The "store" of events in directories named by plugins.
PLUGIN = ""


@record(frozen=True)
class LocalEvent:
    """Something changed in Maildir store ``store``: box ``box`` or (None) its box list."""

    store: str
    box: str | None
    why: str
    # The file that changed, when inotify said.
    path: str | None = None


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def stamp(box_dir: str) -> Stamp:
    """The change times of a box's ``cur/`` and ``new/`` (0 for a missing one)."""
    out = []
    for sub in ("cur", "new"):
        try:
            out.append(os.stat(os.path.join(box_dir, sub)).st_mtime_ns)
        except OSError:
            out.append(0)
    return out[0], out[1]


# Not walked for boxes in the making: a box's own parts, notmuch's database.
_NOT_BOXES = frozenset({"cur", "new", "tmp", ".notmuch"})
# Directories walked at most per root (a Maildir tree has a few per box).
_MAX_UNBORN_DIRS = 10_000


class LocalWatch:
    """Watches the boxes of Maildir stores; ``fileno`` is None when it must be polled."""

    def __init__(self, *, use_inotify: bool = True) -> None:
        self._ino: Any = None
        self._flags: Any = None
        if use_inotify:
            try:
                import inotify_simple  # type: ignore[import-untyped]

                self._ino = inotify_simple.INotify()
                self._flags = inotify_simple.flags
            except (ImportError, OSError) as exc:
                log.warning("Warning: no inotify (%s); Maildir changes are polled", exc)
        self._wd: dict[int, str] = {}
        # box directory -> (store, box); parent directories -> store
        self.boxes: dict[str, tuple[str, str]] = {}
        self._parents: dict[str, str] = {}
        # Polling: the stamps last seen.
        self._seen: dict[str, Stamp] = {}
        self._parent_seen: dict[str, int] = {}
        self._plugin_paths: set[str] = set()
        self._roots: dict[str, list[str]] = {}  # store -> the roots asked for

    @property
    def inotify(self) -> bool:
        return self._ino is not None

    def fileno(self) -> int | None:
        return None if self._ino is None else int(self._ino.fileno())

    def close(self) -> None:
        if self._ino is not None:
            self._ino.close()
            self._ino = None

    # --- what is watched ---

    def set_boxes(self, store: str, roots: Iterable[str], boxes: dict[str, str]) -> list[str]:
        """Watch store ``store``: its ``roots`` and its ``boxes`` (box name -> directory).
        Returns the box directories watched from now on, not before (what was written
        there until now made no event)."""
        roots = list(roots)
        self._roots[store] = roots
        before = self._watched_boxes()
        for path, (owner, _box) in list(self.boxes.items()):
            if owner == store:
                del self.boxes[path]
        for path, owner in list(self._parents.items()):
            if owner == store:
                del self._parents[path]
        for name, path in boxes.items():
            path = os.path.abspath(path)
            self.boxes[path] = (store, name)
            self._seen.setdefault(path, stamp(path))
            for sub in ("cur", "new"):
                self._add(os.path.join(path, sub), files=True)
            self._add(path, files=False)
            parent = os.path.dirname(path)
            for root in roots:
                # The directories between a root and the box: where sub-boxes appear.
                while parent.startswith(root.rstrip("/") + "/") and parent not in self._parents:
                    self._parents[parent] = store
                    self._add(parent, files=False)
                    parent = os.path.dirname(parent)
        for root in roots:
            self._parents.setdefault(root, store)
            self._add(root, files=False)
            self._watch_unborn(store, root)
        for path in self._parents:
            if path not in self._parent_seen:
                self._parent_seen[path] = _mtime(path)  # polling: changes from now
        return sorted(self._watched_boxes() - before)

    def _watched_boxes(self) -> set[str]:
        """The box directories whose messages are watched (by inotify, or by polling)."""
        if self._ino is None:
            return set(self.boxes)
        watched = set(self._wd.values())
        return {path for path in self.boxes if os.path.join(path, "new") in watched}

    def _watch_unborn(self, store: str, root: str) -> None:
        """Every other directory under ``root`` too (but a box's cur/ new/ tmp/, and
        notmuch's database): a box made in steps (``mkdir Box``, later ``Box/cur``)
        becomes one there, where no box or parent watch would see it."""
        seen = 0
        for top, dirs, _files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in _NOT_BOXES]
            if top not in self.boxes and top not in self._parents:
                self._parents[top] = store
                self._add(top, files=False)
            seen += 1
            if seen >= _MAX_UNBORN_DIRS:
                break

    def unwatched(self) -> list[str]:
        """The stores with a root that exists now but has no inotify watch (it did not
        exist when the store was set: a first run made it)."""
        if self._ino is None:
            return []  # polling looks at the directory times, missing or not
        watched = set(self._wd.values())
        return [
            store
            for store, roots in self._roots.items()
            if any(root not in watched and os.path.isdir(root) for root in roots)
        ]

    def add_plugin_path(self, path: str) -> None:
        """Watch a directory a plugin named (``syncmail_watch_paths``): any write there."""
        path = os.path.abspath(path)
        self._plugin_paths.add(path)
        self._parent_seen.setdefault(path, _mtime(path))
        if self._ino is not None and path not in self._wd.values():
            f = self._flags
            mask = f.CLOSE_WRITE | f.MOVED_TO | f.CREATE | f.DELETE | f.ONLYDIR
            try:
                self._wd[self._ino.add_watch(path, mask)] = path
            except OSError as exc:
                log.debug("inotify: not watching %s: %s", path, exc)

    def _add(self, path: str, *, files: bool) -> None:
        if self._ino is None or path in self._wd.values():
            return
        f = self._flags
        if files:
            mask = f.MOVED_TO | f.MOVED_FROM | f.DELETE | f.CLOSE_WRITE | f.ONLYDIR
        else:
            mask = f.CREATE | f.DELETE | f.MOVED_TO | f.MOVED_FROM | f.ONLYDIR
        try:
            wd = self._ino.add_watch(path, mask)
        except OSError as exc:
            log.debug("inotify: not watching %s: %s", path, exc)
            return
        self._wd[wd] = path

    # --- what changed ---

    def read(self) -> list[LocalEvent]:
        """The changes inotify reported (the fd is readable)."""
        assert self._ino is not None
        out: list[LocalEvent] = []
        f = self._flags
        for ev in self._ino.read(timeout=0):
            if ev.mask & f.Q_OVERFLOW:
                out += [LocalEvent(s, None, "inotify overflow") for s in self._stores()]
                continue
            if ev.mask & f.IGNORED:
                gone = self._wd.pop(ev.wd, None)
                if gone in self._plugin_paths and os.path.isdir(gone):
                    # Replaced under its name (`notmuch compact` renames a new Xapian
                    # directory over the old one): watch the new one, and look.
                    self.add_plugin_path(gone)
                    out.append(LocalEvent(PLUGIN, None, f"{gone} replaced"))
                continue
            path = self._wd.get(ev.wd)
            if path is None:
                continue
            event = self._event(path, ev.name, bool(ev.mask & f.ISDIR))
            if event is not None:
                out.append(event)
        return out

    def _event(self, path: str, name: str, is_dir: bool) -> LocalEvent | None:
        if path in self._plugin_paths:
            return LocalEvent(PLUGIN, None, f"{path}/{name}")
        head, sub = os.path.split(path)
        if sub in ("cur", "new") and head in self.boxes and not is_dir:
            store, box = self.boxes[head]
            return LocalEvent(store, box, f"{sub}/{name}", os.path.join(path, name))
        if not is_dir:
            return None  # a state file written next to cur/ new/
        if name in ("cur", "new", "tmp") and (name != "cur" or path in self.boxes):
            return None  # a box's own parts (a cur/ made where no box was: a new box)
        store_name = self._parents.get(path) or self.boxes.get(path, ("", ""))[0]
        if not store_name:
            return None
        return LocalEvent(store_name, None, f"directory {name}")

    def _stores(self) -> set[str]:
        return {s for s, _b in self.boxes.values()} | set(self._parents.values())

    def poll(self) -> list[LocalEvent]:
        """Without inotify: the boxes whose directories changed since last seen."""
        out: list[LocalEvent] = []
        for path, (store, box) in self.boxes.items():
            now = stamp(path)
            if now != self._seen.get(path):
                self._seen[path] = now
                out.append(LocalEvent(store, box, "changed"))
        for path, store in [*self._parents.items(), *((p, PLUGIN) for p in self._plugin_paths)]:
            now_ns = _mtime(path)
            if self._parent_seen.setdefault(path, now_ns) != now_ns:
                self._parent_seen[path] = now_ns
                out.append(LocalEvent(store, None, "directory changed"))
        return out

    def settled(self, box_dir: str) -> Stamp:
        """After the daemon synced the box: its stamp now (polling starts from there)."""
        now = stamp(box_dir)
        self._seen[os.path.abspath(box_dir)] = now
        return now
