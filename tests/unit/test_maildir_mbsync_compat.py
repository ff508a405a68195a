"""The real mbsync and our Maildir store take turns on the same Maildirs (Maildir<->Maildir
channel): each accepts the other's files, ``,U=`` names and ``.uidvalidity``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from syncmail import flags as F
from syncmail.config.model import Location, MaildirStoreConfig
from syncmail.store.base import FlagChange, ListRequest, OutgoingMessage
from syncmail.store.maildir import MaildirStore
from tests.unit.engine_support import maildir_pair_rc

MAILDIR_CHANNEL = "Create Both\nSync All\nExpunge Both\n"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync (isync) not installed"),
]



def store(root: Path, side: str) -> MaildirStore:
    cfg = MaildirStoreConfig(
        name=side,
        defined_at=Location("rc", 1),
        path=f"{root}/{side}/",
        inbox=f"{root}/{side}/INBOX",
        subfolders="verbatim",
    )
    st = MaildirStore(cfg, fsync=False)
    st.connect()
    return st


def mbsync(root: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        # -Tz: no sleeping after recent directory changes (mbsync's test flag).
        ["mbsync", "-Tz", "-c", str(root / "rc"), "-a"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result


def state_pairs(path: Path) -> tuple[dict[str, str], list[tuple[int, int, str]]]:
    header, _, body = path.read_text().partition("\n\n")
    fields = dict(line.split(" ", 1) for line in header.splitlines())
    pairs = []
    for line in body.splitlines():
        far, near, flags = (line.split(" ") + [""])[:3]
        pairs.append((int(far), int(near), flags))
    return fields, pairs


def subjects(st: MaildirStore, box: str) -> dict[str, int]:
    b = st.open_box(box)
    try:
        listed = b.list_messages(ListRequest())
        out = {}
        for fetched in b.fetch_messages(sorted(listed)):
            subject = next(
                line for line in fetched.data.split(b"\n") if line.startswith(b"Subject: ")
            )
            out[subject[9:].decode()] = fetched.flags
        return out
    finally:
        b.close()


def test_mbsync_and_syncmail_take_turns(tmp_path: Path) -> None:
    (tmp_path / "rc").write_text(maildir_pair_rc(tmp_path, MAILDIR_CHANNEL, channel="c"))
    (tmp_path / "near").mkdir()
    far = store(tmp_path, "far")
    uidvalidities = {}
    for box in ("INBOX", "Sent", "lists/python"):
        b = far.open_box(box, create=True)
        stored = list(
            b.store_messages(
                OutgoingMessage(
                    f"Subject: {box} {i}\nMessage-ID: <{i}@{box}>\n\nbody\n".encode(),
                    F.SEEN if i % 2 else F.FLAGGED,
                )
                for i in range(3)
            )
        )
        assert [s.uid for s in stored] == [1, 2, 3]
        uidvalidities[box] = b.status.uidvalidity
        b.close()

    # 1. mbsync reads the files and .uidvalidity we wrote.
    first = mbsync(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "error" not in first.stderr.lower()
    for box in ("INBOX", "Sent", "lists/python"):
        fields, pairs = state_pairs(tmp_path / "near" / box / ".mbsyncstate")
        assert int(fields["FarUidValidity"]) == uidvalidities[box]
        assert [(f, n) for f, n, _ in pairs] == [(1, 1), (2, 2), (3, 3)]

    # 2. We read the files and .uidvalidity mbsync wrote.
    near = store(tmp_path, "near")
    assert near.list_boxes() == ["INBOX", "Sent", "lists/python"]
    b = near.open_box("INBOX")
    fields, _ = state_pairs(tmp_path / "near/INBOX/.mbsyncstate")
    assert b.status.uidvalidity == int(fields["NearUidValidity"])
    listed = b.list_messages(ListRequest(tuid_from=1))
    assert sorted(listed) == [1, 2, 3]
    assert [listed[u].flags for u in (1, 2, 3)] == [F.FLAGGED, F.SEEN, F.FLAGGED]
    # mbsync gave every copy an X-TUID: we find it.
    assert all(info.tuid and len(info.tuid) == 12 for info in listed.values())

    # 3. We change the near side: a flag, a new message, a delivery without UID.
    b.set_flags([FlagChange(1, add=F.REPLIED, remove=0)])
    [new] = list(b.store_messages([OutgoingMessage(b"Subject: from syncmail\n\nhi\n", 0)]))
    assert new.uid == 4
    (tmp_path / "near/INBOX/new/1800000000.M1P2.mda").write_bytes(b"Subject: delivered\n\nx\n")
    listed = b.list_messages(ListRequest())
    assert sorted(listed) == [1, 2, 3, 4, 5]
    b.close()

    second = mbsync(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "error" not in second.stderr.lower()
    assert subjects(far, "INBOX") == {
        "INBOX 0": F.FLAGGED | F.REPLIED,
        "INBOX 1": F.SEEN,
        "INBOX 2": F.FLAGGED,
        "from syncmail": 0,
        "delivered": 0,
    }
    _, pairs = state_pairs(tmp_path / "near/INBOX/.mbsyncstate")
    assert sorted(n for _, n, _ in pairs) == [1, 2, 3, 4, 5]

    # 4. A file copied in by another tool keeps its foreign UID: mbsync refuses the box,
    # we heal it, and mbsync is happy again.
    sent_file = next((tmp_path / "near/Sent/cur").iterdir())
    shutil.copy(sent_file, tmp_path / "near/INBOX/cur" / sent_file.name.replace("_", "_9", 1))
    refused = mbsync(tmp_path)
    assert refused.returncode != 0
    assert "duplicate UID" in refused.stderr
    b = near.open_box("INBOX")
    listed = b.list_messages(ListRequest())
    assert sorted(listed) == [1, 2, 3, 4, 5, 6]
    b.close()
    healed = mbsync(tmp_path)
    assert healed.returncode == 0, healed.stderr
    assert "Sent 1" in subjects(far, "INBOX")
    assert (
        len(os.listdir(tmp_path / "far/INBOX/cur")) + len(os.listdir(tmp_path / "far/INBOX/new"))
        == 6
    )
    far.close()
    near.close()
