"""The exception tree of syncmail, graded by blast radius.

::

    SyncmailError                      base; str(e) is a complete one-line message
    +-- ConfigError                    the whole run stops (exit 1) before any sync
    |     .problems: list[ConfigProblem(file, line, message)]
    +-- StoreError                     one store is unusable: its channels are skipped
    |   |  .store: str
    |   +-- ConnectionFailed           cannot connect / TLS / timeout / connection lost
    |   |   |  .retryable: bool        whether a new connection may do better
    |   |   +-- Unreachable            the server could not be reached at all
    |   |   +-- ProtocolError          the server broke the protocol; connection dropped
    |   |   +-- ServerTimeout          the server stopped answering (not retried in the run)
    |   +-- AuthenticationFailed       login refused, credential command failed
    +-- BoxError                       one box pair is skipped, the others go on
    |   |  .channel, .box: str
    |   +-- LockedError                another syncmail or mbsync holds the state lock
    |   +-- StateError                 state or journal file unreadable (.path, .line)
    |   +-- UidValidityError           UIDVALIDITY changed and cannot be recovered
    |   +-- MassDeletionError          the deletion safety rail stopped the pair
    |         .side: str, .deleted, .total: int
    +-- MessageError                   one message could not be handled (.box, .uid)
    +-- PluginError                    a plugin failed (.plugin)

Third-party exceptions (imapclient, OSError, notmuch2) are caught at the driver
boundary and raised again as one of these, with context filled in.  Nothing here
ever carries a password.
"""

from __future__ import annotations

from syncmail.record import record


class SyncmailError(Exception):
    """Base of every error syncmail reports; ``str()`` is the user-facing line."""


@record(frozen=True)
class ConfigProblem:
    """One problem in a configuration file, reported as ``file:line: message``.

    Line 0 means the file as a whole (unreadable, not text): ``file: message``.
    """

    file: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(SyncmailError):
    """The configuration has errors; ``problems`` lists all of them."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StoreError(SyncmailError):
    """A store (one IMAP account or Maildir root) cannot be used this run."""

    def __init__(self, store: str, message: str) -> None:
        self.store = store
        self.message = message
        super().__init__(f"store {store}: {message}")


class ConnectionFailed(StoreError):
    """The server could not be reached, TLS failed, or the connection was lost.

    ``retryable`` is False when a new connection would fail the same way (no STARTTLS,
    a certificate that does not verify, a limit exceeded).
    """

    def __init__(self, store: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(store, message)
        self.retryable = retryable


class Unreachable(ConnectionFailed):
    """No connection could be opened at all (refused, no route, unknown host)."""


class ProtocolError(ConnectionFailed):
    """The server sent something that leaves the connection out of step (a literal over
    the limit, a truncated literal); the connection was dropped.  Not ``retryable``
    when the same request would get the same answer (a limit was exceeded)."""


class ServerTimeout(ConnectionFailed):
    """The server sent nothing, or too little, for ``Timeout`` seconds while an answer was
    due.  Not retried within the run: each try would cost another ``Timeout``, and a
    server that stopped answering rarely starts again within seconds."""

    def __init__(self, store: str, message: str) -> None:
        super().__init__(store, message, retryable=False)


class AuthenticationFailed(StoreError):
    """The server refused the credentials, or no credentials could be obtained."""


class BoxError(SyncmailError):
    """One box pair of a channel cannot be synced; the others go on."""

    def __init__(self, channel: str, box: str, message: str) -> None:
        self.channel = channel
        self.box = box
        self.message = message
        where = f"channel {channel}, box {box}" if box else f"channel {channel}"
        super().__init__(f"{where}: {message}")


class RunVetoed(SyncmailError):
    """A plugin's ``syncmail_pre_sync`` vetoed the run: nothing was synced."""


class LockedError(BoxError):
    """The sync state is locked by another syncmail or mbsync process."""


class StateError(BoxError):
    """A state or journal file is unreadable; nothing was changed."""

    def __init__(self, channel: str, box: str, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(channel, box, f"{path}:{line}: {message}")


class UidValidityError(BoxError):
    """A UIDVALIDITY changed and the messages could not be re-matched safely."""


class MassDeletionError(BoxError):
    """Syncing would delete most of the ``side`` box, ``deleted`` of its ``total``
    messages, because they vanished on the other side; nothing of the pair was changed."""

    def __init__(
        self, channel: str, box: str, side: str, deleted: int, total: int, message: str
    ) -> None:
        self.side = side
        self.deleted = deleted
        self.total = total
        super().__init__(channel, box, message)


class MessageError(SyncmailError):
    """One message could not be read, written or parsed."""

    def __init__(self, box: str, uid: int, message: str) -> None:
        self.box = box
        self.uid = uid
        self.message = message
        super().__init__(f"box {box}, UID {uid}: {message}")


class PluginError(SyncmailError):
    """A plugin raised an exception or returned something unusable."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        self.message = message
        super().__init__(f"plugin {plugin}: {message}")
