"""A private Dovecot with the oauth2 passdb, its introspection endpoint and a fake
authorization server, and a per-test account set up for syncmail (rc + oauth2.toml)."""

from __future__ import annotations

import itertools
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import syncmail
from tests.conftest import running_dovecot
from tests.fixtures.dovecot import Dovecot
from tests.oauth2.authserver import CLIENT_ID, AuthServer

_counter = itertools.count(1)
# The syncmail under test (the one pytest imported), also for the commands run by tests.
SRC = str(Path(syncmail.__file__).resolve().parents[1])
PLUGINS = str(Path(__file__).resolve().parents[2] / "plugins")


@pytest.fixture(scope="session")
def authserver() -> Iterator[AuthServer]:
    server = AuthServer().start()
    yield server
    server.stop()


def _oauth2_passdb(url: str) -> object:
    def hook(dovecot: Dovecot) -> str:
        ext = dovecot.dir / "dovecot-oauth2.conf.ext"
        ext.write_text(
            "introspection_mode = auth\n"
            f"introspection_url = {url}/introspect\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        return (
            "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {ext}\n}}\n"
        )

    return hook


@pytest.fixture(scope="session")
def dovecot_oauth2(authserver: AuthServer) -> Iterator[Dovecot]:
    """Dovecot offering XOAUTH2 and OAUTHBEARER, tokens checked by ``authserver``."""
    yield from running_dovecot(
        "oauth2-",
        auth_mechanisms="plain login xoauth2 oauthbearer",
        extra_config=_oauth2_passdb(authserver.url),
        auth_penalty=False,
    )


@dataclass
class OAuthAccount:
    """One mail user of the OAuth2 Dovecot and a syncmail setup for it in ``home``."""

    server: Dovecot
    auth: AuthServer
    user: str
    home: Path
    env: dict[str, str]

    @property
    def rc(self) -> Path:
        return self.home / "mbsyncrc"

    @property
    def account(self) -> str:
        return "acct"

    def write_rc(self, auth_mechs: str = "XOAUTH2", pass_cmd: str | None = None) -> Path:
        cmd = pass_cmd or f"{sys.executable} -m syncmail oauth2 token {self.account}"
        (self.home / "mail").mkdir(exist_ok=True)
        self.rc.write_text(
            f"IMAPAccount {self.account}\nHost 127.0.0.1\nPort {self.server.port}\n"
            f'User {self.user}\nPassCmd "{cmd}"\nAuthMechs {auth_mechs}\nSSLType None\n'
            "Timeout 20\n\n"
            f"IMAPStore far\nAccount {self.account}\n\n"
            f"MaildirStore near\nPath {self.home}/mail/\nInbox {self.home}/mail/INBOX\n\n"
            "Channel ch\nFar :far:\nNear :near:\nPatterns INBOX\nCreate Near\n"
            f"SyncState {self.home}/state/\n"
        )
        (self.home / "state").mkdir(exist_ok=True)
        return self.rc

    def login_tokens(self) -> tuple[str, str]:
        """Tokens as after ``syncmail oauth2 login``: written to the token file directly."""
        import json
        import time

        access, refresh = self.auth.issue(self.user)
        store = self.home / "data" / "syncmail" / "oauth2"
        store.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = time.time()
        (store / f"{self.account}.json").write_text(json.dumps({
            "access_token": access, "expires_at": now + self.auth.access_lifetime,
            "obtained_at": now, "refresh_token": refresh,
        }))  # fmt: skip
        return access, refresh

    def syncmail(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syncmail", *args],
            capture_output=True, text=True, env=self.env, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip


@pytest.fixture
def oauth_account(
    dovecot_oauth2: Dovecot, authserver: AuthServer, tmp_path: Path
) -> Iterator[OAuthAccount]:
    user = f"o{next(_counter)}{secrets.token_hex(3)}"
    # The userdb (passwd-file) must know the user; its password is never used here.
    dovecot_oauth2.add_user(user, secrets.token_hex(8))
    home = tmp_path
    (home / "config" / "syncmail").mkdir(parents=True)
    (home / "config" / "syncmail" / "oauth2.toml").write_text(
        f'[accounts.acct]\nprovider = "fake"\nclient_id = "{CLIENT_ID}"\nuser = "{user}"\n\n'
        f'[providers.fake]\nauthorize_url = "{authserver.url}/authorize"\n'
        f'token_url = "{authserver.url}/token"\ndevice_url = "{authserver.url}/devicecode"\n'
        'scopes = ["mail"]\nrotates_refresh_token = true\n'
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, PLUGINS]),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "HOME": str(home),
        "SYNCMAIL_TEST_RETRY_SCALE": "0",
    }
    env.pop("SYNCMAIL_OAUTH2_CONFIG", None)
    yield OAuthAccount(dovecot_oauth2, authserver, user, home, env)
    dovecot_oauth2.reset_user(user)
