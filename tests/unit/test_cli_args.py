"""parse_args: mbsync 1.5's command-line rules (src/main.c), without running anything."""

from __future__ import annotations

import pytest

from syncmail.cli import Invocation, UsageError, parse_args
from syncmail.config.model import ALL_SYNC_TYPES, DEFAULT_SYNC_TYPES, ChannelOps, SyncOps
from syncmail.report import QUIET, TERSE, VERBOSE, VERYQUIET

NONE: frozenset[str] = frozenset()
INVALID = "Invalid combination of simple and compound Sync options on the command line."
MS_NOTICE = "Notice: -master/-slave/m/s suffixes are deprecated; use -far/-near/f/n instead."
D = DEFAULT_SYNC_TYPES


def sync(argv: list[str]) -> SyncOps | None:
    return parse_args(argv).ops.sync


def test_defaults() -> None:
    inv = parse_args(["-a"])
    assert inv == Invocation(all=True)
    assert inv.ops == ChannelOps()


def test_stops_at_first_non_option() -> None:
    inv = parse_args(["-V", "chan", "-a", "--list"])
    assert inv.args == ("chan", "-a", "--list")
    assert not inv.all and not inv.list
    assert inv.verbosity == VERBOSE


def test_double_dash_ends_options_and_is_dropped() -> None:
    inv = parse_args(["-y", "--", "-a", "chan"])
    assert inv.dry_run
    assert inv.args == ("-a", "chan")
    assert not inv.all


def test_channel_box_syntax_is_passed_through() -> None:
    assert parse_args(["work:INBOX,Sent", "grp"]).args == ("work:INBOX,Sent", "grp")


@pytest.mark.parametrize(
    ("argv", "config", "rest"),
    [
        (["-c", "rc", "x"], "rc", ("x",)),
        (["--config", "rc", "x"], "rc", ("x",)),
        (["--config=rc", "x"], "rc", ("x",)),
        (["-ac", "rc"], "rc", ()),
        # The bundle goes on after -c took the next argument.
        (["-cV", "rc", "x"], "rc", ("x",)),
    ],
)
def test_config(argv: list[str], config: str, rest: tuple[str, ...]) -> None:
    inv = parse_args(argv)
    assert inv.config == config
    assert inv.args == rest


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-c"], "-c requires an argument."),
        (["--config"], "--config requires an argument."),
        (["-k"], "Unknown option '-k'"),
        (["-ak"], "Unknown option '-k'"),
        (["--bogus"], "Unknown option '--bogus'"),
        (["--create-sideways"], "Unknown option '--create-sideways'"),
        (["--pullnew"], "Unknown option '--pullnew'"),
        (["--pull-bogus"], "Unknown option '--pull-bogus'"),
        (["--debug-foo"], "Unknown option '--debug-foo'"),
        (["-Dz"], "Unknown -D flag 'z'"),
        (["-"], "Invalid option '-'"),
        (["-T"], "Unknown option '-T'"),
        (["-0", "-n"], "Conflicting Sync options specified on the command line."),
        (["-0", "-Ln"], "Conflicting Sync options specified on the command line."),
        (["-n", "-Ln"], "Redundant Sync options specified on the command line."),
        (["-Ln", "-L"], "Redundant Sync options specified on the command line."),
        (["-Hf", "-H"], "Redundant Sync options specified on the command line."),
        (["-Ln", "-L", "-H"], INVALID),
        (["-Ln", "-F"], INVALID),
        (["-Ln", "-H", "-g"], INVALID),
        (["-C", "--no-create"], "Conflicting Create options specified on the command line."),
        (["-Xf", "--no-expunge"], "Conflicting Expunge options specified on the command line."),
        (["-C", "-Cf"], "Redundant Create options specified on the command line."),
        (["-x", "-xn"], "Redundant ExpungeSolo options specified on the command line."),
    ],
)
def test_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_args(argv)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # Lone types apply to both directions.
        (["-n"], SyncOps(pull=frozenset({"new"}), push=frozenset({"new"}))),
        (["-nf"], SyncOps(pull=frozenset({"new", "flags"}), push=frozenset({"new", "flags"}))),
        (["-n", "-f"], SyncOps(pull=frozenset({"new", "flags"}), push=frozenset({"new", "flags"}))),
        (["--new", "--gone"], SyncOps(frozenset({"new", "gone"}), frozenset({"new", "gone"}))),
        (["-o"], SyncOps(pull=frozenset({"old"}), push=frozenset({"old"}))),
        (["-u"], SyncOps(pull=frozenset({"upgrade"}), push=frozenset({"upgrade"}))),
        # A lone direction means the default types in that direction only.
        (["-L"], SyncOps(pull=D, push=NONE)),
        (["--push"], SyncOps(pull=NONE, push=D)),
        (["-L", "-H"], SyncOps(pull=D, push=D)),
        # Simple direction + simple type: rows x columns.
        (["-L", "-n"], SyncOps(pull=frozenset({"new"}), push=NONE)),
        # Bundled direction + types are compound (PullNew PullFlags).
        (["-Lnf"], SyncOps(pull=frozenset({"new", "flags"}), push=NONE)),
        (["-Hg"], SyncOps(pull=NONE, push=frozenset({"gone"}))),
        (["-Ln", "-Hf"], SyncOps(pull=frozenset({"new"}), push=frozenset({"flags"}))),
        (["--pull-new", "--push-flags"], SyncOps(frozenset({"new"}), frozenset({"flags"}))),
        # Compound plus a lone type: the type column is added on both sides.
        (["-Ln", "-f"], SyncOps(pull=frozenset({"new", "flags"}), push=frozenset({"flags"}))),
        # Compound plus a lone direction: that row gets the defaults.
        (["-Hn", "-L"], SyncOps(pull=D, push=frozenset({"new"}))),
        (["-Lo", "-L"], SyncOps(pull=D | {"old"}, push=NONE)),
        # -F: both directions, default types; --full: all types (includes Old, as in source).
        (["-F"], SyncOps(pull=D, push=D)),
        (["--full"], SyncOps(pull=ALL_SYNC_TYPES, push=ALL_SYNC_TYPES)),
        (["--pull-full"], SyncOps(pull=ALL_SYNC_TYPES, push=NONE)),
        (["-0"], SyncOps(pull=NONE, push=NONE)),
        (["--noop"], SyncOps(pull=NONE, push=NONE)),
        ([], None),
        (["-C"], None),
    ],
)
def test_sync_ops(argv: list[str], expected: SyncOps | None) -> None:
    assert sync(argv) == expected


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["-C"], "create", {"far", "near"}),
        (["-Cf"], "create", {"far"}),
        (["-Cn"], "create", {"near"}),
        (["--create"], "create", {"far", "near"}),
        (["--create-far"], "create", {"far"}),
        (["--create-near"], "create", {"near"}),
        (["-Cf", "-Cn"], "create", {"far", "near"}),
        (["-R"], "remove", {"far", "near"}),
        (["--remove-near"], "remove", {"near"}),
        (["-X"], "expunge", {"far", "near"}),
        (["-Xn"], "expunge", {"near"}),
        (["--expunge-far"], "expunge", {"far"}),
        (["-x"], "expunge_solo", {"far", "near"}),
        (["--expunge-solo-near"], "expunge_solo", {"near"}),
        (["--no-create"], "create", set()),
        (["--no-remove"], "remove", set()),
        (["--no-expunge"], "expunge", set()),
        (["--no-expunge-solo"], "expunge_solo", set()),
        # "-C-": the option without a side (mbsync accepts it: Create None).
        (["-C-"], "create", set()),
        # Legacy m/s letters and -master/-slave suffixes.
        (["-Cm"], "create", {"far"}),
        (["-Cs"], "create", {"near"}),
        (["--expunge-slave"], "expunge", {"near"}),
        (["--remove-master"], "remove", {"far"}),
    ],
)
def test_box_ops(argv: list[str], field: str, expected: set[str]) -> None:
    assert getattr(parse_args(argv).ops, field) == frozenset(expected)


def test_box_op_letter_then_type_letter_in_one_bundle() -> None:
    # mbsync: -C takes at most one side letter; the next "n" is --new.
    inv = parse_args(["-Cfn"])
    assert inv.ops.create == frozenset({"far"})
    assert inv.ops.sync == SyncOps(pull=frozenset({"new"}), push=frozenset({"new"}))


def test_bundles_mix_everything() -> None:
    inv = parse_args(["-aVyeXn", "-Lnf"])
    assert inv.all and inv.dry_run and inv.ext_exit
    assert inv.verbosity == VERBOSE
    assert inv.ops.expunge == frozenset({"near"})
    assert inv.ops.sync == SyncOps(pull=frozenset({"new", "flags"}), push=NONE)


@pytest.mark.parametrize(
    ("argv", "notice"),
    [
        (["-Cm"], MS_NOTICE),
        (["--create-slave"], MS_NOTICE),
        (["-N"], "Notice: --renew/-N are deprecated; use --upgrade/-u instead."),
        (["--renew"], "Notice: --renew/-N are deprecated; use --upgrade/-u instead."),
        (["-LN"], "Notice: --renew/-N are deprecated; use --upgrade/-u instead."),
        (["-d"], "Notice: --delete/-d are deprecated; use --gone/-g instead."),
        (["--pull-delete"], "Notice: --delete/-d are deprecated; use --gone/-g instead."),
    ],
)
def test_legacy_letters_give_notices(argv: list[str], notice: str) -> None:
    inv = parse_args(argv)
    assert inv.notices == (notice,)


def test_legacy_type_letters_mean_the_new_ones() -> None:
    assert sync(["-N"]) == sync(["-u"])
    assert sync(["-d"]) == sync(["-g"])
    assert sync(["--delete"]) == sync(["--gone"])
    assert parse_args(["-g"]).notices == ()


@pytest.mark.parametrize(
    ("argv", "verbosity"),
    [
        ([], TERSE),
        (["-q"], QUIET),
        (["-qq"], VERYQUIET),
        (["-qqq"], VERYQUIET),
        (["--quiet", "--quiet"], VERYQUIET),
        (["-V"], VERBOSE),
        (["--verbose"], VERBOSE),
        # -V sets, -q steps down: order matters as in mbsync.
        (["-V", "-q"], TERSE),
        (["-q", "-V"], VERBOSE),
        (["-q", "-D"], VERBOSE),
    ],
)
def test_verbosity(argv: list[str], verbosity: int) -> None:
    assert parse_args(argv).verbosity == verbosity


@pytest.mark.parametrize(
    ("argv", "debug"),
    [(["-D"], "all"), (["-Ds"], "s"), (["-DmM"], "mM"), (["--debug"], "all"),
     (["--debug-net"], "net"), ([], None)],
)
def test_debug(argv: list[str], debug: str | None) -> None:
    assert parse_args(argv).debug == debug


def test_debug_consumes_rest_of_bundle() -> None:
    # After -D every letter is a debug category: "a" is not --all.
    with pytest.raises(UsageError, match="Unknown -D flag 'a'"):
        parse_args(["-Da"])


@pytest.mark.parametrize(
    "argv", [["-v"], ["--version"], ["-av"], ["-v", "-k"], ["-v", "--bogus"], ["--version", "-k"]]
)
def test_version_wins_and_stops(argv: list[str]) -> None:
    assert parse_args(argv).version


@pytest.mark.parametrize("argv", [["-h"], ["--help"], ["-h", "-0", "-n"], ["--help", "--bogus"]])
def test_help(argv: list[str]) -> None:
    assert parse_args(argv).help


def test_list_and_list_stores() -> None:
    assert parse_args(["-l", "c"]).list
    inv = parse_args(["-ls", "store"])
    assert inv.list_stores and not inv.list and inv.args == ("store",)
    assert parse_args(["--list-stores"]).list_stores
    # "-la": l then a.
    inv = parse_args(["-la"])
    assert inv.list and inv.all


def test_subcommand_words_are_plain_arguments() -> None:
    assert parse_args(["plugins"]).args == ("plugins",)
    assert parse_args(["-c", "rc", "install-hook", "notmuch"]).args == ("install-hook", "notmuch")


# --- syncmail's own plugin options (not mbsync's): -p/--plugin, --strict-plugins ---------


@pytest.mark.parametrize(
    ("argv", "plugins", "rest"),
    [
        (["-p", "recorder", "-a"], ("recorder",), ()),
        (["-precorder", "-a"], ("recorder",), ()),
        (["--plugin", "recorder", "chan"], ("recorder",), ("chan",)),
        (["--plugin=recorder", "chan"], ("recorder",), ("chan",)),
        (["-p", "no:notmuch", "-p", "pass"], ("no:notmuch", "pass"), ()),
        (["-pno:notmuch", "--plugin=no:pass"], ("no:notmuch", "no:pass"), ()),
        # Bundled: -p as the last letter takes the next argument ...
        (["-ap", "recorder", "chan"], ("recorder",), ("chan",)),
        (["-Vp", "recorder"], ("recorder",), ()),
        # ... anywhere else the rest of the bundle is the name (not more flags).
        (["-apyV"], ("yV",), ()),
        # Repeated names are kept as given; order matters for nothing but is preserved.
        (["-p", "b", "-p", "a", "-p", "b"], ("b", "a", "b"), ()),
    ],
)
def test_plugin_option(argv: list[str], plugins: tuple[str, ...], rest: tuple[str, ...]) -> None:
    inv = parse_args(argv)
    assert inv.plugins == plugins
    assert inv.args == rest
    assert not inv.strict_plugins


def test_plugin_option_keeps_the_rest_of_the_bundle_apart() -> None:
    inv = parse_args(["-ap", "x", "-V"])
    assert inv.all and inv.plugins == ("x",) and inv.verbosity == VERBOSE
    # A bundle taking -c's argument and -p's: each takes the next word, in order.
    inv = parse_args(["-cp", "rc", "x", "chan"])
    assert inv.config == "rc" and inv.plugins == ("x",) and inv.args == ("chan",)
    # -p stops option parsing no earlier than any other option.
    assert parse_args(["chan", "-p", "x"]).args == ("chan", "-p", "x")
    assert parse_args(["chan", "-p", "x"]).plugins == ()


def test_strict_plugins() -> None:
    inv = parse_args(["--strict-plugins", "-p", "pass", "-a"])
    assert inv.strict_plugins and inv.plugins == ("pass",) and inv.all
    assert parse_args(["-a"]) == Invocation(all=True)  # defaults unchanged


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-p"], "-p requires an argument."),
        (["-ap"], "-p requires an argument."),
        (["--plugin"], "--plugin requires an argument."),
        (["--plugin="], "--plugin requires a plugin name (NAME or no:NAME), not ''."),
        (["-p", "no:"], "-p requires a plugin name (NAME or no:NAME), not 'no:'."),
        (["-p", "-a"], "-p requires a plugin name (NAME or no:NAME), not '-a'."),
        (["--plugins"], "Unknown option '--plugins'"),
        (["--strict-plugins=yes"], "Unknown option '--strict-plugins=yes'"),
    ],
)
def test_plugin_option_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_args(argv)
    assert str(info.value) == message


# --- syncmail's own --force (the deletion safety rail) ------------------------------------


def test_force() -> None:
    assert not parse_args(["-a"]).force
    inv = parse_args(["--force", "-a"])
    assert inv.force and inv.all
    with pytest.raises(UsageError, match="Unknown option '--forced'"):
        parse_args(["--forced"])
