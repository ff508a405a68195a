"""The progress bar through the real command: drawn on a terminal, never on a pipe or
with ``-q`` (where stdout keeps mbsync's summary unchanged)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.unit.engine_support import deliver, maildir_pair_rc


def _setup(tmp_path: Path, count: int = 5) -> tuple[Path, int]:
    """The config, and the bytes of the messages to pull."""
    rc = tmp_path / "rc"
    rc.write_text(maildir_pair_rc(tmp_path, "Create Both"))
    size = sum(deliver(tmp_path, "far", f"message {n}").stat().st_size for n in range(count))
    return rc, size


def _env() -> dict[str, str]:
    # Every step is drawn, so that a run of five messages shows its bar.
    return dict(os.environ, SYNCMAIL_TEST_PROGRESS_INTERVAL="0", COLUMNS="100")


def _run_on_a_tty(*args: str) -> tuple[str, str, int]:
    """Run syncmail with stderr on a pseudo-terminal; (stdout, terminal text, exit code)."""
    main, side = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "syncmail", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=side, env=_env(),
        )
        os.close(side)
        seen = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        out = proc.communicate(timeout=60)[0]
    finally:
        os.close(main)
    return out.decode(), seen.decode(errors="replace"), proc.returncode


def test_the_bar_is_drawn_on_a_terminal_and_erased(tmp_path: Path) -> None:
    rc, size = _setup(tmp_path)
    out, tty, code = _run_on_a_tty("-c", str(rc), "-a")
    assert code == 0, tty
    # An initial pull lists the sizes: the bytes have their total.
    assert "INBOX  [" in tty and "/5 msgs  " in tty and f"/{size} B  " in tty
    assert "msg/s  ETA " in tty
    # mbsync's counts line is drawn too, and the last thing on the terminal is blanks.
    assert "C: 0/1  B: " in tty
    assert tty.rsplit("\r", 2)[-2].strip() == ""
    assert "pulled 5 new message(s)" in out


def test_nothing_is_drawn_with_quiet(tmp_path: Path) -> None:
    rc, _ = _setup(tmp_path)
    out, tty, code = _run_on_a_tty("-q", "-c", str(rc), "-a")
    assert code == 0, tty
    assert tty == "" and out == ""


def test_nothing_is_drawn_on_a_pipe(tmp_path: Path) -> None:
    rc, _ = _setup(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "syncmail", "-c", str(rc), "-a"],
        capture_output=True, text=True, env=_env(), timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("Processed 1 box(es) in 1 channel(s)")
