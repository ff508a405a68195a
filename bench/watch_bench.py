#!/usr/bin/env python3
"""Measure ``syncmail watch`` against a throwaway Dovecot on 127.0.0.1 (not a test).

    python3 bench/watch_bench.py [--messages 50] [--idle 600] [--stop 60]

Reports: latency APPEND -> ``notmuch search id:`` finds it (p50/p95); latency of a
local flag change (Maildir rename, and ``notmuch tag -unread``) -> flag on the server;
idle cost with 2 accounts x 10 boxes (CPU seconds, wake-ups per minute, connections
per account, RSS); recovery after ``doveadm kick`` and after SIGSTOP/SIGCONT.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dovecot.watch_helpers import WatchProcess, wait_for  # noqa: E402
from tests.fixtures.dovecot import Dovecot  # noqa: E402

BOXES = [f"Box{n}" for n in range(1, 10)]  # + INBOX = 10 per account


def message(tag: str) -> bytes:
    return (
        f"From: a@example.org\r\nTo: b@example.org\r\nSubject: {tag}\r\n"
        f"Message-ID: <{tag}@bench.test>\r\n\r\nbody\r\n"
    ).encode()


def rc_text(server: Dovecot, users: list[tuple[str, str]], mail: Path, nmconfig: Path) -> str:
    parts = ["FSync no\n"]
    for user, password in users:
        parts.append(
            f"""IMAPAccount {user}
Host 127.0.0.1
Port {server.port}
User {user}
Pass {password}
TLSType None
AuthMechs LOGIN

IMAPStore {user}-remote
Account {user}

MaildirStore {user}-local
Path {mail}/{user}/
Inbox {mail}/{user}/INBOX
SubFolders Verbatim

Channel {user}
Far :{user}-remote:
Near :{user}-local:
Patterns *
Create Both
Expunge Both
SyncState *
"""
        )
    parts.append(f"Notmuch default\nConfig {nmconfig}\n")
    return "\n".join(parts)


def found(msgid: str) -> bool:
    out = subprocess.run(
        ["notmuch", "search", "--output=messages", f"id:{msgid}"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    return msgid in out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def show(name: str, values: list[float]) -> None:
    print(
        f"{name}: n={len(values)} p50={pct(values, 50) * 1000:.0f} ms "
        f"p95={pct(values, 95) * 1000:.0f} ms max={max(values) * 1000:.0f} ms "
        f"mean={statistics.mean(values) * 1000:.0f} ms",
        flush=True,
    )


def server_flags(server: Dovecot, user: str, password: str, msgid: str) -> set[bytes]:
    client = server.client(user, password)
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", "Message-ID", msgid])
        if not uids:
            return set()
        return set(client.get_flags(uids)[uids[0]])
    finally:
        client.logout()


def local_file(mail: Path, user: str, msgid: str) -> Path | None:
    for sub in ("new", "cur"):
        for path in (mail / user / "INBOX" / sub).iterdir():
            if msgid.encode() in path.read_bytes()[:400]:
                return path
    return None


def proc_stats(pid: int) -> dict[str, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    out = {"cpu": (int(fields[11]) + int(fields[12])) / ticks}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            out[key] = float(value.split()[0])
        if key == "VmRSS":
            out["rss_mb"] = float(value.split()[0]) / 1024
    return out


def connections(server: Dovecot) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in server.doveadm("who").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = int(parts[1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument("--idle", type=float, default=600.0, help="seconds of idle measurement")
    ap.add_argument("--stop", type=float, default=60.0, help="seconds stopped by SIGSTOP")
    ap.add_argument("watch_args", nargs="*", help="more arguments for syncmail watch (-V)")
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="syncmail-bench-"))
    base.chmod(0o755)  # Dovecot's mail processes run as another user
    server = Dovecot(base / "dovecot")
    server.start()
    try:
        run(server, base, args)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def run(server: Dovecot, base: Path, args: argparse.Namespace) -> None:
    users = [("alice", "pw-alice"), ("bob", "pw-bob")]
    mail = base / "mail"
    for user, password in users:
        server.add_user(user, password)
        client = server.client(user, password)
        for box in BOXES:
            client.create_folder(box)
        client.logout()
        (mail / user).mkdir(parents=True)
    nmconfig = base / "notmuch-config"
    nmconfig.write_text(
        f"[database]\npath={mail}\n[new]\ntags=unread;inbox;\n"
        "[maildir]\nsynchronize_flags=true\n"
    )
    os.environ["NOTMUCH_CONFIG"] = str(nmconfig)
    os.environ["XDG_STATE_HOME"] = str(base / "state")
    subprocess.run(["notmuch", "new", "--quiet"], check=True)
    rc = base / "mbsyncrc"
    rc.write_text(rc_text(server, users, mail, nmconfig))
    user, password = users[0]

    with WatchProcess(base, rc, "-a", *args.watch_args) as w:
        t0 = time.monotonic()
        w.ready(timeout=60)
        print(f"start (full sync of 2 accounts x 10 boxes): {time.monotonic() - t0:.2f} s")

        # 1. APPEND on the server -> notmuch finds it.
        lat = []
        for n in range(args.messages):
            msgid = f"a{n}@bench.test"
            start = time.monotonic()
            server.append(user, "INBOX", message(f"a{n}"))
            wait_for(lambda m=msgid: found(m), timeout=10, step=0.01)
            lat.append(time.monotonic() - start)
            time.sleep(0.05)
        show("APPEND -> notmuch search", lat)

        # 2. Local flag change (Maildir rename) -> \Flagged on the server.
        lat = []
        for n in range(min(args.messages, 20)):
            msgid = f"<a{n}@bench.test>"
            path = local_file(mail, user, msgid)
            assert path is not None
            name = path.name.split(":2,")[0] + ":2," + "".join(
                sorted(set(path.name.split(":2,")[1] if ":2," in path.name else "") | {"F"})
            )
            start = time.monotonic()
            os.rename(path, path.parent.parent / "cur" / name)
            wait_for(
                lambda m=msgid: b"\\Flagged" in server_flags(server, user, password, m),
                timeout=10, step=0.01,
            )  # fmt: skip
            lat.append(time.monotonic() - start)
        show("Maildir rename -> server flag", lat)

        # 3. notmuch tag -unread -> \Seen on the server.
        lat = []
        for n in range(20, min(args.messages, 40)):
            msgid = f"a{n}@bench.test"
            start = time.monotonic()
            subprocess.run(["notmuch", "tag", "-unread", f"id:{msgid}"], check=True)
            wait_for(
                lambda m=msgid: b"\\Seen" in server_flags(server, user, password, f"<{m}>"),
                timeout=10, step=0.01,
            )  # fmt: skip
            lat.append(time.monotonic() - start)
        if lat:
            show("notmuch tag -unread -> server \\Seen", lat)

        # 4. Idle cost.
        time.sleep(2)
        before = proc_stats(w.proc.pid)
        conns = connections(server)
        time.sleep(args.idle)
        after = proc_stats(w.proc.pid)
        minutes = args.idle / 60
        wakeups = (
            after["voluntary_ctxt_switches"] - before["voluntary_ctxt_switches"]
            + after["nonvoluntary_ctxt_switches"] - before["nonvoluntary_ctxt_switches"]
        )  # fmt: skip
        print(
            f"idle {args.idle:.0f} s, 2 accounts x 10 boxes: "
            f"CPU {after['cpu'] - before['cpu']:.2f} s, "
            f"{wakeups / minutes:.1f} wake-ups/min (context switches), "
            f"connections per account {conns}, RSS {after['rss_mb']:.1f} MB",
            flush=True,
        )

        # 5. doveadm kick -> back in sync.
        start = time.monotonic()
        server.doveadm("kick", user)
        server.append(user, "INBOX", message("kick"))
        try:
            wait_for(lambda: found("kick@bench.test"), timeout=30, step=0.02)
        except AssertionError:
            print(w.log())
            raise
        print(f"doveadm kick + APPEND -> in notmuch: {time.monotonic() - start:.2f} s")

        # 6. SIGSTOP for a while (a suspend stand-in), mail meanwhile, SIGCONT.
        w.send(signal.SIGSTOP)
        time.sleep(args.stop / 2)
        server.append(user, "Box3", message("stopped"))
        time.sleep(args.stop / 2)
        start = time.monotonic()
        w.send(signal.SIGCONT)
        wait_for(lambda: found("stopped@bench.test"), timeout=30, step=0.02)
        print(
            f"SIGSTOP {args.stop:.0f} s (mail came meanwhile), SIGCONT -> in notmuch: "
            f"{time.monotonic() - start:.2f} s"
        )

        # 7. No busy loop while the server is down.
        server.stop()
        time.sleep(1)
        before = proc_stats(w.proc.pid)
        time.sleep(20)
        after = proc_stats(w.proc.pid)
        print(f"server down 20 s: CPU {after['cpu'] - before['cpu']:.2f} s")
        server.start()
        code = w.stop()
        print(f"SIGTERM: exit {code}")
        errors = [line for line in w.log().splitlines() if "Traceback" in line]
        assert not errors, w.log()


if __name__ == "__main__":
    main()
