"""An account's token record and where it lives between runs.

The record (refresh token, access token, expiry, provider) is kept by a token store: the
built-in file store (``filestore``), or one a plugin serves through the
``syncmail_token_store`` hook (the pass plugin: ``token_store = "pass:ENTRY"``). Whatever
the store, the refresh happens under a lock file of syncmail's own, so that parallel
connections (and mbsync's PassCmd) refresh only once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from syncmail.errors import SyncmailError
from syncmail.record import record

if TYPE_CHECKING:
    from syncmail.oauth2.settings import AccountSettings

__all__ = [
    "TokenBackend",
    "TokenState",
    "TokenStore",
    "TokenStoreError",
    "data_dir",
    "open_store",
]

LOCK_TIMEOUT = 60.0


class TokenStoreError(SyncmailError):
    """The token store or its lock cannot be used; the text names it, never a token."""


@record
class TokenState:
    """What is known of an account's tokens; times are Unix seconds."""

    access_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    obtained_at: float | None = None
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    provider: str | None = None

    def fresh_for(self, now: float) -> bool:
        """Whether the access token is still good at ``now``, with a margin: a minute, or
        half the token's life for short-lived ones, so that it does not die in transit."""
        if not self.access_token or self.expires_at is None:
            return False
        obtained = self.expires_at if self.obtained_at is None else self.obtained_at
        life = self.expires_at - obtained
        margin = min(60.0, max(life, 0.0) / 2)
        return now < self.expires_at - margin


class TokenBackend(Protocol):
    """What a token store does (the contract of the ``syncmail_token_store`` hook).

    The record is a JSON-able dict with the keys of :class:`TokenState`. Failures raise
    :class:`TokenStoreError` with a message naming the store and never a token.
    """

    where: str  # for messages: a path, "pass entry oauth/work", ...

    def load(self) -> dict[str, Any] | None:
        """The stored record, or ``None`` when there is none yet."""

    def save(self, record: dict[str, Any]) -> None:
        """Replace the stored record whole."""

    def remove(self) -> bool:
        """Forget the record; whether there was one."""


def data_dir() -> Path:
    """``$XDG_DATA_HOME/syncmail/oauth2`` (``~/.local/share/...`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "syncmail" / "oauth2"


class TokenStore:
    """One account's token record in its store, and the account's lock."""

    def __init__(
        self, account: str, backend: TokenBackend | None = None, directory: Path | None = None
    ) -> None:
        from syncmail.oauth2.filestore import FileTokenStore

        self.account = account
        self.dir = directory or data_dir()
        # The lock stays a local file even when the record lives elsewhere.
        self.lock_path = self.dir / f"{account}.lock"
        self.backend: TokenBackend = backend or FileTokenStore(account, self.dir)

    @property
    def where(self) -> str:
        return self.backend.where

    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """Hold the account's lock (a bounded wait: a stuck holder is reported, not waited
        for forever)."""
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise TokenStoreError(f"{self.dir}: cannot create: {exc.strerror}") from None
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise TokenStoreError(
                        f"{self.lock_path}: still locked by another process after "
                        f"{timeout:.0f} s"
                    )
                time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    def load(self) -> TokenState:
        """The stored state; an empty one when nothing is stored yet."""
        record = self._call("read", self.backend.load)
        if record is None:
            return TokenState()
        state = _state_of(record)
        if state is None:
            raise TokenStoreError(f"{self.where}: not a token record of syncmail (log in again)")
        from syncmail.report import hide_secret

        for secret in (state.access_token, state.refresh_token):
            if isinstance(secret, str) and secret:
                hide_secret(secret)
        return state

    def save(self, state: TokenState) -> None:
        self._call("write", lambda: self.backend.save(asdict(state)))

    def remove(self) -> bool:
        return bool(self._call("remove", self.backend.remove))

    def _call(self, what: str, action: Any) -> Any:
        try:
            return action()
        except SyncmailError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plugin's store must not crash the run
            # Only the type: a plugin's message could quote the record it was handling.
            raise TokenStoreError(
                f"{self.where}: cannot {what} the tokens of account {self.account}: "
                f"{type(exc).__name__}"
            ) from None


# Times beyond this (the year 33658) are damage, not an expiry.
_MAX_TIME = 1e12
_TEXT_FIELDS = ("access_token", "refresh_token", "scope", "provider")
_TIME_FIELDS = ("expires_at", "obtained_at")


def _state_of(record: object) -> TokenState | None:
    """The ``TokenState`` a stored record describes, or None when it is not one: every
    field of the right type, times finite and in range (a damaged file must not end
    the run with an internal error)."""
    if not isinstance(record, dict):
        return None
    for key in _TEXT_FIELDS:
        if record.get(key) is not None and not isinstance(record[key], str):
            return None
    for key in _TIME_FIELDS:
        value = record.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not 0 <= value <= _MAX_TIME:  # NaN compares false too
            return None
    return TokenState(**{k: record.get(k) for k in (*_TEXT_FIELDS, *_TIME_FIELDS)})


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        return False
    return True


def open_store(cfg: AccountSettings, pm: Any = None) -> TokenStore:
    """The store ``cfg.token_store`` names: the file store for ``"file"``, else the one the
    first plugin answering ``syncmail_token_store`` gives (``pm``: a plugin manager; one
    with every installed plugin when ``None``)."""
    if cfg.token_store == "file":
        return TokenStore(cfg.name)
    if pm is None:
        from syncmail.plugins import make_plugin_manager

        pm = make_plugin_manager()
    backend = pm.hook.syncmail_token_store(account=cfg.name, spec=cfg.token_store)
    if backend is None:
        scheme = cfg.token_store.partition(":")[0]
        raise TokenStoreError(
            f'{cfg.source}: [accounts.{cfg.name}]: token_store "{cfg.token_store}": no plugin '
            f'serves "{scheme}:" stores (the pass plugin serves "pass:ENTRY"; is it installed '
            "and not disabled?)"
        )
    return TokenStore(cfg.name, backend)
