"""A real notmuch database in a temporary directory, with a Maildir store under it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import pytest

from syncmail.config.model import (
    Config,
    GlobalConfig,
    Location,
    MaildirStoreConfig,
    PluginSection,
)

pytest.importorskip("notmuch2")


@dataclass
class NotmuchEnv:
    """A notmuch config + database whose root holds the Maildir store ``local`` (in ``mail/``)."""

    root: Path
    config_file: Path
    _serial: count[int] = field(default_factory=lambda: count(1))

    @property
    def maildir(self) -> Path:
        return self.root / "mail"

    def box(self, name: str) -> Path:
        path = self.maildir / name
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return path

    def deliver(self, box: str, uid: int, flags: str | None, message_id: str) -> Path:
        """Write a message file named the way mbsync names them; flags None = in new/."""
        n = next(self._serial)
        base = f"1700000000.{n}_{n}.testhost,U={uid}"
        sub, name = ("new", base) if flags is None else ("cur", f"{base}:2,{flags}")
        path = self.box(box) / sub / name
        path.write_bytes(
            f"From: a@example.invalid\nTo: b@example.invalid\nSubject: message {n}\n"
            f"Message-ID: <{message_id}>\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n\n"
            f"body {n}\n".encode()
        )
        return path

    def notmuch(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["notmuch", *args], capture_output=True, text=True, timeout=120, check=check
        )

    def tags(self, message_id: str) -> set[str]:
        out = self.notmuch("search", "--output=tags", f"id:{message_id}").stdout
        return set(out.split())

    def files(self, message_id: str) -> list[str]:
        out = self.notmuch("search", "--output=files", f"id:{message_id}").stdout
        return sorted(out.split())

    def config(self, **notmuch_section: str) -> Config:
        store = MaildirStoreConfig(
            name="local",
            defined_at=Location(str(self.root / "mbsyncrc"), 1),
            path=str(self.maildir) + "/",
        )
        sections = {}
        if notmuch_section:
            sections = {
                "Notmuch": {
                    "default": PluginSection(
                        "Notmuch",
                        "default",
                        Location(str(self.root / "mbsyncrc"), 7),
                        dict(notmuch_section),
                    )
                }
            }
        return Config(
            path=str(self.root / "mbsyncrc"),
            globals=GlobalConfig(),
            stores={"local": store},
            accounts={},
            channels={},
            groups={},
            plugin_sections=sections,
        )


@pytest.fixture
def nm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotmuchEnv]:
    root = tmp_path
    config_file = root / "notmuch-config"
    (root / "mail").mkdir()
    config_file.write_text(
        f"[database]\npath={root / 'mail'}\n\n[new]\ntags=unread;inbox;\n"
        "[maildir]\nsynchronize_flags=true\n"
    )
    monkeypatch.setenv("NOTMUCH_CONFIG", str(config_file))
    monkeypatch.delenv("NOTMUCH_PROFILE", raising=False)
    monkeypatch.delenv("SYNCMAIL_IN_NOTMUCH_HOOK", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(root / "state"))
    env = NotmuchEnv(root, config_file)
    env.box("INBOX")
    env.notmuch("new")
    yield env
