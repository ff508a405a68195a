"""The pass plugin against a real password store and a throwaway GnuPG home."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import PassStore

from syncmail.errors import AuthenticationFailed
from syncmail.events import CredentialRequest
from syncmail.plugins import make_plugin_manager

syncmail_pass = pytest.importorskip("syncmail_pass")

pytestmark = pytest.mark.skipif(
    shutil.which("pass") is None or shutil.which("gpg") is None, reason="needs pass and gpg"
)

PASSWORD = "correct horse  battery staple "


def _request(kind: str = "password", **extra: str) -> CredentialRequest:
    return CredentialRequest(account="work", kind=kind, host="127.0.0.1", extra=extra)


def test_password_is_the_first_line_with_spaces_kept(open_store: PassStore) -> None:
    open_store.insert("mail/work", f"{PASSWORD}\nlogin: alice@example.invalid\nurl: x\n")
    got = syncmail_pass.syncmail_get_credentials(request=_request(PassEntry="mail/work"))
    assert got == PASSWORD


def test_user_only_from_the_field_passfield_names(open_store: PassStore) -> None:
    open_store.insert("mail/work", f"{PASSWORD}\nLogin: alice\nuser-name: bob\n")
    hook = syncmail_pass.syncmail_get_credentials
    # Without PassField the config's User (or the built-in prompt) decides.
    assert hook(request=_request("user", PassEntry="mail/work")) is None
    assert hook(request=_request("user", PassEntry="mail/work", PassField="login")) == "alice"
    assert hook(request=_request("user", PassEntry="mail/work", PassField="user-name")) == "bob"
    assert hook(request=_request("user", PassEntry="mail/work", PassField="nothere")) is None


def test_without_passentry_the_plugin_declines(open_store: PassStore) -> None:
    assert syncmail_pass.syncmail_get_credentials(request=_request()) is None


def test_through_the_plugin_manager(open_store: PassStore) -> None:
    open_store.insert("mail/work", PASSWORD + "\n")
    pm = make_plugin_manager(only=["pass"])
    assert pm.hook.syncmail_get_credentials(request=_request(PassEntry="mail/work")) == PASSWORD


def test_missing_entry_is_a_clear_auth_error(open_store: PassStore) -> None:
    with pytest.raises(AuthenticationFailed, match="mail/nope is not in the password store"):
        syncmail_pass.syncmail_get_credentials(request=_request(PassEntry="mail/nope"))


def test_locked_key_without_terminal_fails_clearly(locked_store: PassStore) -> None:
    locked_store.insert("mail/work", PASSWORD + "\n")
    with pytest.raises(AuthenticationFailed) as info:
        syncmail_pass.syncmail_get_credentials(
            request=_request(PassEntry="mail/work", PassTimeout="20")
        )
    message = str(info.value)
    assert "pass could not decrypt mail/work" in message
    assert "run `pass show mail/work` once" in message
    assert PASSWORD.strip() not in message


def test_pinentry_that_waits_forever_is_cut_by_the_timeout(
    locked_store: PassStore, tmp_path: Path
) -> None:
    # A pinentry waiting for a human who is not there (e.g. a GUI on another screen).
    pinentry = tmp_path / "pinentry-wait"
    pinentry.write_text("#!/bin/sh\nexec sleep 120\n")
    pinentry.chmod(0o755)
    (locked_store.gnupghome / "gpg-agent.conf").write_text(f"pinentry-program {pinentry}\n")
    locked_store.insert("mail/work", PASSWORD + "\n")

    outcome: list[BaseException | str] = []

    def attempt() -> None:
        try:
            outcome.append(syncmail_pass.show("mail/work", timeout=2).password)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(90)
    assert not worker.is_alive(), "pass show was not cut off by its timeout"
    assert len(outcome) == 1 and isinstance(outcome[0], syncmail_pass.PassError)
    assert "within 2 s" in str(outcome[0])
    assert PASSWORD.strip() not in str(outcome[0])


def test_bad_timeout_value_is_reported() -> None:
    with pytest.raises(AuthenticationFailed, match="PassTimeout"):
        syncmail_pass.syncmail_get_credentials(request=_request(PassEntry="x", PassTimeout="soon"))
