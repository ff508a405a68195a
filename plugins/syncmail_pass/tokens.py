"""OAuth2 token records in the password store: ``token_store = "pass:ENTRY"`` in oauth2.toml.

The record is one line of JSON, the entry's first line: ``pass insert -m -f`` writes it
from stdin, ``pass show`` reads it. Locking is syncmail's (see the syncmail_token_store hook).
"""

from __future__ import annotations

import json
from typing import Any

from syncmail import jsontext
from syncmail.oauth2.tokens import TokenStoreError
from syncmail_pass.passcmd import DEFAULT_TIMEOUT, PassError, PassMissing, insert, run_pass

__all__ = ["PassTokenStore"]


class PassTokenStore:
    """The token record of one account in pass entry ``entry``."""

    def __init__(self, entry: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.entry = entry
        self.timeout = timeout
        self.where = f"pass entry {entry}"

    def load(self) -> dict[str, Any] | None:
        try:
            raw = run_pass(["show", self.entry], self.entry, timeout=self.timeout)
        except PassMissing:
            return None
        except PassError as exc:
            raise TokenStoreError(str(exc)) from None
        try:
            record = jsontext.loads(raw.decode("utf-8").partition("\n")[0])
        except (UnicodeDecodeError, ValueError):
            record = None
        if not isinstance(record, dict):
            raise TokenStoreError(
                f"{self.where} is not a token record of syncmail: log in again "
                "(it replaces the entry)"
            )
        return record

    def save(self, record: dict[str, Any]) -> None:
        text = json.dumps(record, separators=(",", ":")) + "\n"
        try:
            insert(self.entry, text, timeout=self.timeout)
        except PassError as exc:
            raise TokenStoreError(str(exc)) from None

    def remove(self) -> bool:
        try:
            run_pass(["rm", "-f", self.entry], self.entry, timeout=self.timeout)
        except PassMissing:
            return False
        except PassError as exc:
            raise TokenStoreError(str(exc)) from None
        return True
