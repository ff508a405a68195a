#!/usr/bin/env python3
"""Time the per-box passes of a resync on one synthetic box pair (not a test).

    PYTHONPATH=src python3 bench/resync_passes.py [--pairs 31000] [--repeat 7]

A box of ``--pairs`` settled pairs is made up: its state file, a far listing as the IMAP
snapshot gives it, and a Maildir of empty files named as mbsync names them. Then 1% of
the near flags change and 1% of far messages are new, as in bench-sync's scenarios c
and d. Each pass a resync makes over the whole box is timed with ``time.perf_counter``
(best and median of ``--repeat``): reading the state, the Maildir listing, what to list,
the plan, the in-sync test and writing the state.

This times what a run pays per box without a server, with a plain timer. Decide
between two versions of a pass with it, not with cProfile: cProfile charges Python
loops far more than C-level calls, and once ranked a slower version of a pass first.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from syncmail.config.model import (  # noqa: E402
    Location,
    MaildirStoreConfig,
    Operations,
    SyncOps,
)
from syncmail.flags import FLAGGED, SEEN  # noqa: E402
from syncmail.store.base import ListRequest, MessageInfo  # noqa: E402
from syncmail.store.maildir import MaildirStore  # noqa: E402
from syncmail.sync.insync import obviously_in_sync  # noqa: E402
from syncmail.sync.loads import load_specs  # noqa: E402
from syncmail.sync.plan import plan  # noqa: E402
from syncmail.sync.state import SyncRecord, SyncState, format_state, parse_state  # noqa: E402

ALL_OPS = Operations(
    sync=SyncOps(
        pull=frozenset({"new", "upgrade", "gone", "flags"}),
        push=frozenset({"new", "upgrade", "gone", "flags"}),
    ),
    create=frozenset(),
    remove=frozenset(),
    expunge=frozenset(),
    expunge_solo=frozenset(),
)


def flags_of(uid: int) -> int:
    return SEEN if uid % 3 else SEEN | FLAGGED if uid % 7 == 0 else 0


def make_state(pairs: int) -> bytes:
    # Near UIDs are offset, as after a pull into a Maildir that held other mail once.
    records = [SyncRecord(u, u + 7, flags_of(u)) for u in range(1, pairs + 1)]
    return format_state(SyncState(1, 1, pairs, pairs + 7, records=records))


def make_far(pairs: int) -> dict[int, MessageInfo]:
    far = {u: MessageInfo(u, flags_of(u)) for u in range(1, pairs + 1)}
    for u in range(pairs + 1, pairs + 1 + pairs // 100):
        far[u] = MessageInfo(u, 0)  # new on the server
    return far


def make_maildir(root: str, pairs: int) -> None:
    from syncmail.flags import to_letters

    box = os.path.join(root, "INBOX")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(box, sub))
    with open(os.path.join(box, ".uidvalidity"), "w") as f:
        f.write(f"1\n{pairs + 7}\n")
    for u in range(1, pairs + 1):
        flags = flags_of(u) ^ (SEEN if u % 100 == 0 else 0)  # 1% changed locally
        name = f"1700000000.{u}_1.bench,U={u + 7}:2,{to_letters(flags)}"
        open(os.path.join(box, "cur", name), "w").close()


def timed(
    label: str,
    fn: Callable[..., object],
    repeat: int,
    setup: Callable[[], tuple[object, ...]] = tuple,
) -> None:
    """Best and median of ``repeat`` calls of ``fn(*setup())``; setup is not timed."""
    times = []
    for _ in range(repeat):
        args = setup()
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    print(
        f"| {label} | {min(times) * 1000:.1f} | {statistics.median(times) * 1000:.1f} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=31000)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    # As the command line sets it (syncmail.cli.main): a big box's objects would
    # otherwise trigger collections that a run does not have.
    gc.set_threshold(50_000, 20, 20)

    data = make_state(a.pairs)
    far = make_far(a.pairs)
    root = tempfile.mkdtemp(prefix="resync-passes-")
    try:
        make_maildir(root, a.pairs)
        cfg = MaildirStoreConfig(
            "bench", Location("bench", 0), path=root + "/", inbox=os.path.join(root, "INBOX")
        )
        box = MaildirStore(cfg).open_box("INBOX")
        near = box.list_messages(ListRequest(min_uid=1))
        state = parse_state(data, "state")
        print(f"{a.pairs} pairs, 1% near flags changed, {a.pairs // 100} new far messages")
        print("\n| pass | best ms | median ms |\n|---|--:|--:|")
        timed("read the state", lambda: parse_state(data, "state"), a.repeat)
        timed("list the Maildir", lambda: box.list_messages(ListRequest(min_uid=1)), a.repeat)
        timed("what to list (load_specs)", lambda: load_specs(state, ALL_OPS), a.repeat)
        timed(
            "plan",
            lambda st: plan(far, near, st, ALL_OPS),
            a.repeat,
            setup=lambda: (parse_state(data, "state"),),
        )
        # The in-sync test answers yes only after looking at every pair: settled listings.
        far_settled = {u: MessageInfo(u, flags_of(u)) for u in range(1, a.pairs + 1)}
        near_settled = {u + 7: MessageInfo(u + 7, flags_of(u)) for u in range(1, a.pairs + 1)}
        assert obviously_in_sync(state, far_settled, near_settled)
        timed(
            "in-sync test (settled pair)",
            lambda: obviously_in_sync(state, far_settled, near_settled),
            a.repeat,
        )
        timed("write the state", lambda: format_state(state), a.repeat)
        # After expunges (scenario c's 0.1% deleted): a few dead records among the pairs.
        dead = parse_state(data, "state")
        for rec in dead.records[:: 1000]:
            rec.dead = True
        timed("write the state, 0.1% pairs gone", lambda: format_state(dead), a.repeat)
        box.close()
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
