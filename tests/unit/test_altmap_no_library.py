"""Without the ``berkeleydb`` package (syncmail[altmap]) a box that needs mbsync's AltMap
database fails alone, in one line that says how to fix it, and nothing in it is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.engine_support import maildir_pair_rc

ROOT = Path(__file__).resolve().parents[2]

# The import of berkeleydb fails in the child, whether or not it is installed here.
_BLOCK = 'import sys; sys.modules["berkeleydb"] = None\n'

_OPEN_BOX = (
    _BLOCK
    + """
from syncmail.config.model import Location, MaildirStoreConfig
from syncmail.errors import SyncmailError
from syncmail.store.base import BoxMissing
from syncmail.store.maildir import MaildirStore
root, box, alt_map = sys.argv[1], sys.argv[2], sys.argv[3] == "yes"
create = sys.argv[4] == "create"
cfg = MaildirStoreConfig(name="far", defined_at=Location("rc", 1), path=root + "/",
                         inbox=root + "/INBOX", subfolders="verbatim", alt_map=alt_map)
store = MaildirStore(cfg, fsync=False)
store.connect()
try:
    store.open_box(box, create=create).close()
except SyncmailError as e:
    print(e)
except BoxMissing:
    print("missing")
"""
)

_CLI = _BLOCK + "from syncmail.cli import main\nsys.argv[0] = 'syncmail'\nmain()\n"



def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT / "plugins")]))


def _open_box(root: Path, box: str, alt_map: bool, create: bool = True) -> str:
    args = [str(root), box, "yes" if alt_map else "no", "create" if create else "open"]
    proc = subprocess.run(
        [sys.executable, "-c", _OPEN_BOX, *args],
        capture_output=True, text=True, timeout=60, env=_env(), check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return proc.stdout.strip()


def _tree(path: Path) -> list[tuple[str, int]]:
    return sorted((str(p), p.stat().st_mtime_ns) for p in path.rglob("*"))


def _make_box(path: Path, *files: str) -> None:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True)
    for name in files:
        (path / name).write_bytes(b"Subject: x\n\nbody\n")


def test_a_new_altmap_box_is_refused_before_it_is_made(tmp_path: Path) -> None:
    root = tmp_path / "mail"
    assert _open_box(root, "New", alt_map=True) == (
        f"Maildir store far, box New: {root}/New would get mbsync's AltMap database "
        "(.isyncuidmap.db, AltMap yes), which needs the Python package berkeleydb: "
        "pip install 'syncmail[altmap]' (needs libdb5.3-dev), or set AltMap no"
    )
    assert not root.exists()
    # A box that is not there is reported missing, as always (the engine may create it).
    assert _open_box(root, "New", alt_map=True, create=False) == "missing"


def test_a_database_box_is_refused_untouched_with_the_mdconvert_way_out(tmp_path: Path) -> None:
    box = tmp_path / "mail" / "Old"
    _make_box(box, "cur/1700000000.M1P1.mda:2,S", "tmp/1600000000.M1P1.mda")
    (box / ".isyncuidmap.db").write_bytes(b"")
    os.utime(box / "tmp/1600000000.M1P1.mda", (0, 0))
    before = _tree(box)
    line = _open_box(tmp_path / "mail", "Old", alt_map=False)
    assert line == (
        f"Maildir store far, box Old: {box} keeps its UIDs in mbsync's AltMap database "
        "(.isyncuidmap.db), which needs the Python package berkeleydb: "
        "pip install 'syncmail[altmap]' (needs libdb5.3-dev), "
        f"or convert the box with mdconvert -n '{box}' and set AltMap no"
    )
    assert _tree(box) == before
    # Native boxes never need the library, AltMap or not.
    assert _open_box(tmp_path / "mail", "Plain", alt_map=False) == ""
    assert (tmp_path / "mail/Plain/.uidvalidity").exists()
    _make_box(tmp_path / "mail/Native")
    (tmp_path / "mail/Native/.uidvalidity").write_text("1\n0\n")
    assert _open_box(tmp_path / "mail", "Native", alt_map=True) == ""


def test_the_cli_fails_only_those_boxes_in_one_line_each(tmp_path: Path) -> None:
    rc = maildir_pair_rc(tmp_path, "Create Both\n", channel="c", far_extra="AltMap yes\n")
    (tmp_path / "rc").write_text(rc)
    _make_box(tmp_path / "far/INBOX", "new/1700000000.M1P1.mda")
    _make_box(tmp_path / "far/Native", "new/1700000000.M1P1.mda")
    (tmp_path / "far/Native/.uidvalidity").write_text("1\n0\n")
    before = _tree(tmp_path / "far/INBOX")
    proc = subprocess.run(
        [sys.executable, "-c", _CLI, "-c", str(tmp_path / "rc"), "-a"],
        capture_output=True, text=True, timeout=60, env=_env(), check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    [line] = [ln for ln in proc.stderr.splitlines() if "berkeleydb" in ln]
    assert "box INBOX" in line and "pip install 'syncmail[altmap]'" in line
    # One error line for the box, then the run's verdict.
    assert proc.stderr.splitlines()[1:] == [
        "syncmail: run failed: 1 of 2 box(es) failed; see the errors above"
    ], proc.stderr
    assert _tree(tmp_path / "far/INBOX") == before
    # The native box went on: its message arrived on the near side.
    assert len(os.listdir(tmp_path / "near/Native/new")) == 1
