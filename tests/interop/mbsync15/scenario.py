"""Random Maildir <-> Maildir scenarios for the differential test against mbsync 1.5.

A scenario is a config (every Sync/Expunge/Create/Remove variant, MaxMessages and
ExpireUnread, Trash, CopyArrivalDate, options global or per channel) and a few rounds of
changes a mail client would make between syncs.  Everything comes from one seed; the
changes of a round are drawn from the tree as mbsync left it and applied to both trees
by message identity (Message-ID), so both tools see the same world as long as they agree.
"""

from __future__ import annotations

import os
import random
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path

SIDES = ("far", "near")
BOXES = ("INBOX", "Work", "Lists")
LETTERS = "DFPRST"
# Source files get arrival times from the past, so that CopyArrivalDate is visible.
PAST = 1_600_000_000

# Sync lines: the plain words, directions, and compounds mbsync 1.5 reads.
SYNC_VARIANTS = (
    "All", "Full", "None", "Pull", "Push", "New", "Old", "Gone", "Flags",
    "Pull New Flags", "Push New Flags", "Pull Gone Flags", "New Gone", "Old New",
    "PullNew PushFlags", "PullNew PullGone", "PushNew PullFlags", "Pull Push",
    "PullNew", "PushNew", "PullOld PushOld", "PullGone PushGone", "PullFlags",
    "Pull Old", "Push Old", "New Flags", "Full Old",
)  # fmt: skip
SIDE_WORDS = ("None", "Far", "Near", "Both")


@dataclass
class Options:
    """Channel options and where each goes (``glob``: before any section)."""

    lines: list[str] = field(default_factory=list)
    glob: list[str] = field(default_factory=list)
    far_store: list[str] = field(default_factory=list)
    near_store: list[str] = field(default_factory=list)
    patterns: str = "*"


@dataclass(frozen=True)
class Change:
    """One change to a tree: ``kind`` is add, flags, delete, rmbox or sync (a new Sync line)."""

    kind: str
    side: str = ""
    box: str = ""
    mid: str = ""
    flags: str = ""
    sub: str = "cur"
    stamp: int = 0


@dataclass
class Scenario:
    seed: int
    options: Options
    first: list[Change]
    rng: random.Random
    rounds: int


def _pick_sides(rng: random.Random) -> str:
    return rng.choice(SIDE_WORDS)


def options(rng: random.Random) -> Options:
    """A random channel configuration."""
    o = Options()
    placed: list[tuple[str, bool]] = []  # (line, may be global)
    placed.append((f"Sync {rng.choice(SYNC_VARIANTS)}", True))
    if rng.random() < 0.8:
        placed.append((f"Create {_pick_sides(rng)}", True))
    if rng.random() < 0.7:
        placed.append((f"Expunge {_pick_sides(rng)}", True))
    elif rng.random() < 0.3:
        placed.append((f"ExpungeSolo {rng.choice(SIDE_WORDS[1:])}", True))
    if rng.random() < 0.15:
        placed.append((f"Remove {_pick_sides(rng)}", True))
    if rng.random() < 0.3:
        placed.append((f"CopyArrivalDate {rng.choice(('yes', 'no'))}", True))
    if rng.random() < 0.35:
        placed.append((f"MaxMessages {rng.randint(1, 5)}", False))
        r = rng.random()
        if r < 0.7:
            placed.append((f"ExpireUnread {'yes' if r < 0.45 else 'no'}", False))
        if rng.random() < 0.3:
            placed.append((f"ExpireSide {rng.choice(('Far', 'Near'))}", False))
    for line, may_glob in placed:
        (o.glob if may_glob and rng.random() < 0.3 else o.lines).append(line)
    if rng.random() < 0.2:
        store = rng.choice((o.far_store, o.near_store))
        store.append("Trash Trash")
        if rng.random() < 0.4:
            store.append("TrashNewOnly yes")
        if rng.random() < 0.4:
            store.append("TrashRemoteNew yes")
        if rng.random() < 0.5:
            o.patterns = "* !Trash"
    return o


def scenario(seed: int) -> Scenario:
    rng = random.Random(seed)
    opts = options(rng)
    first: list[Change] = []
    n = 0
    for side in SIDES:
        for box in BOXES:
            if rng.random() < (0.9 if side == "far" else 0.4):
                for _ in range(rng.randint(0, 6)):
                    n += 1
                    first.append(_new_message(rng, side, box, f"s{seed}m{n}"))
    return Scenario(seed, opts, first, rng, rounds=rng.randint(2, 4))


def _new_message(rng: random.Random, side: str, box: str, mid: str) -> Change:
    if rng.random() < 0.4:
        return Change("add", side, box, mid, "", "new", PAST + rng.randint(0, 10**6))
    flags = "".join(c for c in LETTERS if rng.random() < (0.1 if c == "T" else 0.3))
    return Change("add", side, box, mid, _storable(flags), "cur", PAST + rng.randint(0, 10**6))


def _storable(flags: str) -> str:
    """``flags`` without D when all six are set: mbsync 1.5.0's Maildir store_msg has a
    flag buffer one byte short (``fbuf[as(MsgFlags) + 3]``), so a copy carrying all six
    gets an empty base name (``cur/:2,DFPRST``, no UID) - a bug not to imitate."""
    return flags.replace("D", "") if len(set(flags)) == len(LETTERS) else flags


def round_changes(sc: Scenario, reference: Path, r: int) -> list[Change]:
    """The changes after sync round ``r``, drawn from ``reference`` (mbsync's tree)."""
    rng = sc.rng
    changes: list[Change] = []
    present = messages(reference)
    keys = sorted(present)
    for _ in range(rng.randint(1, 6)):
        what = rng.random()
        if keys and what < 0.35:
            side, box, mid = rng.choice(keys)
            flags = present[(side, box, mid)][0]
            letter = rng.choice(LETTERS)
            new = flags.replace(letter, "") if letter in flags else flags + letter
            changes.append(Change("flags", side, box, mid, _storable("".join(sorted(new)))))
        elif keys and what < 0.5:
            side, box, mid = rng.choice(keys)
            changes.append(Change("delete", side, box, mid))
        elif what < 0.95:
            side, box = rng.choice(SIDES), rng.choice(BOXES)
            changes.append(_new_message(rng, side, box, f"s{sc.seed}r{r}n{len(changes)}"))
        elif what < 0.97:
            changes.append(Change("rmbox", rng.choice(SIDES), rng.choice(BOXES)))
        else:
            changes.append(Change("sync", flags=rng.choice(SYNC_VARIANTS)))
    return changes


def message_bytes(mid: str) -> bytes:
    return (
        f"From: t@example.org\nSubject: {mid}\nMessage-ID: <{mid}@example.org>\n\nbody of {mid}\n"
    ).encode()


def message_id(path: Path) -> str:
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"Message-ID: <"):
                return line[13:].split(b"@")[0].decode()
            if line in (b"\n", b"\r\n"):
                break
    return "?"


def box_path(root: Path, side: str, box: str) -> Path:
    return root / side / box


def message_files(root: Path) -> list[tuple[str, str, Path]]:
    """(side, box, path) of every message file below ``root``."""
    out = []
    for side in SIDES:
        base = root / side
        if not base.is_dir():
            continue
        for box in sorted(os.listdir(base)):
            for sub in ("cur", "new"):
                d = base / box / sub
                if d.is_dir():
                    out.extend((side, box, d / name) for name in sorted(os.listdir(d)))
    return out


def flags_of(name: str) -> str:
    return "".join(sorted(c for c in name.partition(":2,")[2] if c in LETTERS))


def messages(root: Path) -> dict[tuple[str, str, str], tuple[str, Path]]:
    """(side, box, Message-ID) -> (flags, path); a duplicate keeps the first."""
    out: dict[tuple[str, str, str], tuple[str, Path]] = {}
    for side, box, path in message_files(root):
        out.setdefault((side, box, message_id(path)), (flags_of(path.name), path))
    return out


def apply(root: Path, changes: list[Change], rc: Path) -> None:
    """Make ``changes`` in the tree at ``root`` (and its config ``rc``)."""
    present = messages(root)
    for c in changes:
        d = box_path(root, c.side, c.box)
        if c.kind == "add":
            for sub in ("cur", "new", "tmp"):
                (d / sub).mkdir(parents=True, exist_ok=True)
            name = f"{c.stamp}.M{zlib.crc32(c.mid.encode()) % 10**6}P1.test"
            if c.sub == "cur":
                name += f":2,{c.flags}"
            path = d / c.sub / name
            path.write_bytes(message_bytes(c.mid))
            os.utime(path, (c.stamp, c.stamp))
        elif c.kind == "rmbox":
            shutil.rmtree(d, ignore_errors=True)
        elif c.kind == "sync":
            text = rc.read_text().splitlines()
            text = [f"Sync {c.flags}" if ln.startswith("Sync ") else ln for ln in text]
            rc.write_text("\n".join(text) + "\n")
        else:
            found = present.get((c.side, c.box, c.mid))
            if found is None or not found[1].exists():
                continue
            path = found[1]
            if c.kind == "delete":
                path.unlink()
            else:
                base = path.name.partition(":2,")[0]
                path.rename(path.parent.parent / "cur" / f"{base}:2,{c.flags}")


def config_text(root: Path, o: Options) -> str:
    """The mbsyncrc of a scenario (``-Tz`` keeps mbsync from sleeping a second)."""
    glob = "\n".join(o.glob)
    far = "\n".join(o.far_store)
    near = "\n".join(o.near_store)
    lines = "\n".join(o.lines)
    return f"""FSync no
{glob}

MaildirStore far
Path {root}/far/
Inbox {root}/far/INBOX
SubFolders Verbatim
{far}

MaildirStore near
Path {root}/near/
Inbox {root}/near/INBOX
SubFolders Verbatim
{near}

Channel test
Far :far:
Near :near:
Patterns {o.patterns}
SyncState *
{lines}
"""
