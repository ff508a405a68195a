"""Decision-table helpers for the plan tests, in the style of isync's run-tests.pl.

A scenario is a header ``(max_pulled, max_pushed)`` (subject letters, or 0) and rows
``(subject, far, state, near)``.  Input cells: ``""`` nothing, ``"_"`` a reserved UID
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
from syncmail.sync.plan import FAR, NEAR, Plan, bump_maxuid, plan
from syncmail.sync.state import SyncRecord, SyncState

Row = tuple[str, str, str, str]


@dataclass
class Side:
    msgs: dict[int, int] = field(default_factory=dict)  # uid -> flags
    subject: dict[int, str] = field(default_factory=dict)  # every uid ever used
    next_uid: int = 1

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


def build(header: tuple[str | int, str | int], rows: list[Row]) -> World:
    sides = (Side(), Side())
    state = SyncState(far_uidvalidity=1, near_uidvalidity=1)
    for subject, far, st, near in rows:
        uids = [0, 0]
        for t, cell in ((FAR, far), (NEAR, near)):
            if cell == "_":
                uids[t] = sides[t].add(subject, None)
            elif cell.startswith("*"):
                uids[t] = sides[t].add(subject, from_letters(cell[1:]))
        if st.startswith("*"):
            state.records.append(SyncRecord(uids[FAR], uids[NEAR], from_letters(st[1:])))
    state.max_pulled = 0 if header[0] == 0 else sides[FAR].uid_of(str(header[0]))
    state.max_pushed = 0 if header[1] == 0 else sides[NEAR].uid_of(str(header[1]))
    return World(sides, state)


def listing(side: Side) -> dict[int, MessageInfo]:
    return {uid: MessageInfo(uid, flags) for uid, flags in side.msgs.items()}


def apply(world: World, p: Plan) -> None:
    """What the engine does with a plan, on the simulated boxes."""
    state, sides = world.state, world.sides
    recs = state.records
    j = Journal()
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
    for op in p.flags:
        box = sides[op.side].msgs
        if (op.add or op.remove) and op.uid in box:
            box[op.uid] = (box[op.uid] | op.add) & ~op.remove
        if op.synced is not None:
            j.flags(recs[op.record], op.synced)
    newmax = list(p.new_maxuid)
    for t in (FAR, NEAR):
        for c in p.copies[t]:
            rec = recs[c.record]
            j.tuid(rec, "0123456789ab")
            if c.flags:
                j.pending_flags(rec, c.flags)
            subject = sides[1 - t].subject[c.source_uid]
            uid = sides[t].add(subject, c.flags)
            (j.far_uid if t == FAR else j.near_uid)(rec, uid)
            newmax[t] = bump_maxuid(newmax[t], uid)
    for t in (FAR, NEAR):
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
            out.setdefault(side.subject[uid], [None, None, None])[2 * t] = to_letters(flags)
    for rec in world.state.records:
        if rec.dead:
            continue
        if rec.far_uid:
            subject = world.sides[FAR].subject[rec.far_uid]
        else:
            subject = world.sides[NEAR].subject[rec.near_uid]
        mark = "<" if not rec.far_uid else ">" if not rec.near_uid else ""
        out.setdefault(subject, [None, None, None])[1] = mark + to_letters(rec.flags)
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def _apply_delta(cell: str | None, delta: str) -> str | None:
    if delta == "":
        return cell
    if delta == "/":
        return None
    if delta.startswith("*"):
        return delta[1:]
    assert cell is not None, f"delta {delta!r} on absent cell"
    mark = ""
    if cell[:1] in "<>" and cell:
        mark, cell = cell[0], cell[1:]
    if delta[:1] in "<>":
        mark, delta = delta[0], delta[1:]
    flags = from_letters(cell)
    sign = ""
    for ch in delta:
        if ch in "+-":
            sign = ch
        elif sign == "+":
            flags |= from_letters(ch)
        else:
            flags &= ~from_letters(ch)
    return mark + to_letters(flags)


def expected(
    rows: list[Row], deltas: list[Row]
) -> dict[str, tuple[str | None, str | None, str | None]]:
    base: dict[str, list[str | None]] = {}
    for subject, far, st, near in rows:
        cells: list[str | None] = [
            far[1:] if far.startswith("*") else None,
            st[1:] if st.startswith("*") else None,
            near[1:] if near.startswith("*") else None,
        ]
        if any(c is not None for c in cells):
            base[subject] = cells
    for subject, far, st, near in deltas:
        cells = base.setdefault(subject, [None, None, None])
        for i, delta in enumerate((far, st, near)):
            cells[i] = _apply_delta(cells[i], delta)
    return {k: (v[0], v[1], v[2]) for k, v in base.items() if any(c is not None for c in v)}


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
    header: tuple[str | int, str | int],
    rows: list[Row],
    operations: Operations,
    out_header: tuple[str | int, str | int],
    deltas: list[Row],
) -> World:
    """Plan + apply, then check against the expected deltas and header; also checks that
    a second plan on the result does nothing."""
    world = build(header, rows)
    p = plan(listing(world.sides[FAR]), listing(world.sides[NEAR]), world.state, operations)
    apply(world, p)
    assert snapshot(world) == expected(rows, deltas)
    want_pulled = 0 if out_header[0] == 0 else world.sides[FAR].uid_of(str(out_header[0]))
    want_pushed = 0 if out_header[1] == 0 else world.sides[NEAR].uid_of(str(out_header[1]))
    assert (world.state.max_pulled, world.state.max_pushed) == (want_pulled, want_pushed)
    again = plan(listing(world.sides[FAR]), listing(world.sides[NEAR]), world.state, operations)
    assert again.empty, again
    return world
