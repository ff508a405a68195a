"""``syncmail watch`` against a real Dovecot (NOTIFY), as a real process stopped by signals."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.dovecot.cutting_relay import CuttingRelay
from tests.dovecot.imap_helpers import message, write_config
from tests.dovecot.watch_helpers import WatchProcess, wait_for

pytestmark = pytest.mark.dovecot


def local_files(root: Path, box: str = "INBOX") -> list[Path]:
    base = root / "near" / box
    return sorted(p for sub in ("cur", "new") for p in (base / sub).glob("*") if p.is_file())


def server_flags(user: Any, box: str = "INBOX") -> dict[int, set[bytes]]:
    client = user.client()
    try:
        client.select_folder(box)
        uids = client.search("ALL")
        return {uid: set(d[b"FLAGS"]) for uid, d in client.fetch(uids, ["FLAGS"]).items()}
    finally:
        client.logout()


def test_server_mail_arrives_and_local_flags_go_back(tmp_path: Path, imap_user: Any) -> None:
    config = write_config(tmp_path, imap_user)
    imap_user.append("INBOX", message(1))
    with WatchProcess(tmp_path, config, "-a") as w:
        w.ready()
        assert len(local_files(tmp_path)) == 1  # the full sync at start
        imap_user.append("INBOX", message(2))
        wait_for(lambda: len(local_files(tmp_path)) == 2)
        # A flag set locally (a Maildir rename, as a MUA or notmuch does) reaches the server.
        path = local_files(tmp_path)[0]
        os.rename(path, path.parent.parent / "cur" / (path.name.split(":2,")[0] + ":2,FS"))
        wanted = {b"\\Seen", b"\\Flagged"}
        wait_for(lambda: any(wanted <= f for f in server_flags(imap_user).values()))
        assert w.stop(signal.SIGTERM) == 0
    assert len(local_files(tmp_path)) == 2
    assert len(server_flags(imap_user)) == 2
    log = w.log()
    assert "test:INBOX: 1 new pulled" in log
    assert "Traceback" not in log


def message_ids(files: list[Path]) -> list[str]:
    out = []
    for path in files:
        for line in path.read_bytes().splitlines():
            if line.lower().startswith(b"message-id:"):
                out.append(line.split(b":", 1)[1].strip().decode())
    return sorted(out)


def server_ids(user: Any, box: str = "INBOX") -> list[str]:
    client = user.client()
    try:
        client.select_folder(box)
        uids = client.search("ALL")
        got = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
        return sorted(
            d[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].split(b":", 1)[1].strip().decode()
            for d in got.values()
        )
    finally:
        client.logout()


def test_own_writes_are_not_synced_again(tmp_path: Path, imap_user: Any) -> None:
    config = write_config(tmp_path, imap_user)
    imap_user.append("INBOX", message(0))  # INBOX exists: no LIST event for its creation
    with WatchProcess(tmp_path, config, "-a", "-V") as w:
        w.ready()
        started = len(w.log())
        imap_user.append("INBOX", message(1))
        wait_for(lambda: len(local_files(tmp_path)) == 2)
        path = local_files(tmp_path)[-1]
        os.rename(path, path.parent.parent / "cur" / (path.name.split(":2,")[0] + ":2,S"))
        wait_for(lambda: "1 flags pushed" in w.log())
        time.sleep(1.2)  # Dovecot reports a change after 0.5 s: the echo has come
        assert w.stop() == 0
    # The download, the user's rename and the server's echo of the push cost no
    # further sync: only the two that did something ran.
    assert w.log()[started:].count("nothing to do") == 0, w.log()


def test_local_new_mail_and_new_box_go_to_the_server(tmp_path: Path, imap_user: Any) -> None:
    config = write_config(tmp_path, imap_user)
    with WatchProcess(tmp_path, config, "-a") as w:
        w.ready()
        new = tmp_path / "near" / "INBOX" / "new"
        (new.parent / "tmp" / "m1").write_bytes(message(7))
        os.rename(new.parent / "tmp" / "m1", new / "m1")
        wait_for(lambda: server_ids(imap_user) == ["<7@syncmail.test>"])
        # A box made on the server appears locally (NOTIFY MailboxName).
        client = imap_user.client()
        client.create_folder("Lists")
        client.logout()
        imap_user.append("Lists", message(8))
        wait_for(lambda: message_ids(local_files(tmp_path, "Lists")) == ["<8@syncmail.test>"])
        assert w.stop(signal.SIGINT) == 0


def test_kick_cut_and_kill_lose_and_double_nothing(
    tmp_path: Path, imap_user: Any, dovecot: Any
) -> None:
    with CuttingRelay(imap_user.port) as relay:
        config = write_config(tmp_path, imap_user)
        text = config.read_text().replace(f"Port {imap_user.port}", f"Port {relay.port}")
        config.write_text(text)
        ids = []
        with WatchProcess(tmp_path, config, "-a") as w:
            w.ready()
            # The server throws the user out: the watcher reconnects (back-off 1 s) and
            # catches up with what came meanwhile.
            dovecot.doveadm("kick", imap_user.name)
            imap_user.append("INBOX", message(1))
            # The network drops every connection.
            time.sleep(0.3)
            assert relay.cut_all() >= 1
            imap_user.append("INBOX", message(2))
            ids = ["<1@syncmail.test>", "<2@syncmail.test>"]
            wait_for(lambda: message_ids(local_files(tmp_path)) == ids, timeout=15)
            # And again: the new connection replaces the old one in the loop.
            dovecot.doveadm("kick", imap_user.name)
            imap_user.append("INBOX", message(9))
            ids.append("<9@syncmail.test>")
            wait_for(lambda: message_ids(local_files(tmp_path)) == ids, timeout=15)
            # Killed outright in the middle of work, then started again.
            for n in range(3, 9):
                imap_user.append("INBOX", message(n))
            time.sleep(0.6)
            w.proc.kill()
            w.proc.wait()
        assert "reconnecting" in w.log()
        with WatchProcess(tmp_path, config, "-a") as w2:
            w2.ready()
            ids = [f"<{n}@syncmail.test>" for n in range(1, 10)]
            assert message_ids(local_files(tmp_path)) == sorted(ids)
            assert w2.stop() == 0
    assert server_ids(imap_user) == sorted(ids)


def test_sigusr1_syncs_what_notify_cannot_see(tmp_path: Path, imap_user: Any) -> None:
    config = write_config(tmp_path, imap_user)
    imap_user.append("INBOX", message(1))
    with WatchProcess(tmp_path, config, "-a") as w:
        w.ready()
        time.sleep(0.5)  # the start's own work settles
        # Written behind Dovecot's back: no NOTIFY, ever (only a resync finds it).
        server_new = imap_user.maildir / "new"
        (server_new / "behind.eml").write_bytes(message(2))
        imap_user.server.fix_owner(server_new / "behind.eml")
        time.sleep(0.8)
        assert len(local_files(tmp_path)) == 1
        w.send(signal.SIGUSR1)
        wait_for(lambda: len(local_files(tmp_path)) == 2)
        assert w.stop() == 0


def test_a_locked_box_is_synced_once_the_lock_is_free(tmp_path: Path, imap_user: Any) -> None:
    config = write_config(tmp_path, imap_user)
    with WatchProcess(tmp_path, config, "-a", "-V") as w:
        w.ready()
        lock = tmp_path / "near" / "INBOX" / ".mbsyncstate.lock"
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT)
        fcntl.lockf(fd, fcntl.LOCK_EX)  # as mbsync from cron holds it
        try:
            imap_user.append("INBOX", message(1))
            wait_for(lambda: "is locked" in w.log())
            assert local_files(tmp_path) == []
        finally:
            os.close(fd)
        wait_for(lambda: len(local_files(tmp_path)) == 1, timeout=5)
        assert w.stop() == 0
    # The watch's everyday wait, said with -V, not an error to alarm anyone.
    locked = [line for line in w.log().splitlines() if "is locked" in line]
    assert locked and not any(line.startswith("Error") for line in locked), locked


def test_without_notify_idle_on_inbox_and_poll_the_rest(
    tmp_path: Path, imap_user_no_notify: Any
) -> None:
    user = imap_user_no_notify
    config = write_config(tmp_path, user)
    client = user.client()
    client.create_folder("Other")
    client.logout()
    env = {"SYNCMAIL_WATCH_POLL": "1.5", "SYNCMAIL_WATCH_RENEW": "0.5"}
    with WatchProcess(tmp_path, config, "-a", "-V", env=env) as w:
        w.ready()
        assert "watching with IDLE" in w.log()
        time.sleep(1.2)  # IDLE renewed (DONE, IDLE) twice: still watching
        user.append("INBOX", message(1))
        wait_for(lambda: len(local_files(tmp_path)) == 1, timeout=1.5)
        user.append("Other", message(2))  # no IDLE there: found by the poll
        wait_for(lambda: len(local_files(tmp_path, "Other")) == 1, timeout=4)
        path = local_files(tmp_path)[0]
        os.rename(path, path.parent.parent / "cur" / (path.name.split(":2,")[0] + ":2,F"))
        wait_for(lambda: any(b"\\Flagged" in f for f in server_flags(user).values()))
        assert w.stop() == 0


def test_without_notify_the_watch_idles_on_the_box_the_config_names(
    tmp_path: Path, imap_user_no_notify: Any
) -> None:
    """``WatchIdleBox Other``: mail there arrives at once (no poll: every 10 minutes)."""
    user = imap_user_no_notify
    config = write_config(tmp_path, user)
    config.write_text(config.read_text().replace(
        "IMAPStore remote\n", "IMAPStore remote\nWatchIdleBox Other\n"
    ))  # fmt: skip
    client = user.client()
    client.create_folder("Other")
    client.logout()
    with WatchProcess(tmp_path, config, "-a", env={"SYNCMAIL_WATCH_POLL": "600"}) as w:
        w.ready()
        user.append("Other", message(1))
        wait_for(lambda: len(local_files(tmp_path, "Other")) == 1, timeout=3)
        assert w.stop() == 0


def test_a_refused_login_stops_its_account_not_the_watch(
    tmp_path: Path, imap_user: Any, dovecot: Any
) -> None:
    config = write_config(tmp_path, imap_user)
    text = config.read_text()
    bad = (
        text.split("IMAPAccount", 1)[1].split("Channel test", 1)[0]
        .replace(f"acct-{imap_user.name}", "acct-bad")
        .replace(f"Pass {imap_user.password}", "Pass wrong")
        .replace("IMAPStore remote", "IMAPStore bad-remote")
        .replace("MaildirStore local", "MaildirStore bad-local")
        .replace("Account acct-bad", "Account acct-bad")
        .replace(f"{tmp_path}/near", f"{tmp_path}/bad")
    )  # fmt: skip
    config.write_text(
        text + "\nIMAPAccount" + bad
        + "Channel bad\nFar :bad-remote:\nNear :bad-local:\nPatterns *\nCreate Both\n"
        "SyncState *\n"
    )  # fmt: skip
    with WatchProcess(tmp_path, config, "-a") as w:
        w.ready()
        assert "this account is stopped" in w.log()
        imap_user.append("INBOX", message(1))  # the good account goes on
        wait_for(lambda: len(local_files(tmp_path)) == 1)
        assert w.stop() == 1  # but the exit status says something was wrong


def test_sighup_rereads_the_config_and_keeps_it_when_the_new_one_is_broken(
    tmp_path: Path, imap_user: Any
) -> None:
    config = write_config(tmp_path, imap_user)
    good = config.read_text()
    config.write_text(good.replace("Patterns *", "Patterns INBOX"))
    client = imap_user.client()
    client.create_folder("Lists")
    client.logout()
    imap_user.append("Lists", message(1))
    hooks = tmp_path / "hooks.jsonl"
    with WatchProcess(tmp_path, config, "-a", env={"SYNCMAIL_RECORDER_LOG": str(hooks)}) as w:
        w.ready()
        assert not (tmp_path / "near" / "Lists").exists()  # not in this config
        config.write_text(good)
        w.send(signal.SIGHUP)
        wait_for(lambda: len(local_files(tmp_path, "Lists")) == 1)
        config.write_text(good + "BogusKeyword yes\n")
        w.send(signal.SIGHUP)
        wait_for(lambda: "the config was not reloaded" in w.log())
        imap_user.append("Lists", message(2))  # the config in force stays in force
        wait_for(lambda: len(local_files(tmp_path, "Lists")) == 2)
        assert w.stop() == 0
    log = w.log()
    assert f"{config}:{good.count(chr(10)) + 1}:" in log and "BogusKeyword" in log, log
    assert "Traceback" not in log
    calls = [json.loads(line) for line in hooks.read_text().splitlines()]
    watch = [(c["hook"], c["args"].get("targets")) for c in calls if "watch" in c["hook"]]
    # Each watch a plugin sees starts and stops: the first, then the one SIGHUP began.
    assert watch == [
        ("syncmail_watch_started", [["test", None]]),
        ("syncmail_watch_stopped", None),
        ("syncmail_watch_started", [["test", None]]),
        ("syncmail_watch_stopped", None),
    ]
