"""The ``syncmail`` command: mbsync's command line, mapped onto the engine, with exit codes.

Arguments are parsed by ``parse_args`` (mbsync's rules: bundled short flags, parsing stops at
the first non-option); click is only the shell around it.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import click

from syncmail import __version__
from syncmail.config.model import ALL_SYNC_TYPES, ChannelOps, SyncType
from syncmail.config.ops import OpsBuilder
from syncmail.errors import ConfigError, SyncmailError
from syncmail.report import TERSE, VERBOSE, VERYQUIET, ConsoleHandler, SummaryShape

if TYPE_CHECKING:
    import pluggy

    from syncmail.config.model import Config, Target

log = logging.getLogger(__name__)

VERSION_TEXT = f"syncmail {__version__} (mbsync-compatible, isync 1.5)"
SUBCOMMANDS = ("plugins", "install-hook")
# Commands after which options are still read (mbsync stops at the first argument).
OPTION_COMMANDS = ("watch",)


class UsageError(SyncmailError):
    """The command line is wrong; the text is mbsync's where mbsync has one."""


@dataclass(frozen=True)
class Invocation:
    """A parsed command line."""

    config: str | None = None
    all: bool = False
    list: bool = False
    list_stores: bool = False
    ops: ChannelOps = ChannelOps()
    dry_run: bool = False
    ext_exit: bool = False
    verbosity: int = TERSE
    debug: str | None = None
    help: bool = False
    version: bool = False
    args: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    # Options given that syncmail parses but does not implement yet (the run must refuse).
    unsupported: tuple[str, ...] = ()
    # syncmail's own: ``-p NAME`` / ``-p no:NAME`` in command-line order, ``--strict-plugins``.
    plugins: tuple[str, ...] = ()
    strict_plugins: bool = False
    # syncmail's own: ``--force`` lets deletions through the safety rail.
    force: bool = False


# --- argument parsing (mbsync's src/main.c rules) --------------------------------------

_TYPE_LETTERS: dict[str, SyncType] = {
    "n": "new", "o": "old", "u": "upgrade", "N": "upgrade", "g": "gone", "d": "gone", "f": "flags",
}
_TYPE_WORDS: dict[str, tuple[SyncType, ...]] = {
    "new": ("new",), "old": ("old",), "upgrade": ("upgrade",), "renew": ("upgrade",),
    "gone": ("gone",), "delete": ("gone",), "flags": ("flags",),
    "full": tuple(sorted(ALL_SYNC_TYPES)),
}
# Option word -> the box operation's config keyword (OpsBuilder's key).
_BOX_OP_NAMES = {
    "expunge": "Expunge", "expunge-solo": "ExpungeSolo", "create": "Create", "remove": "Remove",
}
_BOX_OP_LETTERS = {"C": "Create", "R": "Remove", "X": "Expunge", "x": "ExpungeSolo"}
_BOX_OP_LONG = (  # longest first: "expunge-solo" before "expunge"
    ("expunge-solo", "ExpungeSolo"), ("expunge", "Expunge"),
    ("create", "Create"), ("remove", "Remove"),
)
_DEBUG_LETTERS = "CdDmMnNs"

_MS_NOTICE = "Notice: -master/-slave/m/s suffixes are deprecated; use -far/-near/f/n instead."
_RENEW_NOTICE = "Notice: --renew/-N are deprecated; use --upgrade/-u instead."
_DELETE_NOTICE = "Notice: --delete/-d are deprecated; use --gone/-g instead."


def _types(ops: OpsBuilder, types: Sequence[SyncType], direction: str | None) -> None:
    """Record type/direction flags the way mbsync's main.c sorts them into cells."""
    ops.have_type = True
    if direction == "pull" and types:
        ops.pull.update(types)
    elif direction == "push" and types:
        ops.push.update(types)
    else:
        ops.simple_types.update(types)
        if direction == "pull":
            ops.simple_pull = True
        elif direction == "push":
            ops.simple_push = True


def _box_op(ops: OpsBuilder, op: str, side: str | None) -> None:
    entry = ops.box[op]
    entry.have = True
    if side == "far":
        entry.sides.add("far")
    elif side == "near":
        entry.sides.add("near")
    elif side is None:
        entry.both = True
    # side "" ("-C-"): the option is given but names no side.


def _merge(ops: OpsBuilder) -> ChannelOps:
    try:
        return ops.merge("on the command line")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _side_suffix(suffix: str, notices: set[str]) -> str | None:
    """``-far``/``-near`` (and legacy ``-master``/``-slave``) of a long option; "?" if bad."""
    if not suffix:
        return None
    if suffix in ("-far", "-master"):
        if suffix == "-master":
            notices.add(_MS_NOTICE)
        return "far"
    if suffix in ("-near", "-slave"):
        if suffix == "-slave":
            notices.add(_MS_NOTICE)
        return "near"
    return "?"


def parse_args(argv: Sequence[str]) -> Invocation:
    """Parse a command line (without the program name) exactly as mbsync 1.5 does.

    Raises ``UsageError`` with mbsync's message for anything it would reject.
    """
    config: str | None = None
    flags: dict[str, bool] = {
        "all": False, "list": False, "list_stores": False, "dry_run": False,
        "ext_exit": False, "help": False, "version": False, "strict_plugins": False,
        "force": False,
    }
    plugins: list[str] = []
    verbosity = TERSE
    debug: str | None = None
    ops = OpsBuilder()
    notices: set[str] = set()
    index = 0

    def quieter() -> None:
        nonlocal verbosity
        if verbosity > VERYQUIET:
            verbosity -= 1

    # A command word that takes mbsync's options after it too (``syncmail watch -a``).
    command: tuple[str, ...] = ()
    while index < len(argv):
        arg = argv[index]
        if not arg.startswith("-"):
            if arg in OPTION_COMMANDS and not command:
                command = (arg,)
                index += 1
                continue
            break
        index += 1
        if arg.startswith("--"):
            opt = arg[2:]
            if not opt:
                break
            if opt == "config":
                if index >= len(argv):
                    raise UsageError("--config requires an argument.")
                config = argv[index]
                index += 1
            elif opt.startswith("config="):
                config = opt[len("config="):]
            elif opt in ("all", "list", "help", "version"):
                flags[opt] = True
                if opt in ("help", "version"):
                    break  # mbsync prints and exits at once
            elif opt == "list-stores":
                flags["list_stores"] = True
            elif opt == "quiet":
                quieter()
            elif opt == "verbose":
                verbosity = VERBOSE
            elif opt.startswith("debug"):
                category = opt[len("debug"):]
                if category not in (
                    "", "-crash", "-driver", "-driver-all", "-maildir", "-main", "-net",
                    "-net-all", "-sync",
                ):
                    raise UsageError(f"Unknown option '{arg}'")
                debug = (debug or "") + (category.lstrip("-") or "all") + ","
            elif opt == "dry-run":
                flags["dry_run"] = True
            elif opt == "ext-exit":
                flags["ext_exit"] = True
            elif opt in ("pull", "push"):
                _types(ops, (), opt)
            elif opt in ("no-expunge-solo", "no-expunge", "no-create", "no-remove"):
                entry = ops.box[_BOX_OP_NAMES[opt[3:]]]
                entry.have = entry.noop = True
            elif opt == "noop":
                ops.have_type = ops.type_noop = True
            elif opt == "plugin":
                if index >= len(argv):
                    raise UsageError("--plugin requires an argument.")
                plugins.append(_plugin_arg(argv[index], "--plugin"))
                index += 1
            elif opt.startswith("plugin="):
                plugins.append(_plugin_arg(opt[len("plugin="):], "--plugin"))
            elif opt == "strict-plugins":
                flags["strict_plugins"] = True
            elif opt == "force":
                flags["force"] = True
            else:
                _parse_long_op(opt, arg, ops, notices)
            continue
        letters = arg[1:]
        if not letters:
            raise UsageError("Invalid option '-'")
        pos = 0
        while pos < len(letters):
            letter = letters[pos]
            pos += 1
            if letter == "a":
                flags["all"] = True
            elif letter == "l":
                if letters[pos:pos + 1] == "s":
                    flags["list_stores"] = True
                    pos += 1
                else:
                    flags["list"] = True
            elif letter == "c":
                if index >= len(argv):
                    raise UsageError("-c requires an argument.")
                config = argv[index]
                index += 1
            elif letter == "p":
                # Not an mbsync option: getopt's rules, so -pNAME and -p NAME both work
                # (mbsync's -c, unlike this, never reads the rest of its bundle).
                if pos < len(letters):
                    value, pos = letters[pos:], len(letters)
                elif index < len(argv):
                    value = argv[index]
                    index += 1
                else:
                    raise UsageError("-p requires an argument.")
                plugins.append(_plugin_arg(value, "-p"))
            elif letter in _BOX_OP_LETTERS:
                suffix = letters[pos:pos + 1]
                side: str | None = None
                if suffix in ("f", "m", "n", "s", "-"):
                    pos += 1
                    side = {"f": "far", "m": "far", "n": "near", "s": "near", "-": ""}[suffix]
                    if suffix in ("m", "s"):
                        notices.add(_MS_NOTICE)
                _box_op(ops, _BOX_OP_LETTERS[letter], side)
            elif letter == "F":
                _types(ops, (), "pull")
                _types(ops, (), "push")
            elif letter == "0":
                ops.have_type = ops.type_noop = True
            elif letter in _TYPE_LETTERS or letter in ("L", "H"):
                direction = {"L": "pull", "H": "push"}.get(letter)
                if direction is not None:
                    found: list[SyncType] = []
                else:
                    found = [_TYPE_LETTERS[letter]]
                    _letter_notice(letter, notices, ops)
                while pos < len(letters) and letters[pos] in _TYPE_LETTERS:
                    found.append(_TYPE_LETTERS[letters[pos]])
                    _letter_notice(letters[pos], notices, ops)
                    pos += 1
                _types(ops, found, direction)
            elif letter == "q":
                quieter()
            elif letter == "V":
                verbosity = VERBOSE
            elif letter == "D":
                categories = letters[pos:]
                pos = len(letters)
                for cat in categories:
                    if cat not in _DEBUG_LETTERS:
                        raise UsageError(f"Unknown -D flag '{cat}'")
                debug = (debug or "") + (categories or "all") + ","
            elif letter == "y":
                flags["dry_run"] = True
            elif letter == "e":
                flags["ext_exit"] = True
            elif letter == "v":
                flags["version"] = True
                break
            elif letter == "h":
                flags["help"] = True
                break
            else:
                raise UsageError(f"Unknown option '-{letter}'")
        if flags["version"] or flags["help"]:
            # mbsync prints and exits at once; later arguments are not looked at.
            break

    if debug is not None:
        verbosity = VERBOSE
    merged = _merge(ops) if not (flags["version"] or flags["help"]) else ChannelOps()
    return Invocation(
        config=config,
        all=flags["all"],
        list=flags["list"],
        list_stores=flags["list_stores"],
        ops=merged,
        dry_run=flags["dry_run"],
        ext_exit=flags["ext_exit"],
        verbosity=verbosity,
        debug=debug.rstrip(",") if debug is not None else None,
        help=flags["help"],
        version=flags["version"],
        args=command + tuple(argv[index:]),
        notices=tuple(n for n in (_MS_NOTICE, _RENEW_NOTICE, _DELETE_NOTICE) if n in notices),
        unsupported=_unsupported_options(ops, merged),
        plugins=tuple(plugins),
        strict_plugins=flags["strict_plugins"],
        force=flags["force"],
    )


def _plugin_arg(value: str, option: str) -> str:
    """Check the value of ``-p``/``--plugin``: a plugin name or ``no:`` and a name."""
    name = value[3:] if value.startswith("no:") else value
    if not name or name.startswith("-"):
        raise UsageError(f"{option} requires a plugin name (NAME or no:NAME), not '{value}'.")
    return value


def _unsupported_options(ops: OpsBuilder, merged: ChannelOps) -> tuple[str, ...]:
    """What the config parser would mark unsupported, given on the command line instead."""
    found: list[str] = []
    return tuple(found)


def _letter_notice(letter: str, notices: set[str], ops: OpsBuilder) -> None:
    if letter == "o":
        ops.old_words.append("-o")
    elif letter == "N":
        notices.add(_RENEW_NOTICE)
    elif letter == "d":
        notices.add(_DELETE_NOTICE)


def _parse_long_op(opt: str, arg: str, ops: OpsBuilder, notices: set[str]) -> None:
    """``--create[-far]``..., ``--pull-new``..., ``--new``...; anything else is unknown."""
    for prefix, op in _BOX_OP_LONG:
        if opt.startswith(prefix):
            side = _side_suffix(opt[len(prefix):], notices)
            if side == "?":
                raise UsageError(f"Unknown option '{arg}'")
            _box_op(ops, op, side)
            return
    direction: str | None = None
    word = opt
    for candidate in ("pull", "push"):
        if opt.startswith(candidate):
            rest = opt[len(candidate):]
            if not rest.startswith("-"):
                raise UsageError(f"Unknown option '{arg}'")
            direction, word = candidate, rest[1:]
            break
    if word not in _TYPE_WORDS:
        raise UsageError(f"Unknown option '{arg}'")
    if word == "old":
        ops.old_words.append(arg)
    elif word == "renew":
        notices.add(_RENEW_NOTICE)
    elif word == "delete":
        notices.add(_DELETE_NOTICE)
    _types(ops, _TYPE_WORDS[word], direction)


USAGE = f"""{VERSION_TEXT} - mailbox synchronizer
usage:
  syncmail [flags] {{{{channel[:box,...]|group}} ...|-a}}
  syncmail [flags] watch {{{{channel[:box,...]|group}} ...|-a}}
                                           sync, then stay running and sync each
                                           change as it happens (docs/watch.md)
  syncmail [-c CONFIG] plugins             list the loaded plugins
  syncmail [-c CONFIG] install-hook notmuch
                                           install notmuch's pre-new hook
  -a, --all             operate on all defined channels
  -l, --list            list mailboxes instead of syncing them
  -ls, --list-stores    raw listing of stores' mailboxes
  -n, --new             propagate new messages
  -o, --old             propagate old messages
  -g, --gone            propagate message disappearances (expunges)
  -f, --flags           propagate message flag changes
  -u, --upgrade         upgrade placeholders to full messages
  -L, --pull            propagate from far to near side
  -H, --push            propagate from near to far side
  -F, --full            propagate in both directions (--full: all types)
  -0, --noop            propagate nothing (e.g. only expunge)
  -C, --create          propagate creations of mailboxes
  -R, --remove          propagate deletions of mailboxes
  -X, --expunge         expunge deleted messages
  -x, --expunge-solo    expunge deleted messages that are not paired
  -c, --config CONFIG   read an alternate config file (default: ~/.mbsyncrc or
                        $XDG_CONFIG_HOME/isyncrc)
  -p, --plugin NAME     load only the named plugins (repeatable; the built-in
                        credentials always load); -p no:NAME disables NAME
  --strict-plugins      a plugin that cannot be loaded is an error, not a warning
  -D, --debug           debug logging (passwords are never shown)
  -y, --dry-run         do not actually modify anything
  --force               let through a deletion that the safety rail stops (a run
                        that would delete more than MaxDeletePercent of a box)
  -e, --ext-exit        return extended exit code (+32 far changed, +64 near changed)
  -V, --verbose         display what is happening
  -q, --quiet           don't display progress counters and summary; twice: no warnings
  -v, --version         display version
  -h, --help            display this help message

If neither --pull nor --push are specified, both are active.
If neither --new, --gone, --flags, nor --upgrade are specified, all are
active. Direction and operation can be concatenated like --pull-new, etc.
--create, --remove, --expunge, and --expunge-solo can be suffixed with
-far/-near (short: -Cf, -Xn).
"plugins" and "install-hook" are commands only when no channel or group of
that name is defined.
"""


# --- the run ---------------------------------------------------------------------------


@dataclass
class _Output:
    """Where things go: results on stdout, progress and messages on stderr."""

    out: TextIO
    err: TextIO


def run(argv: Sequence[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run syncmail with ``argv``; returns the exit status.  Never raises (but SystemExit)."""
    io = _Output(stdout or sys.stdout, stderr or sys.stderr)
    debug = False
    try:
        inv = parse_args(argv)
        debug = inv.debug is not None
        return _run(inv, argv, io)
    except KeyboardInterrupt:
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
    if inv.unsupported:
        # As for config options: refusing beats syncing without what was asked for.
        raise UsageError(
            "\n".join(f"Option {o} is not supported by syncmail yet" for o in inv.unsupported)
        )
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
    if config.unsupported:
        raise ConfigError(_unsupported_problems(config))

    if inv.list_stores:
        return _list_stores(config, inv.args, pm, io)

    from syncmail.config.selection import resolve_targets

    if _is_watch(inv, config):
        from syncmail.watch.command import watch

        def reload() -> tuple[Config, Sequence[Target]]:
            fresh = _load_config(inv, config_keywords(pm))
            if fresh.unsupported:
                raise ConfigError(_unsupported_problems(fresh))
            return fresh, resolve_targets(fresh, inv.args[1:], inv.all)

        targets = resolve_targets(config, inv.args[1:], inv.all)
        return watch(inv, config, targets, pm, reload, io.err)
    targets = resolve_targets(config, inv.args, inv.all)
    if inv.list:
        return _list_boxes(config, targets, pm, io)
    return _sync(inv, config, targets, pm, io, handler)


def _plugin_selection(inv: Invocation) -> tuple[list[str], list[str] | None]:
    """``-p`` values as (disabled, only): ``no:NAME`` disables, any plain NAME selects."""
    disabled = [v[3:] for v in inv.plugins if v.startswith("no:")]
    only = [v for v in inv.plugins if not v.startswith("no:")]
    return disabled, (only or None)


def _plugin_manager(inv: Invocation) -> pluggy.PluginManager:
    """The run's plugin manager, as ``-p``/``--strict-plugins`` ask (before the config is read)."""
    import importlib.metadata

    from syncmail.plugins import BUILTIN_PLUGINS, ENTRY_POINT_GROUP, make_plugin_manager

    disabled, only = _plugin_selection(inv)
    for name in disabled:
        if name in BUILTIN_PLUGINS:
            raise UsageError(f"-p no:{name}: the built-in plugin {name} cannot be disabled.")
    if not inv.plugins:
        # Nothing to check: skip a second scan of every installed distribution.
        return make_plugin_manager(strict=inv.strict_plugins)
    installed = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    installed.update(BUILTIN_PLUGINS)
    for name in only or ():
        if name not in installed:
            raise UsageError(
                f"-p {name}: no plugin named '{name}' is installed "
                f"(installed: {', '.join(sorted(installed))})."
            )
    for name in disabled:
        if name not in installed:
            log.warning("-p no:%s: no plugin named '%s' is installed", name, name)
    return make_plugin_manager(disabled=disabled, only=only, strict=inv.strict_plugins)


def _config_disabled(inv: Invocation, config: Config) -> list[str]:
    """``DisablePlugins`` minus what ``-p`` names: ``-p NAME`` wins, ``no:NAME`` is listed."""
    off, only = _plugin_selection(inv)
    return [n for n in config.globals.disable_plugins if n not in (only or ()) and n not in off]


def _load_config(inv: Invocation, keywords: Sequence[Any]) -> Config:
    from syncmail.config.parser import load_config

    path = inv.config
    if path is not None and not os.path.isabs(path) and not path.startswith("~"):
        # mbsync reads a relative -c name relative to the current directory.
        path = os.path.join(os.getcwd(), path)
    return load_config(path, extra_keywords=keywords)


def _unsupported_problems(config: Config) -> list[Any]:
    from syncmail.errors import ConfigProblem

    return [
        ConfigProblem(
            u.where.file,
            u.where.line,
            f"Option {u.keyword} is not supported by syncmail yet "
            "(refusing to sync rather than ignore it)",
        )
        for u in config.unsupported
    ]


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


def _subcommand(
    inv: Invocation, config: Config | None, pm: pluggy.PluginManager, io: _Output
) -> int:
    name, rest = inv.args[0], inv.args[1:]
    if name == "plugins":
        if rest:
            raise UsageError("syncmail plugins takes no arguments.")
        from syncmail.plugins import describe_plugins

        for plugin in describe_plugins(pm):
            version = f" {plugin['version']}" if plugin.get("version") else ""
            kind = " (built-in)" if plugin.get("builtin") else ""
            hooks = ", ".join(plugin.get("hooks") or ()) or "no hooks"
            print(f"{plugin['name']}{version}{kind}: {hooks}", file=io.out)
        for blocked in _plugin_selection(inv)[0]:
            print(f"{blocked}: disabled by -p no:{blocked}", file=io.out)
        for blocked in _config_disabled(inv, config) if config is not None else ():
            print(f"{blocked}: disabled by DisablePlugins", file=io.out)
        return 0
    if rest != ("notmuch",):
        raise UsageError("usage: syncmail install-hook notmuch")
    try:
        # A plugin package, not part of syncmail itself: looked up at run time.
        hook_module = importlib.import_module("syncmail_notmuch.hook")
    except ImportError as exc:
        raise UsageError(
            f"the notmuch plugin is not installed ({exc}); pip install 'syncmail[notmuch]'"
        ) from exc
    install_hook = hook_module.install_hook
    # The hook goes where notmuch looks for hooks ($NOTMUCH_CONFIG's database).
    print(f"installed {install_hook()}", file=io.out)
    return 0


def _sync(
    inv: Invocation,
    config: Config,
    targets: Sequence[Target],
    pm: pluggy.PluginManager,
    io: _Output,
    handler: ConsoleHandler,
) -> int:
    from syncmail.report import ProgressLine, failure_text, retry_text, summary_text
    from syncmail.sync.engine import RunOptions, run

    progress: ProgressLine | None = None
    if inv.verbosity >= TERSE and inv.debug is None and _isatty(io.err):
        progress = ProgressLine(io.err)
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
    if inv.verbosity >= TERSE:
        text = summary_text(result.summary, summary_shape(config, targets, inv.ops))
        if text is not None:
            print(text, file=io.out)
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


class _RawArgs(click.Command):
    """A click command that hands argv over untouched: mbsync's rules are not click's
    (bundled flags with arguments, ``--`` kept verbatim after the first non-option)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.params["argv"] = tuple(args)
        return []


@click.command(cls=_RawArgs, add_help_option=False)
def main(argv: tuple[str, ...]) -> None:
    """Two-way Maildir <-> IMAP sync that reads mbsync's config and state."""
    # A sync makes tens of thousands of small objects per box that live until the box is
    # done; collecting the youngest generation every 700 allocations costs a resync a
    # sizeable share of its CPU for nothing. Collection still happens, only less often.
    gc.set_threshold(50_000, 20, 20)
    sys.exit(run(argv))
