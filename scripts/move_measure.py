r"""What moving 1,000 messages costs on the wire: syncmail with ``DetectMoves yes`` against
mbsync, on the same messages (issue 11's closing note; no test asserts these numbers).

Usage (from the repository root; needs dovecot and mbsync on PATH):

    PYTHONPATH=src:plugins python3 scripts/move_measure.py [--count 1000]

A private Dovecot is started on 127.0.0.1 and the tools reach it through a relay that
counts the commands and the bytes each way.  The tools: syncmail (Dovecot offers MOVE:
``UID MOVE``), ``syncmail-copy`` (``DisableExtension MOVE``: ``UID COPY`` + ``\Deleted``)
and mbsync.  For each, on fresh mail:

1. INBOX with ``count`` messages is synced to a Maildir (not measured);
2. local move: every file of the Maildir's INBOX is moved into Archive as afew's
   MailMover does (new name, no ``,U=``), then one sync: APPENDs, server-side MOVE/COPY
   commands, bytes sent to the server (per message), seconds;
3. (syncmail only) mbsync runs next on the same state: it must upload nothing;
4. server move: a client moves every message of Archive back to INBOX with one
   ``UID MOVE``, then one sync: ``BODY[]`` fetch commands, bytes received.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from sample_mail import generate  # noqa: E402

from tests.dovecot.cutting_relay import CuttingRelay  # noqa: E402
from tests.fixtures.dovecot import Dovecot  # noqa: E402

USER, PASSWORD = "mover", "secret"

RC = """\
IMAPAccount acc
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType None
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


@dataclass
class Leg:
    """One measured sync."""

    seconds: float
    commands: list[str]
    sent: int
    received: int
    body_fetches: int

    def count(self, name: str) -> int:
        return self.commands.count(name)


def _messages(count: int) -> list[bytes]:
    out = [m.crlf() for m in generate(seed=11, scale=count / 200 + 1)]
    return out[:count]


def _run(tool: str, rc: Path) -> None:
    if tool == "mbsync":
        argv = ["mbsync", "-q", "-c", str(rc), "-a"]
    else:
        argv = [sys.executable, "-m", "syncmail", "-q", "-c", str(rc), "-a"]
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT / 'plugins'}")
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{tool} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def _measured(relay: CuttingRelay, tool: str, rc: Path) -> Leg:
    relay.reset()
    start = time.perf_counter()
    _run(tool, rc)
    took = time.perf_counter() - start
    names = [name for _, name in relay.commands]
    return Leg(took, names, relay.sent, relay.received, relay.body_fetches)


def _local_move(mail: Path) -> int:
    """Every INBOX file into Archive/cur, renamed as afew does (no ,U=, flags kept)."""
    target = mail / "Archive" / "cur"
    target.mkdir(parents=True, exist_ok=True)
    n = 0
    for sub in ("cur", "new"):
        for name in os.listdir(mail / "INBOX" / sub):
            n += 1
            flags = name.split(":2,")[1] if ":2," in name else ""
            os.rename(mail / "INBOX" / sub / name, target / f"moved.{n}.measure:2,{flags}")
    return n


def _server_counts(server: Dovecot) -> dict[str, int]:
    c = server.client(USER, PASSWORD)
    try:
        out = {}
        for box in ("INBOX", "Archive"):
            c.select_folder(box, readonly=True)
            out[box] = len(c.search(["NOT", "DELETED"]))
        return out
    finally:
        c.logout()


def _server_move(server: Dovecot) -> None:
    c = server.client(USER, PASSWORD)
    try:
        c.select_folder("Archive")
        c.move(c.search("ALL"), "INBOX")
    finally:
        c.logout()


def _fresh(server: Dovecot, messages: list[bytes]) -> None:
    server.reset_user(USER)
    server.add_user(USER, PASSWORD)
    server.populate(USER, "INBOX", messages)
    c = server.client(USER, PASSWORD)
    try:
        c.create_folder("Archive")
    finally:
        c.logout()


def _measure_tool(
    tool: str, server: Dovecot, relay: CuttingRelay, messages: list[bytes], tmp: Path
) -> dict[str, Leg]:
    _fresh(server, messages)
    root = tmp / tool
    mail = root / "mail"
    mail.mkdir(parents=True)
    text = RC.format(port=relay.port, user=USER, password=PASSWORD, mail=mail)
    mbsync_rc = root / "mbsyncrc"
    mbsync_rc.write_text(text)
    rc = mbsync_rc
    if tool != "mbsync":
        rc = root / "syncmailrc"
        if tool == "syncmail-copy":  # the server's MOVE hidden: UID COPY + \Deleted
            text = text.replace("AuthMechs LOGIN\n", "AuthMechs LOGIN\nDisableExtension MOVE\n")
        rc.write_text(text + "DetectMoves yes\n")
    _run(tool, rc)
    legs = {}
    moved = _local_move(mail)
    assert moved == len(messages), moved
    legs["local"] = _measured(relay, tool, rc)
    counts = _server_counts(server)
    assert counts == {"INBOX": 0, "Archive": len(messages)}, counts
    if tool != "mbsync":
        legs["mbsync after"] = _measured(relay, "mbsync", mbsync_rc)
        assert _server_counts(server) == counts
    _server_move(server)
    legs["server"] = _measured(relay, tool, rc)
    local = {box: sum(len(os.listdir(mail / box / s)) for s in ("cur", "new"))
             for box in ("INBOX", "Archive")}  # fmt: skip
    assert local == {"INBOX": len(messages), "Archive": 0}, local
    return legs


def _report(results: dict[str, dict[str, Leg]], count: int, size: int) -> None:
    print(f"{count} messages, {size} bytes in all ({size // count} per message)\n")
    print("| tool | sync after | APPEND | UID MOVE | UID COPY | BODY[] fetch cmds | "
          "bytes sent | sent/msg | bytes received | seconds |")  # fmt: skip
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for tool, legs in results.items():
        for what, leg in legs.items():
            print(
                f"| {tool} | {what} | {leg.count('APPEND')} | {leg.count('UID MOVE')} | "
                f"{leg.count('UID COPY')} | {leg.body_fetches} | {leg.sent} | "
                f"{leg.sent / count:.0f} | {leg.received} | {leg.seconds:.2f} |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    messages = _messages(args.count)
    with tempfile.TemporaryDirectory(prefix="syncmail-moves-") as tmp:
        os.chmod(tmp, 0o755)  # Dovecot's mail user must reach its directory
        server = Dovecot(Path(tmp) / "dovecot").start()
        try:
            with CuttingRelay(server.port) as relay:
                results = {
                    tool: _measure_tool(tool, server, relay, messages, Path(tmp))
                    for tool in ("syncmail", "syncmail-copy", "mbsync")
                }
        finally:
            server.stop()
    _report(results, len(messages), sum(len(m) for m in messages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
