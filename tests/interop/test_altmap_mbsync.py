"""syncmail and the real mbsync (Debian's 1.4.4) take turns on AltMap Maildirs (UIDs in
``.isyncuidmap.db``) through a Maildir<->Maildir channel, both ways round; and isync's
mdconvert turns a box syncmail made into native names with the same UIDs."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.interop.test_mbsync_interop import run_syncmail
from tests.unit.engine_support import maildir_pair_rc
from tests.unit.test_maildir_mbsync_compat import MAILDIR_CHANNEL
from tests.unit.test_maildir_mbsync_compat import mbsync as run_maildir_mbsync

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync (isync) is not installed"),
]
bdb = pytest.importorskip("berkeleydb.db", reason="berkeleydb (syncmail[altmap]) not installed")

BOXES = ("INBOX", "lists/python")


def setup_root(root: Path) -> None:
    alt = "AltMap yes\n"
    rc = maildir_pair_rc(root, MAILDIR_CHANNEL, channel="c", far_extra=alt, near_extra=alt)
    (root / "rc").write_text(rc)
    (root / "near").mkdir()
    for box in BOXES:
        for sub in ("cur", "new", "tmp"):
            (root / "far" / box / sub).mkdir(parents=True)
        for i in range(3):
            deliver(root, "far", box, i, seen=i == 1)


def deliver(root: Path, side: str, box: str, i: int, seen: bool = False) -> None:
    """A message as a delivery agent writes it: no UID anywhere."""
    sub, info = ("cur", ":2,S") if seen else ("new", "")
    name = f"17000000{i:02d}.M{i}P{len(box)}.mda{info}"
    data = f"Subject: {box} {i}\nMessage-ID: <{i}@{box}>\n\nbody {i}\n".encode()
    (root / side / box / sub / name).write_bytes(data)


def mbsync(root: Path) -> None:
    proc = run_maildir_mbsync(root)
    assert proc.returncode == 0, proc.stderr
    noise = [ln for ln in proc.stderr.splitlines() if "no UIDVALIDITY, creating new" not in ln]
    assert not noise, proc.stderr


def syncmail(root: Path) -> None:
    proc = run_syncmail(root / "rc")
    assert not proc.stderr.strip(), proc.stderr


def files(root: Path) -> dict[str, int]:
    """Every message file (path below root -> inode)."""
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and path.parent.name in ("cur", "new"):
            out[str(path.relative_to(root))] = path.stat().st_ino
    return out


def ids(root: Path, side: str, box: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for sub in ("cur", "new"):
        for path in (root / side / box / sub).iterdir():
            found[path.read_text().split("\n")[1]] += 1
    return found


def uid_db(root: Path, side: str, box: str) -> tuple[tuple[int, int], dict[str, int]]:
    """(UIDVALIDITY, highest UID) and file key -> UID of a box's database."""
    d = bdb.DB()
    d.open(str(root / side / box / ".isyncuidmap.db"), None, bdb.DB_HASH, bdb.DB_RDONLY)
    try:
        items = dict(d.items())
    finally:
        d.close()
    uv = struct.unpack("=II", items.pop(b"UIDVALIDITY"))
    return uv, {k.decode(): struct.unpack("=I", v)[0] for k, v in items.items()}


def dbs(root: Path) -> dict[tuple[str, str], tuple[tuple[int, int], dict[str, int]]]:
    return {(side, box): uid_db(root, side, box) for side in ("far", "near") for box in BOXES}


def pairs(root: Path, box: str) -> set[tuple[int, int, str]]:
    _, _, body = (root / "near" / box / ".mbsyncstate").read_text().partition("\n\n")
    out = set()
    for line in body.splitlines():
        far, near, flags = (line.split(" ") + [""])[:3]
        out.add((int(far), int(near), flags))
    return out


def assert_consistent(root: Path) -> None:
    """Only databases (no .uidvalidity, no ,U= names); every file has a UID and the
    state pairs every message of both sides, each exactly once."""
    assert not list(root.rglob(".uidvalidity"))
    assert not any(",U=" in p for p in files(root))
    for box in BOXES:
        assert ids(root, "far", box) == ids(root, "near", box)
        assert set(ids(root, "far", box).values()) == {1}
        state = pairs(root, box)
        for t, side in enumerate(("far", "near")):
            (_, nuid), keys = uid_db(root, side, box)
            on_disk = {
                p.name.split(":")[0]
                for sub in ("cur", "new")
                for p in (root / side / box / sub).iterdir()
            }
            assert set(keys) == on_disk
            assert sorted(keys.values()) == sorted(rec[t] for rec in state)
            assert max(keys.values()) <= nuid


def test_syncmail_continues_an_altmap_sync_of_mbsync(tmp_path: Path) -> None:
    setup_root(tmp_path)
    mbsync(tmp_path)
    assert_consistent(tmp_path)
    before = (files(tmp_path), dbs(tmp_path), {b: pairs(tmp_path, b) for b in BOXES})

    # syncmail with the same config: nothing copied again, no UID changed.
    syncmail(tmp_path)
    assert (files(tmp_path), dbs(tmp_path), {b: pairs(tmp_path, b) for b in BOXES}) == before

    # New mail on the far side and a flag on the near side: syncmail carries them over.
    deliver(tmp_path, "far", "INBOX", 7)
    near_new = tmp_path / "near/INBOX/new"
    first = sorted(near_new.iterdir())[0]
    first.rename(tmp_path / "near/INBOX/cur" / (first.name.split(":")[0] + ":2,F"))
    syncmail(tmp_path)
    assert_consistent(tmp_path)
    assert ids(tmp_path, "near", "INBOX")["Message-ID: <7@INBOX>"] == 1
    assert any(n.endswith(":2,F") for n in os.listdir(tmp_path / "far/INBOX/cur"))

    # mbsync finds nothing left to do.
    after = (files(tmp_path), dbs(tmp_path), {b: pairs(tmp_path, b) for b in BOXES})
    mbsync(tmp_path)
    assert (files(tmp_path), dbs(tmp_path), {b: pairs(tmp_path, b) for b in BOXES}) == after


def test_mbsync_continues_an_altmap_sync_of_syncmail(tmp_path: Path) -> None:
    setup_root(tmp_path)
    syncmail(tmp_path)
    assert_consistent(tmp_path)
    assert (tmp_path / "near/lists/python/.isyncuidmap.db").exists()
    before = (files(tmp_path), dbs(tmp_path), {b: pairs(tmp_path, b) for b in BOXES})
    mbsync(tmp_path)
    assert (files(tmp_path), dbs(tmp_path), {b: pairs(tmp_path, b) for b in BOXES}) == before

    # mbsync's own changes after that come back through syncmail.
    deliver(tmp_path, "near", "lists/python", 9)
    mbsync(tmp_path)
    assert_consistent(tmp_path)
    before = (files(tmp_path), dbs(tmp_path), {b: pairs(tmp_path, b) for b in BOXES})
    syncmail(tmp_path)
    assert (files(tmp_path), dbs(tmp_path), {b: pairs(tmp_path, b) for b in BOXES}) == before


@pytest.mark.skipif(shutil.which("mdconvert") is None, reason="mdconvert (isync) not installed")
def test_mdconvert_reads_the_uids_syncmail_wrote(tmp_path: Path) -> None:
    setup_root(tmp_path)
    syncmail(tmp_path)
    _, keys = uid_db(tmp_path, "near", "INBOX")
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "near/INBOX", copy)
    subprocess.run(["mdconvert", "-n", str(copy)], check=True, capture_output=True, timeout=60)
    assert not (copy / ".isyncuidmap.db").exists()
    converted = {}
    for sub in ("cur", "new"):
        for path in (copy / sub).iterdir():
            base, _, rest = path.name.partition(",U=")
            converted[base] = int(rest.split(":")[0])
    assert converted == keys
