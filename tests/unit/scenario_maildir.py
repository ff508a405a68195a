"""run-tests.pl's way of testing, end to end: a scenario table becomes two real Maildir
boxes plus an mbsync state file, syncmail syncs them (also killed after every journal
line and resumed), and the boxes and the state are read back into the table form.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from syncmail.config.parser import parse_config
from syncmail.flags import from_letters, to_letters
from syncmail.sync.boxsync import FORCE_JOURNAL_ENV
from syncmail.sync.engine import FAKE_EXPUNGE_ENV, NO_UIDPLUS_ENV, RunResult
from syncmail.sync.msgcvt import is_placeholder, make_placeholder
from syncmail.sync.state import format_state, parse_state
from tests.unit.engine_support import box_dir, crash_run, sync
from tests.unit.plan_tables import (
    BIG,
    Header,
    Row,
    Side,
    World,
    assert_matches,
    build,
    expected_world,
    flip,
)
from tests.unit.scenarios import Scenario, scenario_config, scenario_ops

SIDE_DIRS = ("far", "near")
_NAME = re.compile(r",U=(\d+)")


def oriented(sc: Scenario) -> tuple[Header, list[Row], Header, list[Row]]:
    """Input and expected output, flipped when the scenario says so."""
    header, rows, out_header, deltas = sc.header, sc.rows, sc.out_header, sc.deltas
    if sc.flipped:
        header, rows = flip(header, rows)
        out_header, deltas = flip(out_header, deltas)
    return header, rows, out_header, deltas


def materialize(root: Path, sc: Scenario) -> tuple[Path, World]:
    """Write the scenario's boxes and state under ``root``; returns (mbsyncrc, world)."""
    _ops, expiry = scenario_ops(sc)
    header, rows, _, _ = oriented(sc)
    world = build(header, rows, expiry.side)
    root.mkdir(parents=True, exist_ok=True)
    for side in SIDE_DIRS:
        (root / side).mkdir(exist_ok=True)
    cfg = root / "mbsyncrc"
    cfg.write_text(scenario_config(sc, str(root)))
    for t, side in enumerate(world.sides):
        d = box_dir(root, SIDE_DIRS[t])
        (d / ".uidvalidity").write_text(f"1\n{side.next_uid - 1}\n")
        for uid, flags in side.msgs.items():
            name = f"0.1_{uid}.local,U={uid}:2,{to_letters(flags)}"
            (d / "cur" / name).write_bytes(_message(side, uid))
    state_path = box_dir(root, "near") / ".mbsyncstate"
    state_path.write_bytes(format_state(world.state, expire_side=expiry.side))
    return cfg, world


def _message(side: Side, uid: int) -> bytes:
    """A message as run-tests.pl makes them: big ones have 30 lines of 50 A's."""
    subject = side.subject[uid]
    head = f"From: t@example.org\nSubject: {subject}\nMessage-ID: <{subject}@example.org>\n"
    data = f"{head}\n{'A' * 50}\n" * 30 if uid in side.big else f"{head}\nbody of {subject}\n"
    if uid in side.placeholders:
        return make_placeholder(data.encode(), BIG, crlf=False)
    return data.encode()


def read_back(root: Path, before: World, expire_side: str) -> World:
    """The boxes and the state as they are now, in the table form."""
    sides = []
    for t, old in enumerate(before.sides):
        side = Side(subject=dict(old.subject), next_uid=old.next_uid)
        d = root / SIDE_DIRS[t] / "INBOX"
        for sub in ("cur", "new"):
            for name in os.listdir(d / sub):
                m = _NAME.search(name)
                assert m, f"message without UID: {d / sub / name}"
                uid = int(m.group(1))
                assert uid not in side.msgs, f"duplicate UID {uid} on {SIDE_DIRS[t]}"
                info = name.split(":2,", 1)[1] if ":2," in name else ""
                side.msgs[uid] = from_letters("".join(c for c in info if c in "DFPRST"))
                data = (d / sub / name).read_bytes()
                if is_placeholder(data):
                    side.placeholders.add(uid)
                elif len(data) > 1000:
                    side.big.add(uid)
                for line in data.decode().splitlines():
                    if line.startswith("Subject: "):
                        side.subject[uid] = line[9:].removeprefix("[placeholder] ")
                        break
        sides.append(side)
    path = root / "near" / "INBOX" / ".mbsyncstate"
    state = parse_state(path.read_bytes(), str(path), expire_side=expire_side)
    assert not (root / "near" / "INBOX" / ".mbsyncstate.journal").exists()
    return World((sides[0], sides[1]), state)


def read_trash(root: Path, sc: Scenario) -> tuple[set[str], set[str]]:
    """Subjects in each store's Trash box (placeholders must never get there)."""
    config = parse_config(scenario_config(sc, str(root)), "rc")
    out: tuple[set[str], set[str]] = (set(), set())
    for t, side in enumerate(SIDE_DIRS):
        name = config.stores[side].trash
        if name is None or not (root / side / name).is_dir():
            continue
        for sub in ("cur", "new"):
            for entry in os.listdir(root / side / name / sub):
                data = (root / side / name / sub / entry).read_bytes()
                assert not is_placeholder(data), f"placeholder in the trash: {entry}"
                for line in data.decode().splitlines():
                    if line.startswith("Subject: "):
                        out[t].add(line[9:])
                        break
    return out


def check(root: Path, sc: Scenario, before: World, what: str) -> None:
    """Boxes, state entries, header and trash are what the scenario expects."""
    _ops, expiry = scenario_ops(sc)
    header, rows, out_header, deltas = oriented(sc)
    world = read_back(root, before, expiry.side)
    world.trash = read_trash(root, sc)
    want = expected_world(header, rows, out_header, deltas, expiry.side)
    assert_matches(world, want, expiry.side, what)


def unchanged(result: RunResult) -> bool:
    return not result.errors and not result.far_changed and not result.near_changed


def run_everything(tmp_path: Path, sc: Scenario) -> int:
    """run-tests.pl's test_impl: sync + check, idempotent re-run, then a kill after
    every journal line + resume + check + re-run.  Returns the number of steps."""
    # run-tests.pl runs mbsync with -TJ: pre-commit changes are journalled (and saved).
    hooks = [FORCE_JOURNAL_ENV]
    hooks += [NO_UIDPLUS_ENV] * sc.no_uidplus + [FAKE_EXPUNGE_ENV] * sc.fake_expunge
    os.environ.update(dict.fromkeys(hooks, "1"))
    try:
        return _run_everything(tmp_path, sc)
    finally:
        for name in hooks:
            del os.environ[name]


def _run_everything(tmp_path: Path, sc: Scenario) -> int:
    root = tmp_path / "full"
    cfg, before = materialize(root, sc)
    result = sync(cfg)
    assert not result.errors, result.errors
    check(root, sc, before, "first run")
    assert unchanged(sync(cfg)), "idempotence"
    check(root, sc, before, "idempotence run")
    step = 0
    while True:
        step += 1
        assert step < 200, "the crash hook never let the run finish"
        root = tmp_path / f"step{step}"
        cfg, before = materialize(root, sc)
        code = crash_run(cfg, step)
        if code == 0:
            check(root, sc, before, "uninterrupted")
            return step - 1
        assert code == 100, (step, code)
        resumed = sync(cfg)
        assert not resumed.errors, (step, resumed.errors)
        check(root, sc, before, f"resumed after step {step}")
        assert unchanged(sync(cfg)), f"re-run after step {step}"
        check(root, sc, before, f"re-run after step {step}")
