"""The parsed configuration: frozen dataclasses, one per mbsyncrc section kind.

The parser (``syncmail.config.parser``) builds these; everything else only reads
them.  Paths are already tilde-expanded and made absolute (relative to the config
file's directory, as mbsync 1.5 does).  ``None`` means "not set in the file", so
that global defaults and command-line overrides can be merged later
(``syncmail.config.ops``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Literal

from syncmail.record import record

Side = Literal["far", "near"]
SyncType = Literal["new", "old", "upgrade", "gone", "flags"]
TLSType = Literal["none", "starttls", "imaps"]
SubFolders = Literal["verbatim", "maildir++", "legacy"]

# syncmail's deletion safety rail: a run may delete at most this share of a box by
# propagating disappearances (syncmail.sync.rail).
DEFAULT_MAX_DELETE_PERCENT = 50
DEFAULT_SYNC_TYPES: frozenset[SyncType] = frozenset({"new", "upgrade", "gone", "flags"})
ALL_SYNC_TYPES: frozenset[SyncType] = frozenset({"new", "old", "upgrade", "gone", "flags"})


@record(frozen=True)
class Location:
    """Where something was written: ``file:line``."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@record(frozen=True)
class SyncOps:
    """The Sync matrix: which operation types run in each direction.

    ``pull`` is far -> near, ``push`` is near -> far.
    """

    pull: frozenset[SyncType] = DEFAULT_SYNC_TYPES
    push: frozenset[SyncType] = DEFAULT_SYNC_TYPES


@record(frozen=True)
class ChannelOps:
    """Operation settings as written in one place (global section, channel, or CLI).

    Every field is ``None`` when that place does not set it; precedence is
    CLI > channel > global > built-in default, field by field.
    """

    sync: SyncOps | None = None
    create: frozenset[Side] | None = None
    remove: frozenset[Side] | None = None
    expunge: frozenset[Side] | None = None
    expunge_solo: frozenset[Side] | None = None


@record(frozen=True)
class Operations:
    """The effective operations of one channel for this run (nothing unset)."""

    sync: SyncOps
    create: frozenset[Side]
    remove: frozenset[Side]
    expunge: frozenset[Side]
    expunge_solo: frozenset[Side]


@record(frozen=True)
class StoreConfig:
    """Options every store has (mbsync.md section 1.3)."""

    name: str
    defined_at: Location
    path: str | None = None
    max_size: int = 0
    map_inbox: str | None = None
    flatten: str | None = None
    trash: str | None = None
    trash_new_only: bool = False
    trash_remote_new: bool = False
    # Keywords declared by plugins for this kind of store, canonical spelling -> value.
    extra: Mapping[str, str] = field(default_factory=dict)


@record(frozen=True)
class MaildirStoreConfig(StoreConfig):
    """``MaildirStore``: ``path`` keeps a trailing ``/`` or a 1.5 name-prefix suffix."""

    inbox: str = ""
    alt_map: bool = False
    # syncmail only: keywords as Dovecot's letters a-z (syncmail.store.maildir_keywords).
    keyword_letters: bool = False
    info_delimiter: str = ":"
    subfolders: SubFolders | None = None


@record(frozen=True)
class IMAPAccountConfig:
    """``IMAPAccount`` (or the account options written inline in an ``IMAPStore``)."""

    name: str
    defined_at: Location
    host: str | None = None
    port: int | None = None
    timeout: int = 20
    user: str | None = None
    user_cmd: str | None = None
    password: str | None = field(default=None, repr=False)
    pass_cmd: str | None = None
    use_keychain: bool = False
    tunnel: str | None = None
    auth_mechs: tuple[str, ...] = ("*",)
    tls_type: TLSType = "starttls"
    tls_versions: tuple[str, ...] = ()
    system_certificates: bool = True
    certificate_file: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    cipher_string: str | None = None
    pipeline_depth: int | None = None
    disable_extensions: frozenset[str] = frozenset()
    # The largest message fetched (syncmail's MessageSizeLimit; 0: no limit); a larger one
    # is refused before its bytes are read.
    message_size_limit: int = 1024 * 1024 * 1024
    # Keywords declared by plugins for this section, canonical spelling -> value.
    extra: Mapping[str, str] = field(default_factory=dict)


@record(frozen=True)
class IMAPStoreConfig(StoreConfig):
    """``IMAPStore``; ``account`` is resolved (inline options make an implicit account)."""

    account: IMAPAccountConfig | None = None
    use_namespace: bool = True
    path_delimiter: str | None = None
    subscribed_only: bool = False
    # syncmail only (``WatchIdleBox``): the box ``syncmail watch`` IDLEs on when the
    # server has no NOTIFY; the others are polled.
    watch_idle_box: str = "INBOX"


@record(frozen=True)
class BoxRef:
    """A channel end, ``:store:[box]``; ``box`` is ``""`` when omitted."""

    store: str
    box: str


@record(frozen=True)
class ChannelConfig:
    """``Channel``; ``ops`` holds only what the channel itself sets."""

    name: str
    defined_at: Location
    far: BoxRef
    near: BoxRef
    patterns: tuple[str, ...] = ()
    max_size: int | None = None
    max_messages: int = 0
    expire_unread: bool | None = None
    expire_side: Side = "near"
    ops: ChannelOps = ChannelOps()
    copy_arrival_date: bool | None = None
    sync_state: str | None = None
    # syncmail only: the deletion safety rail (syncmail.sync.rail); 100 turns it off.
    max_delete_percent: int = DEFAULT_MAX_DELETE_PERCENT
    # syncmail only: who wins when the two sides' keywords of a pair differ and no
    # earlier sync tells who changed what: "add" (keep every keyword), "far", "near".
    keyword_conflict: str = "add"
    # syncmail only: a message moved between two boxes of the channel on one side is
    # moved on the other side too, without fetching it again (syncmail.sync.moves).
    detect_moves: bool = False
    # Keywords declared by plugins for Channel sections, canonical spelling -> value.
    extra: Mapping[str, str] = field(default_factory=dict)


@record(frozen=True)
class GroupMember:
    """One ``Channel`` entry of a group: the channel and an optional box list."""

    channel: str
    boxes: tuple[str, ...] | None = None


@record(frozen=True)
class GroupConfig:
    name: str
    defined_at: Location
    members: tuple[GroupMember, ...] = ()


# BufferLimit's default, as mbsync's: bodies in flight per channel and direction.
DEFAULT_BUFFER_LIMIT = 10 * 1024 * 1024


@record(frozen=True)
class GlobalConfig:
    """Global options (before the first section)."""

    fsync: bool = True
    field_delimiter: str = ":"
    buffer_limit: int = DEFAULT_BUFFER_LIMIT
    ops: ChannelOps = ChannelOps()
    max_messages: int | None = None
    expire_unread: bool | None = None
    expire_side: Side | None = None
    copy_arrival_date: bool | None = None
    # syncmail only: the default MaxDeletePercent of channels defined after it.
    max_delete_percent: int | None = None
    # syncmail only: the default KeywordConflict of channels defined after it.
    keyword_conflict: str | None = None
    # syncmail only: the default DetectMoves of channels defined after it.
    detect_moves: bool | None = None
    # Global SyncState is a directory/prefix; None = mbsync's default lookup.
    sync_state: str | None = None
    # syncmail only: plugins not to load.
    disable_plugins: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


@record(frozen=True)
class PluginSection:
    """A section whose keyword a plugin declared, e.g. ``Notmuch default``."""

    keyword: str
    name: str
    defined_at: Location
    values: Mapping[str, str] = field(default_factory=dict)
    # The line each keyword was set on (the last one, when set twice).
    lines: Mapping[str, int] = field(default_factory=dict)

    def location_of(self, keyword: str) -> Location:
        """Where ``keyword`` was set in this section (for messages about its value);
        the section's header when it was not set."""
        line = self.lines.get(keyword)
        return self.defined_at if line is None else Location(self.defined_at.file, line)


@record(frozen=True)
class Config:
    """A whole configuration file."""

    path: str
    globals: GlobalConfig
    stores: Mapping[str, StoreConfig]
    accounts: Mapping[str, IMAPAccountConfig]
    channels: Mapping[str, ChannelConfig]
    groups: Mapping[str, GroupConfig]
    plugin_sections: Mapping[str, Mapping[str, PluginSection]] = field(default_factory=dict)


@record(frozen=True)
class ExtraKeyword:
    """A keyword a plugin reads (hook ``syncmail_config_keywords``).

    ``section`` is ``"Global"``, ``"IMAPAccount"``, ``"IMAPStore"``, ``"MaildirStore"``
    or ``"Channel"`` to add a keyword to that kind of section (the value lands in
    its ``extra`` mapping; IMAPStore inline account options land in the account),
    or any other word to declare a section of the plugin's own, which starts with
    ``section`` followed by a name (values land in ``Config.plugin_sections``).
    """

    section: str
    keyword: str


@record(frozen=True)
class Target:
    """What to sync: one channel, and its box list when the user named boxes."""

    channel: str
    boxes: tuple[str, ...] | None = None
