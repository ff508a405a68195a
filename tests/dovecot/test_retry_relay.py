"""A connection cut at every command of a two-way sync is retried within the run.

The real ``syncmail`` command syncs an IMAP<->Maildir channel through ``CuttingRelay``,
which closes the connection at command N (before the server sees it, or after the
server did it but before the client saw the answer).  After that one run both sides
must hold the same messages, nothing doubled, and a second run must change nothing.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import RunOptions, run
from syncmail.sync.retry import RETRY_DELAYS
from tests.dovecot.cutting_relay import CommandParser, CuttingRelay
from tests.dovecot.imap_helpers import message, write_config
from tests.fixtures.dovecot import Dovecot
from tests.unit.engine_support import deliver, files, set_flags

pytestmark = pytest.mark.dovecot

# Set to 1 to cut at every command of the sync (about 40 runs, 35 s), not a sample.
ALL_CUTS_ENV = "SYNCMAIL_TEST_ALL_CUTS"
RETRY_SCALE = "0.01"
_IMAP_LETTERS = {
    "\\Draft": "D",
    "\\Flagged": "F",
    "$Forwarded": "P",
    "\\Answered": "R",
    "\\Seen": "S",
    "\\Deleted": "T",
}
BOXES = ("INBOX", "Work")


@dataclass
class Account:
    """What ``write_config`` needs of a user; ``port`` is the relay's."""

    server: Dovecot
    name: str
    password: str
    port: int
    host: str = "127.0.0.1"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def _syncmail(rc: Path, *args: str) -> Run:
    env = dict(os.environ, SYNCMAIL_TEST_RETRY_SCALE=RETRY_SCALE)
    proc = subprocess.run(
        [sys.executable, "-m", "syncmail", "-c", str(rc), "-a", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    return Run(proc.returncode, proc.stdout, proc.stderr)


# --- the two sides, as Message-ID -> flags ---------------------------------------------


def _server_side(server: Dovecot, user: str, password: str) -> dict[str, dict[str, str]]:
    """box -> Message-ID -> flag letters on the server; fails on a doubled message."""
    out: dict[str, dict[str, str]] = {}
    client = server.client(user, password)
    try:
        for _flags, _sep, box in client.list_folders():
            client.select_folder(box, readonly=True)
            seen: dict[str, str] = {}
            uids = client.search("ALL")
            got = client.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for data in got.values():
                header = data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode()
                mid = header.split(":", 1)[1].strip()
                assert mid not in seen, f"{mid} doubled on the server in {box}"
                names = {f.decode() if isinstance(f, bytes) else str(f) for f in data[b"FLAGS"]}
                seen[mid] = "".join(sorted(_IMAP_LETTERS[n] for n in names if n in _IMAP_LETTERS))
            out[str(box)] = seen
    finally:
        client.logout()
    return out


def _near_side(root: Path) -> dict[str, dict[str, str]]:
    """box -> Message-ID -> flag letters in the Maildir; fails on a doubled message."""
    out: dict[str, dict[str, str]] = {}
    near = root / "near"
    for box in sorted(os.listdir(near)):
        if not (near / box / "cur").is_dir():
            continue
        seen: dict[str, str] = {}
        for sub in ("cur", "new"):
            for name in os.listdir(near / box / sub):
                with open(near / box / sub / name, "rb") as f:
                    mid = email.parser.BytesHeaderParser().parse(f)["Message-ID"]
                assert mid not in seen, f"{mid} doubled in the Maildir box {box}"
                info = name.split(":2,", 1)[1] if ":2," in name else ""
                seen[mid] = "".join(sorted(c for c in info if c in "DFPRST"))
        out[box] = seen
    return out


# --- the scenario and its cheap reset ----------------------------------------------------


@dataclass
class Scenario:
    """Both sides after a first clean sync and changes on both; copied for each run."""

    server: Dovecot
    relay: CuttingRelay
    saved: Path
    password: str
    runs: int = 0
    # The last fresh copy: (config, account, Maildir root).
    last: tuple[Path, Account, Path] = field(init=False)

    def fresh(self, tmp: Path) -> tuple[Path, Account, Path]:
        """A new user and Maildir, copies of the saved ones: (config, account, root)."""
        self.runs += 1
        name = f"{self.saved.name}r{self.runs}"
        home = self.server.user_home(name)
        shutil.copytree(self.saved / "home", home, symlinks=True)
        self.server.fix_owner(home)
        self.server.add_user(name, self.password)
        root = tmp / f"run{self.runs}"
        shutil.copytree(self.saved / "near", root / "near", symlinks=True)
        acct = Account(self.server, name, self.password, self.relay.port)
        self.last = (write_config(root, acct, "Expunge Both", "Timeout 10"), acct, root)
        return self.last


def _build(tmp: Path, server: Dovecot, relay: CuttingRelay, user: Any) -> Scenario:
    """First sync, then on each side: new messages, flag changes, a deletion."""
    for n in range(1, 7):
        user.append("INBOX", message(n))
    user.append("Work", message(20))
    root = tmp / "setup"
    acct = Account(server, user.name, user.password, server.port)
    rc = write_config(root, acct, "Expunge Both", "Timeout 10")
    for subject in ("N1", "N2", "N3"):
        deliver(root, "near", subject)
    first = _syncmail(rc)
    assert first.code == 0, first.stderr
    # The far side changes: a new message in each box, a flag added, one marked deleted,
    # one expunged.
    user.append("INBOX", message(7), ("\\Seen",))
    user.append("Work", message(21))
    client = user.client()
    try:
        client.select_folder("INBOX")
        uids = sorted(client.search("ALL"))
        client.add_flags(uids[0], ["\\Flagged"])
        client.add_flags(uids[1], ["\\Deleted"])
        client.remove_flags(uids[2], ["\\Seen"])
        client.add_flags(uids[3], ["\\Deleted"])
        client.uid_expunge([uids[3]])
    finally:
        client.logout()
    # The near side changes: a new message, a flag change, a deletion.
    deliver(root, "near", "N4", "S")
    near = files(root, "near")
    set_flags(near["N1"], "FS")
    set_flags(near["test 5"], "RS")
    near["N2"].unlink()
    saved = tmp / f"saved{user.name}"
    shutil.copytree(server.user_home(user.name), saved / "home", symlinks=True)
    shutil.copytree(root / "near", saved / "near", symlinks=True)
    return Scenario(server, relay, saved, user.password)


@pytest.fixture
def scenario(tmp_path: Path, dovecot: Dovecot, imap_user: Any) -> Iterator[Scenario]:
    with CuttingRelay(dovecot.port) as relay:
        yield _build(tmp_path, dovecot, relay, imap_user)


def _check_equal(sc: Scenario, acct: Account, root: Path) -> dict[str, dict[str, str]]:
    far = _server_side(sc.server, acct.name, acct.password)
    near = _near_side(root)
    assert far == near
    return far


def _box_of(commands: list[tuple[int, str]], n: int) -> str | None:
    """The box selected when command ``n`` was sent: "" before any SELECT (connecting,
    listing), None for LOGOUT (nothing is left to redo)."""
    box = ""
    for number, name in commands:
        if name.startswith("SELECT "):
            box = name[len("SELECT ") :]
        if number == n:
            return None if name == "LOGOUT" else box
    raise AssertionError(f"no command {n}")


def _cuts(commands: list[tuple[int, str]]) -> list[int]:
    """Where to cut: every command with ``SYNCMAIL_TEST_ALL_CUTS=1``; by default the
    first of each run of same-named commands (a second UID FETCH in a row adds little)."""
    if os.environ.get(ALL_CUTS_ENV) == "1":
        return [n for n, _ in commands]
    return [n for n, name in commands if n == 1 or commands[n - 2][1] != name]


# --- the tests ---------------------------------------------------------------------------


def test_cut_at_every_command_is_retried_within_the_run(
    tmp_path: Path, scenario: Scenario
) -> None:
    relay = scenario.relay
    relay.reset()
    rc, acct, root = scenario.fresh(tmp_path)
    clean = _syncmail(rc)
    assert clean.code == 0, clean.stderr
    commands = list(relay.commands)
    want = _check_equal(scenario, acct, root)
    # The changes of both sides arrived (a meaningful scenario, not an empty one).
    assert set(want) == {"INBOX", "Work"}
    assert len(want["INBOX"]) == 8 and len(want["Work"]) == 2
    assert want["INBOX"]["<1@syncmail.test>"] == "F"
    assert want["INBOX"]["<N1@example.org>"] == "FS"
    assert "<N2@example.org>" not in want["INBOX"] and "<2@syncmail.test>" not in want["INBOX"]
    names = [name for _, name in commands]
    assert "APPEND" in names and "UID STORE" in names and "UID EXPUNGE" in names
    for n in _cuts(commands):
        for mode in ("before", "after"):
            where = f"cut {mode} command {n} ({commands[n - 1][1]})"
            got = _cut_once(scenario, tmp_path / f"{mode}{n}", n, mode, _box_of(commands, n), where)
            # Exact unless the server may have done work the client never saw confirmed
            # (cut after), or a side's flag changes were cut between their STOREs (they
            # are counted per side, once all are made).
            exact = mode == "before" and commands[n - 1][1] != "UID STORE"
            _check_counts(_counts(got.stdout), _counts(clean.stdout), exact, where)
            rc, acct, root = scenario.last
            assert _check_equal(scenario, acct, root) == want, where
            _nothing_left_to_do(scenario, rc, where)


def _cut_once(sc: Scenario, tmp: Path, n: int, mode: str, box: str | None, where: str) -> Run:
    """The real command on a fresh copy, cut at command ``n``: it must retry and succeed."""
    sc.relay.reset(cut_at=n, mode=mode)
    rc, _acct, _root = sc.fresh(tmp)
    got = _syncmail(rc)
    assert sc.relay.cut_done, where
    assert got.code == 0, f"{where}: {got.stderr}"
    assert "Traceback" not in got.stderr, where
    if box:
        assert f"Notice: connection lost and box synced again: test:{box} (1x)" in got.stderr, (
            f"{where}: {got.stderr}"
        )
    elif box == "":
        assert "Notice: connection lost and made again for channel(s): test (1x)" in (
            got.stderr
        ), f"{where}: {got.stderr}"
    return got


def _counts(summary: str) -> list[int]:
    return [int(word) for word in summary.split() if word.isdigit()]


def _check_counts(got: list[int], clean: list[int], exact: bool, where: str) -> None:
    """The summary counts the work of the broken try too, and nothing twice."""
    assert len(got) == len(clean), where
    assert all(g <= c for g, c in zip(got, clean, strict=True)), f"{where}: {got} > {clean}"
    if exact:
        assert got == clean, where


def _nothing_left_to_do(sc: Scenario, rc: Path, where: str) -> None:
    """A second run (in this process: cheaper) copies, flags and expunges nothing."""
    sc.relay.reset()
    config = parse_config(rc.read_text(), str(rc))
    result = run(config, [Target("test")], RunOptions())
    assert not result.errors, f"{where}: {result.errors}"
    assert not result.far_changed and not result.near_changed, where
    names = {name for _, name in sc.relay.commands}
    assert not {"APPEND", "UID STORE", "UID EXPUNGE"} & names, f"{where}: {names}"


def test_dead_server_fails_the_store_after_a_few_tries(
    tmp_path: Path, scenario: Scenario
) -> None:
    relay = scenario.relay
    relay.reset()
    rc, acct, root = scenario.fresh(tmp_path)
    assert _syncmail(rc).code == 0
    commands = [name for _, name in relay.commands]
    inside = commands.index("SELECT INBOX") + 2
    relay.reset(cut_at=inside, dead=True)
    rc, acct, root = scenario.fresh(tmp_path)
    # A second channel between two Maildirs, after the dead one: it still syncs.
    rc.write_text(rc.read_text() + _LOCAL_CHANNEL.format(root=root))
    deliver(root, "a", "L1")
    start = time.monotonic()
    got = _syncmail(rc)
    assert time.monotonic() - start < 20
    assert got.code == 1, got.stderr
    lines = got.stderr.strip().splitlines()
    assert any(line.startswith("Error: store remote: ") for line in lines), got.stderr
    assert lines[-1].startswith("syncmail: run failed: "), got.stderr
    assert "store(s) remote failed" in lines[-1]
    assert "Traceback" not in got.stderr
    # Every retry tried to connect again, and no more.
    assert relay.refused == len(RETRY_DELAYS), got.stderr
    assert set(files(root, "b")) == {"L1"}


_LOCAL_CHANNEL = """
MaildirStore a
Path {root}/a/
Inbox {root}/a/INBOX

MaildirStore b
Path {root}/b/
Inbox {root}/b/INBOX

Channel other
Far :a:
Near :b:
Create Both
SyncState *
"""


def test_server_not_there_at_all_is_not_retried(tmp_path: Path, scenario: Scenario) -> None:
    # Refused before anything was lost (offline, server down): the answer now, not after
    # the back-off.
    rc, acct, _root = scenario.fresh(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    rc.write_text(rc.read_text().replace(f"Port {acct.port}", f"Port {closed_port}"))
    got = _syncmail(rc)
    assert got.code == 1
    assert f"store remote: cannot connect to 127.0.0.1:{closed_port}" in got.stderr
    assert "again (retry" not in got.stderr


def test_refused_login_is_not_retried(tmp_path: Path, scenario: Scenario) -> None:
    # Last of the Dovecot tests here: Dovecot slows the next logins after a failed one.
    relay = scenario.relay
    relay.reset()
    rc, acct, root = scenario.fresh(tmp_path)
    rc.write_text(rc.read_text().replace(f"Pass {acct.password}", "Pass wrong-password"))
    got = _syncmail(rc)
    assert got.code == 1
    assert "login refused" in got.stderr
    assert relay.connections == 1
    assert "Notice: connection lost" not in got.stderr


# --- the relay's own parsing ---------------------------------------------------------------


def test_relay_counts_commands_not_literals() -> None:
    parser = CommandParser()
    stream = (
        b"A1 LOGIN u p\r\n"
        b"A2 APPEND INBOX (\\Seen) {12+}\r\nA3 NOOP\r\nxyz (\\Seen) {6}\r\n"
        b"A4 X\r\n\r\n"
        b"A5 UID FETCH 1:* (FLAGS)\r\n"
    )
    events: list[tuple[bytes, str]] = []
    for i in range(0, len(stream), 7):  # in small pieces, as TCP may deliver it
        events += parser.feed(stream[i : i + 7])
    assert b"".join(piece for piece, _ in events) == stream
    starts = [piece for piece, event in events if "start" in event]
    assert starts == [b"A1 LOGIN u p\r\n", b"A2 APPEND INBOX (\\Seen) {12+}\r\n",
                      b"A5 UID FETCH 1:* (FLAGS)\r\n"]  # fmt: skip
    assert sum("end" in event for _, event in events) == 3
