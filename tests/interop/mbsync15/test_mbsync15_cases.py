"""The three cases of issue 13, as a new user met them, synced by both tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.mbsync15.compare import run_fixed
from tests.interop.mbsync15.scenario import PAST, Change, Options

pytestmark = pytest.mark.interop


def add(side: str, box: str, mid: str, flags: str = "S") -> Change:
    return Change("add", side, box, mid, flags, "cur", PAST + len(mid))


def check(tmp_path: Path, binary: str, o: Options, first: list[Change], later: list[list[Change]]):
    outcome = run_fixed(tmp_path, binary, o, first, later)
    assert outcome.agree, "\n".join(outcome.log + outcome.differences)


def test_unpushed_near_mail_raises_max_pushed(tmp_path: Path, mbsync15: str) -> None:
    """Sync Pull New Flags: mail delivered near is not pushed, but MaxPushedUid covers
    it, so a later Sync All treats it as old (and does not push it)."""
    o = Options(lines=["Sync Pull New Flags", "Expunge Far", "Create Both"])
    first = [add("far", "INBOX", f"far{n}") for n in range(3)]
    later = [
        [add("near", "INBOX", "near1", ""), add("near", "INBOX", "near2")],
        [add("far", "INBOX", "far9")],
        [Change("sync", flags="All")],
    ]
    check(tmp_path, mbsync15, o, first, later)


def test_new_far_box_of_an_existing_near_box(tmp_path: Path, mbsync15: str) -> None:
    """Create Both (global), Expunge Both: mail added to a far box that exists near
    but not yet far."""
    o = Options(lines=["Expunge Both"], glob=["Create Both"])
    first = [add("far", "INBOX", "in1"), add("near", "Work", "w1"), add("near", "Work", "w2")]
    later = [[add("far", "Work", "w3", "")], [add("near", "Work", "w4", "")]]
    check(tmp_path, mbsync15, o, first, later)
    first = [add("near", "Work", "w1"), add("far", "Work", "w3", "")]
    check(tmp_path / "b", mbsync15, o, first, [[add("far", "Work", "w4")]])


def test_far_deletion_under_max_messages(tmp_path: Path, mbsync15: str) -> None:
    """Sync Pull, MaxMessages 3, ExpireUnread yes: a far deletion leaves the pair
    record as it was (the orphaning is pre-commit only)."""
    o = Options(lines=["Sync Pull", "MaxMessages 3", "ExpireUnread yes"])
    first = [add("far", "INBOX", f"m{n}", "S" if n % 2 else "") for n in range(6)]
    later = [[Change("delete", "far", "INBOX", "m5")], [Change("delete", "far", "INBOX", "m4")]]
    check(tmp_path, mbsync15, o, first, later)
