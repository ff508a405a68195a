"""Sync/Create/Remove/Expunge/ExpungeSolo settings: the Sync matrix and the precedence merge.

Mirrors isync's ``getopt_helper``/``merge_ops`` (config.c) and ``merge_actions`` (main_sync.c),
including their error texts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field

from syncmail.config.model import (
    ALL_SYNC_TYPES,
    DEFAULT_SYNC_TYPES,
    ChannelConfig,
    ChannelOps,
    GlobalConfig,
    Operations,
    Side,
    SyncOps,
    SyncType,
)
from syncmail.errors import ConfigError, ConfigProblem
from syncmail.record import record

BOX_OPS: tuple[str, ...] = ("Expunge", "ExpungeSolo", "Create", "Remove")

_TYPE_WORDS: dict[str, frozenset[SyncType]] = {
    "new": frozenset({"new"}),
    "old": frozenset({"old"}),
    "upgrade": frozenset({"upgrade"}),
    "renew": frozenset({"upgrade"}),
    "gone": frozenset({"gone"}),
    "delete": frozenset({"gone"}),
    "flags": frozenset({"flags"}),
    # isync's source gives Full/All OP_MASK_TYPE, which includes Old (the man page says not).
    "full": ALL_SYNC_TYPES,
    "all": ALL_SYNC_TYPES,
}
_COMPOUND_TYPES = ("new", "old", "upgrade", "renew", "gone", "delete", "flags", "full")

# Deprecated spellings and the notice mbsync prints once per file for them.
NOTICE_RENEW = "ReNew is deprecated; use Upgrade instead."
NOTICE_DELETE = "Delete is deprecated; use Gone instead."
NOTICE_MASTER_SLAVE = "Master/Slave are deprecated; use Far/Near instead."


@record
class _BoxOp:
    have: bool = False
    noop: bool = False
    both: bool = False
    sides: set[Side] = field(default_factory=set)


@record
class OpsBuilder:
    """Collects Sync and box-operation words of one scope (global, channel), then merges them.

    ``notices`` gathers deprecation notices; ``old_words`` the words that asked for Old
    explicitly (``Old``, ``PullOld``, ``PushOld``).
    """

    simple_types: set[SyncType] = field(default_factory=set)
    simple_pull: bool = False
    simple_push: bool = False
    pull: set[SyncType] = field(default_factory=set)
    push: set[SyncType] = field(default_factory=set)
    have_type: bool = False
    type_noop: bool = False
    box: dict[str, _BoxOp] = field(default_factory=lambda: {name: _BoxOp() for name in BOX_OPS})
    notices: list[str] = field(default_factory=list)
    old_words: list[str] = field(default_factory=list)
    # Line of the first operation keyword, for messages about the merged result.
    first_line: int = 0

    def sync_words(self, words: Iterable[str]) -> list[str]:
        """Apply the arguments of one ``Sync`` line; returns error messages for bad words."""
        errors: list[str] = []
        for word in words:
            if not self._sync_word(word):
                errors.append(f"invalid Sync arg '{word}'")
        self.have_type = True
        return errors

    def _sync_word(self, word: str) -> bool:
        low = word.lower()
        if low in ("renew", "pullrenew", "pushrenew"):
            self.notices.append(NOTICE_RENEW)
        elif low in ("delete", "pulldelete", "pushdelete"):
            self.notices.append(NOTICE_DELETE)
        if low in ("old", "pullold", "pushold"):
            self.old_words.append(word)
        if low == "push":
            self.simple_push = True
        elif low == "pull":
            self.simple_pull = True
        elif low in _TYPE_WORDS:
            self.simple_types |= _TYPE_WORDS[low]
        elif low in ("none", "noop"):
            self.type_noop = True
        else:
            for prefix, target in (("pull", self.pull), ("push", self.push)):
                rest = low[len(prefix):]
                if low.startswith(prefix) and rest in _COMPOUND_TYPES:
                    target |= _TYPE_WORDS[rest]
                    return True
            return False
        return True

    def box_words(self, op: str, words: Iterable[str]) -> list[str]:
        """Apply one ``Create``/``Remove``/``Expunge``/``ExpungeSolo`` line."""
        entry = self.box[op]
        errors: list[str] = []
        for word in words:
            low = word.lower()
            if low == "both":
                entry.both = True
            elif low in ("far", "master"):
                entry.sides.add("far")
            elif low in ("near", "slave"):
                entry.sides.add("near")
            elif low == "none":
                entry.noop = True
            else:
                errors.append(f"invalid {op} arg '{word}'")
                continue
            if low in ("master", "slave"):
                self.notices.append(NOTICE_MASTER_SLAVE)
        entry.have = True
        return errors

    def merge(self, context: str) -> ChannelOps:
        """The settings of this scope; ``ValueError`` with mbsync's text on bad combinations.

        ``context`` completes the message, e.g. ``"in Channel 'work'"``.
        """
        context = f" {context}" if context else ""
        sync: SyncOps | None = None
        if self.have_type:
            sync = self._merge_sync(context)
        sides: dict[str, frozenset[Side] | None] = {}
        for op, entry in self.box.items():
            if not entry.have:
                sides[op] = None
                continue
            if (entry.both or entry.sides) and entry.noop:
                raise ValueError(f"Conflicting {op} options specified{context}.")
            if entry.both and entry.sides:
                raise ValueError(f"Redundant {op} options specified{context}.")
            chosen: set[Side] = {"far", "near"} if entry.both else set(entry.sides)
            sides[op] = frozenset(chosen)
        return ChannelOps(
            sync=sync,
            create=sides["Create"],
            remove=sides["Remove"],
            expunge=sides["Expunge"],
            expunge_solo=sides["ExpungeSolo"],
        )

    def _merge_sync(self, context: str) -> SyncOps:
        pull, push = set(self.pull), set(self.push)
        simple = self.simple_types
        if pull or push:
            if self.type_noop:
                raise ValueError(f"Conflicting Sync options specified{context}.")
            if (pull | push) & simple:
                raise ValueError(f"Redundant Sync options specified{context}.")
            if self.simple_pull or self.simple_push:
                # A lone direction asserts its full default row; mixing it with a lone type
                # or the other direction would make the meaning depend on word order.
                if (self.simple_pull and self.simple_push) or simple:
                    raise ValueError(
                        f"Invalid combination of simple and compound Sync options{context}."
                    )
                row = pull if self.simple_pull else push
                if row & DEFAULT_SYNC_TYPES:
                    raise ValueError(f"Redundant Sync options specified{context}.")
                row |= DEFAULT_SYNC_TYPES
            else:
                pull |= simple
                push |= simple
        elif simple or self.simple_pull or self.simple_push:
            if self.type_noop:
                raise ValueError(f"Conflicting Sync options specified{context}.")
            types = set(simple) if simple else set(DEFAULT_SYNC_TYPES)
            to_pull, to_push = self.simple_pull, self.simple_push
            if simple and not (to_pull or to_push):
                to_pull = to_push = True
            if to_pull:
                pull |= types
            if to_push:
                push |= types
        return SyncOps(pull=frozenset(pull), push=frozenset(push))


def parse_sync_args(args: list[str], *, context: str = "") -> SyncOps:
    """The Sync matrix of one ``Sync`` line's arguments (mbsync.md 1.7).

    Raises ``ValueError`` with mbsync's message for unknown words and bad combinations;
    ``context`` (e.g. ``"in Channel 'work'"``) completes the message as in mbsync.
    """
    builder = OpsBuilder()
    errors = builder.sync_words(args)
    if errors:
        raise ValueError(errors[0])
    ops = builder.merge(context)
    assert ops.sync is not None
    return ops.sync


def both_expunge_problem(ops: ChannelOps, channel: str) -> str | None:
    """mbsync's error when Expunge and ExpungeSolo end up on the same side, else None."""
    for side in ("far", "near"):
        if side in (ops.expunge or ()) and side in (ops.expunge_solo or ()):
            return f"Specified both Expunge and ExpungeSolo for {side} side of Channel '{channel}'."
    return None


def effective_operations(
    globals: GlobalConfig, channel: ChannelConfig, cli: ChannelOps
) -> Operations:
    """The operations of ``channel`` for this run: CLI > channel > global > default, per field.

    Raises ``ConfigError`` (at the channel's location) when the result has Expunge and
    ExpungeSolo on the same side, as mbsync refuses such a channel.
    """

    def pick(name: str) -> object:
        for scope in (cli, channel.ops, globals.ops):
            value = getattr(scope, name)
            if value is not None:
                return value
        return None

    sync = pick("sync")
    result = Operations(
        sync=sync if isinstance(sync, SyncOps) else SyncOps(),
        create=_sides(pick("create")),
        remove=_sides(pick("remove")),
        expunge=_sides(pick("expunge")),
        expunge_solo=_sides(pick("expunge_solo")),
    )
    merged = ChannelOps(expunge=result.expunge, expunge_solo=result.expunge_solo)
    problem = both_expunge_problem(merged, channel.name)
    if problem is not None:
        where = channel.defined_at
        raise ConfigError([ConfigProblem(where.file, where.line, problem)])
    return result


def _sides(value: object) -> frozenset[Side]:
    if isinstance(value, frozenset):
        return value
    return frozenset()
