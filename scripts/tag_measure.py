r"""What a tag change on 1% of 20,000 messages costs: commands, bytes and the wall time of
the resync, against a no-change resync and a 1% flag change (bench-sync's scenario d);
issue 11's closing note (no test asserts these numbers).

Usage (from the repository root; needs dovecot, notmuch, the notmuch2 bindings and,
for the last leg, mbsync on PATH):

    PYTHONPATH=src:plugins python3 scripts/tag_measure.py [--count 20000] [--repeat 3]

A private Dovecot is started on 127.0.0.1 with ``count`` small messages written straight
into four boxes; syncmail reaches it through a relay that counts the commands and the
bytes each way.  The Maildir lies under a real notmuch database with the notmuch plugin
on (tags <-> keywords).  After the initial sync (timed, not counted) each leg changes
something and runs one timed ``syncmail -a``:

- ``no change``: nothing (the baseline; ``--repeat`` runs, the median is shown);
- ``tags add``: ``notmuch tag`` +todo on 150 messages, +work on 50 (1%);
- ``tags mix``: on messages tagged before, -todo on 100, +work -todo on 50, and +todo on
  50 new ones (1%);
- ``flags notmuch``: ``notmuch tag -unread`` / ``+flagged`` on 1% (notmuch renames the
  files, as alot or ``notmuch tag`` do for a user);
- ``flags rename``: bench-sync's d: 1% of the files renamed with \Seen toggled (and
  \Flagged on every fifth);
- ``flags rename (mbsync)``: the same, synced by mbsync for reference (same state).

Every leg is checked against the server afterwards (keyword and flag counts).  The child
processes write their byte code to a private cache, so the timings are not spent
compiling.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dovecot.cutting_relay import CuttingRelay  # noqa: E402
from tests.fixtures.dovecot import Dovecot  # noqa: E402

USER, PASSWORD = "tagger", "secret"
BOXES = ("INBOX", "Archive", "Sent", "Lists")

RC = """\
IMAPAccount acc
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
TLSType None
AuthMechs LOGIN

IMAPStore remote
Account acc

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""

NOTMUCH = """\

Notmuch default
Config {config}
"""


class StoreRelay(CuttingRelay):
    """The counting relay, also keeping what each ``UID STORE`` changes (not its UIDs)."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self.stores: list[str] = []
        self._box = ""

    def reset(self, cut_at: int | None = None, mode: str = "before", dead: bool = False) -> None:
        super().reset(cut_at, mode, dead)
        self.stores = []

    def _count(self, line: bytes) -> tuple[int, bool]:
        out = super()._count(line)
        words = line.decode("utf-8", "replace").split(None, 4)
        if len(words) > 2 and words[1].upper() in ("SELECT", "EXAMINE"):
            self._box = words[2].strip('"')
        if len(words) == 5 and words[1].upper() == "UID" and words[2].upper() == "STORE":
            with self._lock:
                self.stores.append(f"{self._box}: {words[4].strip()}")
        return out


@dataclass
class Leg:
    """One measured sync."""

    seconds: float
    commands: list[str]
    stores: list[str]
    sent: int
    received: int
    body_fetches: int

    def count(self, name: str) -> int:
        return self.commands.count(name)


@dataclass
class Setup:
    """Where everything lives, and the environment the tools run in."""

    server: Dovecot
    relay: StoreRelay
    mail: Path
    rc: Path
    mbsync_rc: Path
    env: dict[str, str]
    rng: random.Random


def _message(n: int) -> bytes:
    return (
        f"From: sender{n % 97}@example.org\r\nTo: me@example.org\r\n"
        f"Subject: message {n}\r\nMessage-ID: <{n}@tags.measure>\r\n"
        f"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\n"
        f"Body of message {n}: a line or two of text.\r\n"
    ).encode()


def _populate(server: Dovecot, count: int) -> None:
    """``count`` messages over BOXES, half seen; written as files, not APPENDed."""
    server.reset_user(USER)
    server.add_user(USER, PASSWORD)
    per_box = -(-count // len(BOXES))
    for i, box in enumerate(BOXES):
        numbers = range(i * per_box, min(count, (i + 1) * per_box))
        half = len(numbers) // 2
        server.populate(USER, box, (_message(n) for n in numbers[:half]), info="S")
        server.populate(USER, box, (_message(n) for n in numbers[half:]))
    server.doveadm("force-resync", "-u", USER, "*")


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT / 'plugins'}")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    env["NOTMUCH_CONFIG"] = str(tmp / "notmuch-config")
    env["XDG_STATE_HOME"] = str(tmp / "state")
    env.pop("NOTMUCH_PROFILE", None)
    env.pop("SYNCMAIL_IN_NOTMUCH_HOOK", None)
    return env


def _notmuch_setup(tmp: Path, mail: Path, env: dict[str, str]) -> None:
    (tmp / "notmuch-config").write_text(
        f"[database]\npath={mail}\n\n[new]\ntags=unread;inbox;\n[maildir]\nsynchronize_flags=true\n"
    )
    _notmuch(env, "new")


def _notmuch(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        ["notmuch", *args], input=stdin, capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"notmuch {args[0]} failed:\n{proc.stderr}")
    return proc.stdout


def _run(s: Setup, tool: str) -> float:
    if tool == "mbsync":
        argv = ["mbsync", "-q", "-c", str(s.mbsync_rc), "-a"]
    else:
        argv = [sys.executable, "-m", "syncmail", "-q", "-c", str(s.rc), "-a"]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=s.env, check=False)
    took = time.perf_counter() - start
    noise = ("password is being sent in the clear", "Password is being sent in the clear")
    said = [line for line in proc.stderr.splitlines() if not any(n in line for n in noise)]
    if proc.returncode != 0 or any(line.strip() for line in said):
        print(f"{tool} ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}", file=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{tool} failed")
    return took


def _measured(s: Setup, tool: str = "syncmail") -> Leg:
    s.relay.reset()
    took = _run(s, tool)
    names = [name for _, name in s.relay.commands]
    return Leg(
        took, names, list(s.relay.stores), s.relay.sent, s.relay.received, s.relay.body_fetches
    )


def _ids(s: Setup, query: str) -> list[str]:
    out = _notmuch(s.env, "search", "--output=messages", "--sort=oldest-first", query)
    return [line[3:] for line in out.split()]


def _tag(s: Setup, lines: list[str]) -> None:
    _notmuch(s.env, "tag", "--batch", stdin="".join(line + "\n" for line in lines))


def _batch(ops: str, ids: list[str]) -> list[str]:
    return [f"{ops} -- id:{mid}" for mid in ids]


def _server_count(s: Setup, *criteria: str) -> int:
    c = s.server.client(USER, PASSWORD)
    try:
        total = 0
        for box in BOXES:
            c.select_folder(box, readonly=True)
            total += len(c.search(list(criteria)))
        return total
    finally:
        c.logout()


def _tags_add(s: Setup, one_pct: int) -> None:
    picked = s.rng.sample(_ids(s, "*"), one_pct)
    todo, work = picked[: one_pct * 3 // 4], picked[one_pct * 3 // 4 :]
    _tag(s, _batch("+todo", todo) + _batch("+work", work))


def _tags_mix(s: Setup, one_pct: int) -> None:
    tagged = _ids(s, "tag:todo")
    fresh = s.rng.sample(_ids(s, "not tag:todo and not tag:work"), one_pct // 4)
    drop, swap = tagged[: one_pct // 2], tagged[one_pct // 2 : one_pct * 3 // 4]
    _tag(s, _batch("-todo", drop) + _batch("+work -todo", swap) + _batch("+todo", fresh))


def _flags_notmuch(s: Setup, one_pct: int) -> None:
    picked = s.rng.sample(_ids(s, "tag:unread"), one_pct)
    lines = [f"{'-unread +flagged' if n % 5 == 0 else '-unread'} -- id:{mid}"
             for n, mid in enumerate(picked)]  # fmt: skip
    _tag(s, lines)


def _flags_rename(s: Setup, one_pct: int) -> None:
    """bench-sync's d: toggle S (and F on every fifth) by renaming the files."""
    files = sorted(_files(s))
    for n, path in enumerate(sorted(s.rng.sample(files, one_pct))):
        base, info = path.name.split(":2,", 1) if ":2," in path.name else (path.name, "")
        letters = set(info) ^ {"S"}
        if n % 5 == 0:
            letters ^= {"F"}
        os.rename(path, path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(letters))}")


def _check_keywords(s: Setup) -> None:
    want = {k: len(_ids(s, f"tag:{k}")) for k in ("todo", "work")}
    got = {k: _server_count(s, "KEYWORD", k) for k in want}
    if got != want:
        raise SystemExit(f"keywords on the server {got}, tags in notmuch {want}")


def _files(s: Setup) -> list[Path]:
    return [p for box in BOXES for sub in ("cur", "new") for p in (s.mail / box / sub).iterdir()]


def _check_flags(s: Setup) -> None:
    local = {f: sum(f in p.name.partition(":2,")[2] for p in _files(s)) for f in "SF"}
    got = {"S": _server_count(s, "SEEN"), "F": _server_count(s, "FLAGGED")}
    if got != local:
        raise SystemExit(f"flags on the server {got}, in the Maildir {local}")


def _prepare(tmp: Path, server: Dovecot, relay: StoreRelay, count: int) -> Setup:
    mail = tmp / "mail"
    mail.mkdir()
    env = _env(tmp)
    _notmuch_setup(tmp, mail, env)
    text = RC.format(port=relay.port, user=USER, password=PASSWORD, mail=mail)
    mbsync_rc = tmp / "mbsyncrc"
    mbsync_rc.write_text(text.replace("TLSType", "SSLType"))  # mbsync 1.4 knows only this
    rc = tmp / "syncmailrc"
    rc.write_text(text + NOTMUCH.format(config=tmp / "notmuch-config"))
    _populate(server, count)
    return Setup(server, relay, mail, rc, mbsync_rc, env, random.Random(11))


def _measure(s: Setup, count: int, repeat: int) -> dict[str, list[Leg]]:
    one_pct = count // 100
    results: dict[str, list[Leg]] = {"initial": [_measured(s)]}
    _run(s, "syncmail")  # settles: the first run only noted notmuch's revision
    results["no change"] = [_measured(s) for _ in range(repeat)]
    steps = (
        ("tags add", _tags_add, _check_keywords),
        ("tags mix", _tags_mix, _check_keywords),
        ("flags notmuch", _flags_notmuch, _check_flags),
        ("flags rename", _flags_rename, _check_flags),
    )
    for name, change, check in steps:
        results[name] = []
        for _ in range(repeat):
            change(s, one_pct)
            results[name].append(_measured(s))
            check(s)
    results["flags rename (mbsync)"] = []
    for _ in range(repeat):
        _flags_rename(s, one_pct)
        results["flags rename (mbsync)"].append(_measured(s, "mbsync"))
        _check_flags(s)
    return results


def _report(results: dict[str, list[Leg]], count: int) -> None:
    print(f"{count} messages in {len(BOXES)} boxes; medians of the runs shown\n")
    print("| leg | runs | seconds | UID STORE | APPEND | BODY[] fetch cmds | bytes sent | "
          "bytes received | commands |")  # fmt: skip
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name, legs in results.items():
        mid = sorted(legs, key=lambda leg: leg.seconds)[len(legs) // 2]
        secs = statistics.median(leg.seconds for leg in legs)
        print(
            f"| {name} | {len(legs)} | {secs:.2f} | {mid.count('UID STORE')} | "
            f"{mid.count('APPEND')} | {mid.body_fetches} | {mid.sent} | "
            f"{mid.received} | {len(mid.commands)} |"
        )
    print("\nUID STOREs of one run per leg (box: what it changes; UID sets left out):")
    for name, legs in results.items():
        stores = Counter(legs[0].stores)
        if stores:
            print(f"- {name}: " + "; ".join(f"{k} x{n}" for k, n in sorted(stores.items())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="syncmail-tags-") as name:
        tmp = Path(name)
        os.chmod(tmp, 0o755)  # Dovecot's mail user must reach its directory
        server = Dovecot(tmp / "dovecot").start()
        try:
            with StoreRelay(server.port) as relay:
                setup = _prepare(tmp, server, relay, args.count)
                results = _measure(setup, args.count, args.repeat)
        finally:
            server.stop()
    _report(results, args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
