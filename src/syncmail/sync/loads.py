"""What each side of a box pair must list before the sync decision, and the channel
settings that decision needs (mbsync's ``box_opened2``/``load_box``, mbsync.md section 4).

Deliberate differences from mbsync 1.5: setting flags on a side makes it list its paired
messages (mbsync's Maildir rule, used for IMAP too), and a side that expunges lists
everything (the Store contract expunges by UID, so the engine must know them all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from operator import attrgetter

from syncmail.config.model import ChannelConfig, Config, Operations, SyncOps, SyncType
from syncmail.record import record
from syncmail.store.base import ListRequest
from syncmail.sync.state import (
    S_DUMMY_FAR,
    S_DUMMY_NEAR,
    S_PENDING,
    S_PURGE,
    S_SKIPPED,
    S_UPGRADE,
    SyncState,
    live_records,
    marked_records,
)

FAR = 0
NEAR = 1
SIDES = ("far", "near")
_INF = 1 << 62
# ListRequest.min_uid that lists nothing (UIDs are 32 bit).
NOTHING = 1 << 32


@record(frozen=True)
class SideLoad:
    """What one side must list (mbsync's OPEN_* options and UID window)."""

    paired: bool = False  # live pairs' messages are listed: a missing one is gone
    new: bool = False
    old: bool = False
    flags: bool = False
    min_uid: int = NOTHING
    max_uid: int = 0
    tuid_from: int | None = None
    # Older paired messages listed besides the window (mbsync's expiry exception list).
    extra: frozenset[int] = frozenset()
    size: bool = False  # sizes are needed (the other side has a MaxSize)

    @property
    def listed(self) -> bool:
        return self.min_uid <= self.max_uid or bool(self.extra)

    def visible(self, uid: int) -> bool:
        return self.min_uid <= uid <= self.max_uid or uid in self.extra

    def request(self) -> ListRequest:
        return ListRequest(
            min_uid=self.min_uid if self.min_uid <= self.max_uid else NOTHING,
            extra_uids=self.extra,
            want_size=self.size,
            tuid_from=self.tuid_from,
            number_new=self.max_uid >= _INF,
        )


@record(frozen=True)
class Expiry:
    """MaxMessages, ExpireUnread (None: unset) and ExpireSide of a channel."""

    max_messages: int = 0
    expire_unread: bool | None = None
    side: str = "near"
    # MaxSize of the far and near store (0: no limit); bigger messages are copied as
    # placeholders.  Not about expiry, but a channel setting the decision needs too.
    max_size: tuple[int, int] = (0, 0)
    # Trash, TrashNewOnly, TrashRemoteNew of the far and near store (the same story).
    trash: tuple[str | None, str | None] = (None, None)
    trash_only_new: tuple[bool, bool] = (False, False)
    trash_remote_new: tuple[bool, bool] = (False, False)

    @property
    def xt(self) -> int:
        return FAR if self.side == "far" else NEAR

    def expiring(self, ops: Operations) -> bool:
        """mbsync's any_expiring: something may add messages to the expire side."""
        return bool(
            self.max_messages and _toward(ops, self.xt) & {"old", "new", "upgrade", "flags"}
        )


def _expiry(config: Config, channel: ChannelConfig) -> Expiry:
    """The channel's MaxMessages/ExpireUnread/ExpireSide and the stores' MaxSize (a
    channel's MaxSize applies to both stores, as in mbsync)."""
    sizes = [
        channel.max_size if channel.max_size is not None else config.stores[end.store].max_size
        for end in (channel.far, channel.near)
    ]
    ends = [config.stores[end.store] for end in (channel.far, channel.near)]
    return Expiry(
        channel.max_messages,
        channel.expire_unread,
        channel.expire_side,
        (sizes[0], sizes[1]),
        (ends[0].trash, ends[1].trash),
        (ends[0].trash_new_only, ends[1].trash_new_only),
        (ends[0].trash_remote_new, ends[1].trash_remote_new),
    )


def _toward(ops: Operations, t: int) -> frozenset[SyncType]:
    """Operation types that change side ``t`` (push changes far, pull changes near)."""
    return ops.sync.push if t == FAR else ops.sync.pull


def _expunges(ops: Operations, t: int) -> bool:
    return SIDES[t] in ops.expunge


def _solo(ops: Operations, t: int) -> bool:
    return SIDES[t] in ops.expunge_solo


def _dummies(state: SyncState) -> tuple[bool, bool]:
    """Whether the far / near side holds placeholders (or pre-1.4 skipped entries)."""
    found = [False, False]
    for rec in marked_records(state.records):
        if rec.status & S_DUMMY_FAR:
            found[FAR] = True
        elif rec.status & S_DUMMY_NEAR:
            found[NEAR] = True
        elif rec.status & S_SKIPPED:
            found[FAR if not rec.far_uid else NEAR] = True
    return found[FAR], found[NEAR]


def upgrade_masked(state: SyncState, ops: Operations) -> Operations:
    """``ops`` without Upgrade toward a side that has no placeholders (mbsync masks it,
    which matters for what is listed and for whether expiry runs)."""
    if "upgrade" not in ops.sync.pull | ops.sync.push:
        return ops
    dummies = _dummies(state)
    push, pull = ops.sync.push, ops.sync.pull
    if not dummies[FAR]:
        push = push - {"upgrade"}
    if not dummies[NEAR]:
        pull = pull - {"upgrade"}
    if push == ops.sync.push and pull == ops.sync.pull:
        return ops
    return replace(ops, sync=SyncOps(pull=pull, push=push))


def load_specs(
    state: SyncState,
    ops: Operations,
    *,
    saved_uidnext: Mapping[str, int] | None = None,
    expiry: Expiry | None = None,
) -> tuple[SideLoad, SideLoad]:
    """What the far and near side must list for ``plan`` to decide (mbsync's load_box)."""
    saved = saved_uidnext or {}
    expiry = expiry or Expiry()
    ops = upgrade_masked(state, ops)
    maxuid = (state.max_pulled, state.max_pushed)
    any_new = [False, False]
    any_old = [False, False]
    any_upgrades = [False, False]
    any_purges = [False, False]
    any_tuids = [False, False]
    any_dummies = list(_dummies(state))
    live = live_records(state.records)
    seen = [
        max(map(attrgetter("far_uid"), live), default=0),
        max(map(attrgetter("near_uid"), live), default=0),
    ]
    for rec in marked_records(state.records):
        uids = (rec.far_uid, rec.near_uid)
        if rec.status & S_PURGE:
            # A placeholder whose upgrade began: it still needs its T flag.
            any_purges[NEAR if not rec.far_uid else FAR] = True
        elif rec.status & S_PENDING:
            t = FAR if not rec.far_uid else NEAR
            if rec.status & S_UPGRADE:
                any_upgrades[t] = True
            elif uids[1 - t] <= maxuid[1 - t]:
                any_old[t] = True
            else:
                any_new[t] = True
            if rec.tuid:
                any_tuids[t] = True
    opts: list[set[str]] = [set(), set()]
    for t in (FAR, NEAR):
        s = 1 - t
        types = _toward(ops, t)
        if any_purges[t]:
            opts[t].add("setflags")
        if any_tuids[t]:
            opts[t] |= {"new", "find"}
        if types & {"gone", "flags"}:
            opts[t].add("setflags")
            opts[s].add("paired")
            if "flags" in types:
                opts[s].add("flags")
        if types & {"old", "new", "upgrade"} or any_old[t] or any_new[t] or any_upgrades[t]:
            if "old" in types or any_old[t]:
                opts[s].add("old")
            if "new" in types or any_new[t]:
                opts[s].add("new")
            if types & {"old", "new"} or any_old[t] or any_new[t]:
                if expiry.max_size[t]:
                    opts[s].add("size")
            if "upgrade" in types or any_upgrades[t]:
                # A flagged placeholder (on t) asks for the real message (from s).
                if "upgrade" in types:
                    opts[t] |= {"paired", "flags", "setflags"}
                opts[s].add("paired")
            if _expunges(ops, t) or _expunges(ops, s):
                opts[s].add("flags")
    xt = expiry.xt
    if expiry.expiring(ops):
        # Expiry counts the expire side's pairs and needs the other side's flags.
        opts[xt] |= {"paired", "flags"}
        if any_dummies[xt]:
            opts[1 - xt] |= {"paired", "flags"}
        elif _toward(ops, xt) & {"old", "new", "upgrade"}:
            opts[1 - xt].add("flags")
    for t in (FAR, NEAR):
        o = opts[t]
        if "setflags" in o:
            o.add("paired")
        if _expunges(ops, t) or _solo(ops, t):
            o |= {"paired", "old", "new", "flags"}
        if _solo(ops, t):
            # Whether a deleted message is alone needs the other side's old ones.
            opts[1 - t] |= {"old"}
    # The non-expire side lists from MaxExpiredUid on, plus the older pairs that are
    # still alive (kept because they were important): mbsync's bulk + exception fetch.
    minwuid = [1, 1]
    extra: list[frozenset[int]] = [frozenset(), frozenset()]
    o = opts[1 - xt]
    if "paired" in o and "old" not in o and expiry.max_messages:
        minwuid[1 - xt] = state.max_expired + 1
        exc = set()
        for rec in state.records:
            if rec.dead:
                continue
            uids = (rec.far_uid, rec.near_uid)
            u = uids[1 - xt]
            if not u or u >= minwuid[1 - xt]:
                continue
            if "new" in o and u > maxuid[1 - xt]:
                continue  # the new range covers it
            if not uids[xt] and not rec.status & S_PENDING:
                continue  # only pairs that really are pairs matter
            exc.add(u)
        extra[1 - xt] = frozenset(exc)
    loads = []
    for t in (FAR, NEAR):
        o = opts[t]
        lo, hi = NOTHING, 0
        if "new" in o:
            if "old" in o:
                o.add("paired")
                lo = 1
            elif "paired" not in o or minwuid[t] > maxuid[t] + 1:
                lo = maxuid[t] + 1
            else:
                lo = minwuid[t]
            hi = _INF
        elif o & {"paired", "old"}:
            lo = minwuid[t]
            if "old" in o:
                lo = 1
                hi = maxuid[t]
                if hi < seen[t]:
                    if "paired" in o:
                        hi = seen[t]
                else:
                    o.add("paired")
            else:
                hi = seen[t]
        find = saved.get(SIDES[t]) if "find" in o else None
        # A side's first listing of new messages (an initial pull, the long run) also
        # lists their sizes, for the progress bar's bytes: measured on Dovecot, RFC822.SIZE
        # costs ~10% of a listing, nothing next to copying every message.  Later runs
        # list sizes only for a MaxSize (listings there cover old messages, every run).
        first = "new" in o and lo == 1 and not maxuid[t]
        loads.append(
            SideLoad(
                paired="paired" in o,
                new="new" in o,
                old="old" in o,
                flags="flags" in o,
                min_uid=lo,
                max_uid=hi,
                tuid_from=find if find else (1 if "find" in o else None),
                extra=extra[t],
                size="size" in o or first,
            )
        )
    return loads[FAR], loads[NEAR]
