"""syncmail's notes beside a sync state (``<state>.syncmail*``) go with the state when both
boxes of the pair are gone, against a real Dovecot: nothing of the pair stays behind."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Target
from syncmail.config.parser import parse_config
from syncmail.sync.engine import RunOptions, run
from tests.dovecot.imap_helpers import write_config

pytestmark = pytest.mark.dovecot


def _sync(cfg: Path) -> None:
    config = parse_config(cfg.read_text(), str(cfg))
    result = run(config, [Target("test")], RunOptions())
    assert not result.errors, [str(e) for e in result.errors]


def _with_keywords(user: Any, box: str) -> None:
    c = user.client()
    c.create_folder(box)
    c.logout()
    user.append(box, b"Message-ID: <k@example.org>\r\nSubject: k\r\n\r\nbody\r\n", ("work",))


def _delete_on_server(user: Any, box: str) -> None:
    c = user.client()
    c.delete_folder(box)
    c.logout()


def _config(root: Path, user: Any, channel: str) -> Path:
    cfg = write_config(root, user, channel + "\nDetectMoves yes\nExpunge Both")
    letters = "SubFolders Verbatim\nKeywordLetters yes\n"
    cfg.write_text(cfg.read_text().replace("SubFolders Verbatim\n", letters))
    return cfg


def test_both_boxes_gone_takes_the_notes(tmp_path: Path, imap_user: Any) -> None:
    """A channel naming its boxes, both deleted: the state and every note of it go."""
    _with_keywords(imap_user, "Gone")
    state = tmp_path / "state"
    cfg = _config(tmp_path, imap_user, f"SyncState {state}/")
    text = cfg.read_text().replace("Far :remote:\nNear :local:\nPatterns *\n",
                                   "Far :remote:Gone\nNear :local:Gone\n")  # fmt: skip
    cfg.write_text(text.replace("SyncState *\n", ""))
    _sync(cfg)
    _sync(cfg)  # a run that finds nothing to do writes the fast-path notes
    notes = {p.name.split("Gone", 1)[1] for p in state.iterdir()}
    assert {"", ".syncmail", ".syncmail-keywords", ".syncmail-far"} <= notes, notes
    # What an interrupted run may leave: its move log, a half-written note.
    base = next(p for p in state.iterdir() if p.name.endswith("Gone"))
    for leftover in (".syncmail-moves", ".syncmail-keywords.tmp"):
        base.with_name(base.name + leftover).write_text("x\n")
    _delete_on_server(imap_user, "Gone")
    shutil.rmtree(tmp_path / "near" / "Gone")
    _sync(cfg)
    assert list(state.iterdir()) == []


def test_removed_box_takes_the_notes(tmp_path: Path, imap_user: Any) -> None:
    """``Remove Near`` after the server box went: with ``SyncState *`` the notes lived in
    the Maildir box, whose directory must go entirely, as it does without keywords."""
    _with_keywords(imap_user, "Gone")
    cfg = _config(tmp_path, imap_user, "Remove Near")
    _sync(cfg)
    _sync(cfg)
    box = tmp_path / "near" / "Gone"
    assert (box / ".mbsyncstate.syncmail-keywords").exists()
    for sub in ("cur", "new"):
        for f in (box / sub).iterdir():
            f.unlink()
    _delete_on_server(imap_user, "Gone")
    _sync(cfg)
    assert not box.exists(), sorted(p.name for p in box.iterdir())
