"""notmuch plugin and pre-new hook through real syncs against Dovecot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from syncmail.plugins import config_keywords, make_plugin_manager
from tests.clirun import put_syncmail_on_path

if TYPE_CHECKING:
    from tests.notmuch.conftest import NotmuchEnv

notmuch2 = pytest.importorskip("notmuch2")
engine = pytest.importorskip("syncmail.sync.engine")
parser = pytest.importorskip("syncmail.config.parser")
selection = pytest.importorskip("syncmail.config.selection")
syncmail_notmuch = pytest.importorskip("syncmail_notmuch")
from syncmail_notmuch.hook import install_hook  # noqa: E402

pytestmark = [pytest.mark.dovecot, pytest.mark.notmuch]

RC = """\
IMAPAccount acct
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
TLSType None
AuthMechs LOGIN
Timeout 10

IMAPStore remote
Account acct

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns *
Create Near
SyncState *

Notmuch default
Config {nmconfig}
"""


def _message(n: int) -> bytes:
    return (
        f"From: a@example.org\r\nTo: b@example.org\r\nSubject: test {n}\r\n"
        f"Message-ID: <{n}@e2e.test>\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
        f"\r\nbody {n}\r\n"
    ).encode()


def _write_rc(nm: NotmuchEnv, user: Any, path: Path) -> str:
    path.write_text(
        RC.format(
            port=user.port,
            user=user.name,
            password=user.password,
            mail=nm.maildir,
            nmconfig=nm.config_file,
        )
    )
    return str(path)


def _sync(rc: str) -> Any:
    pm = make_plugin_manager(only=["notmuch"], strict=True)
    config = parser.load_config(rc, extra_keywords=config_keywords(pm))
    targets = selection.resolve_targets(config, ["ch"], False)
    result = engine.run(config, targets, engine.RunOptions(), pm)
    assert not result.errors, [str(e) for e in result.errors]
    return result


def _server_flags(user: Any, n: int | str) -> set[bytes]:
    client = user.client()
    try:
        client.select_folder("INBOX")
        uids = client.search(["HEADER", "Message-ID", f"<{n}@e2e.test>"])
        assert len(uids) == 1
        return set(client.get_flags(uids)[uids[0]])
    finally:
        client.logout()


def test_sync_indexes_and_keeps_tags_and_flags_in_step(
    nm: NotmuchEnv, imap_user: Any, tmp_path: Path
) -> None:
    imap_user.append("INBOX", _message(1), (r"\Seen", r"\Flagged"))
    imap_user.append("INBOX", _message(2))
    rc = _write_rc(nm, imap_user, tmp_path / "mbsyncrc")

    _sync(rc)
    assert nm.tags("1@e2e.test") == {"inbox", "flagged"}
    assert nm.tags("2@e2e.test") == {"inbox", "unread"}
    assert "No new mail" in nm.notmuch("new").stdout

    # Read in notmuch (library only, like afew): the next sync sets \Seen on the server.
    with notmuch2.Database(mode="rw") as db:
        db.find("2@e2e.test").tags.discard("unread")
    _sync(rc)
    assert rb"\Seen" in _server_flags(imap_user, 2)

    # Flagged on another client: the sync renames the file and notmuch follows.
    client = imap_user.client()
    try:
        client.select_folder("INBOX")
        uid = client.search(["HEADER", "Message-ID", "<2@e2e.test>"])[0]
        client.add_flags([uid], [r"\Flagged"])
    finally:
        client.logout()
    _sync(rc)
    assert nm.tags("2@e2e.test") == {"inbox", "flagged"}
    out = nm.notmuch("new").stdout
    assert "No new mail" in out and "rename" not in out


def test_notmuch_new_runs_syncmail_through_the_hook(
    nm: NotmuchEnv, imap_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_syncmail_on_path(tmp_path / "bin", monkeypatch)
    home = tmp_path / "home"
    home.mkdir()
    _write_rc(nm, imap_user, home / ".mbsyncrc")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("SYNCMAIL", raising=False)
    imap_user.append("INBOX", _message(3), (r"\Seen",))
    install_hook(str(nm.config_file))

    done = nm.notmuch("new", check=False)
    assert done.returncode == 0, done.stderr
    # Indexed by the plugin inside pre-new, so notmuch's own scan found nothing new.
    assert "No new mail" in done.stdout
    assert nm.tags("3@e2e.test") == {"inbox"}
    assert os.listdir(nm.maildir / "INBOX" / "cur")


def test_tagging_a_placeholder_flagged_in_notmuch_fetches_the_message(
    nm: NotmuchEnv, imap_user: Any, tmp_path: Path
) -> None:
    from syncmail.sync.msgcvt import is_placeholder

    big = (
        b"From: a@example.org\r\nSubject: big\r\nMessage-ID: <big@e2e.test>\r\n"
        b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\n" + b"x" * 70 + b"\r\n"
    ) + b"y" * 70 * 40 + b"\r\n"
    imap_user.append("INBOX", big, (r"\Seen",))
    rc = _write_rc(nm, imap_user, tmp_path / "mbsyncrc")
    text = Path(rc).read_text()
    text = text.replace("SubFolders Verbatim\n", "SubFolders Verbatim\nMaxSize 1k\n")
    Path(rc).write_text(text.replace("SyncState *\n", "SyncState *\nExpunge Near\n"))

    _sync(rc)
    [placeholder] = nm.files("big@e2e.test")
    assert is_placeholder(Path(placeholder).read_bytes())
    assert nm.tags("big@e2e.test") == {"inbox"}

    # The user asks for the real message the notmuch way; notmuch renames the file.
    nm.notmuch("tag", "+flagged", "id:big@e2e.test")
    _sync(rc)
    [real] = nm.files("big@e2e.test")
    assert real != placeholder and not os.path.exists(placeholder)
    assert not is_placeholder(Path(real).read_bytes())
    # Flagged was the request only: the real message comes as the server has it.
    assert nm.tags("big@e2e.test") == {"inbox"}
    assert _server_flags(imap_user, "big") == {rb"\Seen"}
    out = nm.notmuch("new").stdout
    assert "No new mail" in out and "rename" not in out

