"""Helpers for the IMAP driver tests: build IMAPStore configs for a fixture user."""

from __future__ import annotations

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
