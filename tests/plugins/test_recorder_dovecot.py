"""An entry-point plugin records every hook call of real ``syncmail -a`` runs against Dovecot.

The ``recorder`` package (tests/plugins/recorder_plugin) is installed like any third-party
plugin; the test runs the real command in a subprocess and checks what the plugin heard:
every event with its arguments, in the documented order, each once, and only after the
box's sync state was committed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from syncmail.flags import to_letters
from syncmail.sync.state import parse_state
from tests.unit.engine_support import deliver, files, set_flags

pytestmark = pytest.mark.dovecot

EVENT_HOOKS = ("syncmail_new_message", "syncmail_flags_changed", "syncmail_message_removed")
INSTALL = "pip install --no-deps -e tests/plugins/recorder_plugin"


@pytest.fixture(autouse=True)
def _recorder_installed() -> None:
    names = {ep.name for ep in importlib.metadata.entry_points(group="syncmail")}
    assert "recorder" in names, f"the recorder test plugin is not installed: {INSTALL}"


def _msg(subject: str) -> bytes:
    return (
        f"From: t@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n"
        f"\r\nbody of {subject}\r\n"
    ).encode()


def _config(root: Path, user: Any) -> Path:
    (root / "near").mkdir()
    path = root / "mbsyncrc"
    path.write_text(
        f"""FSync no

IMAPAccount acct
Host {user.host}
Port {user.port}
User {user.name}
Pass {user.password}
TLSType None
AuthMechs LOGIN

IMAPStore remote
Account acct

MaildirStore local
Path {root}/near/
Inbox {root}/near/INBOX
SubFolders Verbatim

Channel test
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""
    )
    return path


class Runner:
    """Runs ``python -m syncmail -c RC ... -a`` with the recorder on; returns its records."""

    def __init__(self, root: Path, config: Path, password: str) -> None:
        self.root = root
        self.config = config
        self.password = password
        self.log = root / "recorded.jsonl"
        self.states = {box: str(root / "near" / box / ".mbsyncstate") for box in BOXES}
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("NOTMUCH_", "SYNCMAIL_", "XDG_"))
        }
        # A HOME of our own: no ~/.syncmail-pause, no notmuch config, no mbsyncrc.
        env.update(
            HOME=str(root),
            SYNCMAIL_RECORDER_LOG=str(self.log),
            SYNCMAIL_RECORDER_WATCH=os.pathsep.join(self.states.values()),
        )
        self.env = env

    def __call__(self, *args: str) -> list[dict[str, Any]]:
        proc = subprocess.run(
            [sys.executable, "-m", "syncmail", "-c", str(self.config), *args, "-a"],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr and "plugin recorder" not in proc.stderr
        text = self.log.read_text()
        self.log.unlink()
        assert self.password not in text and self.password not in proc.stderr
        records = [json.loads(line) for line in text.splitlines()]
        assert {r["pid"] for r in records} == {records[0]["pid"]}
        return records


BOXES = ("INBOX", "Archive")


def _server_uids(user: Any, box: str = "INBOX") -> dict[str, int]:
    """subject -> UID on the server."""
    c = user.client()
    try:
        c.select_folder(box, readonly=True)
        uids = c.search("ALL")
        out: dict[str, int] = {}
        for uid, data in c.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]).items():
            header = next(v for k, v in data.items() if k.startswith(b"BODY"))
            out[header.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()] = uid
        return out
    finally:
        c.logout()


def _server_flag(user: Any, subject: str, flag: str) -> None:
    c = user.client()
    try:
        c.select_folder("INBOX")
        c.add_flags(c.search(["HEADER", "Subject", subject]), [flag])
    finally:
        c.logout()


def _near_uid(path: Path) -> int:
    return int(path.name.split(",U=", 1)[1].split(":", 1)[0])


def _pairs(record: dict[str, Any], runner: Runner, box: str) -> dict[tuple[int, int], str]:
    """(far UID, near UID) -> synced flags of the state file as the plugin saw it."""
    seen = record["watched"][runner.states[box]]
    # Committed: the state file is written, its .new renamed and the journal gone.
    assert not seen["new_exists"] and not seen["journal_exists"], record
    assert seen["state"] is not None, record
    state = parse_state(seen["state"].encode(), runner.states[box])
    return {(r.far_uid, r.near_uid): to_letters(r.flags) for r in state.records}


def _check_frame(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run hooks in their order around the events; returns the event records."""
    hooks = [r["hook"] for r in records]
    assert hooks[0] == "syncmail_config_keywords"
    assert hooks[1] == "syncmail_pre_sync"
    assert hooks[-1] == "syncmail_post_sync"
    counts = Counter(hooks)
    for once in ("syncmail_config_keywords", "syncmail_pre_sync", "syncmail_post_sync"):
        assert counts[once] == 1, hooks
    assert set(hooks) <= {*EVENT_HOOKS, "syncmail_config_keywords", "syncmail_pre_sync",
                          "syncmail_post_sync", "syncmail_get_credentials"}, hooks
    pre = records[1]["args"]
    assert pre["targets"] == [["test", None]] and pre["channels"] == ["test"]
    assert Path(pre["config"]).name == "mbsyncrc"
    # The credentials are asked for once per kind, before any event and for the account.
    creds = [r["args"]["request"] for r in records if r["hook"] == "syncmail_get_credentials"]
    assert [(c["account"], c["kind"]) for c in creds] == [("acct", "user"), ("acct", "password")]
    first_event = next((i for i, h in enumerate(hooks) if h in EVENT_HOOKS), len(hooks) - 1)
    assert max(i for i, h in enumerate(hooks) if h == "syncmail_get_credentials") < first_event
    events = [r for r in records if r["hook"] in EVENT_HOOKS]
    # Nothing twice: every event names a distinct (hook, box, side, UID).
    keys = [(r["hook"], r["args"]["event"]["box"], r["args"]["event"]["side"],
             r["args"]["event"]["uid"]) for r in events]
    assert len(keys) == len(set(keys)), keys
    # Box by box, in the order the boxes were synced (INBOX first).
    boxes = [r["args"]["event"]["box"] for r in events]
    assert boxes == sorted(boxes, key=BOXES.index), boxes
    for r in events:
        event = r["args"]["event"]
        assert event["channel"] == "test"
        assert event["store"] == {"far": "remote", "near": "local"}[event["side"]]
    return events


def _summary(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    summary = records[-1]["args"]["summary"]
    assert summary["channels"] == 1 and summary["errors"] == [] and not summary["dry_run"]
    boxes = {b["box"]: b for b in summary["boxes"]}
    assert [b["box"] for b in summary["boxes"]] == list(BOXES)
    for b in boxes.values():
        assert b["channel"] == "test" and b["error"] is None
    return boxes


COUNTS = ("pulled_new", "pushed_new", "pulled_flags", "pushed_flags", "expunged_far",
          "expunged_near", "trashed_far", "trashed_near")


def _counts(**nonzero: int) -> dict[str, int]:
    return {k: nonzero.get(k, 0) for k in COUNTS}


def _numbers(box: dict[str, Any]) -> dict[str, int]:
    # The counts this test knows; BoxResult may gain more (events.py grows additively).
    return {k: box[k] for k in COUNTS}


def _first_run(tmp_path: Path, imap_user: Any) -> tuple[Runner, list[dict[str, Any]]]:
    """Pull three new messages (and one in a box that is created), push one."""
    imap_user.append("INBOX", _msg("A"), ("\\Seen",))
    imap_user.append("INBOX", _msg("B"))
    imap_user.append("INBOX", _msg("C"), ("\\Flagged",))
    imap_user.append("Archive", _msg("L1"))
    config = _config(tmp_path, imap_user)
    deliver(tmp_path, "near", "N1", "S")
    run = Runner(tmp_path, config, imap_user.password)
    return run, run()


def test_recorder_hears_every_event_of_real_syncs(tmp_path: Path, imap_user: Any) -> None:
    # --- 1: pull three new messages (and one in a box that is created), push one ------
    run, records = _first_run(tmp_path, imap_user)
    events = _check_frame(records)
    assert {r["hook"] for r in events} == {"syncmail_new_message"}
    far = {"INBOX": _server_uids(imap_user), "Archive": _server_uids(imap_user, "Archive")}
    near = {box: files(tmp_path, "near", box) for box in BOXES}
    got = {}
    for r in events:
        event = r["args"]["event"]
        assert event["type"] == "NewMessage"
        box, side = event["box"], event["side"]
        pairs = _pairs(r, run, box)
        if side == "near":
            # A new file: it exists when the plugin hears of it, and it is the copy.
            path = Path(event["path"])
            assert event["path_exists"] and path.parent.parent == tmp_path / "near" / box
            subject = next(s for s, p in near[box].items() if p == path)
            assert event["uid"] == _near_uid(path)
            assert event["source_uid"] == far[box][subject]
            pair = (event["source_uid"], event["uid"])
        else:
            assert event["path"] is None and not event["path_exists"]
            subject = next(s for s, uid in far[box].items() if uid == event["uid"])
            assert event["source_uid"] == _near_uid(near[box][subject])
            pair = (event["uid"], event["source_uid"])
        # Delivered after the commit: the pair is in the state file already.
        assert pair in pairs, (event, pairs)
        got[(box, side, subject)] = event["flags"]
    assert got == {
        ("INBOX", "near", "A"): "S",
        ("INBOX", "near", "B"): "",
        ("INBOX", "near", "C"): "F",
        ("INBOX", "far", "N1"): "S",
        ("Archive", "near", "L1"): "",
    }
    boxes = _summary(records)
    assert _numbers(boxes["INBOX"]) == _counts(pulled_new=3, pushed_new=1)
    assert _numbers(boxes["Archive"]) == _counts(pulled_new=1)

    # --- 2: flags both ways, a deletion on each side, Expunge Both -------------------
    near_uid = {s: _near_uid(p) for s, p in near["INBOX"].items()}
    far_uid = far["INBOX"]
    _server_flag(imap_user, "A", "\\Flagged")
    _server_flag(imap_user, "C", "\\Deleted")
    set_flags(near["INBOX"]["B"], "RS")
    near["INBOX"]["N1"].unlink()
    records = run()
    events = _check_frame(records)
    for r in events:
        pairs = _pairs(r, run, "INBOX")
        event = r["args"]["event"]
        if r["hook"] == "syncmail_flags_changed":
            subject = next(
                s for s, uid in (near_uid if event["side"] == "near" else far_uid).items()
                if uid == event["uid"]
            )
            key = (far_uid[subject], near_uid[subject])
            if subject in ("A", "B"):
                # Committed with the new flags.
                assert pairs[key] == event["new_flags"], (event, pairs)
            else:
                assert key not in pairs  # deleted and expunged in the same run
    flags = sorted(
        (e["side"], e["uid"], e["old_flags"], e["new_flags"], e["changed_on"], e["type"])
        for e in (r["args"]["event"] for r in events if r["hook"] == "syncmail_flags_changed")
    )
    assert flags == sorted(
        [
            ("near", near_uid["A"], "S", "FS", "far", "FlagsChanged"),
            ("far", far_uid["B"], "", "RS", "near", "FlagsChanged"),
            # A deletion travels as \Deleted (T) first, then both copies are expunged.
            ("near", near_uid["C"], "F", "FT", "far", "FlagsChanged"),
            ("far", far_uid["N1"], "S", "ST", "near", "FlagsChanged"),
        ]
    )
    changed = {
        (e["side"], e["uid"]): e
        for e in (r["args"]["event"] for r in events if r["hook"] == "syncmail_flags_changed")
    }
    renamed = changed[("near", near_uid["A"])]
    assert renamed["path_exists"] and renamed["path"].endswith(":2,FS")
    assert files(tmp_path, "near")["A"] == Path(renamed["path"])
    assert changed[("far", far_uid["B"])]["path"] is None
    removed = sorted(
        (e["side"], e["uid"], e["trashed"], e["path"] is not None, e["type"])
        for e in (r["args"]["event"] for r in events if r["hook"] == "syncmail_message_removed")
    )
    assert removed == sorted(
        [
            ("far", far_uid["C"], False, False, "MessageRemoved"),
            ("far", far_uid["N1"], False, False, "MessageRemoved"),
            ("near", near_uid["C"], False, True, "MessageRemoved"),
        ]
    )
    gone = next(
        r["args"]["event"] for r in events
        if r["hook"] == "syncmail_message_removed" and r["args"]["event"]["side"] == "near"
    )
    # The path the file had last (after its T rename), no longer there.
    assert gone["path"] == changed[("near", near_uid["C"])]["path"]
    assert not gone["path_exists"] and not Path(gone["path"]).exists()
    assert set(_server_uids(imap_user)) == {"A", "B"}
    assert set(files(tmp_path, "near")) == {"A", "B"}
    boxes = _summary(records)
    assert _numbers(boxes["INBOX"]) == _counts(
        pulled_flags=2, pushed_flags=2, expunged_far=2, expunged_near=1
    )
    assert _numbers(boxes["Archive"]) == _counts()

    # --- 3: nothing changed: no message events; -p loads the recorder alone ----------
    records = run("-p", "recorder")
    assert _check_frame(records) == []
    boxes = _summary(records)
    assert all(_numbers(b) == _counts() for b in boxes.values())


def test_new_message_events_carry_the_message_id(tmp_path: Path, imap_user: Any) -> None:
    run, records = _first_run(tmp_path, imap_user)
    got = {}
    for r in records:
        if r["hook"] == "syncmail_new_message":
            event = r["args"]["event"]
            got[(event["side"], event["box"], event["uid"])] = event["message_id"]
    near = {s: _near_uid(p) for s, p in files(tmp_path, "near").items()}
    far = _server_uids(imap_user)
    assert got == {
        ("near", "INBOX", near["A"]): "<A@example.org>",
        ("near", "INBOX", near["B"]): "<B@example.org>",
        ("near", "INBOX", near["C"]): "<C@example.org>",
        ("far", "INBOX", far["N1"]): "<N1@example.org>",
        ("near", "Archive", _near_uid(files(tmp_path, "near", "Archive")["L1"])): (
            "<L1@example.org>"
        ),
    }
