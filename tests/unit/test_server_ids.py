"""The server's own message ids as a listing reads them (EMAILID, X-GUID), each with
its kind, and their notes file across the change of format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncmail.store.imapbox import _info
from syncmail.store.imapwire import parse_fetch
from syncmail.sync import objectids


@pytest.mark.parametrize(
    ("line", "oid"),
    [
        (b"1 (UID 5 FLAGS () EMAILID (M6d99ac3275bb4e))", "e:M6d99ac3275bb4e"),
        # Dovecot's Maildir: the base name, dots, commas and all.
        (
            b"1 (UID 5 X-GUID 1796413964.M3393P20156.vm,S=14,W=17 FLAGS ())",
            "x:1796413964.M3393P20156.vm,S=14,W=17",
        ),
        # mdbox: a GUID in hex; one of digits only reads as a number.
        (
            b"1 (UID 5 X-GUID 0b4fd3216be3c3651f0000a8e4f7e3c0)",
            "x:0b4fd3216be3c3651f0000a8e4f7e3c0",
        ),
        (b"1 (UID 5 X-GUID 12345)", "x:12345"),
        (b'1 (UID 5 X-GUID "a quoted guid")', None),  # a space: not an id we trust
        (b'1 (UID 5 X-GUID "")', None),
        (b"1 (UID 5 X-GUID NIL)", None),
        (b"1 (UID 5 EMAILID (M1 M2))", None),
        (b"1 (UID 5 EMAILID (bad.id))", None),
        (b"1 (UID 5 FLAGS ())", None),
    ],
)
def test_object_id_of_a_listing(line: bytes, oid: str | None) -> None:
    [item] = parse_fetch([line])
    assert _info(5, item).object_id == oid


def test_notes_of_bare_emailids_are_dropped(tmp_path: Path) -> None:
    """Version 1 noted EMAILIDs without their kind: taken for ids of any kind they could
    match an X-GUID by chance, so they are void (moves go by Message-ID once)."""
    path = str(tmp_path / "s.syncmail-emailids")
    Path(path).write_text(json.dumps({"version": 1, "far": {"uidvalidity": 7, "ids": {"1": "E"}}}))
    assert objectids.load(path, "far", 7) == {}
    objectids.save(path, "far", 7, {1: "x:G"})
    objectids.save(path, "near", 9, {2: "e:E"})
    assert objectids.load(path, "far", 7) == {1: "x:G"}
    assert objectids.load(path, "near", 9) == {2: "e:E"}
