"""OAuth2 logins against a real Dovecot (oauth2 passdb) and a fake authorization server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.dovecot.watch_helpers import WatchProcess, wait_for
from tests.oauth2.conftest import OAuthAccount

pytestmark = pytest.mark.dovecot

MESSAGE = b"From: a@example.org\r\nSubject: oauth\r\nMessage-ID: <o@x>\r\n\r\nbody\r\n"


def _delivered(acct: OAuthAccount) -> int:
    box = acct.home / "mail" / "INBOX"
    return sum(len(os.listdir(box / sub)) for sub in ("cur", "new") if (box / sub).exists())


def _tokens(acct: OAuthAccount) -> dict[str, object]:
    path = acct.home / "data" / "syncmail" / "oauth2" / "acct.json"
    data: dict[str, object] = json.loads(path.read_text())
    return data


def _counting_passcmd(acct: OAuthAccount, token: str) -> str:
    """A PassCmd like pizauth's that prints ``token`` and counts its runs."""
    script = acct.home / "token.sh"
    script.write_text(f"#!/bin/sh\necho x >> {acct.home}/runs\necho '{token}'\n")
    script.chmod(0o755)
    return str(script)


def _runs(acct: OAuthAccount) -> int:
    path = acct.home / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_passcmd_output_is_the_token(oauth_account: OAuthAccount, mech: str) -> None:
    """mbsync's convention: with an OAuth2 AuthMechs, PassCmd prints the bearer token."""
    acct = oauth_account
    acct.server.append(acct.user, "INBOX", MESSAGE)
    access, _ = acct.auth.issue(acct.user, lifetime=300)
    acct.write_rc(mech, pass_cmd=_counting_passcmd(acct, access))
    proc = acct.syncmail("-c", str(acct.rc), "-a", "-D")
    assert proc.returncode == 0, proc.stderr
    assert _delivered(acct) == 1
    assert _runs(acct) == 1
    assert access not in proc.stdout + proc.stderr


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_refused_token_asks_once_more_then_says_why(oauth_account: OAuthAccount, mech: str) -> None:
    acct = oauth_account
    acct.write_rc(mech, pass_cmd=_counting_passcmd(acct, "not-a-valid-token"))
    proc = acct.syncmail("-c", str(acct.rc), "-a", "-D")
    assert proc.returncode == 1
    assert _runs(acct) == 2  # the refused token, then one fresh try
    assert f"{mech} login as {acct.user} refused: [AUTHENTICATIONFAILED]" in proc.stderr, (
        proc.stderr
    )
    status = "status 401" if mech == "XOAUTH2" else "status invalid_token"
    assert status in proc.stderr  # the server's error JSON, kept
    assert "check the token that PassCmd" in proc.stderr
    assert "not-a-valid-token" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_token_of_another_user_is_refused(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    other, _ = acct.auth.issue("someone-else", lifetime=300)
    acct.write_rc("XOAUTH2", pass_cmd=_counting_passcmd(acct, other))
    proc = acct.syncmail("-c", str(acct.rc), "-a")
    assert proc.returncode == 1
    assert "[AUTHENTICATIONFAILED]" in proc.stderr


def test_introspection_down_keeps_the_token_and_does_not_refresh(
    oauth_account: OAuthAccount,
) -> None:
    acct = oauth_account
    acct.login_tokens()
    acct.write_rc("XOAUTH2")
    # A token the manager considers valid for a while, so no refresh is due.
    access, _ = acct.auth.issue(acct.user, lifetime=300)
    data = _tokens(acct)
    data.update(access_token=access, expires_at=time.time() + 300, obtained_at=time.time())
    (acct.home / "data/syncmail/oauth2/acct.json").write_text(json.dumps(data))
    before = acct.auth.count("/token")
    acct.auth.introspect_status = 500
    try:
        proc = acct.syncmail("-c", str(acct.rc), "-a")
    finally:
        acct.auth.introspect_status = 200
    assert proc.returncode == 1
    assert "could not check the OAuth2 token" in proc.stderr
    assert "[UNAVAILABLE]" in proc.stderr
    assert "again (retry 1 of 3)" in proc.stderr  # backed off and tried again
    assert acct.auth.count("/token") == before  # no refresh storm
    assert _tokens(acct)["access_token"] == access  # the token is kept


def test_expired_token_is_refreshed_and_rotation_saved(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    acct.server.append(acct.user, "INBOX", MESSAGE)
    old_access, old_refresh = acct.login_tokens()
    acct.write_rc("OAUTHBEARER")
    time.sleep(acct.auth.access_lifetime + 0.2)
    before = acct.auth.count("/token", "refresh_token")
    proc = acct.syncmail("-c", str(acct.rc), "-a", "-D")
    assert proc.returncode == 0, proc.stderr
    assert _delivered(acct) == 1
    assert acct.auth.count("/token", "refresh_token") == before + 1
    saved = _tokens(acct)
    assert saved["refresh_token"] != old_refresh  # Microsoft-style rotation stored
    for secret in (old_access, old_refresh, saved["access_token"], saved["refresh_token"]):
        assert str(secret) not in proc.stdout + proc.stderr
    path = acct.home / "data/syncmail/oauth2/acct.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_token_revoked_at_the_server_is_refreshed_once(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    acct.login_tokens()
    acct.write_rc("XOAUTH2")
    access, _ = acct.auth.issue(acct.user, lifetime=300)
    data = _tokens(acct)
    data.update(access_token=access, expires_at=time.time() + 300, obtained_at=time.time())
    (acct.home / "data/syncmail/oauth2/acct.json").write_text(json.dumps(data))
    with acct.auth.lock:
        del acct.auth.access[access]  # the client still thinks it valid
    before = acct.auth.count("/token", "refresh_token")
    proc = acct.syncmail("-c", str(acct.rc), "-a")
    assert proc.returncode == 0, proc.stderr
    assert acct.auth.count("/token", "refresh_token") == before + 1


def test_watch_waits_out_a_token_endpoint_outage(
    oauth_account: OAuthAccount, dovecot_oauth2: Any
) -> None:
    """The token endpoint down (HTTP 503) while the watch must log in again is not a
    refused login: the account is not stopped, the watch backs off and catches up."""
    acct = oauth_account
    acct.login_tokens()
    acct.write_rc("XOAUTH2")
    with WatchProcess(acct.home, acct.rc, "-a", env=acct.env) as w:
        w.ready()
        acct.auth.token_status = 503
        try:
            time.sleep(acct.auth.access_lifetime + 0.2)  # the access token expires
            dovecot_oauth2.doveadm("kick", acct.user)  # so every connection logs in anew
            acct.server.append(acct.user, "INBOX", MESSAGE)
            wait_for(lambda: "try again later" in w.log(), timeout=15)
        finally:
            acct.auth.token_status = 200
        wait_for(lambda: _delivered(acct) == 1, timeout=30)
        assert w.stop() == 0
    log = w.log()
    assert "this account is stopped" not in log, log
    assert "Traceback" not in log


def test_revoked_refresh_token_says_log_in_again(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    acct.login_tokens()
    acct.auth.revoke_refresh(acct.user)
    acct.write_rc("XOAUTH2")
    time.sleep(acct.auth.access_lifetime + 0.2)
    proc = acct.syncmail("-c", str(acct.rc), "-a")
    assert proc.returncode == 1
    assert "run `syncmail oauth2 login acct` again" in proc.stderr
    assert "Traceback" not in proc.stderr
    token = acct.syncmail("oauth2", "token", "acct")
    assert token.returncode == 1
    assert "run `syncmail oauth2 login acct` again" in token.stderr


def test_token_command_and_status(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    status = acct.syncmail("oauth2", "status")
    assert status.returncode == 0
    assert "acct (fake): not logged in; run `syncmail oauth2 login acct`" in status.stdout
    old_access, _ = acct.login_tokens()
    first = acct.syncmail("oauth2", "token", "acct")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == old_access  # still valid: no refresh
    time.sleep(acct.auth.access_lifetime + 0.2)
    second = acct.syncmail("oauth2", "token", "acct")
    assert second.stdout.strip() not in ("", old_access)
    status = acct.syncmail("oauth2", "status")
    assert "access token valid until" in status.stdout
    assert "refresh token stored" in status.stdout
    assert second.stdout.strip() not in status.stdout


def test_parallel_token_requests_refresh_once(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    acct.login_tokens()
    time.sleep(acct.auth.access_lifetime + 0.2)
    before = acct.auth.count("/token", "refresh_token")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "syncmail", "oauth2", "token", "acct"],
            env=acct.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs)) == 1
    assert acct.auth.count("/token", "refresh_token") == before + 1


def test_loopback_login_with_the_test_as_browser(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    acct.server.append(acct.user, "INBOX", MESSAGE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncmail", "oauth2", "login", "acct", "--no-browser"],
        env=acct.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline(), proc.stderr.readline()]
        url = lines[1].strip()
        assert url.startswith(acct.auth.url + "/authorize?"), lines
        assert "code_challenge_method=S256" in url
        # The test is the browser: the server redirects to syncmail's 127.0.0.1 listener.
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"logged in" in page.read()
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "acct: logged in" in out
    acct.write_rc("XOAUTH2")
    sync = acct.syncmail("-c", str(acct.rc), "-a")
    assert sync.returncode == 0, sync.stderr
    assert _delivered(acct) == 1


def test_device_login_from_the_command_line(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    acct.auth.device_user = acct.user
    acct.auth.device_plan = (1, 0)  # one "authorization_pending", then approved
    proc = acct.syncmail("oauth2", "login", "acct", "--device")
    assert proc.returncode == 0, proc.stderr
    assert "enter the code ABCD-EFGH" in proc.stderr
    token = acct.syncmail("oauth2", "token", "acct")
    assert token.returncode == 0


def test_device_login_slows_down_when_told(
    oauth_account: OAuthAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from syncmail.oauth2 import flows, settings

    monkeypatch.setenv("XDG_CONFIG_HOME", acct_config(oauth_account))
    monkeypatch.delenv("SYNCMAIL_OAUTH2_CONFIG", raising=False)
    oauth_account.auth.device_user = oauth_account.user
    oauth_account.auth.device_plan = (3, 1)  # slow_down, pending, pending, approved
    waits: list[float] = []
    answer = flows.device_login(settings.load("acct"), io.StringIO(), sleep=waits.append)
    assert waits == [1.0, 6.0, 6.0, 6.0]
    assert isinstance(answer["access_token"], str)


def acct_config(acct: OAuthAccount) -> str:
    return str(acct.home / "config")


def test_password_accounts_do_not_turn_to_oauth(oauth_account: OAuthAccount) -> None:
    """``AuthMechs *`` with a password keeps logging in with the password, although the
    server offers OAuth2 and oauth2.toml exists."""
    acct = oauth_account
    password = "pw-" + acct.user
    acct.server.add_user(acct.user, password)
    # "LOGIN" lets the password through without TLS; "*" alone would have allowed OAuth2.
    rc = acct.write_rc("* LOGIN", pass_cmd=f"echo {password}")
    proc = acct.syncmail("-c", str(rc), "-a")
    assert proc.returncode == 0, proc.stderr


def test_star_picks_oauth_for_a_token_manager_account(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    acct.login_tokens()
    rc = acct.write_rc("*")  # PassCmd "... syncmail oauth2 token acct"
    proc = acct.syncmail("-c", str(rc), "-a", "-V")
    assert proc.returncode == 0, proc.stderr
    assert "with OAUTHBEARER" in proc.stdout + proc.stderr


def test_unused_oauth2_costs_no_import(oauth_account: OAuthAccount) -> None:
    code = (
        "import sys, syncmail.cli, syncmail.store.imap, syncmail.credentials\n"
        "print(any('oauth2' in m for m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=oauth_account.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.stdout.strip() == "False", proc.stderr


def test_threads_share_one_refresh(
    oauth_account: OAuthAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused token that another connection already replaced is not refreshed again."""
    from syncmail.oauth2 import manager

    acct = oauth_account
    monkeypatch.setenv("XDG_CONFIG_HOME", str(acct.home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(acct.home / "data"))
    monkeypatch.delenv("SYNCMAIL_OAUTH2_CONFIG", raising=False)
    old, _ = acct.login_tokens()
    before = acct.auth.count("/token", "refresh_token")
    first = manager.access_token("acct", refused=old)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(manager.access_token("acct", refused=old)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [first] * 3
    assert acct.auth.count("/token", "refresh_token") == before + 1


def test_settings_errors_name_the_file(oauth_account: OAuthAccount) -> None:
    acct = oauth_account
    path = acct.home / "config" / "syncmail" / "oauth2.toml"
    path.write_text('[accounts.acct]\nprovider = "nowhere"\n')
    proc = acct.syncmail("oauth2", "token", "acct")
    assert proc.returncode == 1
    assert f'{path}: [accounts.acct]: unknown provider "nowhere"' in proc.stderr
    path.write_text("[accounts.acct\n")
    proc = acct.syncmail("oauth2", "status")
    assert proc.returncode == 1 and str(path) in proc.stderr and "Traceback" not in proc.stderr
    assert Path(path).exists()


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
@pytest.mark.parametrize("sasl_ir", [True, False])
def test_exchange_with_and_without_sasl_ir(
    oauth_account: OAuthAccount, mech: str, sasl_ir: bool
) -> None:
    """Without SASL-IR the token goes after an empty ``+``; an error challenge is answered
    so that Dovecot ends with a tagged NO (and its JSON is kept), never a hang."""
    from imapclient import IMAPClient

    from syncmail.oauth2.sasl import Exchange, authenticate, oauthbearer_payload, xoauth2_payload

    acct = oauth_account
    good, _ = acct.auth.issue(acct.user, lifetime=300)
    for token, ok in ((good, True), ("wrong", False)):
        client = IMAPClient("127.0.0.1", port=acct.server.port, ssl=False, timeout=10)
        try:
            if mech == "XOAUTH2":
                payload = xoauth2_payload(acct.user, token)
            else:
                payload = oauthbearer_payload(acct.user, token, "127.0.0.1", acct.server.port)
            result = authenticate(client._imap, Exchange(mech, payload), sasl_ir=sasl_ir)
            assert result.ok is ok
            if not ok:
                assert result.code == "AUTHENTICATIONFAILED"
                assert result.error is not None and "status" in result.error
            else:
                assert client._imap.state == "AUTH"
                assert client.list_folders()  # the session is usable after the login
        finally:
            client.shutdown()
