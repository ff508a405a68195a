"""hooks/alot/hooks.py: the sync runs in the background of alot's asyncio loop."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.clirun import put_syncmail_on_path

HOOKS = Path(__file__).resolve().parents[2] / "hooks" / "alot" / "hooks.py"


@pytest.fixture
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("syncmail_alot_hooks", HOOKS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeUI:
    """The part of alot's UI the hooks use."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.cleared = 0
        self.updates = 0

    def notify(self, message: str, priority: str = "normal", timeout: int = 0) -> object:
        self.messages.append((priority, message))
        return object()

    def clear_notify(self, widgets: list[Any]) -> None:
        self.cleared += len(widgets)

    def update(self) -> None:
        self.updates += 1


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "sync"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_refresh_hook_runs_the_configured_command(
    hooks: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    script = _script(tmp_path, 'touch "$1"\n')
    monkeypatch.setenv("SYNCMAIL_ALOT_COMMAND", f"{script} {marker}")
    ui = FakeUI()
    asyncio.run(hooks.pre_global_refresh(ui=ui, dbm=None, cmd=None))
    assert marker.exists()
    assert ui.messages[-1] == ("normal", "mail synced")
    assert ui.cleared == 1
    assert ui.updates == 0  # alot's own refresh follows the pre hook


def test_sync_failure_is_notified_as_an_error(hooks: ModuleType, tmp_path: Path) -> None:
    cmd = [_script(tmp_path, "echo 'syncmail: store far: connection refused' >&2\nexit 1\n")]
    ui = FakeUI()
    assert asyncio.run(hooks.run_sync(ui, command=cmd, refresh=True)) == 1
    assert ui.messages[-1] == ("error", "mail sync failed: syncmail: store far: connection refused")
    assert ui.updates == 0


def test_missing_command_is_notified(hooks: ModuleType, tmp_path: Path) -> None:
    ui = FakeUI()
    assert asyncio.run(hooks.run_sync(ui, command=[str(tmp_path / "nope")])) == 127
    assert ui.messages[-1][0] == "error" and "cannot run" in ui.messages[-1][1]


def test_the_loop_keeps_running_while_syncing(hooks: ModuleType, tmp_path: Path) -> None:
    # The command waits until the loop itself releases it: with a blocking call this
    # would never finish (the wait_for bound turns that into a failure, not a hang).
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    cmd = [_script(tmp_path, f"read line < {fifo}\n")]
    ui = FakeUI()

    async def scenario() -> int:
        sync = asyncio.ensure_future(hooks.run_sync(ui, command=cmd, refresh=True))
        while not ui.messages:
            await asyncio.sleep(0.01)
        assert ui.messages[0][1].startswith("syncing mail")
        # A second request while the first runs does not start another sync.
        assert await hooks.run_sync(ui, command=cmd) == 0
        assert ui.messages[-1][1] == "a mail sync is already running"
        await asyncio.to_thread(fifo.write_text, "go\n")
        return await asyncio.wait_for(sync, 60)

    assert asyncio.run(asyncio.wait_for(scenario(), 90)) == 0
    assert ui.messages[-1] == ("normal", "mail synced")
    assert ui.updates == 1  # `:sync` refreshes (here: the no-alot fallback)


RC = """\
IMAPAccount acct
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
TLSType None
AuthMechs LOGIN

IMAPStore remote
Account acct

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX

Channel ch
Far :remote:
Near :local:
Patterns *
Create Near
SyncState *
"""


@pytest.mark.dovecot
def test_sync_command_fetches_mail_from_dovecot(
    hooks: ModuleType, imap_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_syncmail_on_path(tmp_path / "bin", monkeypatch)
    imap_user.append("INBOX", b"Subject: hi\r\nMessage-ID: <alot@x>\r\n\r\nbody\r\n")
    rc = tmp_path / "mbsyncrc"
    mail = tmp_path / "mail"
    rc.write_text(
        RC.format(port=imap_user.port, user=imap_user.name, password=imap_user.password, mail=mail)
    )
    monkeypatch.setenv("SYNCMAIL_ALOT_COMMAND", f"syncmail -c {rc} -a")
    monkeypatch.setenv("NOTMUCH_CONFIG", str(tmp_path / "no-notmuch"))
    ui = FakeUI()
    assert asyncio.run(hooks.run_sync(ui, refresh=True)) == 0, ui.messages
    assert ui.messages[-1] == ("normal", "mail synced")
    delivered = list((mail / "INBOX" / "new").iterdir()) + list((mail / "INBOX" / "cur").iterdir())
    assert len(delivered) == 1 and b"<alot@x>" in delivered[0].read_bytes()
