"""mbsync's sync state of one box pair, in memory, and its file format (mbsync.md 3.2).

``parse_state`` / ``format_state`` read and write ``.mbsyncstate`` byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter

from syncmail.errors import StateError
from syncmail.flags import to_letters
from syncmail.record import record

# Status bits, with mbsync's values (they appear in the journal's "~" lines).
S_EXPIRE = 2  # expiry of this pair is being propagated
S_EXPIRED = 4  # expired on the expire side (the "~" mark in the state file)
S_PENDING = 16  # a copy is under way (not persisted in the state file)
S_DUMMY_FAR = 32  # the far copy is a placeholder ("<" mark)
S_DUMMY_NEAR = 64  # the near copy is a placeholder (">" mark)
S_SKIPPED = 128  # legacy "^" mark, read only
S_PERSISTENT = S_EXPIRE | S_EXPIRED | S_PENDING | S_DUMMY_FAR | S_DUMMY_NEAR | S_SKIPPED
# Runtime only, set by placeholder upgrades (journal "^", "P"); never persisted.
S_UPGRADE = 8192  # the entry's real copy is being fetched to replace a placeholder
S_PURGE = 16384  # the entry holds the placeholder being deleted (gets the T flag)
S_PURGED = 32768  # that placeholder was deleted


@dataclass(slots=True)
class SyncRecord:
    """One pair: far UID, near UID (0 = no message on that side), synced flags."""

    far_uid: int
    near_uid: int
    flags: int = 0
    status: int = 0
    # Runtime only (journal "#", "%", "^"/"$"): never written to the state file.
    tuid: str | None = None
    pending_flags: int = 0
    dead: bool = False
    # Journal "$": flags to add/remove on the upgraded copy (the side whose UID is 0).
    upgrade_add: int = 0
    upgrade_del: int = 0


@record(slots=True)
class SyncState:
    """Everything in one state file.  ``uidvalidity`` 0 means "not known yet"."""

    far_uidvalidity: int = 0
    near_uidvalidity: int = 0
    max_pulled: int = 0
    max_pushed: int = 0
    # MaxExpiredFarUid (ExpireSide Near, the default) or MaxExpiredNearUid.
    max_expired: int = 0
    records: list[SyncRecord] = field(default_factory=list)


# --- the state file format (mbsync.md 3.2) ---------------------------------------------

# fgets() with a 128-byte buffer: a line (newline included) of 128 bytes or more does
# not fit, and mbsync reports it as incomplete.
_MAX_LINE = 127
_UINT_MAX = 0xFFFFFFFF

_Fail = Callable[[int, str], StateError]

_FAR_UV_KEYS = (b"FarUidValidity", b"MasterUidValidity")
_NEAR_UV_KEYS = (b"NearUidValidity", b"SlaveUidValidity")


def _uint(token: bytes) -> int | None:
    """A ``%u`` number; ``-1`` wraps to UINT_MAX as in C (pre-1.3 states use it)."""
    if token.startswith(b"-"):
        body = token[1:]
        if not body.isdigit():
            return None
        return (-int(body)) & _UINT_MAX
    if token.startswith(b"+"):
        token = token[1:]
    if not token.isdigit():
        return None
    value = int(token)
    return value if value <= _UINT_MAX else None


def _parse_flag_letters(text: bytes) -> int:
    """Flags as mbsync reads them: letters count only in canonical DFPRST order."""
    result = 0
    pos = 0
    for bit, letter in enumerate(b"DFPRST"):
        if pos < len(text) and text[pos] == letter:
            result |= 1 << bit
            pos += 1
    return result


def _legacy_max_expired(records: list[SyncRecord], max_expired_near: int) -> int:
    """Far-side expiry bound from a pre-1.3 near-side one (mbsync's conversion)."""
    lowest = _UINT_MAX
    for rec in records:
        if rec.dead or rec.status & (S_SKIPPED | S_PENDING) or not rec.far_uid:
            continue
        if rec.status & S_EXPIRED:
            if not rec.near_uid:
                continue  # the expired message is gone already
        elif rec.near_uid and max_expired_near >= rec.near_uid:
            continue  # inside the generally expired range: no bulk fetch needed
        lowest = min(lowest, rec.far_uid)
    return (lowest - 1) & _UINT_MAX


def parse_state(
    data: bytes,
    path: str,
    *,
    expire_side: str = "near",
    channel: str = "",
    box: str = "",
) -> SyncState:
    """Read a ``.mbsyncstate`` file's bytes; raise StateError naming ``path:line``.

    Accepts every format mbsync 1.5 reads: any header order, the pre-1.4 header names,
    the pre-1.1 one-line header, the legacy ``X`` and ``-1`` entries.  ``expire_side``
    is the channel's ExpireSide; a MaxExpired key of the other side is an error.
    """

    def fail(line: int, message: str) -> StateError:
        return StateError(channel, box, path, line, message)

    state = SyncState()
    lines = data.split(b"\n")
    # The piece after the last "\n" is b"" for a well-terminated file.
    trailer = lines.pop()
    max_expired_near = 0
    lineno = 0
    in_header = True
    for raw in lines:
        lineno += 1
        if len(raw) >= _MAX_LINE:
            raise fail(lineno, "incomplete sync state header entry")
        if not raw:
            in_header = False
            break
        if lineno == 1 and raw[:1].isdigit():
            max_expired_near = _parse_pre11_header(raw, state, fail)
            if max_expired_near and expire_side != "near":
                raise fail(lineno, "state file does not match ExpireSide setting")
            in_header = False
            break
        legacy = _parse_header_line(raw, lineno, state, expire_side, fail)
        if legacy is not None:
            max_expired_near = legacy
    if not in_header:
        entries = lines[lineno:]
        state.records = _parse_entries(entries, lineno, fail)
        lineno += len(entries)
    if trailer:
        lineno += 1
        if in_header:
            raise fail(lineno, "incomplete sync state header entry")
        raise fail(lineno, "incomplete sync state entry")
    if in_header:
        raise fail(lineno, "unterminated sync state header")
    if max_expired_near:
        state.max_expired = _legacy_max_expired(state.records, max_expired_near)
    return state


def _parse_pre11_header(raw: bytes, state: SyncState, fail: _Fail) -> int:
    """``uvF:maxF uvN:maxxN:maxN``; returns the legacy near-side expiry bound."""
    parts = raw.split()
    numbers_f = parts[0].split(b":") if len(parts) >= 2 else []
    numbers_n = parts[1].split(b":") if len(parts) >= 2 else []
    values_f = [_uint(n) for n in numbers_f]
    values_n = [_uint(n) for n in numbers_n]
    if len(values_f) != 2 or len(values_n) != 3 or None in values_f or None in values_n:
        raise fail(1, "invalid sync state header")
    state.far_uidvalidity, state.max_pulled = (v or 0 for v in values_f)
    state.near_uidvalidity, max_expired_near, state.max_pushed = (v or 0 for v in values_n)
    return max_expired_near


def _parse_header_line(
    raw: bytes, lineno: int, state: SyncState, expire_side: str, fail: _Fail
) -> int | None:
    """Store one ``Key value`` line; returns a pre-1.3 MaxExpiredSlaveUid value."""
    parts = raw.split()
    value = _uint(parts[1]) if len(parts) >= 2 else None
    if value is None:
        raise fail(lineno, "malformed sync state header entry")
    key = parts[0]
    if key in _FAR_UV_KEYS:
        state.far_uidvalidity = value
    elif key in _NEAR_UV_KEYS:
        state.near_uidvalidity = value
    elif key == b"MaxPulledUid":
        state.max_pulled = value
    elif key == b"MaxPushedUid":
        state.max_pushed = value
    elif key in (b"MaxExpiredFarUid", b"MaxExpiredMasterUid", b"MaxExpiredSlaveUid"):
        if expire_side != "near":
            raise fail(lineno, "state file does not match ExpireSide setting")
        if key == b"MaxExpiredSlaveUid":
            return value
        state.max_expired = value
    elif key == b"MaxExpiredNearUid":
        if expire_side != "far":
            raise fail(lineno, "state file does not match ExpireSide setting")
        state.max_expired = value
    else:
        raise fail(lineno, "unrecognized sync state header entry")
    return None


# The common entry, "far near FLAGS" with plain numbers (9 digits fit a C unsigned)
# and no marks: read without the general path's splitting and checks.
_PLAIN_ENTRY = re.compile(rb"(\d{1,9}) (\d{1,9}) ([DFPRST]*)")
# Flag letters of every flag set (for writing), and back (canonical spellings only).
_LETTERS_OF = [to_letters(f) for f in range(64)]
_BITS_OF = {letters.encode(): f for f, letters in enumerate(_LETTERS_OF)}


_PLAIN_ENTRIES = re.compile(rb"^(\d{1,9}) (\d{1,9}) ([DFPRST]{0,6})$", re.M)


def _parse_entries(entries: list[bytes], lineno: int, fail: _Fail) -> list[SyncRecord]:
    """The entry lines ``entries``, the first of which is line ``lineno + 1``.

    A state of plain entries (nearly every one) is read with one regex pass over all of
    them: a match never spans lines, so as many matches as lines means every line is
    plain (and short).  Anything else goes line by line.
    """
    matches = _PLAIN_ENTRIES.findall(b"\n".join(entries))
    if len(matches) == len(entries):
        bits_of = _BITS_OF.get
        return [
            SyncRecord(
                int(far_b),
                int(near_b),
                bits if (bits := bits_of(letters)) is not None else _parse_flag_letters(letters),
            )
            for far_b, near_b, letters in matches
        ]
    records: list[SyncRecord] = []
    for raw in entries:
        lineno += 1
        if len(raw) >= _MAX_LINE:
            raise fail(lineno, "incomplete sync state entry")
        records.append(_parse_entry(raw, lineno, fail))
    return records


def _parse_entry(raw: bytes, lineno: int, fail: _Fail) -> SyncRecord:
    m = _PLAIN_ENTRY.fullmatch(raw)
    if m is not None:
        far_b, near_b, letters = m.groups()
        bits = _BITS_OF.get(letters)
        if bits is None:
            bits = _parse_flag_letters(letters)
        return SyncRecord(int(far_b), int(near_b), bits)
    parts = raw.split()
    far = _uint(parts[0]) if len(parts) >= 2 else None
    near = _uint(parts[1]) if len(parts) >= 2 else None
    if far is None or near is None:
        raise fail(lineno, "invalid sync state entry")
    marks = parts[2][:15] if len(parts) >= 3 else b""
    rec = SyncRecord(far, near)
    pos = 0
    if marks[:1] == b"<":
        rec.status = S_DUMMY_FAR
        pos = 1
    elif marks[:1] == b">":
        rec.status = S_DUMMY_NEAR
        pos = 1
    mark = marks[pos : pos + 1]
    # mbsync assigns (not ORs) the status here, losing a placeholder mark before
    # "^"/"~"; we keep it, since mbsync 1.5 writes "<~" itself.
    if mark == b"^":
        rec.status |= S_SKIPPED
        pos += 1
    elif mark in (b"~", b"X"):
        rec.status |= S_EXPIRE | S_EXPIRED
        pos += 1
    elif rec.far_uid == _UINT_MAX:
        rec.far_uid = 0
        rec.status = S_SKIPPED
    elif rec.near_uid == _UINT_MAX:
        rec.near_uid = 0
        rec.status = S_SKIPPED
    rec.flags = _parse_flag_letters(marks[pos:])
    return rec


_STATUS_OF = attrgetter("status")
_DEAD_OF = attrgetter("dead")


def marked_records(records: list[SyncRecord]) -> list[SyncRecord]:
    """The live records with a status mark: few, found by a filter that runs in C (a
    big box's state is nearly all plain pairs, and this is asked several times a run)."""
    return [rec for rec in filter(_STATUS_OF, records) if not rec.dead]


def live_records(records: list[SyncRecord]) -> list[SyncRecord]:
    """The records not killed (all of them, without a copy, in the usual case)."""
    if any(map(_DEAD_OF, records)):
        return [rec for rec in records if not rec.dead]
    return records


def format_state(state: SyncState, *, expire_side: str = "near") -> bytes:
    """The bytes mbsync 1.5 writes for ``state`` (dead records are left out)."""
    return b"".join(state_chunks(state, expire_side=expire_side))


# Entries per piece of ``state_chunks``: a state file is written a piece at a time, as
# the whole text of a big box's state (3 MiB while made, for 31k pairs) would come on
# top of the peak memory of a pull.
_CHUNK = 4096


def state_chunks(state: SyncState, *, expire_side: str = "near") -> Iterator[bytes]:
    """``format_state`` in pieces: the header, then the entries some thousands at a time."""
    head = (
        f"FarUidValidity {state.far_uidvalidity}\n"
        f"NearUidValidity {state.near_uidvalidity}\n"
        f"MaxPulledUid {state.max_pulled}\n"
        f"MaxPushedUid {state.max_pushed}\n"
    )
    if state.max_expired:
        key = "MaxExpiredFarUid" if expire_side == "near" else "MaxExpiredNearUid"
        head += f"{key} {state.max_expired}\n"
    yield (head + "\n").encode("ascii")
    records = state.records
    letters_of = _LETTERS_OF
    for start in range(0, len(records), _CHUNK):
        piece = records[start : start + _CHUNK]
        # Plain pairs only (nearly every piece): a line each, without the marks' tests.
        # A piece with dead pairs (a run that deleted some) drops them first.
        if not any(map(_STATUS_OF, piece)):
            if any(map(_DEAD_OF, piece)):
                piece = [r for r in piece if not r.dead]
            try:
                lines = [f"{r.far_uid} {r.near_uid} {letters_of[r.flags]}\n" for r in piece]
            except IndexError:  # flags beyond the six letters: the general way
                pass
            else:
                yield "".join(lines).encode("ascii")
                continue
        yield _general_lines(piece).encode("ascii")


def _general_lines(records: list[SyncRecord]) -> str:
    """The lines of ``records`` with their marks; dead records are left out."""
    out = []
    for rec in records:
        if rec.dead:
            continue
        st = rec.status
        dummy = "<" if st & S_DUMMY_FAR else ">" if st & S_DUMMY_NEAR else ""
        mark = "^" if st & S_SKIPPED else "~" if st & S_EXPIRED else ""
        flags = rec.flags
        letters = _LETTERS_OF[flags] if 0 <= flags < 64 else to_letters(flags)
        out.append(f"{rec.far_uid} {rec.near_uid} {dummy}{mark}{letters}\n")
    return "".join(out)
