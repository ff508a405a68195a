"""Helpers for the IMAP driver tests: build IMAPStore configs for a fixture user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncmail.config.model import IMAPAccountConfig, IMAPStoreConfig, Location
from syncmail.store.imap import IMAPStore

HERE = Location("test.mbsyncrc", 1)


def account(user: Any, **overrides: Any) -> IMAPAccountConfig:
    """An account for fixture user ``user`` (plain IMAP, LOGIN allowed) with ``overrides``."""
    fields: dict[str, Any] = {
        "name": f"acct-{user.name}",
        "defined_at": HERE,
        "host": user.server.host,
        "port": user.server.port,
        "user": user.name,
        "password": user.password,
        "tls_type": "none",
        "auth_mechs": ("LOGIN",),
        "timeout": 10,
    }
    fields.update(overrides)
    return IMAPAccountConfig(**fields)


def store(
    user: Any, *, store_overrides: dict[str, Any] | None = None, **overrides: Any
) -> IMAPStore:
    """An unconnected IMAPStore for ``user``; ``overrides`` go to the account."""
    acc = account(user, **overrides)
    cfg = IMAPStoreConfig(
        name=f"remote-{user.name}", defined_at=HERE, account=acc, **(store_overrides or {})
    )
    return IMAPStore(cfg)


def message(n: int, extra: bytes = b"") -> bytes:
    return (
        f"From: a@example.org\r\nTo: b@example.org\r\nSubject: test {n}\r\n"
        f"Message-ID: <{n}@syncmail.test>\r\n".encode()
        + extra
        + b"\r\nbody "
        + str(n).encode()
        + b"\r\n"
    )


def write_config(root: Path, user: Any, channel_extra: str = "", account_extra: str = "") -> Path:
    """Write ``root/mbsyncrc``: ``user``'s Dovecot account <-> a Maildir under ``root/near``.

    Channel ``test`` syncs every box (``Patterns *``, ``Create Both``, ``SyncState *``);
    the extras are appended to the account and the channel sections.  One account name
    per user, since credentials are cached per account for the whole process.
    """
    text = f"""FSync no

IMAPAccount acct-{user.name}
Host {user.host}
Port {user.port}
User {user.name}
Pass {user.password}
TLSType None
AuthMechs LOGIN
{account_extra}

IMAPStore remote
Account acct-{user.name}

MaildirStore local
Path {root}/near/
Inbox {root}/near/INBOX
SubFolders Verbatim

Channel test
Far :remote:
Near :local:
Patterns *
Create Both
SyncState *
{channel_extra}
"""
    (root / "near").mkdir(parents=True, exist_ok=True)
    path = root / "mbsyncrc"
    path.write_text(text)
    return path
