"""The Sync matrix (mbsync.md 1.7) and the CLI > channel > global > default merge."""

from __future__ import annotations

import pytest

from syncmail.config.model import (
    ALL_SYNC_TYPES,
    DEFAULT_SYNC_TYPES,
    BoxRef,
    ChannelConfig,
    ChannelOps,
    GlobalConfig,
    Location,
    SyncOps,
)
from syncmail.config.ops import effective_operations, parse_sync_args
from syncmail.errors import ConfigError

D = "new upgrade gone flags"
INVALID = "Invalid combination of simple and compound Sync options in Channel 'x'."
A = "new old upgrade gone flags"


@pytest.mark.parametrize(
    ("words", "pull", "push"),
    [
        ("Pull", D, ""),
        ("Push", "", D),
        ("Pull Push", D, D),
        ("New", "new", "new"),
        ("Old", "old", "old"),
        ("Upgrade", "upgrade", "upgrade"),
        ("Gone", "gone", "gone"),
        ("Flags", "flags", "flags"),
        ("Pull New Flags", "new flags", ""),
        ("Push Gone", "", "gone"),
        ("New Gone", "new gone", "new gone"),
        ("Full", A, A),
        ("All", A, A),
        ("Full Old", A, A),
        ("Pull All", A, ""),
        ("None", "", ""),
        ("Noop", "", ""),
        ("PullNew", "new", ""),
        ("PushFlags", "", "flags"),
        ("PullNew PushNew", "new", "new"),
        ("PullNew Push", "new", D),
        ("PushGone Pull", D, "gone"),
        ("PullNew Flags", "new flags", "flags"),
        ("PullFull", A, ""),
        ("PushFull PullOld", "old", A),
        ("PullReNew PushDelete", "upgrade", "gone"),
        ("pull new", "new", ""),
        ("PULLNEW", "new", ""),
    ],
)
def test_sync_matrix(words: str, pull: str, push: str) -> None:
    assert parse_sync_args(words.split()) == SyncOps(
        pull=frozenset(pull.split()),  # type: ignore[arg-type]
        push=frozenset(push.split()),  # type: ignore[arg-type]
    )


def test_full_includes_old_like_isync_source() -> None:
    ops = parse_sync_args(["Full"])
    assert ops.pull == ALL_SYNC_TYPES and "old" in ops.push


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("PullNew Pull", "Redundant Sync options specified in Channel 'x'."),
        ("PushFlags Push", "Redundant Sync options specified in Channel 'x'."),
        ("PullNew New", "Redundant Sync options specified in Channel 'x'."),
        ("PullFull Gone", "Redundant Sync options specified in Channel 'x'."),
        ("PullNew Gone Push", INVALID),
        ("PullNew Pull Push", INVALID),
        ("PushNew Push Gone", INVALID),
        ("None PullNew", "Conflicting Sync options specified in Channel 'x'."),
        ("Noop New", "Conflicting Sync options specified in Channel 'x'."),
        ("None Pull", "Conflicting Sync options specified in Channel 'x'."),
        ("Sideways", "invalid Sync arg 'Sideways'"),
        ("PullSideways", "invalid Sync arg 'PullSideways'"),
        ("PullPush", "invalid Sync arg 'PullPush'"),
    ],
)  # fmt: skip
def test_sync_matrix_errors(words: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_sync_args(words.split(), context="in Channel 'x'")
    assert str(info.value) == message


def make_channel(ops: ChannelOps | None = None) -> ChannelConfig:
    return ChannelConfig(
        name="c",
        defined_at=Location("/rc", 7),
        far=BoxRef("f", ""),
        near=BoxRef("n", ""),
        ops=ops or ChannelOps(),
    )


def test_defaults() -> None:
    ops = effective_operations(GlobalConfig(), make_channel(), ChannelOps())
    assert ops.sync == SyncOps(pull=DEFAULT_SYNC_TYPES, push=DEFAULT_SYNC_TYPES)
    assert ops.create == ops.remove == ops.expunge == ops.expunge_solo == frozenset()


def test_precedence_is_field_by_field() -> None:
    pull_new = SyncOps(pull=frozenset({"new"}), push=frozenset())
    push_flags = SyncOps(pull=frozenset(), push=frozenset({"flags"}))
    glob = GlobalConfig(ops=ChannelOps(sync=pull_new, create=frozenset({"near"}),
                                       expunge=frozenset({"far"})))  # fmt: skip
    chan = make_channel(ChannelOps(sync=push_flags, remove=frozenset({"far"})))
    cli = ChannelOps(expunge=frozenset())
    ops = effective_operations(glob, chan, cli)
    assert ops.sync == push_flags  # channel beats global
    assert ops.create == frozenset({"near"})  # only global sets it
    assert ops.remove == frozenset({"far"})  # only channel sets it
    assert ops.expunge == frozenset()  # the CLI's "none" beats the global Far
    assert ops.expunge_solo == frozenset()
    cli_sync = SyncOps(pull=frozenset({"gone"}), push=frozenset({"gone"}))
    assert effective_operations(glob, chan, ChannelOps(sync=cli_sync)).sync == cli_sync


def test_expunge_and_expunge_solo_on_one_side_after_merging() -> None:
    glob = GlobalConfig(ops=ChannelOps(expunge=frozenset({"near"})))
    chan = make_channel(ChannelOps(expunge_solo=frozenset({"near"})))
    with pytest.raises(ConfigError) as info:
        effective_operations(glob, chan, ChannelOps())
    assert str(info.value) == (
        "/rc:7: Specified both Expunge and ExpungeSolo for near side of Channel 'c'."
    )
    ops = effective_operations(glob, chan, ChannelOps(expunge=frozenset()))
    assert ops.expunge_solo == frozenset({"near"})


def test_message_without_context() -> None:
    with pytest.raises(ValueError, match=r"^Redundant Sync options specified\.$"):
        parse_sync_args(["PullNew", "Pull"])
