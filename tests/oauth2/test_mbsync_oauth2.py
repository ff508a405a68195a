"""The same mbsyncrc, ``AuthMechs XOAUTH2`` + ``PassCmd "syncmail oauth2 token A"``, run by
mbsync (with the KDE XOAUTH2 SASL plugin) and by syncmail, against the OAuth2 Dovecot."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

from tests.oauth2.conftest import OAuthAccount

pytestmark = [pytest.mark.dovecot, pytest.mark.interop]

MESSAGE = b"From: a@example.org\r\nSubject: interop\r\nMessage-ID: <i@x>\r\n\r\nbody\r\n"


def _xoauth2_plugin() -> bool:
    return bool(
        glob.glob("/usr/lib/*/sasl2/libkdexoauth2.so*") + glob.glob("/usr/lib/sasl2/*xoauth2*")
    )


@pytest.fixture
def mbsync() -> str:
    path = shutil.which("mbsync")
    if path is None:
        pytest.skip("mbsync (isync) is not installed")
    if not _xoauth2_plugin():
        pytest.skip(
            "no XOAUTH2 SASL plugin for mbsync (apt-get install libsasl2-modules-kdexoauth2)"
        )
    return path


def _files(acct: OAuthAccount) -> list[str]:
    box = acct.home / "mail" / "INBOX"
    return sorted(n for sub in ("cur", "new") for n in os.listdir(box / sub))


def test_mbsync_and_syncmail_share_one_oauth2_config(
    oauth_account: OAuthAccount, mbsync: str
) -> None:
    acct = oauth_account
    acct.server.append(acct.user, "INBOX", MESSAGE)
    acct.login_tokens()
    rc = acct.write_rc("XOAUTH2")
    proc = subprocess.run(
        [mbsync, "-c", str(rc), "-a"],
        env=acct.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(_files(acct)) == 1
    acct.server.append(acct.user, "INBOX", MESSAGE.replace(b"<i@x>", b"<j@x>"))
    ours = acct.syncmail("-c", str(rc), "-a")
    assert ours.returncode == 0, ours.stderr
    assert len(_files(acct)) == 2
    again = subprocess.run(
        [mbsync, "-c", str(rc), "-a"],
        env=acct.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert len(_files(acct)) == 2  # mbsync reads the state syncmail wrote: nothing twice
