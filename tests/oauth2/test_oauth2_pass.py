"""OAuth2 tokens kept in a real password store (``token_store = "pass:ENTRY"``): login,
refresh with rotation, parallel refreshes, and no token on a command line or in a log."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.oauth2.conftest import OAuthAccount

# The real password store and throwaway GnuPG key of tests/pass ("pass" is a keyword, so
# the package cannot be imported with an import statement).
_pass_fixtures = importlib.import_module("tests.pass.conftest")
homes = _pass_fixtures.homes
open_store = _pass_fixtures.open_store

pytestmark = [
    pytest.mark.dovecot,
    pytest.mark.skipif(
        shutil.which("pass") is None or shutil.which("gpg") is None, reason="needs pass and gpg"
    ),
]

ENTRY = "oauth/acct"
MESSAGE = b"From: a@example.org\r\nSubject: pass\r\nMessage-ID: <p@x>\r\n\r\nbody\r\n"


@pytest.fixture
def acct(oauth_account: OAuthAccount, open_store: Any) -> OAuthAccount:
    """The OAuth2 account with its tokens in ``ENTRY``, and every ``pass`` it runs logged
    (arguments only) by a wrapper first on PATH."""
    toml = oauth_account.home / "config" / "syncmail" / "oauth2.toml"
    toml.write_text(toml.read_text().replace(
        '[providers.fake]', f'token_store = "pass:{ENTRY}"\n\n[providers.fake]'
    ))  # fmt: skip
    bin_dir = oauth_account.home / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "pass"
    log = oauth_account.home / "pass-argv"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {shutil.which("pass")} "$@"\n')
    wrapper.chmod(0o755)
    oauth_account.env.update(
        GNUPGHOME=str(open_store.gnupghome),
        PASSWORD_STORE_DIR=str(open_store.store),
        PATH=f"{bin_dir}:{oauth_account.env['PATH']}",
    )
    return oauth_account


def _record(acct: OAuthAccount) -> dict[str, Any]:
    out = subprocess.run(
        ["pass", "show", ENTRY], env=acct.env, capture_output=True, text=True, timeout=60,
        check=True,
    ).stdout  # fmt: skip
    data: dict[str, Any] = json.loads(out)
    return data


def _seed(acct: OAuthAccount, expired: bool) -> dict[str, Any]:
    """Tokens as after a login, straight into the entry."""
    access, refresh = acct.auth.issue(acct.user)
    now = time.time() - (acct.auth.access_lifetime + 1 if expired else 0)
    record = {"access_token": access, "expires_at": now + acct.auth.access_lifetime,
              "obtained_at": now, "refresh_token": refresh, "provider": "fake"}  # fmt: skip
    subprocess.run(
        ["pass", "insert", "-m", "-f", ENTRY], input=json.dumps(record), env=acct.env,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return record


def _file_store(acct: OAuthAccount) -> list[str]:
    store = acct.home / "data" / "syncmail" / "oauth2"
    return sorted(p.name for p in store.iterdir()) if store.exists() else []


def _assert_hidden(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text


def test_login_refresh_and_sync_keep_the_tokens_in_pass(acct: OAuthAccount) -> None:
    acct.auth.device_user = acct.user
    acct.auth.device_plan = (0, 0)
    login = acct.syncmail("-D", "oauth2", "login", "acct", "--device")
    assert login.returncode == 0, login.stderr
    assert f"tokens stored in pass entry {ENTRY}" in login.stdout
    first = _record(acct)
    assert first["refresh_token"] and first["access_token"] and first["provider"] == "fake"
    assert _file_store(acct) == ["acct.lock"]  # the lock is local, the record is not

    time.sleep(acct.auth.access_lifetime + 0.2)
    token = acct.syncmail("-D", "oauth2", "token", "acct")
    assert token.returncode == 0, token.stderr
    second = _record(acct)
    assert token.stdout.strip() == second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]  # the rotated one, saved

    time.sleep(acct.auth.access_lifetime + 0.2)
    acct.server.append(acct.user, "INBOX", MESSAGE)
    acct.write_rc("OAUTHBEARER")  # PassCmd "... syncmail oauth2 token acct", in-process
    sync = acct.syncmail("-D", "-c", str(acct.rc), "-a")
    assert sync.returncode == 0, sync.stderr
    assert len(list((acct.home / "mail" / "INBOX").glob("*/*"))) == 1
    third = _record(acct)
    assert third["refresh_token"] != second["refresh_token"]
    assert _file_store(acct) == ["acct.lock"]
    assert "refreshing the OAuth2 access token" in sync.stderr  # -D did log

    status = acct.syncmail("oauth2", "status")
    assert "refresh token stored" in status.stdout
    secrets = [r[k] for r in (first, second, third) for k in ("access_token", "refresh_token")]
    argv = (acct.home / "pass-argv").read_text()
    assert f"insert -m -f {ENTRY}" in argv and f"show {ENTRY}" in argv
    _assert_hidden(secrets, argv, login.stdout, login.stderr, token.stderr,
                   sync.stdout, sync.stderr, status.stdout, status.stderr)  # fmt: skip

    logout = acct.syncmail("oauth2", "logout", "acct")
    assert "acct: tokens removed" in logout.stdout
    gone = subprocess.run(["pass", "show", ENTRY], env=acct.env, capture_output=True, timeout=60)
    assert gone.returncode != 0


def test_parallel_token_processes_refresh_once(acct: OAuthAccount) -> None:
    old = _seed(acct, expired=True)
    before = acct.auth.count("/token", "refresh_token")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "syncmail", "oauth2", "token", "acct"], env=acct.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1
    assert acct.auth.count("/token", "refresh_token") == before + 1
    new = _record(acct)
    assert outs[0][0].strip() == new["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert _file_store(acct) == ["acct.lock"]


def test_broken_record_in_pass_is_a_clear_error(acct: OAuthAccount) -> None:
    subprocess.run(
        ["pass", "insert", "-m", "-f", ENTRY], input="hunter2\n", env=acct.env,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    token = acct.syncmail("oauth2", "token", "acct")
    assert token.returncode == 1
    assert f"pass entry {ENTRY} is not a token record of syncmail" in token.stderr
    assert "Traceback" not in token.stderr and "hunter2" not in token.stderr


def test_without_the_pass_plugin_the_store_is_named(acct: OAuthAccount) -> None:
    token = acct.syncmail("-p", "no:pass", "oauth2", "token", "acct")
    assert token.returncode == 1
    assert f'token_store "pass:{ENTRY}": no plugin serves "pass:" stores' in token.stderr
    assert "oauth2.toml" in token.stderr
