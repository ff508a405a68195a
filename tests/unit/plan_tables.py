"""Decision-table helpers for the plan tests, in the notation of isync's run-tests.pl.

A scenario is a header ``(max_pulled, max_pushed)`` or, as in run-tests.pl,
``(max_pulled, max_expired, max_pushed)`` (subject letters, or 0) and rows
``(subject, far, state, near)``.  Input and expected output are read the way
run-tests.pl's ``parse_chan`` reads them, the output as deltas on the input:

- message cells: ``""`` nothing, ``"_"`` a reserved UID without message (expunged
  earlier), ``"*FLAGS"`` a new message, ``"^FLAGS"`` a second message with the same
  subject, ``"/"`` gone, ``"+F"``/``"-F"`` flag changes; flags may end in ``*`` (big,
  over MaxSize) and ``?`` (a placeholder).  A leading ``#`` puts the subject into the
  store's Trash; ``&`` names no message (UID 0) and ``&N`` the N-th message of the
  subject, ``|`` uses UID 0 for the state entry although the message exists;
- state cells: ``"*FLAGS"`` a new entry, ``"^FLAGS"`` a new entry right after the
  previous row's, ``"/"`` entry removed, ``"<"``/``">"`` the far / near link updated to
  the row's message (0 when there is none), then flag changes.  State flags carry the
  state file's marks: ``<``/``>`` placeholder, ``^`` pre-1.4 skipped, ``~`` expired.

The plan is applied by a small simulator that uses the real Journal, as the engine
does, and results are compared as run-tests.pl compares them, except that UIDs are
named by their subject (and whether the message is there, big or a placeholder), so
the order in which copies are made and entries listed does not matter.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
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

BIG = 2000  # a "big" message's size (run-tests.pl: over 1000 bytes, MaxSize 1k)


def flip(header: Header, rows: list[Row]) -> tuple[Header, list[Row]]:
    """The scenario with far and near swapped (run-tests.pl's flip_chan)."""
    swapped = [(subj, near, st.translate(str.maketrans("<>", "><")), far)
               for subj, far, st, near in rows]  # fmt: skip
    if len(header) == 3:
        return (header[2], header[1], header[0]), swapped
    return (header[1], header[0]), swapped


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

    def instances(self, subject: str) -> list[int]:
        return sorted(u for u, s in self.subject.items() if s == subject)

    def uid_of(self, subject: str) -> int:
        return max(self.instances(subject))

    def describe(self, uid: int) -> str:
        """A UID by its subject: ``/`` when its message is gone, ``*`` big, ``?``
        placeholder; ``0`` for no UID."""
        if not uid:
            return "0"
        name = self.subject.get(uid, f"#{uid}")
        if uid not in self.msgs:
            return name + "/"
        return name + ("*" if uid in self.big else "") + ("?" if uid in self.placeholders else "")


@dataclass
class World:
    sides: tuple[Side, Side]
    state: SyncState
    # Subjects in the far / near store's Trash box.
    trash: tuple[set[str], set[str]] = field(default_factory=lambda: (set(), set()))
    header_len: int = 3


# --- reading the notation (run-tests.pl's parse_chan) --------------------------------

_UPDATE = re.compile(r"([-+])([^-+]+)")
_STATE_MARKS = {"<": S_DUMMY_FAR, ">": S_DUMMY_NEAR, "^": S_SKIPPED, "~": S_EXPIRE | S_EXPIRED}


def _flag_update(text: str) -> tuple[str, str]:
    """(added, removed) letters of ``+AB-C...``; the whole text must be updates."""
    add = rm = ""
    pos = 0
    while m := _UPDATE.match(text, pos):
        if m.group(1) == "+":
            add += m.group(2)
        else:
            rm += m.group(2)
        pos = m.end()
    assert pos == len(text), f"unrecognized command {text!r}"
    return add, rm


def _set_msg(side: Side, uid: int, letters: str) -> None:
    side.msgs[uid] = from_letters(letters.replace("*", "").replace("?", ""))
    (side.big.add if "*" in letters else side.big.discard)(uid)
    (side.placeholders.add if "?" in letters else side.placeholders.discard)(uid)


def _msg_letters(side: Side, uid: int) -> str:
    big = "*" if uid in side.big else ""
    return to_letters(side.msgs[uid]) + big + ("?" if uid in side.placeholders else "")


def _parse_msg(world: World, t: int, subject: str, cmd: str) -> tuple[int, int]:
    """Apply one message cell; returns (old UID, new UID) for the state cell."""
    side = world.sides[t]
    if cmd.startswith("#"):
        world.trash[t].add(subject)
        cmd = cmd[1:]
    uids = side.instances(subject)
    if cmd == "&":
        ouid, cmd = 0, ""
    elif m := re.match(r"&(\d+)", cmd):
        ouid, cmd = uids[int(m.group(1)) - 1], cmd[m.end() :]
    else:
        ouid = uids[-1] if uids else 0
    nuid = ouid
    if cmd.startswith("|"):
        nuid, cmd = 0, cmd[1:]
    if cmd == "_":
        nuid = side.add(subject, None)
    elif cmd[:1] in ("*", "^"):
        present = ouid in side.msgs
        assert present == (cmd[0] == "^"), f"{subject}: {cmd!r} on {'far near'.split()[t]}"
        nuid = side.add(subject, 0)
        _set_msg(side, nuid, cmd[1:])
    elif cmd == "/":
        assert ouid in side.msgs, f"{subject}: deleting an absent message"
        del side.msgs[ouid]
        nuid = 0
    elif cmd:
        add, rm = _flag_update(cmd)
        assert ouid in side.msgs, f"{subject}: no message to change"
        letters = _msg_letters(side, ouid)
        for ch in rm:
            assert ch in letters, f"{subject}: removing absent flag {ch}"
            letters = letters.replace(ch, "")
        _set_msg(side, ouid, letters + add)
    return ouid, nuid


def _state_flags(letters: str) -> tuple[int, int]:
    """(flags, status) of a state entry's flag text."""
    status = 0
    for mark, bits in _STATE_MARKS.items():
        if mark in letters:
            status |= bits
            letters = letters.replace(mark, "")
    return from_letters(letters), status


def state_letters(rec: SyncRecord) -> str:
    marks = "<" if rec.status & S_DUMMY_FAR else ">" if rec.status & S_DUMMY_NEAR else ""
    marks += "^" if rec.status & S_SKIPPED else ""
    marks += "~" if rec.status & S_EXPIRED else ""
    return marks + to_letters(rec.flags)


def _find(records: list[SyncRecord], far: int, near: int) -> int | None:
    for i, rec in enumerate(records):
        if not rec.dead and (rec.far_uid, rec.near_uid) == (far, near):
            return i
    return None


def parse_chan(
    header: Header, rows: list[Row], base: World | None = None, expire_side: str = "near"
) -> World:
    """The world a table describes; with ``base``, its deltas applied to a copy of it."""
    world = copy.deepcopy(base) if base else World((Side(), Side()), SyncState(1, 1))
    recs = world.state.records
    enti: int | None = None
    for subject, far, st, near in rows:
        ofu, nfu = _parse_msg(world, FAR, subject, far)
        onu, nnu = _parse_msg(world, NEAR, subject, near)
        if st.startswith("*"):
            assert _find(recs, nfu, nnu) is None, f"{subject}: entry exists"
            flags, status = _state_flags(st[1:])
            recs.append(SyncRecord(nfu, nnu, flags, status))
            enti = None
        elif st.startswith("^"):
            assert enti is not None, f"{subject}: no entry to insert after"
            flags, status = _state_flags(st[1:])
            recs.insert(enti, SyncRecord(nfu, nnu, flags, status))
            enti += 1
        elif st == "/":
            found = _find(recs, ofu, onu)
            assert found is not None, f"{subject}: no entry {ofu}:{onu}"
            del recs[found]
            enti = found
        elif st:
            link = -1
            if st[0] in "<>":
                link, st = (FAR if st[0] == "<" else NEAR), st[1:]
            found = _find(recs, ofu, onu)
            assert found is not None, f"{subject}: no entry {ofu}:{onu}"
            rec = recs[found]
            enti = found + 1
            add, rm = _flag_update(st)
            letters = state_letters(rec)
            for ch in rm:
                assert ch in letters, f"{subject}: removing absent state flag {ch}"
                letters = letters.replace(ch, "")
            rec.flags, rec.status = _state_flags(letters + add)
            if link >= 0:
                uid = nnu if link == NEAR else nfu
                uid = uid if uid in world.sides[link].msgs else 0
                if link == FAR:
                    rec.far_uid = uid
                else:
                    rec.near_uid = uid
        else:
            enti = None
    pulled, expired, pushed = _header3(header)
    other = world.sides[NEAR if expire_side == "far" else FAR]
    world.state.max_pulled = _resolve(world.sides[FAR], pulled)
    world.state.max_expired = _resolve(other, expired)
    world.state.max_pushed = _resolve(world.sides[NEAR], pushed)
    world.header_len = len(header)
    return world


def _resolve(side: Side, subject: str | int) -> int:
    return 0 if subject == 0 else side.uid_of(str(subject))


def _header3(header: Header) -> tuple[str | int, str | int, str | int]:
    if len(header) == 3:
        return header[0], header[1], header[2]
    return header[0], 0, header[1]


def build(header: Header, rows: list[Row], expire_side: str = "near") -> World:
    return parse_chan(header, rows, None, expire_side)


def expected_world(
    header: Header, rows: list[Row], out_header: Header, deltas: list[Row], expire_side: str
) -> World:
    """What run-tests.pl expects: the deltas applied to the input."""
    return parse_chan(out_header, deltas, build(header, rows, expire_side), expire_side)


# --- comparing ------------------------------------------------------------------------

Canon = tuple[tuple[Counter[str], Counter[str]], Counter[tuple[str, str, str]], tuple[str, ...]]


def canonical(world: World, expire_side: str, header_len: int = 3) -> Canon:
    """Messages, live state entries and header, UIDs named by ``Side.describe``."""
    far, near = world.sides
    boxes = tuple(
        Counter(f"{side.subject[u]}:{_msg_letters(side, u)}" for u in side.msgs)
        for side in world.sides
    )
    entries: Counter[tuple[str, str, str]] = Counter(
        (far.describe(r.far_uid), near.describe(r.near_uid), state_letters(r))
        for r in world.state.records
        if not r.dead
    )
    other = near if expire_side == "far" else far
    st = world.state
    head = [far.describe(st.max_pulled), near.describe(st.max_pushed)]
    if header_len == 3:
        head.append(other.describe(st.max_expired))
    return (boxes[0], boxes[1]), entries, tuple(head)


def assert_matches(actual: World, want: World, expire_side: str, what: str = "") -> None:
    got = canonical(actual, expire_side, want.header_len)
    exp = canonical(want, expire_side, want.header_len)
    assert got[0][0] == exp[0][0], f"{what} far box: {got[0][0]} != {exp[0][0]}"
    assert got[0][1] == exp[0][1], f"{what} near box: {got[0][1]} != {exp[0][1]}"
    assert got[1] == exp[1], f"{what} state: {sorted(got[1])} != {sorted(exp[1])}"
    assert got[2] == exp[2], f"{what} header: {got[2]} != {exp[2]}"
    assert actual.trash == want.trash, f"{what} trash: {actual.trash} != {want.trash}"


# --- the simulated engine -------------------------------------------------------------


def listing(side: Side) -> dict[int, MessageInfo]:
    return {
        uid: MessageInfo(uid, flags, size=BIG if uid in side.big else 100)
        for uid, flags in side.msgs.items()
    }


def apply(world: World, p: Plan, expire_side: str = "near", fake_expunge: bool = False) -> None:
    """What the engine does with a plan, on the simulated boxes."""
    state, sides = world.state, world.sides
    recs = list(state.records)  # the plan's record handles, as in the engine
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
    for up in p.upgrades:
        recs.append(j.upgrade(state, recs[up.record], up.pflags))
    for pair in p.new_pairs:
        rec = j.new_pair(state, pair.far_uid, pair.near_uid)
        recs.append(rec)
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
        if op.purge:
            j.purged(recs[op.record])
        if op.synced is not None:
            j.flags(recs[op.record], op.synced)
        if op.status is not None:
            j.status(recs[op.record], op.status, state=state)
    newmax = list(p.new_maxuid)
    for t in (FAR, NEAR):
        for c in p.copies[t]:
            rec = recs[c.record]
            j.tuid(rec, "0123456789ab")
            if c.upgrade is not None:
                if c.upgrade != (0, 0):
                    j.upgrade_flags(rec, *c.upgrade)
            elif c.flags:
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
        for uid in [] if fake_expunge else p.expunge[t]:
            del sides[t].msgs[uid]
    state.max_pulled, state.max_pushed = newmax
    for pr in p.prune:
        rec = recs[pr.record]
        if pr.kill:
            j.kill(rec)
        else:
            (j.far_uid if pr.side == FAR else j.near_uid)(rec, 0)


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
    fake_expunge: bool = False,
) -> World:
    """Plan + apply, then check against the expected deltas and header; also checks that
    a second plan on the result does nothing.  ``flipped`` runs the scenario with far
    and near swapped (for ExpireSide Far, as run-tests.pl does); ``fake_expunge`` is
    run-tests.pl's -Tx (expunges decided, not made)."""
    expiry = expiry or Expiry()
    if flipped:
        header, rows = flip(header, rows)
        out_header, deltas = flip(out_header, deltas)
    world = build(header, rows, expiry.side)
    want = expected_world(header, rows, out_header, deltas, expiry.side)
    p = plan(
        listing(world.sides[FAR]), listing(world.sides[NEAR]), world.state, operations,
        expiry=expiry, fake_expunge=fake_expunge,
    )  # fmt: skip
    assert p.refusal is None, p.refusal
    apply(world, p, expiry.side, fake_expunge)
    assert_matches(world, want, expiry.side)
    again = plan(
        listing(world.sides[FAR]), listing(world.sides[NEAR]), world.state, operations,
        expiry=expiry, fake_expunge=fake_expunge,
    )  # fmt: skip
    # Doomed messages get a "+"/"-" pair on every run (as in mbsync): no change.
    again.new_pairs = [pair for pair in again.new_pairs if not pair.doomed]
    if fake_expunge:
        again.expunge = ([], [])  # decided again each time, never made
    assert again.empty, again
    return world
