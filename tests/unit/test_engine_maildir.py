"""The engine end to end on two real Maildir trees (Maildir <-> Maildir channels)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from syncmail import hookimpl
from syncmail.config.model import ChannelOps, Target
from syncmail.events import FlagsChanged, MessageRemoved, NewMessage, Progress, RunSummary
from syncmail.plugins import make_plugin_manager
from syncmail.store.base import FetchedMessage
from syncmail.sync.engine import RunOptions, RunResult, run
from tests.unit.engine_support import (
    box_dir,
    deliver,
    files,
    load,
    maildir_pair_rc,
    set_flags,
    snapshot,
    state_text,
    sync,
    write_config,
)


def test_new_messages_both_ways(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A", "S")
    deliver(tmp_path, "far", "B")
    deliver(tmp_path, "near", "C", "F")
    result = sync(cfg)
    assert not result.errors
    assert result.exit_code(True) == 0 | 32 | 64
    assert snapshot(tmp_path, "far") == {"A": "S", "B": "", "C": "F"}
    assert snapshot(tmp_path, "near") == {"A": "S", "B": "", "C": "F"}
    # Copies carry an X-TUID header, in the target's line endings.
    copied = files(tmp_path, "near")["A"].read_bytes()
    assert b"\nX-TUID: " in copied and b"\r" not in copied
    box = result.summary.boxes[0]
    assert (box.pulled_new, box.pushed_new) == (2, 1)
    state = state_text(tmp_path)
    assert "MaxPulledUid 3\nMaxPushedUid 3\n" in state  # own copies counted: contiguous


def test_rerun_is_idempotent(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A", "S")
    deliver(tmp_path, "near", "B")
    sync(cfg)
    far, near, state = snapshot(tmp_path, "far"), snapshot(tmp_path, "near"), state_text(tmp_path)
    names = sorted(p.name for p in files(tmp_path, "near").values())
    for _ in range(2):
        result = sync(cfg)
        assert not result.errors
        assert not result.far_changed and not result.near_changed
    assert snapshot(tmp_path, "far") == far and snapshot(tmp_path, "near") == near
    assert state_text(tmp_path) == state
    assert sorted(p.name for p in files(tmp_path, "near").values()) == names


def test_flags_both_ways(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A")
    deliver(tmp_path, "far", "B", "S")
    deliver(tmp_path, "far", "C", "S")
    sync(cfg)
    set_flags(files(tmp_path, "far")["A"], "FS")  # far: +FS
    set_flags(files(tmp_path, "near")["B"], "RS")  # near: +R
    set_flags(files(tmp_path, "near")["C"], "")  # near: -S
    result = sync(cfg)
    assert not result.errors
    expected = {"A": "FS", "B": "RS", "C": ""}
    assert snapshot(tmp_path, "far") == expected
    assert snapshot(tmp_path, "near") == expected
    box = result.summary.boxes[0]
    assert (box.pulled_flags, box.pushed_flags) == (1, 2)
    assert "\n1 1 FS\n2 2 RS\n3 3 \n" in state_text(tmp_path)


def test_deletion_becomes_trash_flag_then_expunge(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A")
    deliver(tmp_path, "far", "B")
    deliver(tmp_path, "near", "C")
    sync(cfg)
    files(tmp_path, "far")["A"].unlink()
    files(tmp_path, "near")["C"].unlink()
    sync(cfg)
    # Gone on one side: T on the other, entries orphaned.
    assert snapshot(tmp_path, "near") == {"A": "T", "B": ""}
    assert snapshot(tmp_path, "far") == {"B": "", "C": "T"}
    result = sync(cfg, ChannelOps(expunge=frozenset({"far", "near"})))
    assert not result.errors
    assert snapshot(tmp_path, "near") == {"B": ""}
    assert snapshot(tmp_path, "far") == {"B": ""}
    box = result.summary.boxes[0]
    assert (box.expunged_far, box.expunged_near) == (1, 1)
    # As in mbsync 1.5, orphaning and killing entries are pre-commit changes: these
    # runs rewrite no state; the next one finds both messages gone and kills for good.
    assert state_text(tmp_path).endswith("\n\n3 1 \n1 2 \n2 3 \n")
    sync(cfg)
    assert state_text(tmp_path).endswith("\n\n2 3 \n")


def test_expunge_both_trashed_message_is_not_copied(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both\nExpunge Both")
    deliver(tmp_path, "far", "A", "T")
    deliver(tmp_path, "far", "B", "S")
    result = sync(cfg)
    assert not result.errors
    assert snapshot(tmp_path, "far") == {"B": "S"}
    assert snapshot(tmp_path, "near") == {"B": "S"}


def test_create_and_patterns(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Near", patterns="* !Junk")
    deliver(tmp_path, "far", "O1", box="Other")
    deliver(tmp_path, "far", "A")
    deliver(tmp_path, "far", "S1", box="Sent")
    deliver(tmp_path, "far", "J1", box="Junk")
    deliver(tmp_path, "near", "D1", box="Drafts")
    result = sync(cfg)
    assert snapshot(tmp_path, "near", "Sent") == {"S1": ""}
    assert not (tmp_path / "near" / "Junk").exists()
    # Create Near only: the far side does not get Drafts; as in mbsync that is an error
    # of this box pair, and the others go on.
    assert not (tmp_path / "far" / "Drafts").exists()
    assert not (tmp_path / "near" / "Junk").exists()
    assert [str(e) for e in result.errors] == [
        "channel test, box Drafts: far box Drafts cannot be opened"
    ]
    assert snapshot(tmp_path, "near", "Other") == {"O1": ""}
    assert result.exit_code(False) == 1
    assert {b.box for b in result.summary.boxes if not b.error} == {"INBOX", "Other", "Sent"}


def test_remove_box_deleted_on_the_other_side(tmp_path: Path) -> None:
    import shutil

    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A")
    deliver(tmp_path, "far", "O1", box="Old")
    assert not sync(cfg).errors
    shutil.rmtree(tmp_path / "far" / "Old")
    # Without Remove: the vanished box is an error, nothing is deleted.
    result = sync(cfg)
    assert "far box Old cannot be opened anymore" in str(result.errors[0])
    assert (tmp_path / "near" / "Old" / ".mbsyncstate").exists()
    # Remove Near: not while the near box still holds mail ...
    remove = ChannelOps(remove=frozenset({"near"}))
    assert not sync(cfg, remove).errors
    assert snapshot(tmp_path, "near", "Old") == {"O1": ""}
    # ... but once it is empty, the box and its state go.
    files(tmp_path, "near", "Old")["O1"].unlink()
    assert not sync(cfg, remove).errors
    # With SyncState * the state lived in the box directory: as mbsync 1.5 does, the
    # directory goes after the state (maildir_finish_delete_box).
    assert not (tmp_path / "near" / "Old").exists()
    assert snapshot(tmp_path, "near") == {"A": ""}


def test_sync_pull_only(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both\nSync Pull")
    deliver(tmp_path, "far", "A")
    deliver(tmp_path, "near", "B")
    sync(cfg)
    assert snapshot(tmp_path, "near") == {"A": "", "B": ""}
    assert snapshot(tmp_path, "far") == {"A": ""}


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A")
    box_dir(tmp_path, "near")
    result = sync(cfg, dry_run=True)
    assert not result.errors
    assert result.summary.boxes[0].pulled_new == 1
    assert snapshot(tmp_path, "near") == {}
    assert not (tmp_path / "near" / "INBOX" / ".mbsyncstate").exists()


def test_missing_store_dir_is_an_error_for_the_channel_only(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    (tmp_path / "near").rmdir()
    (tmp_path / "near").write_text("not a directory")
    result = sync(cfg)
    assert result.errors
    assert result.exit_code(False) == 1


def test_locked_state_skips_box(tmp_path: Path) -> None:
    import fcntl
    import os

    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A")
    sync(cfg)
    lock = tmp_path / "near" / "INBOX" / ".mbsyncstate.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        import subprocess
        import sys

        # fcntl locks are per process: hold it in a child.
        code = (
            "import fcntl,os,sys,time;fd=os.open(sys.argv[1],os.O_RDWR);"
            "fcntl.lockf(fd,fcntl.LOCK_EX);print('x',flush=True);time.sleep(30)"
        )
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None and child.stdout.readline() == "x\n"
            result = sync(cfg)
            assert result.errors and "locked" in str(result.errors[0])
        finally:
            child.kill()
            child.wait()
    finally:
        os.close(fd)
    assert fcntl  # imported for the child's sake only


class _Collector:
    """A plugin written like any other: it records the events it is given."""

    def __init__(self, veto: str | None = None) -> None:
        self.events: list[object] = []
        self.veto = veto

    @hookimpl
    def syncmail_pre_sync(self, config: object, targets: object) -> str | None:
        return self.veto

    @hookimpl
    def syncmail_new_message(self, event: NewMessage) -> None:
        # Delivered after the commit: the file is there and the state knows it.
        assert event.path is not None and os.path.exists(event.path)
        self.events.append(event)

    @hookimpl
    def syncmail_flags_changed(self, event: FlagsChanged) -> None:
        self.events.append(event)

    @hookimpl
    def syncmail_message_removed(self, event: MessageRemoved) -> None:
        self.events.append(event)

    @hookimpl
    def syncmail_post_sync(self, summary: RunSummary) -> None:
        self.events.append(summary)


def _run_with(cfg: Path, plugin: _Collector, cli_ops: ChannelOps | None = None) -> RunResult:
    pm = make_plugin_manager(only=())
    pm.register(plugin, name="collector")
    return run(load(cfg), [Target("test")], RunOptions(cli_ops=cli_ops or ChannelOps()), pm)


def test_plugin_events_after_commit(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A", "S")
    deliver(tmp_path, "near", "B")
    plugin = _Collector()
    assert not _run_with(cfg, plugin).errors
    new = [e for e in plugin.events if isinstance(e, NewMessage)]
    assert sorted((e.side, e.flags, e.uid, e.source_uid) for e in new) == [
        ("far", "", 2, 1),
        ("near", "S", 2, 1),
    ]
    assert isinstance(plugin.events[-1], RunSummary)
    set_flags(files(tmp_path, "far")["A"], "FS")
    files(tmp_path, "far")["B"].unlink()
    plugin = _Collector()
    _run_with(cfg, plugin, ChannelOps(expunge=frozenset({"near"})))
    changed = [e for e in plugin.events if isinstance(e, FlagsChanged)]
    assert [(e.side, e.uid, e.old_flags, e.new_flags, e.changed_on) for e in changed] == [
        ("near", 1, "", "T", "far"),  # deletion propagated as T, then expunged
        ("near", 2, "S", "FS", "far"),
    ]
    assert changed[1].path is not None and changed[1].path.endswith(":2,FS")
    removed = [e for e in plugin.events if isinstance(e, MessageRemoved)]
    assert [(e.side, e.uid) for e in removed] == [("near", 1)]


def test_a_message_moved_to_the_trash_is_counted_and_said_so(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    ops = "Create Both\nExpunge Both\n"
    cfg.write_text(maildir_pair_rc(tmp_path, ops, "INBOX", near_extra="Trash Trash\n"))
    deliver(tmp_path, "far", "A", "S")
    deliver(tmp_path, "far", "B", "S")
    sync(cfg)
    files(tmp_path, "far")["A"].unlink()
    files(tmp_path, "near")["B"].unlink()
    plugin = _Collector()
    result = _run_with(cfg, plugin)
    assert not result.errors
    box = result.summary.boxes[0]
    # A: trashed near, then expunged there; B: gone near, its far copy expunged only.
    assert (box.trashed_near, box.expunged_near, box.trashed_far, box.expunged_far) == (1, 1, 0, 1)
    removed = {(e.side, e.trashed) for e in plugin.events if isinstance(e, MessageRemoved)}
    assert removed == {("near", True), ("far", False)}
    assert set(files(tmp_path, "near", "Trash")) == {"A"}


def test_a_fifo_or_device_among_the_messages_is_an_error_not_a_hang(tmp_path: Path) -> None:
    """A FIFO would block the run forever, /dev/zero never end: each is refused with its
    box, UID and file, and the real mail still goes.  Run as a process with a time
    limit, so that a hang fails the test instead of stalling the suite."""
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "real")
    new = box_dir(tmp_path, "far") / "new"
    os.mkfifo(new / "1700000001.FIFO.test")
    os.symlink("/dev/zero", new / "1700000002.ZERO.test")
    done = subprocess.run(
        [sys.executable, "-m", "syncmail", "-c", str(cfg), "-a"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "not a regular file" in line]
    assert len(errors) == 2 and "FIFO" in errors[0] + errors[1], done.stderr
    assert "ZERO" in errors[0] + errors[1] and "run failed" in done.stderr
    assert list(files(tmp_path, "near")) == ["real"]


def test_a_cache_file_nested_too_deeply_is_ignored_not_fatal(tmp_path: Path) -> None:
    """json raises RecursionError, not ValueError, for deep nesting: a damaged notes
    file ended the run with an internal error and left the box unsynced."""
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A")
    assert not sync(cfg).errors
    (box_dir(tmp_path, "near") / ".mbsyncstate.syncmail").write_text("[" * 100_000)
    deliver(tmp_path, "far", "B")
    assert not sync(cfg).errors
    assert sorted(files(tmp_path, "near")) == ["A", "B"]


def test_plugin_veto_stops_the_run(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A")
    plugin = _Collector(veto="offline")
    result = _run_with(cfg, plugin)
    assert result.exit_code(False) == 1
    assert "offline" in str(result.errors[0])
    assert not (tmp_path / "near" / "INBOX").exists()
    # The run still ends for the plugins (those whose pre_sync prepared something), and
    # its summary says why nothing was synced.
    assert len(plugin.events) == 1 and isinstance(plugin.events[0], RunSummary)
    assert plugin.events[0].boxes == () and "offline" in plugin.events[0].errors[0]


def test_progress_counts(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    for s in "ABC":
        deliver(tmp_path, "far", s)
    seen: list[tuple[int, int, int, int]] = []

    def progress(p: Progress) -> None:
        seen.append((p.boxes_done, p.boxes_total, p.near.new_done, p.near.new_total))

    run(load(cfg), [Target("test")], RunOptions(progress=progress))
    assert seen[-1] == (1, 1, 3, 3)


def test_no_change_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from syncmail.store.maildir import MaildirBox

    calls: list[str] = []
    inner = MaildirBox.list_messages

    def counting(self: MaildirBox, request: object) -> object:
        calls.append(self.name)
        return inner(self, request)  # type: ignore[arg-type]

    monkeypatch.setattr(MaildirBox, "list_messages", counting)
    cfg = write_config(tmp_path, "Create Both")
    deliver(tmp_path, "far", "A")
    for _ in range(3):
        sync(cfg)
    sidecar = tmp_path / "near" / "INBOX" / ".mbsyncstate.syncmail"
    assert sidecar.exists()
    calls.clear()
    assert not sync(cfg).errors
    assert calls == []  # nothing listed: both markers and the state are unchanged
    # A change on one side is seen.
    set_flags(files(tmp_path, "near")["A"], "S")
    sync(cfg)
    assert calls
    assert snapshot(tmp_path, "far") == {"A": "S"}
    # Settle again, then touch the state behind syncmail's back: the notes are void.
    sync(cfg)
    sync(cfg)
    calls.clear()
    sync(cfg)
    assert calls == []
    state = tmp_path / "near" / "INBOX" / ".mbsyncstate"
    state.write_text(state.read_text())
    sync(cfg)
    assert calls
    # Other operations than last time: listed again (Expunge may have work to do).
    sync(cfg)
    calls.clear()
    sync(cfg, ChannelOps(expunge=frozenset({"near"})))
    assert calls


def _set_uidvalidity(root: Path, side: str, value: int) -> None:
    path = root / side / "INBOX" / ".uidvalidity"
    lines = path.read_text().split("\n")
    path.write_text(f"{value}\n{lines[1]}\n")


def test_uidvalidity_change_recovered_by_message_id(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    for s in "ABC":
        deliver(tmp_path, "far", s)
    sync(cfg)
    _set_uidvalidity(tmp_path, "near", 4242)
    result = sync(cfg)
    assert not result.errors
    assert "NearUidValidity 4242\n" in state_text(tmp_path)
    assert snapshot(tmp_path, "near") == {"A": "", "B": "", "C": ""}


def test_uidvalidity_genuinely_changed(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "Create Both")
    for s in "ABC":
        deliver(tmp_path, "far", s)
    sync(cfg)
    state = state_text(tmp_path)
    near = files(tmp_path, "near")
    # Swap the UIDs of A and B: the same UIDs now name other messages.
    a, b = near["A"], near["B"]
    a_new = a.with_name(a.name.replace(",U=1", ",U=9"))
    a.rename(a_new)
    b.rename(b.with_name(b.name.replace(",U=2", ",U=1")))
    a_new.rename(a_new.with_name(a_new.name.replace(",U=9", ",U=2")))
    _set_uidvalidity(tmp_path, "near", 4242)
    result = sync(cfg)
    assert [type(e).__name__ for e in result.errors] == ["UidValidityError"]
    assert "UIDVALIDITY genuinely changed (at UID 1)" in str(result.errors[0])
    assert state_text(tmp_path) == state
    _set_uidvalidity(tmp_path, "far", 4343)
    result = sync(cfg)
    assert "UIDVALIDITY of both far side INBOX and near side INBOX changed" in str(result.errors[0])


def _fetch_failing_at(marker: bytes) -> Callable[..., Iterator[FetchedMessage]]:
    """MaildirBox.fetch_messages, raising a MessageError at the message holding ``marker``."""
    from syncmail.errors import MessageError
    from syncmail.store.maildir import MaildirBox

    inner = MaildirBox.fetch_messages

    def broken(
        self: MaildirBox,
        uids: list[int],
        spool_dir: str | None = None,
        *,
        dates: bool = True,
        sizes: dict[int, int] | None = None,
    ) -> Iterator[FetchedMessage]:
        for fm in inner(self, uids, spool_dir, dates=dates, sizes=sizes):
            if marker in fm.data:
                raise MessageError(self.name, fm.uid, "unreadable")
            yield fm

    return broken


def test_message_error_costs_only_that_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncmail.config.model import SyncOps
    from syncmail.store.maildir import MaildirBox

    broken = _fetch_failing_at(b"Subject: B")
    cfg = write_config(tmp_path, "Create Both")
    for s in "ABC":
        deliver(tmp_path, "far", s)
    monkeypatch.setattr(MaildirBox, "fetch_messages", broken)
    result = sync(cfg)
    # Said once: the message is not tried again singly after its batch failed.
    assert [str(e) for e in result.errors] == ["box INBOX, UID 2: unreadable"]
    assert result.exit_code(False) == 1
    assert snapshot(tmp_path, "near") == {"A": "", "C": ""}
    monkeypatch.undo()
    # As in mbsync, a failed message is "old" now: only Sync Old picks it up again.
    sync(cfg)
    assert snapshot(tmp_path, "near") == {"A": "", "C": ""}
    old = SyncOps(
        pull=frozenset({"new", "old", "gone", "flags"}),
        push=frozenset({"new", "old", "gone", "flags"}),
    )
    assert not sync(cfg, ChannelOps(sync=old)).errors
    assert snapshot(tmp_path, "near") == {"A": "", "B": "", "C": ""}
    assert snapshot(tmp_path, "far") == {"A": "", "B": "", "C": ""}


def test_after_a_named_message_error_the_rest_goes_on_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncmail.store.base import OutgoingMessage, StoredMessage
    from syncmail.store.maildir import MaildirBox

    inner_store = MaildirBox.store_messages
    broken = _fetch_failing_at(b"Subject: B")
    calls: list[int] = []

    def counted(
        self: MaildirBox, messages: Iterable[OutgoingMessage]
    ) -> Iterator[StoredMessage]:
        calls.append(0)

        def counting() -> Iterator[OutgoingMessage]:
            for m in messages:
                calls[-1] += 1
                yield m

        return inner_store(self, counting())

    cfg = write_config(tmp_path, "Create Both")
    for s in "ABCDEFG":
        deliver(tmp_path, "far", s)
    monkeypatch.setattr(MaildirBox, "fetch_messages", broken)
    monkeypatch.setattr(MaildirBox, "store_messages", counted)
    monkeypatch.setattr(MaildirBox, "store_batch", 2)
    result = sync(cfg)
    assert [str(e) for e in result.errors] == ["box INBOX, UID 2: unreadable"]
    assert snapshot(tmp_path, "near") == {s: "" for s in "ACDEFG"}
    # [A, B] fails at B, after A was handed over (and not stored: its batch was not
    # done).  Then A goes on with C, two at a time, never one by one.
    assert calls == [1, 2, 2, 2]


def test_fast_path_right_after_a_pull(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from syncmail.store.maildir import MaildirBox

    calls: list[str] = []
    inner = MaildirBox.list_messages

    def counting(self: MaildirBox, request: object) -> object:
        calls.append(self.name)
        return inner(self, request)  # type: ignore[arg-type]

    monkeypatch.setattr(MaildirBox, "list_messages", counting)
    cfg = write_config(tmp_path, "Create Both\nSync Pull")
    for s in "AB":
        deliver(tmp_path, "far", s)
    sync(cfg)
    assert snapshot(tmp_path, "near") == {"A": "", "B": ""}
    calls.clear()
    sync(cfg)
    assert calls == []  # the pull run verified its result and left the notes
    deliver(tmp_path, "far", "C")
    sync(cfg)
    assert snapshot(tmp_path, "near") == {"A": "", "B": "", "C": ""}
