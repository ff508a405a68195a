"""Run the ``syncmail`` command in-process, as its console script would, capturing output.

``output`` is stdout and stderr interleaved as a terminal would show them.
``put_syncmail_on_path`` is for code under test that runs the command by name.
"""

from __future__ import annotations

import io
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from syncmail.cli import main


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str
    output: str


class _Tee(io.StringIO):
    def __init__(self, both: io.StringIO) -> None:
        super().__init__()
        self._both = both

    def write(self, s: str) -> int:
        self._both.write(s)
        return super().write(s)


def invoke(*args: str) -> Result:
    both = io.StringIO()
    out, err = _Tee(both), _Tee(both)
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(), out, err
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return Result(code, out.getvalue(), err.getvalue(), both.getvalue())


def put_syncmail_on_path(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``syncmail`` on PATH the syncmail under test (this interpreter's), for hooks
    that run the command by name (notmuch's pre-new hook, alot's).  Whatever else PATH
    holds (another install, none at all) would test something else or nothing."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "syncmail"
    script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m syncmail "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
