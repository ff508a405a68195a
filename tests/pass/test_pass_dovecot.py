"""An IMAP login whose password comes from the password store (pass plugin + Dovecot)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from syncmail.config.model import IMAPAccountConfig, IMAPStoreConfig, Location
from syncmail.errors import AuthenticationFailed
from syncmail.plugins import make_plugin_manager

if TYPE_CHECKING:
    from conftest import PassStore

imap = pytest.importorskip("syncmail.store.imap")
credentials = pytest.importorskip("syncmail.credentials")

pytestmark = pytest.mark.dovecot


def _store(user: Any, entry: str, **extra: str) -> Any:
    account = IMAPAccountConfig(
        name=f"pass-{user.name}",
        defined_at=Location("test.mbsyncrc", 1),
        host=user.host,
        port=user.port,
        user=None if extra else user.name,
        tls_type="none",
        auth_mechs=("LOGIN",),
        timeout=10,
        extra={"PassEntry": entry, **extra},
    )
    credentials.forget(account)
    cfg = IMAPStoreConfig(name="remote", defined_at=account.defined_at, account=account)
    return imap.IMAPStore(cfg, plugin_manager=make_plugin_manager(only=["pass"], strict=True))


def test_login_with_password_from_pass(open_store: PassStore, imap_user: Any) -> None:
    open_store.insert(f"mail/{imap_user.name}", f"{imap_user.password}\nlogin: ignored\n")
    store = _store(imap_user, f"mail/{imap_user.name}")
    try:
        store.connect()
        assert "INBOX" in store.list_boxes()
    finally:
        store.close()


def test_user_and_password_from_pass(open_store: PassStore, imap_user: Any) -> None:
    open_store.insert("mail/acct", f"{imap_user.password}\nlogin: {imap_user.name}\n")
    store = _store(imap_user, "mail/acct", PassField="login")
    try:
        store.connect()
        assert "INBOX" in store.list_boxes()
    finally:
        store.close()


def test_missing_entry_fails_the_store_clearly(open_store: PassStore, imap_user: Any) -> None:
    store = _store(imap_user, "mail/absent")
    with pytest.raises(AuthenticationFailed, match="mail/absent is not in the password store"):
        store.connect()
    store.close()
