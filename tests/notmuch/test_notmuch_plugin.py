"""The notmuch plugin against a real notmuch database: indexing, renames, removals, tag push."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy
import pytest

from syncmail.events import FlagsChanged, MessageRemoved, NewMessage, RunSummary
from syncmail.plugins import deliver, make_plugin_manager, pre_sync

if TYPE_CHECKING:
    from tests.notmuch.conftest import NotmuchEnv

notmuch2 = pytest.importorskip("notmuch2")
syncmail_notmuch = pytest.importorskip("syncmail_notmuch")

pytestmark = pytest.mark.notmuch


@pytest.fixture
def pm() -> pluggy.PluginManager:
    return make_plugin_manager(only=["notmuch"], strict=True)


def _new(path: Path, uid: int, flags: str) -> NewMessage:
    return NewMessage(
        channel="ch",
        box="INBOX",
        side="near",
        store="local",
        uid=uid,
        flags=flags,
        path=str(path),
    )


def _end(pm: pluggy.PluginManager) -> None:
    deliver(pm, "syncmail_post_sync", summary=RunSummary(channels=1))


def test_deliveries_are_indexed_with_new_tags_and_flag_tags(
    nm: NotmuchEnv, pm: pluggy.PluginManager
) -> None:
    assert pre_sync(pm, nm.config(), []) is None
    seen = nm.deliver("INBOX", 1, "FRS", "seen@x")
    fresh = nm.deliver("INBOX", 2, None, "fresh@x")
    draft = nm.deliver("INBOX", 3, "D", "draft@x")
    for uid, (path, flags) in enumerate([(seen, "FRS"), (fresh, ""), (draft, "D")], 1):
        deliver(pm, "syncmail_new_message", event=_new(path, uid, flags))
    # Buffered until the end of the run: nothing written while boxes are syncing.
    assert nm.tags("seen@x") == set()
    _end(pm)

    assert nm.tags("seen@x") == {"inbox", "flagged", "replied"}
    assert nm.tags("fresh@x") == {"inbox", "unread"}
    assert nm.tags("draft@x") == {"inbox", "unread", "draft"}
    out = nm.notmuch("new").stdout
    assert "No new mail" in out


def test_redelivered_event_is_idempotent(nm: NotmuchEnv, pm: pluggy.PluginManager) -> None:
    pre_sync(pm, nm.config(), [])
    path = nm.deliver("INBOX", 1, "S", "once@x")
    deliver(pm, "syncmail_new_message", event=_new(path, 1, "S"))
    _end(pm)
    with notmuch2.Database(mode="rw") as db:
        db.find("once@x").tags.add("todo")
    # At-least-once delivery: the same event after a crash must not reset tags.
    pre_sync(pm, nm.config(), [])
    deliver(pm, "syncmail_new_message", event=_new(path, 1, "S"))
    _end(pm)
    assert nm.tags("once@x") == {"inbox", "todo"}


def test_flag_change_renames_follow_in_notmuch(nm: NotmuchEnv, pm: pluggy.PluginManager) -> None:
    pre_sync(pm, nm.config(), [])
    old = nm.deliver("INBOX", 7, None, "flip@x")
    deliver(pm, "syncmail_new_message", event=_new(old, 7, ""))
    _end(pm)
    assert nm.tags("flip@x") == {"inbox", "unread"}

    # The sync saw \Seen and \Flagged on the server and renamed the Maildir file.
    new = old.parent.parent / "cur" / (old.name + ":2,FS")
    os.rename(old, new)
    pre_sync(pm, nm.config(), [])
    deliver(
        pm,
        "syncmail_flags_changed",
        event=FlagsChanged(
            channel="ch",
            box="INBOX",
            side="near",
            store="local",
            uid=7,
            old_flags="",
            new_flags="FS",
            changed_on="far",
            path=str(new),
        ),
    )
    _end(pm)
    assert nm.tags("flip@x") == {"inbox", "flagged"}
    assert nm.files("flip@x") == [str(new)]
    out = nm.notmuch("new").stdout
    assert "No new mail" in out and "rename" not in out


def test_flag_change_found_by_message_id_when_name_is_unusual(
    nm: NotmuchEnv, pm: pluggy.PluginManager
) -> None:
    # A keyword letter in the old name defeats the name guess; Message-ID finds it.
    pre_sync(pm, nm.config(), [])
    old = nm.deliver("INBOX", 8, "Sa", "odd@x")
    deliver(pm, "syncmail_new_message", event=_new(old, 8, "S"))
    _end(pm)
    new = old.with_name(old.name.replace(":2,Sa", ":2,RSa"))
    os.rename(old, new)
    pre_sync(pm, nm.config(), [])
    event = FlagsChanged(
        channel="ch",
        box="INBOX",
        side="near",
        store="local",
        uid=8,
        old_flags="S",
        new_flags="RS",
        changed_on="far",
        path=str(new),
    )
    deliver(pm, "syncmail_flags_changed", event=event)
    _end(pm)
    assert nm.tags("odd@x") == {"inbox", "replied"}
    assert nm.files("odd@x") == [str(new)]


def test_removed_message_leaves_the_database(nm: NotmuchEnv, pm: pluggy.PluginManager) -> None:
    path = nm.deliver("INBOX", 9, "S", "gone@x")
    nm.notmuch("new")
    path.unlink()
    pre_sync(pm, nm.config(), [])
    deliver(
        pm,
        "syncmail_message_removed",
        event=MessageRemoved(
            channel="ch", box="INBOX", side="near", store="local", uid=9, path=str(path)
        ),
    )
    _end(pm)
    assert nm.notmuch("count", "id:gone@x").stdout.strip() == "0"


def test_renamed_then_expunged_in_one_run_leaves_the_database(
    nm: NotmuchEnv, pm: pluggy.PluginManager
) -> None:
    # Deleted on the server: the sync renames the file to carry T, then expunges it;
    # both events arrive after the file is gone.
    path = nm.deliver("INBOX", 5, "S", "doomed@x")
    nm.notmuch("new")
    trashed = path.parent / (path.name.split(":2,")[0] + ":2,ST")
    os.rename(path, trashed)
    trashed.unlink()
    pre_sync(pm, nm.config(), [])
    flags = FlagsChanged(
        channel="ch", box="INBOX", side="near", store="local", uid=5, old_flags="S",
        new_flags="ST", changed_on="far", path=str(trashed),
    )  # fmt: skip
    deliver(pm, "syncmail_flags_changed", event=flags)
    removed = MessageRemoved(
        channel="ch", box="INBOX", side="near", store="local", uid=5, path=str(trashed)
    )
    deliver(pm, "syncmail_message_removed", event=removed)
    _end(pm)
    assert nm.notmuch("count", "id:doomed@x").stdout.strip() == "0"
    assert "No new mail" in nm.notmuch("new").stdout


def test_tag_changes_made_through_the_library_reach_the_flags(
    nm: NotmuchEnv, pm: pluggy.PluginManager
) -> None:
    inbox = nm.deliver("INBOX", 1, None, "tagme@x")
    other = nm.deliver("INBOX", 2, None, "other@x")
    nm.notmuch("new")
    pre_sync(pm, nm.config(), [])  # first run: records where tags and flags agree
    _end(pm)

    # Like afew or a script: tags change, files are not renamed.
    with notmuch2.Database(mode="rw") as db:
        msg = db.find("tagme@x")
        msg.tags.discard("unread")
        msg.tags.add("flagged")
    assert inbox.exists()

    config = nm.config()
    assert pre_sync(pm, config, []) is None
    _end(pm)
    files = nm.files("tagme@x")
    assert len(files) == 1 and files[0].endswith(inbox.name + ":2,FS")
    assert "/cur/" in files[0]
    assert other.exists()  # untouched: its tags did not change

    # Already pushed: a second run renames nothing and `notmuch new` finds nothing new.
    before = sorted(os.listdir(inbox.parent.parent / "cur"))
    pre_sync(pm, config, [])
    _end(pm)
    assert sorted(os.listdir(inbox.parent.parent / "cur")) == before
    assert "No new mail" in nm.notmuch("new").stdout


def test_tag_push_is_scoped_to_the_configured_maildirs(
    nm: NotmuchEnv, pm: pluggy.PluginManager
) -> None:
    ours = nm.deliver("INBOX", 1, None, "ours@x")
    nm.box("elsewhere")
    foreign = nm.deliver("elsewhere", 1, None, "foreign@x")
    nm.notmuch("new")
    config = nm.config()
    # The store covers mail/INBOX only; mail/elsewhere belongs to some other tool.
    store = type(config.stores["local"])(
        name="local",
        defined_at=config.stores["local"].defined_at,
        path=str(nm.maildir / "INBOX") + "/",
    )
    scoped_inbox = type(config)(
        path=config.path,
        globals=config.globals,
        stores={"local": store},
        accounts={},
        channels={},
        groups={},
    )
    pre_sync(pm, scoped_inbox, [])
    _end(pm)
    with notmuch2.Database(mode="rw") as db:
        for mid in ("ours@x", "foreign@x"):
            db.find(mid).tags.discard("unread")
    pre_sync(pm, scoped_inbox, [])
    _end(pm)
    assert nm.files("ours@x")[0].endswith(ours.name + ":2,S")
    assert nm.files("foreign@x") == [str(foreign)]


def test_old_notmuch_inside_pre_new_does_not_write(
    nm: NotmuchEnv, pm: pluggy.PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncmail_notmuch import settings

    monkeypatch.setattr(settings, "notmuch_version", lambda: (0, 31))
    monkeypatch.setenv("SYNCMAIL_IN_NOTMUCH_HOOK", "1")
    assert not settings.may_write_database()
    pre_sync(pm, nm.config(), [])
    path = nm.deliver("INBOX", 1, None, "later@x")
    deliver(pm, "syncmail_new_message", event=_new(path, 1, ""))
    _end(pm)
    assert nm.notmuch("count", "id:later@x").stdout.strip() == "0"
    monkeypatch.delenv("SYNCMAIL_IN_NOTMUCH_HOOK")
    assert settings.may_write_database()


def test_a_config_file_notmuch_cannot_load_is_named_with_its_line(
    nm: NotmuchEnv, pm: pluggy.PluginManager, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """notmuch says only "cannot load config file": the warning says which, and where
    the Notmuch section set it."""
    missing = tmp_path / "no-such-notmuch-config"
    assert pre_sync(pm, nm.config(Config=str(missing)), []) is None
    path = nm.deliver("INBOX", 1, None, "unindexed@x")
    deliver(pm, "syncmail_new_message", event=_new(path, 1, ""))
    _end(pm)
    where = f"{nm.root / 'mbsyncrc'}:7: Config {missing}: cannot open the notmuch database"
    assert where in caplog.text, caplog.text


def test_section_settings_and_bad_value(nm: NotmuchEnv, pm: pluggy.PluginManager) -> None:
    veto = pre_sync(pm, nm.config(Index="maybe"), [])
    assert veto is not None and "mbsyncrc:7: Index: expected yes or no" in veto

    assert pre_sync(pm, nm.config(Index="no", Config=str(nm.config_file)), []) is None
    path = nm.deliver("INBOX", 1, None, "skip@x")
    deliver(pm, "syncmail_new_message", event=_new(path, 1, ""))
    _end(pm)
    assert nm.notmuch("count", "id:skip@x").stdout.strip() == "0"


def test_explicit_config_file_is_used(
    nm: NotmuchEnv, pm: pluggy.PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTMUCH_CONFIG", str(nm.root / "does-not-exist"))
    assert pre_sync(pm, nm.config(Config=str(nm.config_file)), []) is None
    path = nm.deliver("INBOX", 1, "S", "explicit@x")
    deliver(pm, "syncmail_new_message", event=_new(path, 1, "S"))
    _end(pm)
    monkeypatch.setenv("NOTMUCH_CONFIG", str(nm.config_file))
    assert nm.tags("explicit@x") == {"inbox"}


def test_no_notmuch_setup_is_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from syncmail.config.model import Config, GlobalConfig

    monkeypatch.setenv("NOTMUCH_CONFIG", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    pm = make_plugin_manager(only=["notmuch"])
    config = Config(str(tmp_path / "rc"), GlobalConfig(), {}, {}, {}, {})
    assert pre_sync(pm, config, []) is None
    deliver(pm, "syncmail_new_message", event=_new(tmp_path / "x", 1, ""))
    _end(pm)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_without_notmuch_config_notmuch2_is_never_imported(tmp_path: Path) -> None:
    program = """
import sys
from syncmail.config.model import Config, GlobalConfig
from syncmail.events import NewMessage, RunSummary
from syncmail.plugins import deliver, make_plugin_manager, pre_sync
pm = make_plugin_manager(only=["notmuch"], strict=True)
assert pre_sync(pm, Config("rc", GlobalConfig(), {}, {}, {}, {}), []) is None
deliver(pm, "syncmail_new_message", event=NewMessage(
    channel="c", box="INBOX", side="near", store="s", uid=1, flags="", path="/nowhere/new/x"))
deliver(pm, "syncmail_post_sync", summary=RunSummary(channels=1))
assert "notmuch2" not in sys.modules, "notmuch2 imported without a notmuch setup"
"""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("NOTMUCH") and key not in ("HOME", "XDG_CONFIG_HOME")
    }
    env["HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
