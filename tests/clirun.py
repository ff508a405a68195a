"""Run the ``syncmail`` command in-process, as its console script would, capturing output.

``output`` is stdout and stderr interleaved as a terminal would show them.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

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
