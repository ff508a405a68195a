"""The pre-new hook script under a real `notmuch new`, and its installer."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from syncmail.errors import PluginError

if TYPE_CHECKING:
    from tests.notmuch.conftest import NotmuchEnv

syncmail_notmuch = pytest.importorskip("syncmail_notmuch")
from syncmail_notmuch.hook import PRE_NEW_SCRIPT, hook_dir, install_hook  # noqa: E402

pytestmark = pytest.mark.notmuch

REPO = Path(__file__).resolve().parents[2]


def _fake_syncmail(tmp: Path, body: str) -> Path:
    script = tmp / "fake-syncmail"
    script.write_text(body)
    script.chmod(0o755)
    return script


def test_embedded_script_is_the_shipped_one() -> None:
    assert (REPO / "hooks" / "notmuch" / "pre-new").read_text() == PRE_NEW_SCRIPT
    assert os.access(REPO / "hooks" / "notmuch" / "pre-new", os.X_OK)


def test_install_hook_uses_notmuchs_hook_dir(nm: NotmuchEnv) -> None:
    path = install_hook(str(nm.config_file))
    assert path == str(nm.maildir / ".notmuch" / "hooks" / "pre-new")
    assert Path(path).read_text() == PRE_NEW_SCRIPT
    assert os.access(path, os.X_OK)
    # Reinstalling over our own script is an upgrade, not an error.
    assert install_hook(str(nm.config_file)) == path


def test_a_hook_installed_with_a_config_file_passes_it_on(
    nm: NotmuchEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`syncmail -c FILE install-hook notmuch`: the hook's syncmail must read FILE too
    (it ran `syncmail -q -a`, reading the default config, or failing without one)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my rc").write_text("")
    path = install_hook(str(nm.config_file), "my rc")
    assert "syncmail_config=" + shlex.quote(str(tmp_path / "my rc")) in Path(path).read_text()
    record = tmp_path / "args"
    fake = _fake_syncmail(tmp_path, f'#!/bin/sh\nprintf "%s|" "$@" > {record}\n')
    monkeypatch.setenv("SYNCMAIL", str(fake))
    nm.notmuch("new")
    assert record.read_text() == f"-c|{tmp_path / 'my rc'}|-q|-a|"


def test_install_hook_honours_database_hook_dir(nm: NotmuchEnv) -> None:
    custom = nm.root / "my-hooks"
    nm.notmuch("config", "set", "database.hook_dir", str(custom))
    assert hook_dir(str(nm.config_file)) == str(custom)
    assert install_hook(str(nm.config_file)) == str(custom / "pre-new")


def test_install_hook_keeps_a_foreign_hook(nm: NotmuchEnv) -> None:
    hooks = nm.maildir / ".notmuch" / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    (hooks / "pre-new").write_text("#!/bin/sh\nofflineimap\n")
    with pytest.raises(PluginError, match="already exists and is not syncmail's"):
        install_hook(str(nm.config_file))
    assert (hooks / "pre-new").read_text() == "#!/bin/sh\nofflineimap\n"


def test_notmuch_new_runs_syncmail_and_indexes_what_it_fetched(
    nm: NotmuchEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_hook(str(nm.config_file))
    record = tmp_path / "args"
    target = nm.box("INBOX") / "new" / "1700000000.1_1.host,U=1"
    fake = _fake_syncmail(
        tmp_path,
        "#!/bin/sh\n"
        f'echo "$* in_hook=$SYNCMAIL_IN_NOTMUCH_HOOK" >> {record}\n'
        f"printf 'Message-ID: <fetched@x>\\nSubject: s\\n\\nhi\\n' > {target}\n",
    )
    monkeypatch.setenv("SYNCMAIL", str(fake))
    done = nm.notmuch("new")
    assert "Added 1 new message" in done.stdout
    assert nm.tags("fetched@x") == {"inbox", "unread"}

    nm.notmuch("config", "set", "syncmail.groups", "work;home")
    nm.notmuch("new")
    assert record.read_text().splitlines() == ["-q -a in_hook=1", "-q work home in_hook=1"]

    monkeypatch.setenv("SYNCMAIL_HOOK_VERBOSE", "1")
    nm.notmuch("new")
    assert record.read_text().splitlines()[-1] == "work home in_hook=1"


def test_failed_sync_stops_notmuch_new_with_a_clear_message(
    nm: NotmuchEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_hook(str(nm.config_file))
    fake = _fake_syncmail(tmp_path, "#!/bin/sh\necho 'syncmail: store far: boom' >&2\nexit 1\n")
    monkeypatch.setenv("SYNCMAIL", str(fake))
    nm.deliver("INBOX", 1, None, "waiting@x")
    done = nm.notmuch("new", check=False)
    assert done.returncode == 1
    assert "syncmail: store far: boom" in done.stderr
    assert "syncmail pre-new hook:" in done.stderr and "failed (exit status 1)" in done.stderr
    assert nm.notmuch("count", "id:waiting@x").stdout.strip() == "0"


def test_plugin_writes_the_database_from_inside_pre_new(
    nm: NotmuchEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # notmuch >= 0.32 drops its write lock for pre-new: the plugin may index directly.
    install_hook(str(nm.config_file))
    target = nm.box("INBOX") / "cur" / "1700000000.2_2.host,U=2:2,FS"
    program = f"""
import sys
from syncmail.config.model import Config, GlobalConfig, Location, MaildirStoreConfig
from syncmail.events import NewMessage, RunSummary
from syncmail.plugins import deliver, make_plugin_manager, pre_sync
open({str(target)!r}, "wb").write(b"Message-ID: <direct@x>\\nSubject: s\\n\\nhi\\n")
store = MaildirStoreConfig("local", Location("rc", 1), path={str(nm.maildir) + "/"!r})
config = Config("rc", GlobalConfig(), {{"local": store}}, {{}}, {{}}, {{}})
pm = make_plugin_manager(only=["notmuch"], strict=True)
assert pre_sync(pm, config, []) is None
deliver(pm, "syncmail_new_message", event=NewMessage(
    channel="c", box="INBOX", side="near", store="local", uid=2, flags="FS", path={str(target)!r}))
deliver(pm, "syncmail_post_sync", summary=RunSummary(channels=1))
"""
    (tmp_path / "prog.py").write_text(program)
    fake = _fake_syncmail(tmp_path, f"#!/bin/sh\nexec {sys.executable} {tmp_path / 'prog.py'}\n")
    monkeypatch.setenv("SYNCMAIL", str(fake))
    done = nm.notmuch("new")  # a deadlock would hit the subprocess timeout and fail
    assert "No new mail" in done.stdout
    assert nm.tags("direct@x") == {"inbox", "flagged"}
