"""The skip-listing notes (``<state>.syncmail``) are void once a plan setting changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.engine_support import deliver, snapshot, sync, write_config


def test_max_messages_set_without_mail_change_expires_on_that_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncmail.store.maildir import MaildirBox

    calls: list[str] = []
    inner = MaildirBox.list_messages

    def counting(self: MaildirBox, request: object) -> object:
        calls.append(self.name)
        return inner(self, request)  # type: ignore[arg-type]

    monkeypatch.setattr(MaildirBox, "list_messages", counting)
    # Expunge Near from the start: only MaxMessages differs between the runs.
    base = "Create Both\nExpunge Near"
    cfg = write_config(tmp_path, base)
    for s in "ABCDE":
        deliver(tmp_path, "far", s, "S")
    for _ in range(3):
        assert not sync(cfg).errors
    assert (tmp_path / "near" / "INBOX" / ".mbsyncstate.syncmail").exists()
    calls.clear()
    sync(cfg)
    assert calls == []  # the notes hold: this is the fast path the change must void
    everything = {s: "S" for s in "ABCDE"}
    assert snapshot(tmp_path, "near") == everything

    write_config(tmp_path, base + "\nMaxMessages 2")
    result = sync(cfg)
    assert not result.errors
    assert calls
    assert snapshot(tmp_path, "near") == {"D": "S", "E": "S"}
    assert snapshot(tmp_path, "far") == everything
    assert result.summary.boxes[0].expunged_near == 3
