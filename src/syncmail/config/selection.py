"""Which channels and boxes a run syncs: command-line names, ``chan:box,box`` and groups.

Follows isync's ``sync_chans``/``add_named_channel`` (main_sync.c), including its messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from syncmail.config.model import Config, Target
from syncmail.errors import SyncmailError


class SelectionError(SyncmailError):
    """The command line names channels or boxes that cannot be synced; ``messages`` lists all."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


def split_channel_arg(arg: str) -> tuple[str, tuple[str, ...] | None]:
    """``chan`` -> (chan, None); ``chan:a,b`` (or newline-separated) -> (chan, (a, b)).

    An empty box name means ``INBOX``, as in mbsync.
    """
    name, colon, rest = arg.partition(":")
    if not colon:
        return name, None
    # re.split, not a module-level pattern: compiled only when a box list is given.
    boxes = tuple(box or "INBOX" for box in re.split(r"[,\n]", rest))
    return name, boxes


def resolve_targets(config: Config, args: Sequence[str], all_channels: bool) -> list[Target]:
    """The targets of a run; raises ``SelectionError`` with every problem found.

    With ``all_channels`` every channel is synced in definition order and ``args`` are
    ignored. Otherwise each argument is a group (groups shadow same-named channels) or
    a channel, optionally with a box list that replaces the channel's Patterns.
    """
    if not config.channels:
        raise SelectionError(["No channels defined. Try 'man mbsync'"])
    if all_channels:
        return [Target(name) for name in config.channels]
    targets: list[Target] = []
    problems: list[str] = []
    for arg in args:
        group = config.groups.get(arg)
        if group is not None:
            for member in group.members:
                _add(config, member.channel, member.boxes, targets, problems)
            continue
        name, boxes = split_channel_arg(arg)
        _add(config, name, boxes, targets, problems)
    if problems:
        raise SelectionError(problems)
    if not targets:
        raise SelectionError(["No channel specified. Try 'syncmail -h'"])
    return targets


def _add(
    config: Config,
    name: str,
    boxes: tuple[str, ...] | None,
    targets: list[Target],
    problems: list[str],
) -> None:
    channel = config.channels.get(name)
    if channel is None:
        problems.append(f"No channel or group named '{name}' defined.")
        return
    if boxes is not None and not channel.patterns:
        problems.append(f"Cannot override mailbox in channel '{name}' - no Patterns.")
        return
    targets.append(Target(name, boxes))
