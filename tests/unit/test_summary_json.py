"""``--summary-json``: the run's summary as JSON, through the real command line."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

from tests.clirun import invoke
from tests.unit.engine_support import deliver, maildir_pair_rc


def _setup(tmp_path: Path) -> Path:
    rc = tmp_path / "rc"
    rc.write_text(maildir_pair_rc(tmp_path, "Create Both"))
    for subject in ("A", "B"):
        deliver(tmp_path, "far", subject)
    deliver(tmp_path, "near", "C", box="Work")
    return rc


def test_summary_json_to_a_file_beside_the_text_summary(tmp_path: Path) -> None:
    rc = _setup(tmp_path)
    out = tmp_path / "summary.json"
    result = invoke("-c", str(rc), "--summary-json", str(out), "-a")
    assert result.exit_code == 0, result.output
    assert "pulled 2 new message(s)" in result.stdout  # the text summary is kept
    data = json.loads(out.read_text())
    assert data["ok"] is True and data["errors"] == [] and data["channels"] == 1
    boxes = {b["box"]: b for b in data["boxes"]}
    assert (boxes["INBOX"]["pulled_new"], boxes["Work"]["pushed_new"]) == (2, 1)
    assert all(b["error"] is None and b["seconds"] >= 0 for b in boxes.values())
    assert not list(tmp_path.glob("summary.json.tmp*"))


def test_summary_json_on_stdout_replaces_the_text(tmp_path: Path) -> None:
    rc = _setup(tmp_path)
    result = invoke("-c", str(rc), "--summary-json=-", "-a")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sum(b["pulled_new"] for b in data["boxes"]) == 2


def test_an_unwritable_summary_fails_the_run(tmp_path: Path) -> None:
    rc = _setup(tmp_path)
    result = invoke("-c", str(rc), "--summary-json", str(tmp_path / "no/such/dir/x"), "-a")
    assert result.exit_code == 1
    assert "cannot write the JSON summary to" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("syncmail: run failed:")


def test_a_failed_box_is_in_the_json(tmp_path: Path) -> None:
    rc = _setup(tmp_path)
    # A state file that cannot be parsed fails its box pair (and only it).
    invoke("-c", str(rc), "-a")
    (tmp_path / "near/Work/.mbsyncstate").write_text("garbage\n")
    result = invoke("-c", str(rc), "--summary-json=-", "-a")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["ok"] is False and len(data["errors"]) == 1
    boxes = {b["box"]: b for b in data["boxes"]}
    assert boxes["Work"]["error"] and boxes["INBOX"]["error"] is None


def test_summary_json_needs_its_argument() -> None:
    result = invoke("--summary-json")
    assert result.exit_code != 0 and "--summary-json requires an argument" in result.output


def test_moves_in_the_json_and_the_text(tmp_path: Path) -> None:
    """DetectMoves: the box a message moved into counts it (``moved``), and the text
    summary has the one extra line."""
    rc = tmp_path / "rc"
    rc.write_text(maildir_pair_rc(tmp_path, "Create Both\nExpunge Both\nDetectMoves yes"))
    for subject in ("A", "B"):
        deliver(tmp_path, "far", subject)
    deliver(tmp_path, "far", "C", box="Zoo")
    assert invoke("-c", str(rc), "-a").exit_code == 0
    out = tmp_path / "summary.json"
    result = invoke("-c", str(rc), "--summary-json", str(out), "-a")
    assert result.exit_code == 0 and "moved" not in result.stdout, result.output
    assert all(b["moved"] == 0 for b in json.loads(out.read_text())["boxes"])
    # A far move INBOX -> Zoo, as afew's MailMover makes it (a new name without ,U=).
    [b] = [p for p in (tmp_path / "far" / "INBOX").glob("*/*") if b"Subject: B" in p.read_bytes()]
    b.rename(tmp_path / "far" / "Zoo" / "cur" / "moved.B:2,")
    result = invoke("-c", str(rc), "--summary-json", str(out), "-a")
    assert result.exit_code == 0, result.output
    boxes = {b["box"]: b for b in json.loads(out.read_text())["boxes"]}
    assert (boxes["Zoo"]["moved"], boxes["Zoo"]["pulled_new"], boxes["INBOX"]["moved"]) == (1, 1, 0)
    assert result.stdout == (
        "Processed 2 box(es) in 1 channel(s),\n"
        "pulled 1 new message(s) and 1 flag update(s),\n"
        "expunged 1 message(s) from near side,\n"
        "pushed 0 new message(s) and 0 flag update(s),\n"
        "expunged 0 message(s) from far side.\n"
        "moved 1 message(s) between boxes without transferring them again.\n"
    ), result.stdout


def test_a_symlink_or_fifo_is_written_through_not_replaced(tmp_path: Path) -> None:
    """A status bar may read the summary through a symlink or a FIFO: the file it points
    to is replaced, the FIFO is written to, and neither is swapped for a plain file."""
    rc = _setup(tmp_path)
    real = tmp_path / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    result = invoke("-c", str(rc), "--summary-json", str(link), "-a")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and json.loads(real.read_text())["ok"] is True
    fifo = tmp_path / "bar.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = invoke("-c", str(rc), "--summary-json", str(fifo), "-a")
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and json.loads(got[0])["ok"] is True
