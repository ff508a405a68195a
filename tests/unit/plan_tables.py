"""Decision-table helpers for the plan tests, in the style of isync's run-tests.pl.

A scenario is a header ``(max_pulled, max_pushed)`` or, as in run-tests.pl,
``(max_pulled, max_expired, max_pushed)`` (subject letters, or 0) and rows
``(subject, far, state, near)``.  A ``~`` in a state cell marks an expired pair
(``*~S``, ``+~``, ``-~``).  Input cells: ``""`` nothing, ``"_"`` a reserved UID
without message (expunged earlier), ``"*FLAGS"`` a message / sync entry with flags.
Expected cells are deltas on the input: ``""`` unchanged, ``"/"`` gone, ``"*FLAGS"``
created, ``"+F"``/``"-F"`` flag changes, and for the state ``"<"``/``">"`` the far /
near link set to 0 (flag changes may follow).  The plan is applied by a small
simulator that uses the real Journal, as the engine does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncmail.config.model import Operations, SyncOps
from syncmail.flags import from_letters, to_letters
from syncmail.store.base import MessageInfo
from syncmail.sync.journal import Journal
from syncmail.sync.plan import FAR, NEAR, Expiry, Plan, bump_maxuid, plan
from syncmail.sync.state import (
    S_DUMMY_FAR,
    S_DUMMY_NEAR,
    S_EXPIRE,
    S_EXPIRED,
    S_SKIPPED,
    SyncRecord,
    SyncState,
)

Row = tuple[str, str, str, str]
Header = tuple[str | int, str | int] | tuple[str | int, str | int, str | int]


def flip(header: Header, rows: list[Row]) -> tuple[Header, list[Row]]:
    """The scenario with far and near swapped (run-tests.pl's flip_chan)."""
    swapped = [(subj, near, st.translate(str.maketrans("<>", "><")), far)
               for subj, far, st, near in rows]  # fmt: skip
    if len(header) == 3:
        return (header[2], header[1], header[0]), swapped
    return (header[1], header[0]), swapped


_STATE_MARKS = {"<": S_DUMMY_FAR, ">": S_DUMMY_NEAR, "^": S_SKIPPED}


def _state_cell(cell: str) -> tuple[int, int]:
    """(flags, status) of a state cell's text after the ``*``: ``<``/``>`` mark a far /
    near placeholder (as in the state file), ``^`` a pre-1.4 skipped entry."""
    status = S_EXPIRE | S_EXPIRED if "~" in cell else 0
    while cell[:1] in _STATE_MARKS and cell:
        status |= _STATE_MARKS[cell[0]]
        cell = cell[1:]
    return from_letters(cell.replace("~", "")), status


def _msg_cell(cell: str) -> tuple[int, bool, bool]:
    """(flags, big, placeholder) of a message cell's text after the ``*``."""
    placeholder = cell.endswith("?")
    cell = cell.rstrip("?")
    big = cell.endswith("*")
    return from_letters(cell.rstrip("*")), big, placeholder


def _render(lead: str, expired: bool, flags: int, suffix: str) -> str:
    lead = "".join(c for c in "<>{}^" if c in lead)
    return lead + ("~" if expired else "") + to_letters(flags) + suffix


def _parse(cell: str) -> tuple[str, bool, int, str]:
    """A snapshot cell: (marks, expired, flags, suffix)."""
    i = 0
    while i < len(cell) and cell[i] in "<>{}^":
        i += 1
    lead, rest = cell[:i], cell[i:]
    j = len(rest)
    while j and rest[j - 1] in "*?":
        j -= 1
    body, suffix = rest[:j], rest[j:]
    return lead, "~" in body, from_letters(body.replace("~", "")), suffix


def _created(text: str, state: bool) -> str:
    """Canonical snapshot text of a created cell (``*`` stripped); in state cells the
    placeholder marks become ``{``/``}`` (``<``/``>`` mean a dropped link there)."""
    if state:
        text = text.replace("<", "{").replace(">", "}")
    lead, expired, flags, suffix = _parse(text)
    return _render(lead, expired, flags, suffix)


@dataclass
class Side:
    msgs: dict[int, int] = field(default_factory=dict)  # uid -> flags
    subject: dict[int, str] = field(default_factory=dict)  # every uid ever used
    next_uid: int = 1
    big: set[int] = field(default_factory=set)  # over MaxSize ("*" suffix)
    placeholders: set[int] = field(default_factory=set)  # "?" suffix

    def add(self, subject: str, flags: int | None) -> int:
        uid = self.next_uid
        self.next_uid += 1
        self.subject[uid] = subject
        if flags is not None:
            self.msgs[uid] = flags
        return uid

    def uid_of(self, subject: str) -> int:
        return max(u for u, s in self.subject.items() if s == subject)


@dataclass
class World:
    sides: tuple[Side, Side]
    state: SyncState
    # Subjects in the far / near store's Trash box.
    trash: tuple[set[str], set[str]] = field(default_factory=lambda: (set(), set()))


def build(header: Header, rows: list[Row], expire_side: str = "near") -> World:
    sides = (Side(), Side())
    state = SyncState(far_uidvalidity=1, near_uidvalidity=1)
    for subject, far, st, near in rows:
        uids = [0, 0]
        for t, cell in ((FAR, far), (NEAR, near)):
            if cell == "_":
                uids[t] = sides[t].add(subject, None)
            elif cell.startswith("*"):
                flags, big, placeholder = _msg_cell(cell[1:])
                uids[t] = sides[t].add(subject, flags)
                if big:
                    sides[t].big.add(uids[t])
                if placeholder:
                    sides[t].placeholders.add(uids[t])
        if st.startswith("*"):
            flags, status = _state_cell(st[1:])
            state.records.append(SyncRecord(uids[FAR], uids[NEAR], flags, status))
    pulled, expired, pushed = _header3(header)
    state.max_pulled = 0 if pulled == 0 else sides[FAR].uid_of(str(pulled))
    state.max_pushed = 0 if pushed == 0 else sides[NEAR].uid_of(str(pushed))
    other = sides[NEAR if expire_side == "far" else FAR]
    state.max_expired = 0 if expired == 0 else other.uid_of(str(expired))
    return World(sides, state)


def header_uids(world: World, header: Header, expire_side: str) -> tuple[int, int, int]:
    """(MaxPulled, MaxExpired, MaxPushed) UIDs a header names in ``world``."""
    pulled, expired, pushed = _header3(header)
    other = world.sides[NEAR if expire_side == "far" else FAR]
    return (
        0 if pulled == 0 else world.sides[FAR].uid_of(str(pulled)),
        0 if expired == 0 else other.uid_of(str(expired)),
        0 if pushed == 0 else world.sides[NEAR].uid_of(str(pushed)),
    )


def _header3(header: Header) -> tuple[str | int, str | int, str | int]:
    if len(header) == 3:
        return header[0], header[1], header[2]
    return header[0], 0, header[1]


BIG = 2000  # a "big" message's size (run-tests.pl: over 1000 bytes, MaxSize 1k)


def listing(side: Side) -> dict[int, MessageInfo]:
    return {
        uid: MessageInfo(uid, flags, size=BIG if uid in side.big else 100)
        for uid, flags in side.msgs.items()
    }


def apply(world: World, p: Plan, expire_side: str = "near") -> None:
    """What the engine does with a plan, on the simulated boxes."""
    state, sides = world.state, world.sides
    recs = state.records
    j = Journal(expire_side=expire_side)
    for m in p.tuid_matches:
        (j.far_uid if m.side == FAR else j.near_uid)(recs[m.record], m.uid)
    for index in p.tuid_lost:
        j.tuid_lost(recs[index])
    for index in p.kills:
        j.kill(recs[index])
    for eo in p.expired_orphans:
        j.status(recs[eo.record], eo.status, state=state)
        (j.far_uid if eo.side == FAR else j.near_uid)(recs[eo.record], 0)
    for pair in p.new_pairs:
        rec = j.new_pair(state, pair.far_uid, pair.near_uid)
        if pair.doomed:
            j.kill(rec)
    for index in p.placeholders:
        j.placeholder(recs[index])
    for sc in p.statuses:
        j.status(recs[sc.record], sc.status, state=state)
    for op in p.flags:
        box = sides[op.side].msgs
        if (op.add or op.remove) and op.uid in box:
            box[op.uid] = (box[op.uid] | op.add) & ~op.remove
        if op.synced is not None:
            j.flags(recs[op.record], op.synced)
        if op.status is not None:
            j.status(recs[op.record], op.status, state=state)
    newmax = list(p.new_maxuid)
    for t in (FAR, NEAR):
        for c in p.copies[t]:
            rec = recs[c.record]
            j.tuid(rec, "0123456789ab")
            if c.flags:
                j.pending_flags(rec, c.flags)
            subject = sides[1 - t].subject[c.source_uid]
            uid = sides[t].add(subject, c.flags)
            if c.placeholder:
                sides[t].placeholders.add(uid)
            elif c.source_uid in sides[1 - t].big:
                sides[t].big.add(uid)
            (j.far_uid if t == FAR else j.near_uid)(rec, uid)
            newmax[t] = bump_maxuid(newmax[t], uid)
    for t in (FAR, NEAR):
        for uid in p.trash[t]:
            world.trash[t].add(sides[t].subject[uid])
        for uid in p.remote_trash[t]:
            world.trash[1 - t].add(sides[t].subject[uid])
        for uid in p.expunge[t]:
            del sides[t].msgs[uid]
    state.max_pulled, state.max_pushed = newmax
    for pr in p.prune:
        rec = recs[pr.record]
        if pr.kill:
            j.kill(rec)
        else:
            (j.far_uid if pr.side == FAR else j.near_uid)(rec, 0)


def snapshot(world: World) -> dict[str, tuple[str | None, str | None, str | None]]:
    """subject -> (far flags, state entry, near flags); None = absent."""
    out: dict[str, list[str | None]] = {}
    for t, side in enumerate(world.sides):
        for uid, flags in side.msgs.items():
            suffix = ("*" if uid in side.big else "") + ("?" if uid in side.placeholders else "")
            text = to_letters(flags) + suffix
            out.setdefault(side.subject[uid], [None, None, None])[2 * t] = text
    for rec in world.state.records:
        if rec.dead:
            continue
        if rec.far_uid:
            subject = world.sides[FAR].subject[rec.far_uid]
        else:
            subject = world.sides[NEAR].subject[rec.near_uid]
        mark = "<" if not rec.far_uid else ">" if not rec.near_uid else ""
        mark += "{" if rec.status & S_DUMMY_FAR else "}" if rec.status & S_DUMMY_NEAR else ""
        mark += "^" if rec.status & S_SKIPPED else ""
        text = _render(mark, bool(rec.status & S_EXPIRED), rec.flags, "")
        out.setdefault(subject, [None, None, None])[1] = text
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def _apply_delta(cell: str | None, delta: str, state: bool = False) -> str | None:
    if delta == "":
        return cell
    if delta == "/":
        return None
    if delta.startswith("*"):
        return _created(delta[1:], state)
    assert cell is not None, f"delta {delta!r} on absent cell"
    lead, expired, flags, suffix = _parse(cell)
    if delta[:1] in "<>":
        lead = delta[0] + lead.replace("<", "").replace(">", "")
        delta = delta[1:]
    sign = ""
    for ch in delta:
        if ch in "+-":
            sign = ch
        elif ch == "~":
            expired = sign == "+"
        elif sign == "+":
            flags |= from_letters(ch)
        else:
            flags &= ~from_letters(ch)
    return _render(lead, expired, flags, suffix)


def expected(
    rows: list[Row], deltas: list[Row]
) -> dict[str, tuple[str | None, str | None, str | None]]:
    base: dict[str, list[str | None]] = {}
    for subject, far, st, near in rows:
        cells: list[str | None] = [
            _created(far[1:], False) if far.startswith("*") else None,
            _created(st[1:], True) if st.startswith("*") else None,
            _created(near[1:], False) if near.startswith("*") else None,
        ]
        if any(c is not None for c in cells):
            base[subject] = cells
    for subject, far, st, near in deltas:
        cells = base.setdefault(subject, [None, None, None])
        far, near = far.removeprefix("#"), near.removeprefix("#")
        for i, delta in enumerate((far, st, near)):
            cells[i] = _apply_delta(cells[i], delta, state=i == 1)
    return {k: (v[0], v[1], v[2]) for k, v in base.items() if any(c is not None for c in v)}


def expected_trash(rows: list[Row], deltas: list[Row]) -> tuple[set[str], set[str]]:
    """Subjects a ``#`` puts into the far / near Trash (run-tests.pl's notation)."""
    trash: tuple[set[str], set[str]] = (set(), set())
    for subject, far, _st, near in [*rows, *deltas]:
        for t, cell in ((FAR, far), (NEAR, near)):
            if cell.startswith("#"):
                trash[t].add(subject)
    return trash


def ops(
    pull: str = "new upgrade gone flags",
    push: str = "new upgrade gone flags",
    expunge: str = "",
) -> Operations:
    return Operations(
        sync=SyncOps(pull=frozenset(pull.split()), push=frozenset(push.split())),  # type: ignore[arg-type]
        create=frozenset(),
        remove=frozenset(),
        expunge=frozenset(expunge.split()),  # type: ignore[arg-type]
        expunge_solo=frozenset(),
    )


def run_table(
    header: Header,
    rows: list[Row],
    operations: Operations,
    out_header: Header,
    deltas: list[Row],
    expiry: Expiry | None = None,
    *,
    flipped: bool = False,
) -> World:
    """Plan + apply, then check against the expected deltas and header; also checks that
    a second plan on the result does nothing.  ``flipped`` runs the scenario with far
    and near swapped (for ExpireSide Far, as run-tests.pl does)."""
    expiry = expiry or Expiry()
    if flipped:
        header, rows = flip(header, rows)
        out_header, deltas = flip(out_header, deltas)
    world = build(header, rows, expiry.side)
    p = plan(
        listing(world.sides[FAR]), listing(world.sides[NEAR]), world.state, operations,
        expiry=expiry,
    )  # fmt: skip
    assert p.refusal is None, p.refusal
    apply(world, p, expiry.side)
    assert snapshot(world) == expected(rows, deltas)
    assert world.trash == expected_trash(rows, deltas)
    pulled, expired, pushed = _header3(out_header)
    want_pulled = 0 if pulled == 0 else world.sides[FAR].uid_of(str(pulled))
    want_pushed = 0 if pushed == 0 else world.sides[NEAR].uid_of(str(pushed))
    assert (world.state.max_pulled, world.state.max_pushed) == (want_pulled, want_pushed)
    if len(out_header) == 3:
        other = world.sides[NEAR if expiry.side == "far" else FAR]
        want_expired = 0 if expired == 0 else other.uid_of(str(expired))
        assert world.state.max_expired == want_expired
    again = plan(
        listing(world.sides[FAR]), listing(world.sides[NEAR]), world.state, operations,
        expiry=expiry,
    )  # fmt: skip
    # Doomed messages get a "+"/"-" pair on every run (as in mbsync): no change.
    again.new_pairs = [pair for pair in again.new_pairs if not pair.doomed]
    assert again.empty, again
    return world
