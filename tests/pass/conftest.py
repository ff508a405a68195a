"""A throwaway GnuPG home (generated keys, one with a passphrase) and a password store."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class PassStore:
    gnupghome: Path
    store: Path

    def run(self, *args: str, input: bytes | None = None) -> None:
        subprocess.run(args, input=input, check=True, capture_output=True, timeout=60)

    def insert(self, name: str, content: str) -> None:
        self.run("pass", "insert", "-m", name, input=content.encode())


def _make_home(passphrase: str) -> Path:
    # gpg-agent's socket path must stay short: keep GNUPGHOME directly under /tmp.
    home = Path(tempfile.mkdtemp(prefix="gpg", dir="/tmp"))
    home.chmod(0o700)
    uid = "syncmail test <test@example.invalid>"
    subprocess.run(
        ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase,
         "--quick-gen-key", uid, "future-default", "default", "never"],
        check=True, capture_output=True, timeout=120, env={**os.environ, "GNUPGHOME": str(home)},
    )  # fmt: skip
    return home


def _stop_agent(home: Path) -> None:
    subprocess.run(
        ["gpgconf", "--kill", "gpg-agent"],
        env={**os.environ, "GNUPGHOME": str(home)},
        capture_output=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def homes() -> Iterator[dict[str, Path]]:
    """Two GnuPG homes, made once: a key without passphrase and one with a passphrase."""
    made = {"open": _make_home(""), "locked": _make_home("s3cret-passphrase")}
    yield made
    for home in made.values():
        _stop_agent(home)
        shutil.rmtree(home, ignore_errors=True)


def _store(home: Path, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> PassStore:
    monkeypatch.setenv("GNUPGHOME", str(home))
    monkeypatch.setenv("PASSWORD_STORE_DIR", str(tmp / "store"))
    for name in ("GPG_TTY", "DISPLAY", "WAYLAND_DISPLAY", "PASSWORD_STORE_GPG_OPTS"):
        monkeypatch.delenv(name, raising=False)
    store = PassStore(home, tmp / "store")
    store.run("pass", "init", "test@example.invalid")
    return store


@pytest.fixture
def open_store(
    homes: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> PassStore:
    return _store(homes["open"], monkeypatch, tmp_path)


@pytest.fixture
def locked_store(
    homes: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[PassStore]:
    """The key with a passphrase, which gpg-agent has not cached."""
    home = homes["locked"]
    _stop_agent(home)
    yield _store(home, monkeypatch, tmp_path)
    (home / "gpg-agent.conf").unlink(missing_ok=True)
    _stop_agent(home)
