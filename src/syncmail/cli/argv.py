"""mbsync's command-line grammar (isync 1.5 ``src/main.c``): ``parse_args`` -> ``Invocation``.

Bundled short flags, parsing stops at the first non-option, except after a command word
that takes options itself (``syncmail watch -a``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from syncmail import __version__
from syncmail.config.model import ALL_SYNC_TYPES, ChannelOps, SyncType
from syncmail.config.ops import OpsBuilder
from syncmail.errors import SyncmailError
from syncmail.record import record
from syncmail.report import TERSE, VERBOSE, VERYQUIET

if TYPE_CHECKING:

    pass

log = logging.getLogger(__name__)

VERSION_TEXT = f"syncmail {__version__} (mbsync-compatible, isync 1.5)"
SUBCOMMANDS = ("plugins", "install-hook", "oauth2")
# Commands after which options are still read (mbsync stops at the first argument).
OPTION_COMMANDS = ("watch",)


class UsageError(SyncmailError):
    """The command line is wrong; the text is mbsync's where mbsync has one."""


@record(frozen=True)
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
    # syncmail's own: ``-p NAME`` / ``-p no:NAME`` in command-line order, ``--strict-plugins``.
    plugins: tuple[str, ...] = ()
    strict_plugins: bool = False
    # syncmail's own: ``--force`` lets deletions through the safety rail.
    force: bool = False
    # syncmail's own: ``--summary-json FILE`` (``-``: stdout, instead of the text summary).
    summary_json: str | None = None


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
    p = _ArgParser(argv)
    while p.index < len(argv):
        arg = argv[p.index]
        if not arg.startswith("-"):
            if arg in OPTION_COMMANDS and not p.command:
                # A command word that takes mbsync's options after it too (``watch -a``).
                p.command = (arg,)
                p.index += 1
                continue
            break
        p.index += 1
        if arg == "--":
            break
        done = p.long_option(arg) if arg.startswith("--") else p.short_options(arg)
        if done:
            break  # -v/-h: mbsync prints and exits at once; later arguments are not looked at
    return p.invocation()


class _ArgParser:
    """What ``parse_args`` has read so far, and how it reads one more option."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = argv
        self.index = 0
        self.command: tuple[str, ...] = ()
        self.config: str | None = None
        self.summary_json: str | None = None
        self.flags: dict[str, bool] = {
            "all": False, "list": False, "list_stores": False, "dry_run": False,
            "ext_exit": False, "help": False, "version": False, "strict_plugins": False,
            "force": False,
        }  # fmt: skip
        self.plugins: list[str] = []
        self.verbosity = TERSE
        self.debug: str | None = None
        self.ops = OpsBuilder()
        self.notices: set[str] = set()

    def next_value(self, option: str) -> str:
        """The argument after ``option`` (``-c FILE``), consumed."""
        if self.index >= len(self.argv):
            raise UsageError(f"{option} requires an argument.")
        value = self.argv[self.index]
        self.index += 1
        return value

    def quieter(self) -> None:
        if self.verbosity > VERYQUIET:
            self.verbosity -= 1

    def add_debug(self, categories: str) -> None:
        self.debug = (self.debug or "") + categories + ","

    def long_option(self, arg: str) -> bool:
        """One ``--option``; True when parsing stops (``--help``, ``--version``)."""
        opt = arg[2:]
        name, has_value, value = opt.partition("=")
        if name == "config":
            self.config = value if has_value else self.next_value("--config")
        elif opt in ("all", "list", "help", "version"):
            self.flags[opt] = True
            return opt in ("help", "version")
        elif opt in _LONG_FLAGS:
            self.flags[_LONG_FLAGS[opt]] = True
        elif opt == "quiet":
            self.quieter()
        elif opt == "verbose":
            self.verbosity = VERBOSE
        elif opt.startswith("debug"):
            category = opt[len("debug"):]
            if category not in _DEBUG_WORDS:
                raise UsageError(f"Unknown option '{arg}'")
            self.add_debug(category.lstrip("-") or "all")
        elif opt in ("pull", "push"):
            _types(self.ops, (), opt)
        elif opt in ("no-expunge-solo", "no-expunge", "no-create", "no-remove"):
            entry = self.ops.box[_BOX_OP_NAMES[opt[3:]]]
            entry.have = entry.noop = True
        elif opt == "noop":
            self.ops.have_type = self.ops.type_noop = True
        elif name == "plugin":
            plugin = value if has_value else self.next_value("--plugin")
            self.plugins.append(_plugin_arg(plugin, "--plugin"))
        elif name == "summary-json":
            self.summary_json = value if has_value else self.next_value("--summary-json")
        else:
            _parse_long_op(opt, arg, self.ops, self.notices)
        return False

    def short_options(self, arg: str) -> bool:
        """One bundle of letters (``-Cf``, ``-Lnf``, ``-qq``); True when parsing stops."""
        letters = arg[1:]
        if not letters:
            raise UsageError("Invalid option '-'")
        pos = 0
        while pos < len(letters):
            letter = letters[pos]
            pos += 1
            if letter in ("v", "h"):
                self.flags["version" if letter == "v" else "help"] = True
                return True
            if letter in _SHORT_FLAGS:
                self.flags[_SHORT_FLAGS[letter]] = True
            elif letter == "l":
                stores = letters[pos:pos + 1] == "s"
                self.flags["list_stores" if stores else "list"] = True
                pos += stores
            elif letter == "c":
                self.config = self.next_value("-c")
            elif letter == "p":
                # Not an mbsync option: getopt's rules, so -pNAME and -p NAME both work
                # (mbsync's -c, unlike this, never reads the rest of its bundle).
                if pos < len(letters):
                    value, pos = letters[pos:], len(letters)
                else:
                    value = self.next_value("-p")
                self.plugins.append(_plugin_arg(value, "-p"))
            elif letter in _BOX_OP_LETTERS:
                pos = self._box_op_letter(letter, letters, pos)
            elif letter == "F":
                _types(self.ops, (), "pull")
                _types(self.ops, (), "push")
            elif letter == "0":
                self.ops.have_type = self.ops.type_noop = True
            elif letter in _TYPE_LETTERS or letter in ("L", "H"):
                pos = self._type_letters(letter, letters, pos)
            elif letter == "q":
                self.quieter()
            elif letter == "V":
                self.verbosity = VERBOSE
            elif letter == "D":
                categories, pos = letters[pos:], len(letters)
                for cat in categories:
                    if cat not in _DEBUG_LETTERS:
                        raise UsageError(f"Unknown -D flag '{cat}'")
                self.add_debug(categories or "all")
            else:
                raise UsageError(f"Unknown option '-{letter}'")
        return False

    def _box_op_letter(self, letter: str, letters: str, pos: int) -> int:
        """``-C``/``-R``/``-X``/``-x`` with an optional side letter; the position after."""
        suffix = letters[pos:pos + 1]
        side: str | None = None
        if suffix in ("f", "m", "n", "s", "-"):
            pos += 1
            side = {"f": "far", "m": "far", "n": "near", "s": "near", "-": ""}[suffix]
            if suffix in ("m", "s"):
                self.notices.add(_MS_NOTICE)
        _box_op(self.ops, _BOX_OP_LETTERS[letter], side)
        return pos

    def _type_letters(self, letter: str, letters: str, pos: int) -> int:
        """``-L``/``-H`` or a sync type letter, with the type letters after it."""
        direction = {"L": "pull", "H": "push"}.get(letter)
        if direction is not None:
            found: list[SyncType] = []
        else:
            found = [_TYPE_LETTERS[letter]]
            _letter_notice(letter, self.notices, self.ops)
        while pos < len(letters) and letters[pos] in _TYPE_LETTERS:
            found.append(_TYPE_LETTERS[letters[pos]])
            _letter_notice(letters[pos], self.notices, self.ops)
            pos += 1
        _types(self.ops, found, direction)
        return pos

    def invocation(self) -> Invocation:
        flags = self.flags
        verbosity = VERBOSE if self.debug is not None else self.verbosity
        stopped = flags["version"] or flags["help"]
        merged = _merge(self.ops) if not stopped else ChannelOps()
        notices = (_MS_NOTICE, _RENEW_NOTICE, _DELETE_NOTICE)
        return Invocation(
            config=self.config,
            all=flags["all"],
            list=flags["list"],
            list_stores=flags["list_stores"],
            ops=merged,
            dry_run=flags["dry_run"],
            ext_exit=flags["ext_exit"],
            verbosity=verbosity,
            debug=self.debug.rstrip(",") if self.debug is not None else None,
            help=flags["help"],
            version=flags["version"],
            args=self.command + tuple(self.argv[self.index:]),
            notices=tuple(n for n in notices if n in self.notices),
            plugins=tuple(self.plugins),
            strict_plugins=flags["strict_plugins"],
            force=flags["force"],
            summary_json=self.summary_json,
        )


# Long options that only set a flag, and the letters that do.
_LONG_FLAGS = {
    "list-stores": "list_stores", "dry-run": "dry_run", "ext-exit": "ext_exit",
    "strict-plugins": "strict_plugins", "force": "force",
}  # fmt: skip
_SHORT_FLAGS = {"a": "all", "y": "dry_run", "e": "ext_exit"}
_DEBUG_WORDS = (
    "", "-crash", "-driver", "-driver-all", "-maildir", "-main", "-net", "-net-all", "-sync",
)


def _plugin_arg(value: str, option: str) -> str:
    """Check the value of ``-p``/``--plugin``: a plugin name or ``no:`` and a name."""
    name = value[3:] if value.startswith("no:") else value
    if not name or name.startswith("-"):
        raise UsageError(f"{option} requires a plugin name (NAME or no:NAME), not '{value}'.")
    return value


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
  syncmail oauth2 login|token|status|logout ...
                                           OAuth2 tokens (docs/oauth2.md)
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
  -c, --config CONFIG   read an alternate config file (default:
                        $XDG_CONFIG_HOME/isyncrc, else ~/.mbsyncrc)
  -p, --plugin NAME     load only the named plugins (repeatable; the built-in
                        credentials always load); -p no:NAME disables NAME
  --strict-plugins      a plugin that cannot be loaded is an error, not a warning
  -D, --debug           debug logging (passwords are never shown)
  -y, --dry-run         do not actually modify anything
  --force               let through a deletion that the safety rail stops (a run
                        that would delete more than MaxDeletePercent of a box)
  --summary-json FILE   write the run's summary as JSON to FILE (-: to stdout,
                        instead of the text summary)
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
"plugins", "install-hook" and "oauth2" are commands only when no channel or group of
that name is defined.
"""


