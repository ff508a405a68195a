"""Fixtures of the hostile-server tests: a config writer and a real ``syncmail`` run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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
    """An mbsyncrc pulling every box of the server at ``port`` into ``tmp/mail``."""
    root = tmp / "mail"
    root.mkdir(exist_ok=True)
    rc = tmp / "rc"
    rc.write_text(
        f"IMAPAccount a\nHost 127.0.0.1\nPort {port}\nUser hostile\nPass hostile-secret\n"
        f"TLSType None\nAuthMechs LOGIN\nTimeout {timeout}\n{extra_account}\n\n"
        "IMAPStore far\nAccount a\n\n"
        f"MaildirStore near\nPath {root}/\nInbox {root}/INBOX\nSubFolders Verbatim\n\n"
        "Channel c\nFar :far:\nNear :near:\nPatterns *\nCreate Near\nSync Pull\n"
        "SyncState *\n"
    )
    return rc


# Runs syncmail's command and, at exit, writes the process's peak RSS (VmHWM, KiB) to the
# file named by $PEAK_FILE. wait4's ru_maxrss cannot be used: a child forked from pytest
# starts with pytest's own high-water mark.
_MEASURED = """
import atexit, os, re, sys
def _peak():
    with open("/proc/self/status") as f:
        kib = re.search(r"VmHWM:\\s+(\\d+)", f.read()).group(1)
    with open(os.environ["PEAK_FILE"], "w") as out:
        out.write(kib)
atexit.register(_peak)
from syncmail.cli import main
sys.argv[0] = "syncmail"
main()
"""


def run_syncmail(rc: Path, *args: str) -> Run:
    """``syncmail -c rc args`` as a real process, with its own peak RSS.

    Killed (and the test failed) after ``HANG_SECONDS``.
    """
    peak = Path(tempfile.mkdtemp(prefix="syncmail-peak-")) / "kib"
    env = dict(os.environ, SYNCMAIL_TEST_RETRY_SCALE="0.05", PEAK_FILE=str(peak))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", _MEASURED, "-c", str(rc), *args],
            stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        hung = threading.Event()

        def kill() -> None:
            hung.set()
            os.kill(proc.pid, signal.SIGKILL)

        timer = threading.Timer(HANG_SECONDS, kill)
        timer.start()
        try:
            _, status, _usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        if hung.is_set():
            pytest.fail(f"syncmail hung for {HANG_SECONDS} s")
        out.seek(0)
        err.seek(0)
        return Run(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            _read_peak(peak),
            seconds,
        )


def _read_peak(path: Path) -> float:
    """MB written by the child at exit; NaN (failing every comparison) when it wrote none."""
    try:
        return int(path.read_text()) / 1024
    except (OSError, ValueError):
        return float("nan")
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
