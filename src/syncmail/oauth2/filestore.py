"""The built-in token store: one JSON file per account, mode 0600, replaced whole by rename."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from syncmail import jsontext
from syncmail.oauth2.tokens import TokenStoreError, data_dir

__all__ = ["FileTokenStore"]


class FileTokenStore:
    """``$XDG_DATA_HOME/syncmail/oauth2/ACCOUNT.json``; a :class:`TokenBackend`."""

    def __init__(self, account: str, directory: Path | None = None) -> None:
        self.dir = directory or data_dir()
        self.path = self.dir / f"{account}.json"
        self.where = str(self.path)

    def load(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenStoreError(f"{self.path}: cannot read: {exc.strerror}") from None
        try:
            data = jsontext.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise TokenStoreError(
                f"{self.path}: not a token file of syncmail (remove it and log in again)"
            )
        return data

    def save(self, record: dict[str, Any]) -> None:
        """Temporary file, fsync, rename: a crash leaves the old record or the new one."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = json.dumps(record, indent=1).encode()
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
