"""The mbsync 1.5 binary for the differential tests: ``SYNCMAIL_TEST_MBSYNC15`` names it
(Debian ships only 1.4.4); without it, or if it does not run here, the tests skip."""

from __future__ import annotations

import os
import subprocess

import pytest


@pytest.fixture(scope="session")
def mbsync15() -> str:
    binary = os.environ.get("SYNCMAIL_TEST_MBSYNC15", "")
    if not binary:
        pytest.skip("SYNCMAIL_TEST_MBSYNC15 does not name an mbsync 1.5 binary")
    try:
        proc = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    except OSError as e:
        pytest.skip(f"SYNCMAIL_TEST_MBSYNC15={binary} does not run: {e}")
    if proc.returncode != 0 or "isync 1.5" not in proc.stdout:
        pytest.skip(f"SYNCMAIL_TEST_MBSYNC15={binary} is not mbsync 1.5: {proc.stdout!r}")
    return binary
