"""Small frozen event objects handed to plugin hooks (see ``syncmail.hookspecs``).

Flags are given as Maildir letters in canonical order (``"FS"``), the form people
write in configs and notmuch uses.  ``side`` is ``"far"`` or ``"near"``.
"""

from __future__ import annotations

from dataclasses import field

from syncmail.record import record


@record(frozen=True, slots=True, hot=True)
class NewMessage:
    """A message was delivered into a box by a sync (a copy from the other side)."""

    channel: str
    box: str
    side: str
    store: str
    uid: int | None
    flags: str
    message_id: str | None = None
    # Absolute path of the new file when ``side`` is a Maildir store.
    path: str | None = None
    source_uid: int | None = None


@record(frozen=True, slots=True)
class FlagsChanged:
    """The flags of a message on ``side`` were changed by a sync."""

    channel: str
    box: str
    side: str
    store: str
    uid: int
    old_flags: str
    new_flags: str
    # Where the change was made by the user: the other side.
    changed_on: str
    path: str | None = None


@record(frozen=True, slots=True)
class MessageRemoved:
    """A message was expunged from (or moved to the trash of) ``side``."""

    channel: str
    box: str
    side: str
    store: str
    uid: int
    trashed: bool = False
    path: str | None = None


@record(frozen=True)
class BoxResult:
    """Counts of one synced box pair."""

    channel: str
    box: str
    pulled_new: int = 0
    pushed_new: int = 0
    pulled_flags: int = 0
    pushed_flags: int = 0
    expunged_far: int = 0
    expunged_near: int = 0
    trashed_far: int = 0
    trashed_near: int = 0
    # Of the new messages (pulled_new + pushed_new): those that arrived by a move from
    # another box of the channel (DetectMoves), not transferred again.
    moved: int = 0
    error: str | None = None
    # How often the pair was synced again after its connection was lost in the middle.
    retries: int = 0
    # Wall-clock seconds the pair took, tries included.
    seconds: float = 0.0


@record(frozen=True)
class RunSummary:
    """What a whole run did; handed to ``syncmail_post_sync``."""

    channels: int
    boxes: tuple[BoxResult, ...] = ()
    errors: tuple[str, ...] = ()
    dry_run: bool = False
    # (channel, retries) of channels whose stores lost their connection while being
    # connected or listed, and were connected again.
    reconnects: tuple[tuple[str, int], ...] = ()


@record(frozen=True)
class CredentialRequest:
    """A store needs a credential: ``kind`` is ``"user"`` or ``"password"``.

    With ``mechanism`` set (``"XOAUTH2"`` or ``"OAUTHBEARER"``) the "password" asked for
    is an OAuth2 bearer token; ``fresh`` then says that the last one was refused and a
    newly refreshed token is wanted, not a cached one.
    """

    account: str
    kind: str
    host: str | None = None
    user: str | None = None
    # The plugin-declared keywords of the account section (e.g. ``PassEntry``).
    extra: dict[str, str] = field(default_factory=dict)
    mechanism: str | None = None
    fresh: bool = False


@record
class SideProgress:
    """Running counts for one side (mbsync's progress line: ``+n/N *f/F #t/T -x/X``)."""

    new_done: int = 0
    new_total: int = 0
    flags_done: int = 0
    flags_total: int = 0
    trashed_done: int = 0
    trashed_total: int = 0
    expunged_done: int = 0
    expunged_total: int = 0


@record
class CopyProgress:
    """The copies of the box pair being synced, both directions (the progress bar)."""

    done: int = 0
    total: int = 0
    # Bytes fetched so far; their total is the sum of the sources' listed sizes, None
    # when sizes were not listed (they are when a MaxSize needs them).
    bytes_done: int = 0
    bytes_total: int | None = None


@record
class Progress:
    """Handed to the progress callback after each step; mutable, do not keep it."""

    channels_done: int = 0
    channels_total: int = 0
    boxes_done: int = 0
    boxes_total: int = 0
    far: SideProgress = field(default_factory=SideProgress)
    near: SideProgress = field(default_factory=SideProgress)
    # The box pair being synced (its channel and label) and its copies.
    channel: str = ""
    box: str = ""
    copies: CopyProgress = field(default_factory=CopyProgress)
