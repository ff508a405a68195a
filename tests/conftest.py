"""Shared pytest fixtures: a session-wide Dovecot on 127.0.0.1 and a fresh IMAP user per test."""

from __future__ import annotations

import itertools
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

# The fixture module is shared with the demo script, so it is imported as ``tests.fixtures``
# whatever directory pytest was started from.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fixtures.dovecot import (  # noqa: E402
    CAPABILITY_WITHOUT_NOTIFY,
    CAPABILITY_WITHOUT_UIDPLUS,
    Dovecot,
    available,
)

if TYPE_CHECKING:
    from imapclient import IMAPClient

_user_counter = itertools.count(1)


@dataclass
class ImapUser:
    """A Dovecot user with an empty mailbox, created for one test."""

    server: Dovecot
    name: str
    password: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def maildir(self) -> Path:
        return self.server.user_maildir(self.name)

    def client(self) -> IMAPClient:
        """A logged-in imapclient.IMAPClient (plain IMAP on loopback); caller logs out."""
        return self.server.client(self.name, self.password)

    def append(self, box: str, message: bytes, flags: tuple[str, ...] = ()) -> int | None:
        return self.server.append(self.name, box, message, flags)


def running_dovecot(prefix: str, **options: Any) -> Iterator[Dovecot]:
    """A Dovecot of its own under a fresh directory, started and, at the end, stopped.

    Not tmp_path_factory: pytest's base dir is mode 0700 and Dovecot's mail processes
    run as another uid when we are root.  ``options`` go to ``Dovecot``.
    """
    if not available():
        pytest.skip("dovecot is not installed (dovecot-core, dovecot-imapd)")
    directory = tempfile.mkdtemp(prefix=f"syncmail-dovecot-{prefix}")
    server = Dovecot(directory, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def new_user(server: Dovecot, letter: str) -> Iterator[ImapUser]:
    """A fresh user with an empty mailbox on ``server``, removed afterwards."""
    name = f"{letter}{next(_user_counter)}{secrets.token_hex(3)}"
    password = secrets.token_hex(8)
    server.reset_user(name)
    server.add_user(name, password)
    yield ImapUser(server, name, password)
    server.reset_user(name)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    yield from running_dovecot("")


@pytest.fixture
def imap_user(dovecot: Dovecot) -> Iterator[ImapUser]:
    yield from new_user(dovecot, "u")


@pytest.fixture(scope="session")
def dovecot_no_uidplus() -> Iterator[Dovecot]:
    """A second Dovecot whose CAPABILITY lacks UIDPLUS (APPEND gives no UIDs to rely on)."""
    yield from running_dovecot("nouidplus-", imap_capability=CAPABILITY_WITHOUT_UIDPLUS)


@pytest.fixture
def imap_user_no_uidplus(dovecot_no_uidplus: Dovecot) -> Iterator[ImapUser]:
    """Like ``imap_user``, on the server without UIDPLUS."""
    yield from new_user(dovecot_no_uidplus, "n")


@pytest.fixture(scope="session")
def dovecot_no_notify() -> Iterator[Dovecot]:
    """A third Dovecot whose CAPABILITY lacks NOTIFY (watchers must fall back to IDLE)."""
    yield from running_dovecot("nonotify-", imap_capability=CAPABILITY_WITHOUT_NOTIFY)


@pytest.fixture
def imap_user_no_notify(dovecot_no_notify: Dovecot) -> Iterator[ImapUser]:
    """Like ``imap_user``, on the server without NOTIFY."""
    yield from new_user(dovecot_no_notify, "i")
