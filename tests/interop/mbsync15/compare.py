"""Run one scenario through syncmail and mbsync 1.5 and say where the results differ.

Each tool gets its own copy of the tree.  After every sync round both trees are read
back in a form where UIDs are replaced by the identity (Message-ID) of the message that
carried them, so two tools that number copies differently still compare equal: the
mail (flags, new/ or cur/, arrival date kept or not), the boxes, every ``.mbsyncstate``
(header lines and entries, in order) and every ``.uidvalidity``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from syncmail.cli.sync import summary_shape
from syncmail.config.model import ChannelOps, Target
from syncmail.config.parser import parse_config
from syncmail.errors import SyncmailError
from syncmail.report import summary_text
from syncmail.sync.engine import RunOptions, run
from tests.interop.mbsync15.scenario import (
    PAST,
    SIDES,
    Change,
    Options,
    Scenario,
    apply,
    config_text,
    flags_of,
    message_files,
    message_id,
    round_changes,
    scenario,
)

_UID = re.compile(r",U=(\d+)")
STATE_FILES = (".mbsyncstate", ".mbsyncstate.journal", ".mbsyncstate.new")


@dataclass
class Tree:
    """One tool's copy of the scenario, with every UID it has shown so far."""

    root: Path
    ids: dict[tuple[str, str], dict[int, str]] = field(default_factory=dict)

    @property
    def rc(self) -> Path:
        return self.root / "mbsyncrc"

    def learn(self) -> None:
        for side, box, path in message_files(self.root):
            m = _UID.search(path.name)
            if m:
                self.ids.setdefault((side, box), {})[int(m.group(1))] = message_id(path)

    def uv_name(self, side: str, box: str, uv: int) -> str:
        """A UIDVALIDITY (the time a box was made) as how it relates to the box's."""
        current = _uidvalidity(self.root / side / box)
        if current is None:
            return "(no box)"
        return "= box" if current[0] == uv else "!= box"

    def ident(self, side: str, box: str, uid: int) -> str:
        if uid == 0:
            return "0"
        return self.ids.get((side, box), {}).get(uid, f"#{uid}")

    def upto(self, side: str, box: str, uid: int) -> tuple[str, ...]:
        """A max UID as the messages it covers (and itself when it names none known)."""
        known = self.ids.get((side, box), {})
        covered = sorted(mid for u, mid in known.items() if u <= uid)
        if uid and uid not in known:
            covered.append(f"#{uid}")
        return tuple(covered)


def _uidvalidity(box_dir: Path) -> tuple[int, int] | None:
    try:
        lines = (box_dir / ".uidvalidity").read_text().split()
        return int(lines[0]), int(lines[1])
    except (OSError, IndexError, ValueError):
        return None


def snapshot(tree: Tree) -> dict[str, object]:
    """The tree as comparable data."""
    tree.learn()
    mail = []
    for side, box, path in message_files(tree.root):
        mtime = int(path.stat().st_mtime)
        arrival = mtime if mtime < PAST + 10**7 else "now"
        mail.append((side, box, message_id(path), flags_of(path.name), path.parent.name, arrival))
    out: dict[str, object] = {"mail": sorted(mail, key=str)}
    boxes = []
    for side in SIDES:
        base = tree.root / side
        for box in sorted(os.listdir(base)) if base.is_dir() else []:
            d = base / box
            boxes.append((side, box))
            uv = _uidvalidity(d)
            if uv is not None:
                out[f"uidvalidity {side}/{box}"] = tree.upto(side, box, uv[1])
            present = [n for n in STATE_FILES if (d / n).exists()]
            if present:
                out[f"state files {box}"] = present
            if (d / ".mbsyncstate").exists():
                out[f"state {box}"] = _state(tree, box, (d / ".mbsyncstate").read_text())
    out["boxes"] = boxes
    return out


def _state(tree: Tree, box: str, text: str) -> list[str]:
    head, _, body = text.partition("\n\n")
    lines = []
    for line in head.splitlines():
        key, _, value = line.partition(" ")
        if key.endswith("UidValidity"):
            side = "far" if key.startswith("Far") else "near"
            lines.append(f"{key} {tree.uv_name(side, box, int(value))}")
        elif key in ("MaxPulledUid", "MaxExpiredFarUid"):
            lines.append(f"{key} {tree.upto('far', box, int(value))}")
        elif key in ("MaxPushedUid", "MaxExpiredNearUid"):
            lines.append(f"{key} {tree.upto('near', box, int(value))}")
        else:
            lines.append(line)
    for line in body.splitlines():
        far, near, rest = (line.split(" ", 2) + [""])[:3]
        lines.append(
            f"{tree.ident('far', box, int(far))} {tree.ident('near', box, int(near))} {rest}"
        )
    return lines


def run_mbsync(binary: str, tree: Tree) -> tuple[int, str]:
    proc = subprocess.run(
        [binary, "-Tz", "-c", str(tree.rc), "-a"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


def run_syncmail(tree: Tree) -> tuple[int, str]:
    """Exit status, and the errors then the summary as the command prints them."""
    try:
        config = parse_config(tree.rc.read_text(), str(tree.rc))
        targets = [Target("test")]
        result = run(config, targets, RunOptions(force=True))
    except SyncmailError as e:
        return 1, str(e)
    summary = summary_text(result.summary, summary_shape(config, targets, ChannelOps()))
    out = [str(e) for e in result.errors] + ([summary] if summary else [])
    return (1 if result.errors else 0), "\n".join(out)


# mbsync's end-of-run summary: from "Processed" to the line that ends it with a period.
_SUMMARY = re.compile(r"^Processed .*?\.$", re.M | re.S)


def summary_of(output: str) -> str:
    """The summary's counts in ``output``, one line each (mbsync wraps differently)."""
    m = _SUMMARY.search(output)
    return " ".join(m.group(0).split()) if m else ""


@dataclass
class Outcome:
    seed: int
    rounds: int
    differences: list[str]
    log: list[str]

    @property
    def agree(self) -> bool:
        return not self.differences


def diff(a: dict[str, object], b: dict[str, object]) -> list[str]:
    """What differs between mbsync's snapshot ``a`` and syncmail's ``b``."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        if isinstance(va, list) and isinstance(vb, list):
            only_a = [x for x in va if x not in vb]
            only_b = [x for x in vb if x not in va]
            if not only_a and not only_b:
                out.append(f"{key}: order differs:\n  mbsync  {va}\n  syncmail {vb}")
                continue
            out.append(f"{key}:\n  mbsync only   {only_a}\n  syncmail only {only_b}")
        else:
            out.append(f"{key}:\n  mbsync   {va}\n  syncmail {vb}")
    return out


def run_scenario(seed: int, work: Path, binary: str) -> Outcome:
    """Sync scenario ``seed`` with both tools round by round; stop at the first difference."""
    sc: Scenario = scenario(seed)

    def changes(r: int, reference: Path) -> list[Change]:
        return round_changes(sc, reference, r)

    return run_rounds(seed, work, binary, sc.options, sc.first, sc.rounds, changes)


def run_fixed(
    work: Path, binary: str, options: Options, first: list[Change], later: list[list[Change]]
) -> Outcome:
    """A hand-written scenario: ``first``, a sync, then each of ``later`` and a sync."""
    return run_rounds(-1, work, binary, options, first, len(later) + 1, lambda r, _: later[r])


def run_rounds(
    seed: int,
    work: Path,
    binary: str,
    options: Options,
    first: list[Change],
    rounds: int,
    changes: Callable[[int, Path], list[Change]],
) -> Outcome:
    trees = (Tree(work / "mbsync"), Tree(work / "syncmail"))
    for tree in trees:
        for side in SIDES:
            (tree.root / side).mkdir(parents=True, exist_ok=True)
        tree.rc.write_text(config_text(tree.root, options))
        apply(tree.root, first, tree.rc)
    log = [trees[0].rc.read_text(), f"initial: {first}"]
    for r in range(rounds):
        code_m, out_m = run_mbsync(binary, trees[0])
        previous = logging.root.manager.disable
        logging.disable(logging.CRITICAL)
        try:
            code_s, out_s = run_syncmail(trees[1])
        finally:
            logging.disable(previous)
        log.append(f"round {r}: mbsync exit {code_m}: {out_m.strip()}")
        log.append(f"round {r}: syncmail exit {code_s}: {out_s.strip()}")
        differences = diff(snapshot(trees[0]), snapshot(trees[1]))
        if (code_m == 0) != (code_s == 0):
            differences.insert(0, f"exit status: mbsync {code_m}, syncmail {code_s}")
        if summary_of(out_m) != summary_of(out_s):
            differences.append(
                f"summary:\n  mbsync   {summary_of(out_m)}\n  syncmail {summary_of(out_s)}"
            )
        if differences:
            return Outcome(seed, r, [f"round {r}: {d}" for d in differences], log)
        if r + 1 < rounds:
            todo = changes(r, trees[0].root)
            log.append(f"changes after round {r}: {todo}")
            for tree in trees:
                apply(tree.root, todo, tree.rc)
    return Outcome(seed, rounds, [], log)
