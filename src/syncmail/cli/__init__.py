"""The ``syncmail`` command: which command a command line asks for, and its exit code.

The commands, each in a module of its own:

- ``syncmail [flags] {CHANNEL[:BOX,...] | GROUP ...} | -a``: sync (``cli.sync``; also
  ``-l``/``-ls`` listings);
- ``syncmail [flags] watch {...} | -a``: sync, then keep syncing changes (``cli.watch``);
- ``syncmail plugins``, ``syncmail install-hook notmuch`` (``cli.plugins``).

The command line is parsed by ``cli.argv`` with mbsync's rules (click's are not mbsync's:
bundled flags with arguments, ``--`` kept verbatim).  Shared setup (plugins, config) is in
``cli.common``.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from syncmail.errors import ConfigError, SyncmailError

if TYPE_CHECKING:
    from syncmail.config.model import Config, Target

from syncmail.cli.argv import (
    OPTION_COMMANDS,
    SUBCOMMANDS,
    USAGE,
    VERSION_TEXT,
    Invocation,
    UsageError,
    parse_args,
)
from syncmail.cli.common import (
    _config_disabled,
    _load_config,
    _Output,
    _plugin_manager,
)
from syncmail.cli.plugins import _subcommand
from syncmail.cli.sync import _list_boxes, _list_stores, _sync, channel_boxes, summary_shape

log = logging.getLogger(__name__)


__all__ = [
    "OPTION_COMMANDS",
    "SUBCOMMANDS",
    "USAGE",
    "VERSION_TEXT",
    "Invocation",
    "UsageError",
    "channel_boxes",
    "main",
    "parse_args",
    "run",
    "summary_shape",
]


def run(argv: Sequence[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run syncmail with ``argv``; returns the exit status.  Never raises (but SystemExit)."""
    io = _Output(stdout or sys.stdout, stderr or sys.stderr)
    debug = False
    try:
        inv = parse_args(argv)
        debug = inv.debug is not None
        return _run(inv, argv, io)
    except KeyboardInterrupt:
        # Nothing is lost: the journal lets the next run take up where this one stopped.
        print("syncmail: interrupted; run failed (the next run completes it)", file=io.err)
        return 130
    except BrokenPipeError:
        # Output piped into something that stopped reading (e.g. `syncmail -l | head`).
        _silence_stdout()
        return 1
    except ConfigError as exc:
        for problem in exc.problems:
            print(str(problem), file=io.err)
        return 1
    except SyncmailError as exc:
        print(str(exc), file=io.err)
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"syncmail: internal error: {type(exc).__name__}: {first}", file=io.err)
        if debug:
            log.debug("traceback of the internal error", exc_info=True)
        else:
            print("syncmail: run with -D to see the traceback", file=io.err)
        return 1
    finally:
        # Leave the process's logging as it was (matters when run() is called in-process).
        from syncmail.report import remove_console_handlers

        remove_console_handlers()


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _run(inv: Invocation, argv: Sequence[str], io: _Output) -> int:
    if inv.version:
        print(VERSION_TEXT, file=io.out)
        return 0
    if inv.help:
        print(USAGE, end="", file=io.out)
        return 0

    from syncmail.report import setup_logging

    handler, mask = setup_logging(io.err, verbosity=inv.verbosity, debug=inv.debug is not None)
    for notice in inv.notices:
        log.warning("%s", notice)
    if inv.debug is not None:
        log.debug("%s called with: %s", VERSION_TEXT, " ".join(f"'{a}'" for a in argv))

    from syncmail.plugins import config_keywords, disable_plugins

    pm = _plugin_manager(inv)
    keywords = config_keywords(pm)
    if _maybe_subcommand(inv):
        # A command word needs no (valid) config, unless the config names a channel so.
        try:
            maybe_config: Config | None = _load_config(inv, keywords)
        except ConfigError:
            maybe_config = None
        if maybe_config is None or _is_subcommand(inv, maybe_config):
            if maybe_config is not None and maybe_config.globals.disable_plugins:
                disable_plugins(pm, _config_disabled(inv, maybe_config))
            return _subcommand(inv, maybe_config, pm, io)
    config = _load_config(inv, keywords)
    mask.add(a.password for a in config.accounts.values() if a.password)
    if config.globals.disable_plugins:
        disable_plugins(pm, _config_disabled(inv, config))

    if inv.list_stores:
        return _list_stores(config, inv.args, pm, io)

    from syncmail.config.selection import resolve_targets

    if _is_watch(inv, config):
        from syncmail.cli.watch import watch

        def reload() -> tuple[Config, Sequence[Target]]:
            fresh = _load_config(inv, config_keywords(pm))
            return fresh, resolve_targets(fresh, inv.args[1:], inv.all)

        targets = resolve_targets(config, inv.args[1:], inv.all)
        return watch(inv, config, targets, pm, reload, io.err)
    targets = resolve_targets(config, inv.args, inv.all)
    if inv.list:
        return _list_boxes(config, targets, pm, io)
    return _sync(inv, config, targets, pm, io, handler)


def _is_watch(inv: Invocation, config: Config) -> bool:
    """``syncmail watch TARGETS``: unless the config names a channel or group so."""
    return (
        bool(inv.args)
        and inv.args[0] == "watch"
        and "watch" not in config.channels
        and "watch" not in config.groups
        and not (inv.list or inv.list_stores)
    )


def _maybe_subcommand(inv: Invocation) -> bool:
    return bool(inv.args) and inv.args[0] in SUBCOMMANDS and not (
        inv.all or inv.list or inv.list_stores
    )


def _is_subcommand(inv: Invocation, config: Config) -> bool:
    """A command word is a command unless the config defines a channel or group so named."""
    if not _maybe_subcommand(inv):
        return False
    name = inv.args[0]
    return name not in config.channels and name not in config.groups


def main(args: Sequence[str] | None = None) -> None:
    """Two-way Maildir <-> IMAP sync that reads mbsync's config and state.

    The console script: runs ``args`` (default: ``sys.argv[1:]``) and exits with the status.
    """
    # A sync makes tens of thousands of small objects per box that live until the box is
    # done; collecting the youngest generation every 700 allocations costs a resync a
    # sizeable share of its CPU for nothing. Collection still happens, only less often.
    gc.set_threshold(50_000, 20, 20)
    argv = sys.argv[1:] if args is None else list(args)
    if "watch" in argv:
        from syncmail.watch import early

        early.hold()  # a reload or sync-now signal must not kill a watch still starting
    sys.exit(run(argv))
