"""Fast-path notes: ``<state>.syncmail`` next to the mbsync state lets a run skip
listing a box pair when nothing can have changed since the last run.

A run skips the pair when the boxes' change markers, the state file, the operations and
the channel's and stores' plan settings are what they were the last time nothing was
to be done.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict

from syncmail import jsontext
from syncmail.config.model import ChannelConfig, Config, Operations
from syncmail.store.base import Box, BoxStatus, Listing, Store
from syncmail.sync.insync import obviously_in_sync
from syncmail.sync.loads import FAR, NEAR, Expiry, _expiry, load_specs
from syncmail.sync.state import SyncState
from syncmail.sync.statefiles import file_identity, remove_note, write_note

log = logging.getLogger(__name__)


class Sidecar:
    """syncmail's own notes next to the mbsync state (``<state>.syncmail``, JSON).

    It holds both boxes' change markers (from their statuses) as of the last run that
    found nothing to do, with the state file's identity, the operations and the plan
    settings (see ``plan_settings``) of that run.  When all of them are still the same,
    nothing can have changed and the box pair is not even opened.  A state file changed behind
    our back (by mbsync, say) makes the notes void.
    """

    VERSION = 2

    def __init__(
        self, path: str, ops: Operations, statuses: tuple[BoxStatus, BoxStatus], settings: str
    ) -> None:
        self.path = path
        self.state_path = path[: -len(".syncmail")]
        # Sorted: a frozenset's order changes from process to process.
        self.ops = json.dumps(
            [
                sorted(ops.sync.pull),
                sorted(ops.sync.push),
                sorted(ops.create),
                sorted(ops.remove),
                sorted(ops.expunge),
                sorted(ops.expunge_solo),
            ]
        )
        self.settings = settings
        self.statuses = statuses

    def _markers(self) -> list[list[object]] | None:
        out: list[list[object]] = []
        for status in self.statuses:
            if status.change_marker is None:
                return None
            out.append([status.uidvalidity, status.change_marker])
        return out

    def _notes(self) -> dict[str, object] | None:
        state_id, markers = _state_identity(self.state_path), self._markers()
        if state_id is None or markers is None:
            return None
        return {
            "version": self.VERSION,
            "state": state_id,
            "ops": self.ops,
            "settings": self.settings,
            "far": markers[FAR],
            "near": markers[NEAR],
        }

    def unchanged(self) -> bool:
        notes = self._notes()
        return notes is not None and _saved_notes(self.path) == notes

    def save(self) -> None:
        notes = self._notes()
        if notes is None:
            self.discard(self.path)
            return
        if (error := write_note(self.path, json.dumps(notes).encode())) is not None:
            log.debug("%s", error)

    @staticmethod
    def discard(path: str) -> None:
        remove_note(path)

    @staticmethod
    def side_as_noted(state_path: str, side: int, marker: str) -> bool:
        """Whether the notes beside the state ``state_path`` were written with the state
        file as it is now and side ``side`` at ``marker``: nothing changed on that side
        since a run that found nothing to do."""
        saved = _saved_notes(state_path + ".syncmail")
        if not isinstance(saved, dict) or saved.get("state") != _state_identity(state_path):
            return False
        noted = saved.get("far" if side == FAR else "near")
        return isinstance(noted, list) and len(noted) == 2 and noted[1] == marker


def _saved_notes(path: str) -> object:
    """The notes at ``path`` as saved (None when there are none, or unreadable)."""
    try:
        with open(path, encoding="utf-8") as f:
            return jsontext.loads(f.read())
    except (OSError, ValueError):
        return None


def _state_identity(path: str) -> list[int] | None:
    try:
        return list(file_identity(os.stat(path)))
    except OSError:
        return None


def settle(
    channel: ChannelConfig,
    ops: Operations,
    stores: tuple[Store, Store],
    boxes: tuple[Box, Box],
    state: SyncState,
    listings: tuple[Listing, Listing],
    changed: tuple[bool, bool],
    sidecar: Sidecar,
    expiry: Expiry,
) -> None:
    """After a run that changed things, notes for the fast path of the next run.

    ``changed``: per side, whether the run changed messages there (``Plan.sides_changed``).
    Maildir sides are listed again (a directory scan); an IMAP side this run changed
    gets no notes (its marker moved, by us or not, we cannot tell).  The notes are
    written only if a plan on what is there now finds nothing to do: what the fresh
    listing saw is verified, so a concurrent change cannot slip into the notes unseen.
    """
    from syncmail.store.maildir import MaildirBox

    if any(changed[t] and not isinstance(boxes[t], MaildirBox) for t in (FAR, NEAR)):
        return  # before any Maildir is listed again for nothing
    loads = None
    fresh = list(listings)
    for t in (FAR, NEAR):
        box = boxes[t]
        if isinstance(box, MaildirBox):
            # Also when unchanged by us: its first listing may have numbered new files.
            confirmed = box.confirm_listing(listings[t])
            if confirmed is None:
                loads = loads or load_specs(state, ops, expiry=expiry)
                confirmed = box.list_messages(loads[t].request())
            fresh[t] = confirmed
    # The quick check usually answers; a full plan only when it cannot tell.
    quick = not channel.max_messages and obviously_in_sync(state, fresh[FAR], fresh[NEAR])
    if quick:
        sidecar.save()
        return
    loads = loads or load_specs(state, ops, expiry=expiry)
    from syncmail.sync.plan import plan  # only here: the fast path needs no planner

    again = plan(fresh[FAR], fresh[NEAR], state, ops, loads=loads, expiry=expiry)
    # A box the next run refuses ("Please set ExpireUnread") is not in sync either:
    # mbsync refuses it on every run, so the next run must not skip it.
    if again.empty and again.refusal is None:
        sidecar.save()


def plan_settings(config: Config, channel: ChannelConfig) -> str:
    """Every channel and store setting the plan depends on besides the operations,
    as a deterministic string for ``Sidecar``: when one changes (MaxMessages, say),
    the next run must list and plan even though no mail changed."""
    # asdict covers any field Expiry gains later; CopyArrivalDate rides along so that
    # the notes never outlive a configuration change affecting copies.
    return json.dumps([asdict(_expiry(config, channel)), channel.copy_arrival_date], sort_keys=True)
