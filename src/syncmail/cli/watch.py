"""The ``watch`` command: from a parsed command line to a running watcher."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TextIO

from syncmail.config.model import Config, Target


def watch(
    inv: Any,
    config: Config,
    targets: Sequence[Target],
    pm: Any,
    reload: Callable[[], tuple[Config, Sequence[Target]]],
    err: TextIO,
) -> int:
    """Run the watcher until a signal stops it; one line on ``err`` per box synced."""
    from syncmail.sync.engine import RunOptions
    from syncmail.watch.daemon import Watcher

    def say(line: str) -> None:
        print(line, file=err, flush=True)

    options = RunOptions(
        cli_ops=inv.ops, dry_run=inv.dry_run, force=inv.force, trust_listed_status=False,
        locked_is_error=False,
    )
    watcher = Watcher(config, targets, options, pm, reload=reload, say=say)
    return watcher.run()
