"""Choosing channels and boxes from the command line (mbsync's add_named_channel)."""

from __future__ import annotations

import pytest

from syncmail.config.model import Config, Target
from syncmail.config.parser import parse_config
from syncmail.config.selection import SelectionError, resolve_targets, split_channel_arg
from syncmail.errors import SyncmailError

RC = """\
MaildirStore a
Path /a/

MaildirStore b
Path /b/

Channel pat
Far :a:
Near :b:
Patterns *

Channel single
Far :a:x
Near :b:y

Channel both
Far :a:
Near :b:
Patterns *

Group grp pat:INBOX,Work single

Group both
Channel single
"""


@pytest.fixture
def config() -> Config:
    return parse_config(RC, "/rc")


def problems(config: Config, args: list[str], all_channels: bool = False) -> list[str]:
    with pytest.raises(SelectionError) as info:
        resolve_targets(config, args, all_channels)
    assert isinstance(info.value, SyncmailError)
    return info.value.messages


@pytest.mark.parametrize(
    ("arg", "result"),
    [
        ("chan", ("chan", None)),
        ("chan:", ("chan", ("INBOX",))),
        ("chan:a,b", ("chan", ("a", "b"))),
        ("chan:a\nb", ("chan", ("a", "b"))),
        ("chan:a,,b", ("chan", ("a", "INBOX", "b"))),
        ("chan:a:b", ("chan", ("a:b",))),
    ],
)
def test_split_channel_arg(arg: str, result: tuple[str, tuple[str, ...] | None]) -> None:
    assert split_channel_arg(arg) == result


def test_all_channels_in_definition_order(config: Config) -> None:
    assert resolve_targets(config, ["ignored"], True) == [
        Target("pat"), Target("single"), Target("both")
    ]  # fmt: skip


def test_channels_and_boxes(config: Config) -> None:
    assert resolve_targets(config, ["pat", "single", "pat:Work,", "pat:A\nB"], False) == [
        Target("pat"),
        Target("single"),
        Target("pat", ("Work", "INBOX")),
        Target("pat", ("A", "B")),
    ]


def test_groups_expand_and_shadow_channels(config: Config) -> None:
    assert resolve_targets(config, ["grp"], False) == [
        Target("pat", ("INBOX", "Work")),
        Target("single"),
    ]
    # "both" is a channel and a group: the group wins.
    assert resolve_targets(config, ["both"], False) == [Target("single")]


def test_errors_are_all_reported(config: Config) -> None:
    assert problems(config, ["nope", "single:x", "pat", "also:INBOX"]) == [
        "No channel or group named 'nope' defined.",
        "Cannot override mailbox in channel 'single' - no Patterns.",
        "No channel or group named 'also' defined.",
    ]


def test_group_naming_unknown_channel() -> None:
    config = parse_config(RC + "\nGroup bad ghost\n", "/rc")
    assert problems(config, ["bad"]) == ["No channel or group named 'ghost' defined."]


def test_no_channel_specified(config: Config) -> None:
    assert problems(config, []) == ["No channel specified. Try 'syncmail -h'"]


def test_no_channels_defined() -> None:
    config = parse_config("MaildirStore a\nPath /a/\n", "/rc")
    assert problems(config, [], True) == ["No channels defined. Try 'man mbsync'"]
