#!/usr/bin/env python3
"""Where one syncmail run's time goes: start-up, our CPU, and the server's answers.

    PYTHON bench/run_waits.py [--repeat N] SYNCMAIL-ARGUMENTS...
    e.g. venv/bin/python bench/run_waits.py -c mbsyncrc -a

Runs ``syncmail SYNCMAIL-ARGUMENTS`` in this process, as the ``syncmail`` command would,
and prints (a benchmark aid, not a test):

- ``import``: importing the command (``syncmail.cli``); the modules a run imports on the
  way (imapclient, the planning) are in ``run``;
- ``run``: the command's wall time, and the CPU time of all its threads;
- the time spent waiting for the server, per command the answer was for (``LIST`` is
  the LIST-STATUS of the boxes); pipelined commands are counted under the last one
  sent;
- ``other``: wall time that is neither CPU nor a server wait (the disk's syncs, a
  thread's work being waited for); below zero when a thread worked while the run
  waited for the server.

It times the syncmail installed for the Python that runs it; run it with the venv's
Python to time what a user has. It wraps the connection reader's ``_recv``, so it knows
the reader's internals: it belongs with the code, not with the tests.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time

_TAG = "the answer to "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs (each is reported)")
    ours, args = parser.parse_known_args()
    started = time.perf_counter()
    from syncmail.cli import main as syncmail_main
    from syncmail.store import imapreader

    imported = time.perf_counter() - started
    waits: collections.Counter[str] = collections.Counter()
    counts: collections.Counter[str] = collections.Counter()
    recv = imapreader.BoundedReader._recv

    def timed_recv(reader: imapreader.BoundedReader) -> bytes:
        t = time.perf_counter()
        try:
            return recv(reader)
        finally:
            what = reader.waiting_for.removeprefix(_TAG)
            waits[what] += time.perf_counter() - t
            counts[what] += 1

    imapreader.BoundedReader._recv = timed_recv  # type: ignore[method-assign]
    print(f"import   {1000 * imported:8.1f} ms  (syncmail.cli)", file=sys.stderr)
    for _ in range(ours.repeat):
        waits.clear()
        counts.clear()
        _run(syncmail_main, args, waits, counts)


def _run(
    syncmail_main: object,
    args: list[str],
    waits: collections.Counter[str],
    counts: collections.Counter[str],
) -> None:
    sys.argv = ["syncmail", *args]
    wall, cpu = time.perf_counter(), time.process_time()
    code: object = 0
    try:
        syncmail_main()  # type: ignore[operator]
    except SystemExit as e:
        code = e.code
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    waited = sum(waits.values())
    print(f"run      {1000 * wall:8.1f} ms  exit {code}, CPU {1000 * cpu:.1f} ms", file=sys.stderr)
    for what, seconds in waits.most_common():
        print(f"  server {1000 * seconds:8.1f} ms  {what} ({counts[what]} reads)", file=sys.stderr)
    print(f"other    {1000 * (wall - cpu - waited):8.1f} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
