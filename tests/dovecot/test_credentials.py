"""Credentials: mbsync's User/Pass/PassCmd rules, the plugin hook, and logging in with them."""

from __future__ import annotations

import itertools
import os

import pluggy
import pytest

from syncmail import PROJECT_NAME, credentials, hookimpl, hookspecs
from syncmail.config.model import IMAPAccountConfig, Location
from syncmail.errors import AuthenticationFailed
from syncmail.events import CredentialRequest
from tests.dovecot.imap_helpers import store

HERE = Location("test.mbsyncrc", 1)
_n = itertools.count()


def _account(**kw) -> IMAPAccountConfig:  # type: ignore[no-untyped-def]
    # A unique name per test: passwords are cached per account name per process.
    return IMAPAccountConfig(name=f"cred{next(_n)}-{os.getpid()}", defined_at=HERE, **kw)


def test_pass_and_user_from_config() -> None:
    acc = _account(user="alice", password="s3cret")
    assert credentials.get_user(acc) == "alice"
    assert credentials.get_password(acc) == "s3cret"


def test_passcmd_first_line_trailing_newline_stripped() -> None:
    acc = _account(pass_cmd="printf 'pass word \\nsecond line\\n'", user_cmd="echo bob")
    assert credentials.get_password(acc) == "pass word "
    assert credentials.get_user(acc) == "bob"


def test_passcmd_runs_once_per_account(tmp_path) -> None:  # type: ignore[no-untyped-def]
    counter = tmp_path / "count"
    acc = _account(pass_cmd=f"echo x >> {counter}; echo pw")
    assert credentials.get_password(acc) == "pw"
    assert credentials.get_password(acc) == "pw"
    assert counter.read_text() == "x\n"
    credentials.forget(acc)
    assert credentials.get_password(acc) == "pw"
    assert counter.read_text() == "x\nx\n"


def test_a_token_is_asked_for_at_every_login(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A bearer token expires, so it is never kept in memory: each login runs the
    token's PassCmd again (the password of the same account is kept)."""
    counter = tmp_path / "count"
    acc = _account(user="u", pass_cmd=f"echo x >> {counter}; echo tok$(wc -l < {counter})")
    first = credentials.get_token(acc, user="u", mechanism="XOAUTH2")
    second = credentials.get_token(acc, user="u", mechanism="XOAUTH2")
    assert (first, second) == ("tok1", "tok2")
    assert credentials.get_password(acc) == "tok3"
    assert credentials.get_password(acc) == "tok3"


def test_failing_passcmd_names_account_and_status_not_output() -> None:
    acc = _account(pass_cmd="echo hunter2; exit 3")
    with pytest.raises(AuthenticationFailed) as info:
        credentials.get_password(acc)
    text = str(info.value)
    assert acc.name in text and "PassCmd" in text and "exit status 3" in text
    assert "hunter2" not in text


def test_empty_output_and_closed_stdin() -> None:
    # `cat` would wait forever on an open stdin; it gets EOF and prints nothing.
    acc = _account(pass_cmd="cat")
    with pytest.raises(AuthenticationFailed, match="produced no output"):
        credentials.get_password(acc)


def test_interactive_prefix_is_stripped() -> None:
    assert credentials.run_credential_command("+echo typed", "a", "PassCmd") == "typed"


def test_no_password_and_no_terminal_is_a_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    acc = _account(user="u")
    with pytest.raises(AuthenticationFailed, match="set Pass or PassCmd"):
        credentials.get_password(acc)


class _Provider:
    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.requests: list[CredentialRequest] = []

    @hookimpl
    def syncmail_get_credentials(self, request: CredentialRequest) -> str | None:
        self.requests.append(request)
        return self.answer


def _pm(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(credentials)
    for p in plugins:
        pm.register(p)
    return pm


def test_plugins_are_asked_first() -> None:
    provider = _Provider("from-plugin")
    acc = _account(user="u", password="from-config", extra={"PassEntry": "mail/x"})
    assert credentials.get_password(acc, _pm(provider)) == "from-plugin"
    (req,) = provider.requests
    assert req.kind == "password" and req.account == acc.name and req.user == "u"
    assert req.extra == {"PassEntry": "mail/x"}


def test_builtin_hookimpl_answers_when_plugins_do_not() -> None:
    acc = _account(user="u", pass_cmd="echo from-cmd")
    assert credentials.get_password(acc, _pm(_Provider(None))) == "from-cmd"
    # Called outside get_password (no account in context) the built-in has nothing to say.
    req = CredentialRequest(account=acc.name, kind="password")
    assert credentials.syncmail_get_credentials(request=req) is None


@pytest.mark.dovecot
def test_login_with_passcmd(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = store(imap_user, password=None, pass_cmd=f"echo '{imap_user.password}'")
    s.connect()
    try:
        assert s.list_boxes() == ["INBOX"]
    finally:
        s.close()


@pytest.mark.dovecot
def test_login_with_failing_passcmd(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = store(imap_user, password=None, pass_cmd=f"echo '{imap_user.password}'; exit 1")
    with pytest.raises(AuthenticationFailed) as info:
        s.connect()
    text = str(info.value)
    assert s.name in text and "PassCmd" in text and "exit status 1" in text
    assert imap_user.password not in text


class _Broken:
    @hookimpl
    def syncmail_get_credentials(self, request: CredentialRequest) -> str | None:
        raise RuntimeError("oops: hunter2")


def test_a_broken_plugin_becomes_authentication_failed() -> None:
    acc = _account(user="u", password="pw")
    with pytest.raises(AuthenticationFailed, match="RuntimeError") as info:
        credentials.get_password(acc, _pm(_Broken()))
    assert "hunter2" not in str(info.value)


def test_same_account_name_different_config_is_not_shared() -> None:
    name = f"shared-{os.getpid()}"
    a = IMAPAccountConfig(name=name, defined_at=HERE, user="u1", pass_cmd="echo one")
    b = IMAPAccountConfig(name=name, defined_at=HERE, user="u2", pass_cmd="echo two")
    c = IMAPAccountConfig(name=name, defined_at=HERE, user="u3", password="three")
    d = IMAPAccountConfig(name=name, defined_at=HERE, user="u3", password="four")
    assert credentials.get_user(a) == "u1" and credentials.get_password(a) == "one"
    assert credentials.get_user(b) == "u2" and credentials.get_password(b) == "two"
    assert credentials.get_password(c) == "three"
    assert credentials.get_password(d) == "four"
