"""Where tokens live between runs: one JSON file per account, mode 0600, written by rename,
under a lock so that parallel connections (and mbsync's PassCmd) refresh only once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from syncmail.errors import SyncmailError

__all__ = ["TokenState", "TokenStore", "TokenStoreError", "data_dir"]

LOCK_TIMEOUT = 60.0


class TokenStoreError(SyncmailError):
    """The token file or its lock cannot be used; the text names the file."""


@dataclass
class TokenState:
    """What is known of an account's tokens; times are Unix seconds."""

    access_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    obtained_at: float | None = None
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None

    def fresh_for(self, now: float) -> bool:
        """Whether the access token is still good at ``now``, with a margin: a minute, or
        half the token's life for short-lived ones, so that it does not die in transit."""
        if not self.access_token or self.expires_at is None:
            return False
        obtained = self.expires_at if self.obtained_at is None else self.obtained_at
        life = self.expires_at - obtained
        margin = min(60.0, max(life, 0.0) / 2)
        return now < self.expires_at - margin


def data_dir() -> Path:
    """``$XDG_DATA_HOME/syncmail/oauth2`` (``~/.local/share/...`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "syncmail" / "oauth2"


class TokenStore:
    """The token file of one account."""

    def __init__(self, account: str, directory: Path | None = None) -> None:
        self.account = account
        self.dir = directory or data_dir()
        self.path = self.dir / f"{account}.json"
        self.lock_path = self.dir / f"{account}.lock"

    def _mkdir(self) -> None:
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise TokenStoreError(f"{self.dir}: cannot create: {exc.strerror}") from None

    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
        """Hold the account's lock (a bounded wait: a stuck holder is reported, not waited
        for forever)."""
        self._mkdir()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise TokenStoreError(
                            f"{self.lock_path}: still locked by another process after "
                            f"{timeout:.0f} s"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    def load(self) -> TokenState:
        """The stored state; an empty one when there is no file yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return TokenState()
        except OSError as exc:
            raise TokenStoreError(f"{self.path}: cannot read: {exc.strerror}") from None
        try:
            data = json.loads(raw)
            known = {k: data[k] for k in TokenState.__dataclass_fields__ if k in data}
            return TokenState(**known)
        except (ValueError, TypeError):
            raise TokenStoreError(
                f"{self.path}: not a token file of syncmail (remove it and log in again)"
            ) from None

    def save(self, state: TokenState) -> None:
        """Write ``state`` whole (temporary file, fsync, rename), readable by the owner only."""
        self._mkdir()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps(asdict(state), indent=1).encode()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise TokenStoreError(f"{self.path}: cannot write: {exc.strerror}") from None

    def remove(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
