"""Mailbox names from a server that cannot be trusted: each dangerous one is skipped with
a warning naming it, nothing is written outside the Maildir root, the others sync."""

from __future__ import annotations

import os
from pathlib import Path

from tests.hostile.conftest import run_syncmail, write_rc
from tests.hostile.server import Box, HostileServer
from tests.hostile.test_hostile_server import assert_clean, count, messages

DANGEROUS = {
    "..": b"..",
    "../evil": b"../evil",
    "a/../../evil": b"a/../../evil",
    "/abs/evil": b"/abs/evil",
    "cur": b"cur",
    "Good/new": b"Good/new",
    "tmp/x": b"tmp/x",
    "nul": b"bad\x00name",
    "newline": b"bad\nname",
    "cr": b"bad\rname",
    "long": b"L" * 5000,
    "long component": b"x/" + b"C" * 300,
    "broken utf-7": b"&Jjo",
    "utf-7 dot-dot": b"&AC4ALg-",  # ".." in modified UTF-7
}


def test_dangerous_names_are_skipped_one_by_one(tmp_path: Path) -> None:
    boxes = [Box("INBOX", messages(2)), Box("Good", messages(3))]
    for raw in DANGEROUS.values():
        boxes.append(Box(raw.decode("latin-1"), messages(1), raw_name=raw))
    with HostileServer(boxes) as server:
        run = run_syncmail(write_rc(tmp_path, server.port), "-a")
    assert_clean(run)
    assert run.returncode == 0, run.stderr
    root = tmp_path / "mail"
    assert count(root, "INBOX") == 2 and count(root, "Good") == 3
    warnings = [ln for ln in run.stderr.splitlines() if "ignoring mailbox" in ln]
    assert len(warnings) == len(DANGEROUS), run.stderr
    assert all(ln.startswith("Warning: store far: ignoring mailbox ") for ln in warnings)
    assert all(len(ln) < 300 for ln in warnings), "a long name is shortened in its warning"
    # Nothing but the config and the Maildir tree; in the tree only the two boxes (Good's
    # new/ and cur/ are its own) and syncmail's and mbsync's files.
    assert sorted(os.listdir(tmp_path)) == ["mail", "rc"]
    assert sorted(os.listdir(root)) == ["Good", "INBOX"]
    for box in ("Good", "INBOX"):
        assert sorted(p.name for p in (root / box).iterdir() if p.is_dir()) == [
            "cur", "new", "tmp"
        ]
