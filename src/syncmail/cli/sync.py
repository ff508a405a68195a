"""The sync command (``syncmail [flags] CHANNEL...|-a``) and its listings (``-l``, ``-ls``)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from syncmail.config.model import ChannelOps
from syncmail.errors import ConfigError, SyncmailError
from syncmail.report import TERSE, ConsoleHandler, SummaryShape

if TYPE_CHECKING:
    import pluggy

    from syncmail.config.model import Config, Target

from syncmail.cli.argv import Invocation, UsageError
from syncmail.cli.common import _Output

log = logging.getLogger(__name__)


# Tests only: seconds between redraws of the progress line (0: every step is drawn, so
# that a run of a few messages shows its bar).
PROGRESS_INTERVAL_ENV = "SYNCMAIL_TEST_PROGRESS_INTERVAL"


def _progress_interval() -> float:
    try:
        return float(os.environ.get(PROGRESS_INTERVAL_ENV, "0.3"))
    except ValueError:
        return 0.3


def _sync(
    inv: Invocation,
    config: Config,
    targets: Sequence[Target],
    pm: pluggy.PluginManager,
    io: _Output,
    handler: ConsoleHandler,
) -> int:
    from syncmail.report import (
        ProgressLine,
        failure_text,
        retry_text,
        summary_json,
        summary_text,
    )
    from syncmail.sync.engine import RunOptions, run

    progress: ProgressLine | None = None
    if inv.verbosity >= TERSE and inv.debug is None and _isatty(io.err):
        progress = ProgressLine(io.err, interval=_progress_interval())
        handler.progress = progress
    options = RunOptions(
        cli_ops=inv.ops, dry_run=inv.dry_run, progress=progress, force=inv.force
    )
    try:
        result = run(config, targets, options, pm)
    finally:
        if progress is not None:
            progress.finish()
            handler.progress = None
    if not result.summary.channels:
        # A plugin vetoed the run before any channel started; every other error was
        # already logged by the engine when it happened (next to its progress).
        for error in result.errors:
            log.error("%s", error)
    if inv.summary_json is not None:
        unwritten = _write_summary_json(
            inv.summary_json, summary_json(result.summary, result.errors), io
        )
        if unwritten is not None:
            log.error("%s", unwritten)
            result.errors.append(unwritten)
    if inv.verbosity >= TERSE and inv.summary_json != "-":
        summary = summary_text(result.summary, summary_shape(config, targets, inv.ops))
        if summary is not None:
            print(summary, file=io.out)
        retried = retry_text(result.summary)
        if retried is not None:
            print(retried, file=io.err)
    failed = failure_text(result.summary, result.errors)
    if failed is not None:
        # Last, on stderr, whatever the verbosity: a log or cron mail must not end in
        # what reads like success.
        io.out.flush()
        print(failed, file=io.err)
    return int(result.exit_code(inv.ext_exit))


def _write_summary_json(path: str, text: str, io: _Output) -> SyncmailError | None:
    """``text`` to stdout (``-``) or to ``path``: a regular file is replaced whole (never
    half written; through a symlink, the file it points to), anything else (a FIFO, a
    device, /dev/stdout) is written to as it is; the error when it cannot be written."""
    if path == "-":
        print(text, file=io.out)
        return None
    target = os.path.realpath(path)
    try:
        if os.path.exists(target) and not os.path.isfile(target):
            with open(target, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            return None
        tmp = f"{target}.tmp{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as e:
        return SyncmailError(f"Error: cannot write the JSON summary to {path}: {e.strerror}")
    return None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def summary_shape(config: Config, targets: Sequence[Target], cli: ChannelOps) -> SummaryShape:
    """Which summary lines to print: mbsync's ``ops_any``/``trash_any``/``expunge_any``."""
    from syncmail.config.ops import effective_operations

    pull = push = False
    expunge: dict[str, bool] = {"far": False, "near": False}
    trash: dict[str, bool] = {"far": False, "near": False}
    for target in targets:
        channel = config.channels.get(target.channel)
        if channel is None:
            continue
        try:
            ops = effective_operations(config.globals, channel, cli)
        except ConfigError:
            continue  # the engine reported this channel already
        pull = pull or bool(ops.sync.pull)
        push = push or bool(ops.sync.push)
        stores = {"far": config.stores.get(channel.far.store),
                  "near": config.stores.get(channel.near.store)}
        for side, other in (("far", "near"), ("near", "far")):
            if side in ops.expunge or side in ops.expunge_solo:
                expunge[side] = True
                own, theirs = stores[side], stores[other]
                if (own is not None and own.trash) or (
                    theirs is not None and theirs.trash and theirs.trash_remote_new
                ):
                    trash[side] = True
    return SummaryShape(
        pull=pull, push=push,
        expunge_far=expunge["far"], expunge_near=expunge["near"],
        trash_far=trash["far"], trash_near=trash["near"],
    )


# --- listing ---------------------------------------------------------------------------


def _box_sort_key(name: str) -> tuple[int, str]:
    return (0 if name == "INBOX" or name.startswith("INBOX/") else 1, name)


def channel_boxes(
    config: Config, target: Target, pm: pluggy.PluginManager | None, stores: dict[str, Any]
) -> list[str]:
    """The box names a channel pairs (without prefixes), as ``-l`` shows them."""
    from syncmail.config.patterns import filter_boxes
    from syncmail.store import make_store

    channel = config.channels[target.channel]
    if target.boxes is not None:
        return list(target.boxes)
    names: set[str] = set()
    for ref in (channel.far, channel.near):
        store = stores.get(ref.store)
        if store is None:
            store = make_store(config.stores[ref.store], config, pm)
            store.connect()
            stores[ref.store] = store
        prefix = ref.box
        listed = [
            n[len(prefix):] for n in store.list_boxes() if n.startswith(prefix) and n != prefix
        ]
        names.update(filter_boxes(listed, channel.patterns))
    return sorted(names, key=_box_sort_key)


def _list_boxes(
    config: Config, targets: Sequence[Target], pm: pluggy.PluginManager, io: _Output
) -> int:
    stores: dict[str, Any] = {}
    status = 0
    try:
        for target in targets:
            channel = config.channels[target.channel]
            if len(targets) > 1:
                print(f"{channel.name}:", file=io.out)
            if not channel.patterns and target.boxes is None:
                print(f"{channel.far.box or 'INBOX'} <=> {channel.near.box or 'INBOX'}",
                      file=io.out)
                continue
            try:
                boxes = channel_boxes(config, target, pm, stores)
            except SyncmailError as exc:
                log.error("%s", exc)
                status = 1
                continue
            for box in boxes:
                if channel.far.box or channel.near.box:
                    print(f"{channel.far.box}{box} <=> {channel.near.box}{box}", file=io.out)
                else:
                    print(box, file=io.out)
    finally:
        for store in stores.values():
            store.close()
    return status


def _list_stores(
    config: Config, names: Sequence[str], pm: pluggy.PluginManager, io: _Output
) -> int:
    from syncmail.store import make_store

    if not config.stores:
        raise UsageError("No stores defined.")
    chosen = list(names) or list(config.stores)
    for name in chosen:
        if name not in config.stores:
            raise UsageError(f"No store named '{name}' defined.")
    status = 0
    for name in chosen:
        store = make_store(config.stores[name], config, pm)
        try:
            store.connect()
            boxes = store.list_boxes()
        except SyncmailError as exc:
            log.error("%s", exc)
            status = 1
            continue
        finally:
            store.close()
        print(f"===== {name}:", file=io.out)
        for box in sorted(boxes, key=_box_sort_key):
            print(box, file=io.out)
    return status


