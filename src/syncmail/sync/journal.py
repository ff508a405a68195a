"""The sync journal (mbsync.md 3.3, version 5): log a state change, then make it.

Every ``Journal`` method writes one line (with the pair's UIDs as they are *before*
the change) and applies the change in memory; ``replay`` parses a journal left by a
crash and calls the same methods, so a live run and a replay cannot disagree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import field
from typing import BinaryIO

from syncmail.errors import StateError
from syncmail.record import record
from syncmail.sync.state import (
    S_DUMMY_FAR,
    S_DUMMY_NEAR,
    S_EXPIRED,
    S_PENDING,
    S_PERSISTENT,
    S_PURGE,
    S_PURGED,
    S_UPGRADE,
    SyncRecord,
    SyncState,
)

VERSION = 5
TUID_LENGTH = 12

_SIDE_NUMBER = {"far": 0, "near": 1}
_SIDE_NAME = ("far", "near")
# A line mbsync's fgets() buffer cannot hold in one piece.
_MAX_LINE = 128
_UINT_MAX = 0xFFFFFFFF
# Lines ``held()`` keeps before it writes them out (about 40 KiB).
_HELD_LINES = 1024


@record
class ReplayInfo:
    """What a replayed journal knows beyond the records themselves."""

    # "far"/"near" -> UIDNEXT saved before storing copies ("F" lines): TUID search start.
    saved_uidnext: dict[str, int] = field(default_factory=dict)
    # (side, uid) already moved to the trash ("T" lines): do not trash twice.
    trashed: set[tuple[str, int]] = field(default_factory=set)
    # "far"/"near" -> highest UID being propagated (mbsync's newmaxuid after replay).
    new_maxuid: dict[str, int] = field(default_factory=dict)
    # Lines read, the version line included (0: empty journal, nothing replayed).
    lines: int = 0
    # Bytes of complete lines; a torn last line is cut off before appending.
    valid_length: int = 0


class Journal:
    """Writes journal lines and applies them to records / the state.

    ``fp`` is the open journal, or ``opener`` opens it on the first line (so a run
    that changes nothing writes nothing); with neither, changes are applied but not
    logged (dry run, replay).  Lines go out one ``write`` + ``flush`` at a time, the
    equivalent of mbsync's line-buffered stdio.  ``pre_commit`` changes (mbsync's
    ``PC_JLOG``) are logged only when the journal is open anyway.
    """

    def __init__(
        self,
        fp: BinaryIO | None = None,
        *,
        opener: Callable[[], BinaryIO] | None = None,
        fsync: bool = True,
        expire_side: str = "near",
        force: bool = False,
    ) -> None:
        self._fp = fp
        self._force = force
        self._opener = opener
        self._fsync = fsync
        self._expire_side = expire_side
        self.saved_uidnext: dict[str, int] = {}
        self.trashed_msgs: set[tuple[str, int]] = set()
        self.lines_written = 0
        # Lines logged inside ``held()``, written when it ends.
        self._held: list[bytes] | None = None

    @property
    def opened(self) -> bool:
        """True once the journal file exists for this run."""
        return self._fp is not None

    # --- output ---------------------------------------------------------------------

    def _log(self, line: str, pre_commit: bool = False) -> None:
        if self._fp is None:
            if self._opener is None or (pre_commit and not self._force):
                return
            self._fp = self._opener()
        if self._held is not None:
            self._held.append(line.encode("ascii") + b"\n")
            if len(self._held) >= _HELD_LINES:
                self._write_held()
        else:
            self._fp.write(line.encode("ascii") + b"\n")
            self._fp.flush()
        self.lines_written += 1

    @contextmanager
    def held(self) -> Iterator[None]:
        """Lines logged inside go out in one write when it ends.

        Only for a stretch of lines with no change to any mailbox between them (the
        plan's decisions, the TUIDs before the copies): a crash that leaves only some
        of them in the file is then no different from one a little earlier.  Saves a
        system call per line (two per new message of a pull).
        """
        if self._held is not None:
            yield
            return
        self._held = []
        try:
            yield
        finally:
            self._write_held()
            self._held = None

    def _write_held(self) -> None:
        if self._held and self._fp is not None:
            self._fp.write(b"".join(self._held))
            self._fp.flush()
            self._held.clear()

    def sync(self) -> None:
        """Make the lines written so far durable (mbsync does this after TUIDs)."""
        if self._fp is None:
            return
        self._write_held()
        self._fp.flush()
        if self._fsync:
            os.fdatasync(self._fp.fileno())

    def close(self) -> None:
        """Close the file (no sync: the committed state makes the journal moot)."""
        if self._fp is not None:
            self._write_held()
            self._fp.close()
            self._fp = None
            self._opener = None

    # --- state-wide lines -----------------------------------------------------------

    def uidvalidity(self, state: SyncState, far: int, near: int) -> None:
        """``|``: both UIDVALIDITYs (new box pair, or a recovered change)."""
        self._log(f"| {far} {near}")
        state.far_uidvalidity = far
        state.near_uidvalidity = near

    def maxuid(self, state: SyncState, side: str, uid: int, *, pre_commit: bool = False) -> None:
        """``N``: MaxPulledUid (far) or MaxPushedUid (near) is now ``uid``."""
        self._log(f"N {_SIDE_NUMBER[side]} {uid}", pre_commit)
        if side == "far":
            state.max_pulled = uid
        else:
            state.max_pushed = uid

    def uidnext(self, side: str, uid: int) -> None:
        """``F``: UIDNEXT of ``side`` before storing copies there."""
        self._log(f"F {_SIDE_NUMBER[side]} {uid}")
        self.saved_uidnext[side] = uid

    def trashed(self, side: str, uid: int) -> None:
        """``T``: message ``uid`` on ``side`` is in the trash now."""
        self._log(f"T {_SIDE_NUMBER[side]} {uid}")
        self.trashed_msgs.add((side, uid))

    def new_pair(self, state: SyncState, far_uid: int, near_uid: int) -> SyncRecord:
        """``+``: a pending pair (one UID is 0), appended to the state."""
        self._log(f"+ {far_uid} {near_uid}")
        rec = SyncRecord(far_uid, near_uid, status=S_PENDING)
        state.records.append(rec)
        return rec

    # --- per-record lines -----------------------------------------------------------

    def kill(self, rec: SyncRecord, *, pre_commit: bool = False) -> None:
        """``-``: the pair is dead and will not be written."""
        self._log(f"- {rec.far_uid} {rec.near_uid}", pre_commit)
        rec.dead = True

    def tuid(self, rec: SyncRecord, tuid: str) -> None:
        """``#``: the copy carries X-TUID ``tuid`` (12 characters)."""
        if len(tuid) != TUID_LENGTH or tuid.split() != [tuid]:
            raise ValueError(f"TUID must be {TUID_LENGTH} non-blank characters: {tuid!r}")
        self._log(f"# {rec.far_uid} {rec.near_uid} {tuid}")
        rec.tuid = tuid

    def tuid_lost(self, rec: SyncRecord) -> None:
        """``&``: the TUID was not found; the pair stays pending."""
        self._log(f"& {rec.far_uid} {rec.near_uid}")
        rec.tuid = None

    def far_uid(self, rec: SyncRecord, uid: int, *, pre_commit: bool = False) -> None:
        """``<``: the far copy has UID ``uid`` (0 orphans the pair)."""
        self._log(f"< {rec.far_uid} {rec.near_uid} {uid}", pre_commit)
        _assign_uid(rec, "far", uid)

    def near_uid(self, rec: SyncRecord, uid: int, *, pre_commit: bool = False) -> None:
        """``>``: the near copy has UID ``uid`` (0 orphans the pair)."""
        self._log(f"> {rec.far_uid} {rec.near_uid} {uid}", pre_commit)
        _assign_uid(rec, "near", uid)

    def flags(self, rec: SyncRecord, flags: int) -> None:
        """``*``: the synced flags are now ``flags``."""
        self._log(f"* {rec.far_uid} {rec.near_uid} {flags}")
        rec.flags = flags

    def pending_flags(self, rec: SyncRecord, flags: int) -> None:
        """``%``: the copy under way is stored with ``flags``."""
        self._log(f"% {rec.far_uid} {rec.near_uid} {flags}")
        rec.pending_flags = flags

    def status(self, rec: SyncRecord, status: int, *, state: SyncState | None = None) -> None:
        """``~``: the persistent status bits become ``status``.

        With ``state``, an EXPIRED pair raises the MaxExpired bound as replay does.
        """
        status &= S_PERSISTENT
        self._log(f"~ {rec.far_uid} {rec.near_uid} {status}")
        # An upgrade that is canceled or expired keeps S_UPGRADE, as in mbsync: a
        # resumed run still owes the real message the placeholder's flags.
        rec.status = (rec.status & ~S_PERSISTENT) | status
        if state is not None and rec.status & S_EXPIRED:
            other = rec.far_uid if self._expire_side == "near" else rec.near_uid
            state.max_expired = max(state.max_expired, other)

    def placeholder(self, rec: SyncRecord) -> None:
        """``_``: the copy to make is a placeholder (on the side whose UID is 0)."""
        self._log(f"_ {rec.far_uid} {rec.near_uid}")
        rec.status = S_PENDING | (S_DUMMY_FAR if not rec.far_uid else S_DUMMY_NEAR)

    def upgrade(self, state: SyncState, rec: SyncRecord, pflags: int) -> SyncRecord:
        """``^``: start replacing ``rec``'s placeholder by the real message.

        The placeholder moves to a new entry right after ``rec`` (marked for purging,
        which sets its T flag); ``rec`` becomes a pending upgrade.  Returns the new entry.
        """
        self._log(f"^ {rec.far_uid} {rec.near_uid} {pflags}")
        rec.pending_flags = pflags
        side = "far" if rec.status & S_DUMMY_FAR else "near"
        split = SyncRecord(0, 0, status=S_PURGE)
        if side == "far":
            split.far_uid, rec.far_uid = rec.far_uid, 0
        else:
            split.near_uid, rec.near_uid = rec.near_uid, 0
        rec.status = (rec.status & ~(S_DUMMY_FAR | S_DUMMY_NEAR)) | S_PENDING | S_UPGRADE
        state.records.insert(_index_of(state.records, rec) + 1, split)
        return split

    def upgrade_flags(self, rec: SyncRecord, add: int, delete: int) -> None:
        """``$``: flag changes to apply to the upgraded copy."""
        self._log(f"$ {rec.far_uid} {rec.near_uid} {add} {delete}")
        rec.upgrade_add = add
        rec.upgrade_del = delete

    def purged(self, rec: SyncRecord) -> None:
        """``P``: the old placeholder was deleted."""
        self._log(f"P {rec.far_uid} {rec.near_uid}")
        rec.upgrade_add = rec.upgrade_del = 0
        rec.status = (rec.status & ~S_PURGE) | S_PURGED


def _assign_uid(rec: SyncRecord, side: str, uid: int) -> None:
    """A copy landed (or was orphaned): the pair stops being pending."""
    if side == "far":
        rec.far_uid = uid
    else:
        rec.near_uid = uid
    if uid:
        if rec.status & S_UPGRADE:
            rec.flags = (rec.flags | rec.upgrade_add) & ~rec.upgrade_del
            rec.upgrade_add = rec.upgrade_del = 0
        else:
            rec.flags = rec.pending_flags
    rec.status &= ~(S_PENDING | S_UPGRADE)
    rec.tuid = None


def _index_of(records: list[SyncRecord], rec: SyncRecord) -> int:
    # Identity, not ==: two records may hold equal values.
    for i in range(len(records) - 1, -1, -1):
        if records[i] is rec:
            return i
    raise ValueError("record is not in the state")


# --- replay -------------------------------------------------------------------------

# Number of numeric arguments after the code character.
_ARITY = {
    "|": 2, "N": 2, "F": 2, "T": 2, "+": 2, "-": 2, "&": 2, "_": 2, "P": 2, "#": 2,
    "<": 3, ">": 3, "*": 3, "%": 3, "~": 3, "^": 3,
    "$": 4,
}  # fmt: skip


def replay(
    state: SyncState,
    lines: Iterable[bytes],
    path: str,
    *,
    expire_side: str = "near",
    channel: str = "",
    box: str = "",
) -> ReplayInfo:
    """Apply a journal's lines (as read in binary mode, newlines kept) to ``state``.

    A last line without its newline (torn by a crash) is ignored.  Anything else that
    is not a well-formed version-5 entry for an existing pair raises StateError
    naming ``path:line``.
    """
    info = ReplayInfo(new_maxuid={"far": state.max_pulled, "near": state.max_pushed})
    journal = Journal(expire_side=expire_side)
    last = 0  # index where the forward search for the next pair starts
    pending_torn: int | None = None

    def fail(lineno: int, message: str) -> StateError:
        return StateError(channel, box, path, lineno, message)

    for lineno, raw in enumerate(lines, 1):
        if pending_torn is not None:
            raise fail(pending_torn, "incomplete journal entry")
        if not raw.endswith(b"\n"):
            pending_torn = lineno
            continue
        if len(raw) >= _MAX_LINE:
            raise fail(
                lineno, "incomplete journal header" if lineno == 1 else "incomplete journal entry"
            )
        text = raw[:-1].decode("ascii", "replace")
        if lineno == 1:
            if text != str(VERSION):
                raise fail(1, f"incompatible journal version (got {text}, expected {VERSION})")
        else:
            last = _replay_line(state, journal, info, text, lineno, last, fail)
        info.lines = lineno
        info.valid_length += len(raw)
    info.saved_uidnext = journal.saved_uidnext
    info.trashed = journal.trashed_msgs
    return info


def _replay_line(
    state: SyncState,
    journal: Journal,
    info: ReplayInfo,
    text: str,
    lineno: int,
    last: int,
    fail: Callable[[int, str], StateError],
) -> int:
    """Apply one entry; returns the index of the entry it matched (or ``last``)."""
    code = text[:1]
    if code not in _ARITY:
        raise fail(lineno, "unrecognized journal entry")
    args = text[2:]
    tuid = ""
    if code == "#":
        far_s, _, rest = args.partition(" ")
        near_s, _, tuid = rest.partition(" ")
        tokens = [far_s, near_s]
        tuid = tuid.lstrip(" ")
        if len(tuid) != TUID_LENGTH or any(ch.isspace() for ch in tuid):
            raise fail(lineno, "malformed journal entry")
    else:
        tokens = args.split()
        if code == "~" and len(tokens) == 3 and tokens[2] == "S_PENDING":
            # mbsync 1.5 writes this token literally in one place.
            tokens[2] = str(S_PENDING)
    if len(tokens) != _ARITY.get(code, 2) or not all(t.isdigit() and t.isascii() for t in tokens):
        raise fail(lineno, "malformed journal entry")
    nums = [int(t) for t in tokens]
    if any(n > _UINT_MAX for n in nums):
        # A UID (or status) beyond 32 bits: replayed, it would make a state no run reads.
        raise fail(lineno, "malformed journal entry")
    if code in "NFT":
        if nums[0] > 1:
            raise fail(lineno, "malformed journal entry")
        side = _SIDE_NAME[nums[0]]
        if code == "N":
            journal.maxuid(state, side, nums[1])
            info.new_maxuid[side] = nums[1]
        elif code == "F":
            journal.uidnext(side, nums[1])
        else:
            journal.trashed(side, nums[1])
        return last
    if code == "|":
        journal.uidvalidity(state, nums[0], nums[1])
        return last
    if code == "+":
        journal.new_pair(state, nums[0], nums[1])
        info.new_maxuid["far"] = max(info.new_maxuid["far"], nums[0])
        info.new_maxuid["near"] = max(info.new_maxuid["near"], nums[1])
        return len(state.records) - 1
    index = _find(state.records, nums[0], nums[1], last)
    if index is None:
        raise fail(lineno, "journal entry refers to non-existing sync state entry")
    rec = state.records[index]
    if code == "-":
        journal.kill(rec)
    elif code == "#":
        journal.tuid(rec, tuid)
    elif code == "&":
        journal.tuid_lost(rec)
    elif code in "<>":
        side = "far" if code == "<" else "near"
        if nums[2] == info.new_maxuid[side] + 1:
            info.new_maxuid[side] = nums[2]
        (journal.far_uid if code == "<" else journal.near_uid)(rec, nums[2])
    elif code == "*":
        journal.flags(rec, nums[2])
    elif code == "%":
        journal.pending_flags(rec, nums[2])
    elif code == "~":
        journal.status(rec, nums[2], state=state)
    elif code == "_":
        journal.placeholder(rec)
    elif code == "^":
        journal.upgrade(state, rec, nums[2])
        return index + 1
    elif code == "$":
        journal.upgrade_flags(rec, nums[2], nums[3])
    else:  # "P"
        journal.purged(rec)
    return index


def _find(records: list[SyncRecord], far: int, near: int, start: int) -> int | None:
    """mbsync's lookup: forward from the last matched entry, then from the top."""
    for i in range(start, len(records)):
        if records[i].far_uid == far and records[i].near_uid == near:
            return i
    for i in range(0, min(start, len(records))):
        if records[i].far_uid == far and records[i].near_uid == near:
            return i
    return None
