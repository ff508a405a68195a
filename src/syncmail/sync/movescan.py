"""``DetectMoves``: find a channel's moves before its box pairs are synced, and serve the
moved messages' bytes from local files (``syncmail.sync.moves`` says why this is safe).

Where the other side is a Maildir, its copy in the box the message left is hard-linked
into that box's ``tmp/`` and read from there when the box pair the message went to
copies it.  Where the other side copies on its own (IMAP with UIDPLUS), the copy is a
server-side ``UID COPY`` of the old message (``UID MOVE`` where the server has MOVE and
the channel expunges there), logged first as an intent (see ``adopt_server_copies``).
Elsewhere the move is copied and deleted as before.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from syncmail.config.model import ChannelConfig, Operations
from syncmail.errors import SyncmailError
from syncmail.store.base import (
    Box,
    BoxMissing,
    FetchedMessage,
    Listing,
    ListRequest,
    Store,
)
from syncmail.store.maildir_files import open_message
from syncmail.sync import objectids
from syncmail.sync.loads import NOTHING
from syncmail.sync.moves import Arrival, Gone, Move, MoveSet, match_moves
from syncmail.sync.msgcvt import TUID_LENGTH, convert_line_endings
from syncmail.sync.plan import FAR, NEAR, SIDES
from syncmail.sync.state import (
    S_DUMMY_FAR,
    S_DUMMY_NEAR,
    S_EXPIRE,
    S_EXPIRED,
    S_PURGE,
    S_UPGRADE,
    SyncState,
)
from syncmail.sync.statefiles import StateFiles, StatePaths, intents_path, remove_note

if TYPE_CHECKING:
    from syncmail.sync.boxsync import RunContext

log = logging.getLogger(__name__)

__all__ = [
    "STASH_PREFIX",
    "adopt_server_copies",
    "discard_intents",
    "discard_stash",
    "fetch_sources",
    "intents_path",
    "log_intents",
    "read_intents",
    "scan_moves",
]

_NOT_MOVABLE = S_DUMMY_FAR | S_DUMMY_NEAR | S_EXPIRE | S_EXPIRED | S_UPGRADE | S_PURGE

# Hard links of moved messages' files, in their box's tmp/ (which Maildir readers skip).
STASH_PREFIX = "syncmail-move."
_counter = itertools.count()


def scan_moves(
    r: RunContext,
    channel: ChannelConfig,
    ops: Operations,
    stores: tuple[Store, Store],
    pairs: Sequence[tuple[str, str, str]],
) -> MoveSet:
    """The moves of the channel's box pairs ``pairs`` (name, far box, near box), each
    side scanned where the other side gets its new mail and is a Maildir or a store
    that copies on its own.

    Nothing is changed but the hard links of the ``MoveSet``; a scan that fails is
    logged and finds nothing (the pairs then copy and delete as before)."""
    from syncmail.store.maildir import MaildirStore

    found = MoveSet()
    for s in (FAR, NEAR):
        t = 1 - s
        direction = ops.sync.pull if s == FAR else ops.sync.push
        local = isinstance(stores[t], MaildirStore)
        server = "copy" in stores[t].capabilities
        if not (local or server) or "new" not in direction:
            continue
        if server and "move" in stores[t].capabilities and (
            SIDES[t] in ops.expunge | ops.expunge_solo
        ):
            found.server_move.add(t)
        try:
            _scan_side(r, channel, stores, pairs, s, found)
        except SyncmailError as e:
            log.info("Notice: channel %s: no move detection this run: %s", channel.name, e)
    return found


def _scan_side(
    r: RunContext,
    channel: ChannelConfig,
    stores: tuple[Store, Store],
    pairs: Sequence[tuple[str, str, str]],
    s: int,
    found: MoveSet,
) -> None:
    """Moves on side ``s``: its vanished paired messages against its new ones."""
    from syncmail.store.maildir import MaildirStore
    from syncmail.sync.boxsync import pair_state_paths

    t = 1 - s
    gone_uids: dict[str, dict[int, int]] = {}  # box -> UID on s -> partner UID on t
    new_uids: dict[str, dict[int, int]] = {}  # box -> new UID on s -> its size
    oids: dict[str, dict[int, str]] = {}  # box -> UID on s (gone or new) -> server id
    for _name, far_name, near_name in pairs:
        names = (far_name, near_name)
        paths = pair_state_paths(r.config, channel, *stores, far_name, near_name)
        _discard_stale(stores[t], names[t])
        # No state yet: a pair synced for the first time, where everything is new.
        state = _read_state(paths, channel)
        if state is None:
            continue
        box = _open(stores[s], names[s])
        if box is None:
            continue
        try:
            gone, new, listed = _compare(box, state, s)
            oids[names[s]] = _object_ids(paths.state, SIDES[s], box, gone, new, listed)
        finally:
            box.close()
        gone_uids[names[s]], new_uids[names[s]] = gone, new
    if not any(gone_uids.values()):
        return
    if isinstance(stores[t], MaildirStore):
        _local_moves(channel, stores, s, gone_uids, new_uids, oids, found)
    else:
        _server_moves(channel, stores, s, gone_uids, new_uids, oids, found)


def _object_ids(
    state_path: str, side: str, box: Box, gone: Mapping[int, int], new: Mapping[int, int],
    listed: Mapping[int, str],
) -> dict[int, str]:  # fmt: skip
    """The server ids of the gone and new UIDs: the new ones listed now, the gone ones
    as noted when last listed.  The notes are renewed with this listing (and the gone
    ones, until their pairs are gone: a run that stops early finds them again)."""
    if not listed and not gone:
        return {}
    path = objectids.notes_path(state_path)
    uidvalidity = box.status.uidvalidity
    noted = objectids.load(path, side, uidvalidity)
    kept = {uid: noted[uid] for uid in gone if uid in noted}
    # A pair never synced has no state yet, nor (a new box) a directory for the notes:
    # its ids are noted from its next run on, once something is paired.
    if {**listed, **kept} != noted and os.path.exists(state_path):
        objectids.save(path, side, uidvalidity, {**listed, **kept})
    return {**kept, **{uid: listed[uid] for uid in new if uid in listed}}


def _tuid_line(crlf: bool) -> int:
    return TUID_LENGTH + len("X-TUID: \n") + (1 if crlf else 0)


def _local_moves(
    channel: ChannelConfig, stores: tuple[Store, Store], s: int,
    gone_uids: Mapping[str, Mapping[int, int]], new_uids: Mapping[str, Mapping[int, int]],
    oids: Mapping[str, Mapping[int, str]], found: MoveSet,
) -> None:  # fmt: skip
    """Side ``t`` is a Maildir: a move is served from a hard link of its partner file."""
    t = 1 - s
    arrivals = [
        a
        for name, new in new_uids.items()
        if new
        for a in _arrivals(stores[s], name, new, None, oids.get(name, {}))
    ]
    wanted = _wanted(arrivals)
    gone_list = list(_partners(stores[t], t, gone_uids, wanted, stores[s].crlf, oids, found))
    for move in match_moves(gone_list, arrivals, _tuid_line(stores[s].crlf)):
        g, a = move.gone, move.arrival
        stash = found.sources.pop((t, g.box, g.partner_uid), None)
        if stash is None:
            continue
        found.sources[(s, a.box, a.uid)] = stash
        found.removals.add((t, g.box, g.partner_uid))
        _log_move(channel, s, move, f"copied from the {SIDES[t]} file")
    # Partner files stashed for no move.
    for key in [k for k in found.sources if k[0] == t]:
        _unlink(found.sources.pop(key))


def _server_moves(
    channel: ChannelConfig, stores: tuple[Store, Store], s: int,
    gone_uids: Mapping[str, Mapping[int, int]], new_uids: Mapping[str, Mapping[int, int]],
    oids: Mapping[str, Mapping[int, str]], found: MoveSet,
) -> None:  # fmt: skip
    """Side ``t`` copies on its own (IMAP): a move is a server-side copy of the partner,
    compared by the server's size against the arrival's (a Maildir file counted in the
    server's endings, without X-TUID; another server's size as it is)."""
    t = 1 - s
    crlf = stores[t].crlf
    arrivals = [
        a
        for name, new in new_uids.items()
        if new
        for a in _arrivals(stores[s], name, new, crlf, oids.get(name, {}))
    ]
    wanted = _wanted(arrivals)
    gone_list: list[Gone] = []
    for box_name, uids in gone_uids.items():
        if uids:
            box_oids = oids.get(box_name, {})
            gone_list.extend(_server_partners(stores[t], box_name, uids, wanted, box_oids))
    for move in match_moves(gone_list, arrivals, _tuid_line(crlf)):
        g, a = move.gone, move.arrival
        found.server_sources[(s, a.box, a.uid)] = (g.box, g.partner_uid, a.message_id or "")
        found.removals.add((t, g.box, g.partner_uid))
        how = "moved" if t in found.server_move else "copied"
        _log_move(channel, s, move, f"{how} on the {SIDES[t]} server")


def _log_move(channel: ChannelConfig, s: int, move: Move, how: str) -> None:
    g, a = move.gone, move.arrival
    log.info(
        "channel %s: %s %s UID %d moved to %s (UID %d): %s",
        channel.name, SIDES[s], g.box, g.uid, a.box, a.uid, how,
    )  # fmt: skip


def _wanted(arrivals: Sequence[Arrival]) -> set[str]:
    """The Message-IDs and server ids a vanished message needs to be a move candidate."""
    return {i for a in arrivals for i in (a.message_id, a.object_id) if i}


def _server_partners(
    store: Store, box_name: str, uids: Mapping[int, int], wanted: set[str],
    oids: Mapping[int, str],
) -> list[Gone]:  # fmt: skip
    box = _open(store, box_name)
    if box is None:
        return []
    try:
        partner_uids = frozenset(uids.values())
        listing = box.list_messages(
            ListRequest(
                min_uid=NOTHING, extra_uids=partner_uids, message_id_uids=partner_uids,
                want_size=True,
            )
        )  # fmt: skip
    finally:
        box.close()
    out = []
    for uid, partner in uids.items():
        info = listing.get(partner)
        if info is not None and (info.message_id in wanted or oids.get(uid) in wanted):
            out.append(Gone(box.name, uid, partner, info.message_id, info.size, oids.get(uid)))
    return out


def _read_state(paths: StatePaths, channel: ChannelConfig) -> SyncState | None:
    """The pair's state as its next sync will see it (an interrupted run's journal
    replayed, in memory only: nothing is locked or written); None when unreadable."""
    files = StateFiles(paths, channel=channel.name, dry_run=True, expire_side=channel.expire_side)
    try:
        return files.load()
    except SyncmailError:
        return None


def _open(store: Store, name: str) -> Box | None:
    try:
        return store.open_box(name)
    except BoxMissing:
        return None


def _compare(
    box: Box, state: SyncState, s: int
) -> tuple[dict[int, int], dict[int, int], dict[int, str]]:
    """Side ``s``'s paired UIDs that vanished (-> partner UID), its new messages
    (UID -> size), and the server ids of all listed (where the server has them)."""
    listing = box.list_messages(ListRequest(want_size=True, want_object_id=True))
    paired: dict[int, int] = {}
    unmovable: set[int] = set()
    for rec in state.records:
        mine, partner = (rec.far_uid, rec.near_uid) if s == FAR else (rec.near_uid, rec.far_uid)
        if rec.status & _NOT_MOVABLE:
            # Placeholders (MaxSize), upgrades and expiries are neither sources nor
            # arrivals of a move.
            unmovable.add(mine)
        elif not rec.dead and mine and partner:
            paired[mine] = partner
    maxuid = state.max_pulled if s == FAR else state.max_pushed
    gone = {uid: partner for uid, partner in paired.items() if uid not in listing}
    new = {
        uid: info.size
        for uid, info in listing.items()
        if uid not in paired and uid not in unmovable and uid > maxuid
    }
    ids = {uid: info.object_id for uid, info in listing.items() if info.object_id}
    return gone, new, ids


def _arrivals(
    store: Store, name: str, new: Mapping[int, int], to_crlf: bool | None,
    oids: Mapping[int, str],
) -> list[Arrival]:  # fmt: skip
    """The new messages ``new`` (UID -> size) of box ``name``, with their Message-IDs;
    with ``to_crlf`` set (a Maildir box) the size is the file's without X-TUID, in
    those line endings."""
    box = _open(store, name)
    if box is None:
        return []
    try:
        uids = frozenset(new)
        ids = box.list_messages(ListRequest(min_uid=NOTHING, extra_uids=uids, message_id_uids=uids))
        sizes = dict(new)
        path_of = getattr(box, "path_of", None)
        if to_crlf is not None and callable(path_of):
            for uid in ids:
                path = path_of(uid)
                sizes[uid] = _normal_size(path, to_crlf) if isinstance(path, str) else -1
    finally:
        box.close()
    return [
        Arrival(box.name, uid, ids[uid].message_id, sizes[uid], oids.get(uid))
        for uid in sorted(ids)
    ]


def _partners(
    store: Store, t: int, gone: Mapping[str, Mapping[int, int]], wanted: set[str],
    crlf: bool, oids: Mapping[str, Mapping[int, str]], found: MoveSet,
) -> Iterator[Gone]:  # fmt: skip
    """The vanished messages whose partner file in ``store`` (the Maildir side, ``t``)
    carries a wanted Message-ID, or whose server id (``oids``) is wanted, each partner
    file hard-linked into the stash (``found.sources``); sizes counted in CRLF endings
    if ``crlf``."""
    for box_name, uids in gone.items():
        if not uids:
            continue
        box = _open(store, box_name)
        if box is None:
            continue
        try:
            partner_uids = frozenset(uids.values())
            listing = box.list_messages(
                ListRequest(min_uid=NOTHING, extra_uids=partner_uids, message_id_uids=partner_uids)
            )
            path_of = getattr(box, "path_of", None)
            box_oids = oids.get(box_name, {})
            for uid, partner in uids.items():
                info = listing.get(partner)
                oid = box_oids.get(uid)
                if info is None or not callable(path_of):
                    continue
                if info.message_id not in wanted and oid not in wanted:
                    continue
                path = path_of(partner)
                stash = _stash(path) if isinstance(path, str) else None
                if stash is None:
                    continue
                found.sources[(t, box.name, partner)] = stash
                size = _normal_size(stash, crlf)
                yield Gone(box.name, uid, partner, info.message_id, size, oid)
        finally:
            box.close()


def _normal_size(path: str, to_crlf: bool) -> int:
    """Size of a Maildir file without its X-TUID line, in CRLF endings if ``to_crlf``."""
    with open_message(path) as f:
        data = f.read()
    end = data.find(b"\n\n")
    head = data if end < 0 else data[: end + 1]
    start = 0 if head.lower().startswith(b"x-tuid:") else head.lower().find(b"\nx-tuid:") + 1
    if start > 0 or head.lower().startswith(b"x-tuid:"):
        stop = data.find(b"\n", start)
        data = data[:start] + (data[stop + 1 :] if stop >= 0 else b"")
    if to_crlf:
        data = convert_line_endings(data, source_crlf=False, target_crlf=True)
    return len(data)


def _stash(path: str) -> str | None:
    """A hard link to the message file ``path`` in its box's ``tmp/``."""
    tmp = os.path.join(os.path.dirname(os.path.dirname(path)), "tmp")
    link = os.path.join(tmp, f"{STASH_PREFIX}{os.getpid()}.{next(_counter)}")
    try:
        os.link(path, link)
    except OSError as e:
        log.debug("no stash for %s: %s", path, e)
        return None
    return link


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError as e:
        log.debug("stash %s: %s", path, e)


def _discard_stale(store: Store, name: str) -> None:
    """Stash links an interrupted run left in box ``name``'s tmp/."""
    box_path = getattr(store, "box_path", None)
    if not callable(box_path):
        return
    tmp = os.path.join(str(box_path(name)), "tmp")
    try:
        names = os.listdir(tmp)
    except OSError:
        return
    for entry in names:
        if entry.startswith(STASH_PREFIX):
            _unlink(os.path.join(tmp, entry))


def discard_stash(moves: MoveSet) -> None:
    """Remove the stash links of a channel once its box pairs are done."""
    for path in moves.sources.values():
        _unlink(path)
    moves.sources.clear()


def fetch_sources(
    source: Box,
    uids: Sequence[int],
    spool_dir: str | None,
    dates: bool,
    stash: Mapping[int, str],
    source_crlf: bool,
) -> Iterator[FetchedMessage]:
    """``source.fetch_messages(uids)``, but the UIDs in ``stash`` are read from their
    stashed Maildir file (converted to the source's line endings), in order."""
    if not stash:
        yield from source.fetch_messages(uids, spool_dir, dates=dates)
        return
    run: list[int] = []
    for uid in [*uids, 0]:
        path = stash.get(uid)
        if path is None and uid:
            run.append(uid)
            continue
        if run:
            yield from source.fetch_messages(run, spool_dir, dates=dates)
            run = []
        if path is None:
            continue
        got = _read_stash(path, source_crlf)
        if got is None:
            yield from source.fetch_messages([uid], spool_dir, dates=dates)
        else:
            data, mtime = got
            yield FetchedMessage(uid, data, 0, mtime if dates else None)


def _read_stash(path: str, crlf: bool) -> tuple[bytes, float] | None:
    try:
        with open_message(path) as f:
            data = f.read()
            mtime = os.fstat(f.fileno()).st_mtime
    except OSError:
        return None
    return convert_line_endings(data, source_crlf=False, target_crlf=crlf), mtime


# --- server copies: the intent log -----------------------------------------------------
# A server copy carries no X-TUID, so a run that dies between the COPY and the journal
# line naming its UID could not find it again: before the COPY, each copy's side, TUID
# and Message-ID go into ``<state>.syncmail-moves``; a resumed run pairs a pending
# TUID with the one new message of that Message-ID.


def log_intents(path: str, entries: Sequence[tuple[str, str, str]], fsync: bool) -> None:
    """Append (side, TUID, Message-ID) lines, durable before the copies are made."""
    text = "".join(f"{side} {tuid} {mid}\n" for side, tuid, mid in entries)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def read_intents(path: str) -> dict[str, dict[str, str]]:
    """side -> TUID -> Message-ID; empty when there is no log (or a torn last line)."""
    out: dict[str, dict[str, str]] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] in SIDES and len(parts[1]) == TUID_LENGTH:
            out.setdefault(parts[0], {})[parts[1]] = parts[2]
    return out


def discard_intents(path: str) -> None:
    remove_note(path)


def adopt_server_copies(
    boxes: Sequence[Box],
    listings: list[Listing],
    state: SyncState,
    saved_uidnext: Mapping[str, int],
    intents: Mapping[str, Mapping[str, str]],
) -> None:
    """After a crash: give each server copy the X-TUID its intent names, in the listing
    only, so that the plan pairs it as a found copy.  Only a Message-ID held by exactly
    one new unpaired message is trusted; anything else stays lost (copied again)."""
    for t in (FAR, NEAR):
        wanted = intents.get(SIDES[t])
        start = saved_uidnext.get(SIDES[t])
        if not wanted or not start:
            continue
        pending = {
            rec.tuid
            for rec in state.records
            if rec.tuid is not None
            and rec.tuid in wanted
            and not (rec.far_uid if t == FAR else rec.near_uid)
        }
        paired = {rec.far_uid if t == FAR else rec.near_uid for rec in state.records}
        known = {m.tuid for m in listings[t].values() if m.tuid}
        todo = {tuid: wanted[tuid] for tuid in pending if tuid not in known}
        cands = frozenset(
            uid for uid, m in listings[t].items() if uid >= start and uid not in paired
        )
        if not todo or not cands:
            continue
        ids = boxes[t].list_messages(
            ListRequest(min_uid=NOTHING, extra_uids=cands, message_id_uids=cands)
        )
        by_id: dict[str, list[int]] = {}
        for uid, m in ids.items():
            if m.message_id:
                by_id.setdefault(m.message_id, []).append(uid)
        for tuid, mid in todo.items():
            uids = by_id.get(mid, [])
            if len(uids) == 1 and uids[0] in listings[t]:
                listings[t][uids[0]] = replace(listings[t][uids[0]], tuid=tuid)
