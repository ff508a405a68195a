"""Helpers for the engine tests: two Maildir trees, an mbsyncrc, and box snapshots."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from syncmail.config.model import ChannelOps, Config, Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import CRASH_ENV, RunOptions, RunResult, run

_counter = [0]


def maildir_pair_rc(
    root: Path,
    extra: str = "",
    patterns: str = "*",
    *,
    channel: str = "test",
    far_extra: str = "",
    near_extra: str = "",
) -> str:
    """An mbsyncrc (mbsync 1.4 reads it too): Maildir stores ``far`` and ``near`` under
    ``root``, one channel between them; the extras are appended to each section."""
    return f"""FSync no

MaildirStore far
Path {root}/far/
Inbox {root}/far/INBOX
SubFolders Verbatim
{far_extra}
MaildirStore near
Path {root}/near/
Inbox {root}/near/INBOX
SubFolders Verbatim
{near_extra}
Channel {channel}
Far :far:
Near :near:
Patterns {patterns}
SyncState *
{extra}
"""


def write_config(root: Path, extra: str = "", patterns: str = "*") -> Path:
    path = root / "mbsyncrc"
    path.write_text(maildir_pair_rc(root, extra, patterns))
    (root / "far").mkdir(exist_ok=True)
    (root / "near").mkdir(exist_ok=True)
    return path


def load(path: Path) -> Config:
    return parse_config(path.read_text(), str(path))


def sync(path: Path, cli_ops: ChannelOps | None = None, *, dry_run: bool = False) -> RunResult:
    options = RunOptions(cli_ops=cli_ops or ChannelOps(), dry_run=dry_run)
    return run(load(path), [Target("test")], options)


def box_dir(root: Path, side: str, box: str = "INBOX") -> Path:
    d = root / side / box
    for sub in ("cur", "new", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    return d


def deliver(root: Path, side: str, subject: str, flags: str = "", box: str = "INBOX") -> Path:
    """Drop a message into a box as a mail client would (no UID yet)."""
    d = box_dir(root, side, box)
    _counter[0] += 1
    name = f"1700000000.M{_counter[0]}P1.test"
    data = (
        f"From: t@example.org\nSubject: {subject}\nMessage-ID: <{subject}@example.org>\n"
        f"\nbody of {subject}\n"
    )
    if flags:
        path = d / "cur" / f"{name}:2,{flags}"
    else:
        path = d / "new" / name
    path.write_text(data)
    return path


def _subject(path: Path) -> str:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("Subject: "):
            return line[9:]
        if not line:
            break
    return "?"


def files(root: Path, side: str, box: str = "INBOX") -> dict[str, Path]:
    """subject -> file; fails on duplicates (a doubled copy is a bug)."""
    d = root / side / box
    out: dict[str, Path] = {}
    for sub in ("cur", "new"):
        if not (d / sub).is_dir():
            continue
        for name in sorted(os.listdir(d / sub)):
            if name.startswith("."):
                continue
            p = d / sub / name
            s = _subject(p)
            assert s not in out, f"duplicate message {s!r} on {side}: {out[s]}, {p}"
            out[s] = p
    return out


def flags_of(path: Path) -> str:
    m = re.search(r":2,([A-Za-z]*)$", path.name)
    return "".join(c for c in (m.group(1) if m else "") if c in "DFPRST")


def snapshot(root: Path, side: str, box: str = "INBOX") -> dict[str, str]:
    """subject -> flags letters."""
    return {s: flags_of(p) for s, p in files(root, side, box).items()}


def set_flags(path: Path, flags: str) -> Path:
    """Rename a message to carry ``flags`` (moves it to cur/ as a client would)."""
    base = path.name.split(":2,")[0]
    target = path.parent.parent / "cur" / f"{base}:2,{flags}"
    path.rename(target)
    return target


def state_text(root: Path, box: str = "INBOX") -> str:
    return (root / "near" / box / ".mbsyncstate").read_text()


def crash_run(cfg: Path, step: int) -> int:
    """Sync in a forked child killed (``os._exit(100)``) after journal line ``step``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 3
        try:
            os.environ[CRASH_ENV] = str(step)
            logging.disable(logging.CRITICAL)
            code = 1 if sync(cfg).errors else 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
