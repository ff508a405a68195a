"""syncmail plugin: IMAP credentials from the password store (``pass``).

An ``IMAPAccount`` with ``PassEntry mail/example`` gets its password from the first
line of ``pass show mail/example``; with ``PassField login`` also its user name, from
the entry's ``login:`` line. ``PassTimeout`` (seconds, default 30) bounds the wait.

It also keeps the OAuth2 tokens of an ``oauth2.toml`` account with
``token_store = "pass:ENTRY"`` (see ``syncmail_pass.tokens``).
"""

from __future__ import annotations

import logging
from typing import Any

from syncmail import hookimpl
from syncmail.config.model import ExtraKeyword
from syncmail.errors import AuthenticationFailed
from syncmail.events import CredentialRequest
from syncmail_pass.passcmd import DEFAULT_TIMEOUT, PassEntry, PassError, show

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_TIMEOUT", "PassEntry", "PassError", "show"]


@hookimpl
def syncmail_config_keywords() -> list[ExtraKeyword]:
    return [
        ExtraKeyword("IMAPAccount", "PassEntry"),
        ExtraKeyword("IMAPAccount", "PassField"),
        ExtraKeyword("IMAPAccount", "PassTimeout"),
    ]


@hookimpl
def syncmail_get_credentials(request: CredentialRequest) -> str | None:
    entry_name = request.extra.get("PassEntry")
    if not entry_name:
        return None
    timeout = _timeout(request)
    if request.kind == "user":
        # Only on request: an account's own User line must not lose to a stray login: line.
        field = request.extra.get("PassField")
        if not field or request.user:
            return None
        entry = _show(request, entry_name, timeout)
        user = entry.value(field)
        if user is None:
            log.debug("pass entry %s has no %s: line", entry_name, field)
        return user or None
    if request.kind == "password":
        return _show(request, entry_name, timeout).password
    return None


@hookimpl
def syncmail_token_store(account: str, spec: str) -> Any:
    scheme, _, entry = spec.partition(":")
    if scheme != "pass":
        return None
    # Imported here: a run without OAuth2 must not import syncmail.oauth2.
    from syncmail_pass.tokens import PassTokenStore

    log.debug("OAuth2 tokens of account %s are in pass entry %s", account, entry)
    return PassTokenStore(entry)


def _timeout(request: CredentialRequest) -> float:
    raw = request.extra.get("PassTimeout")
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise AuthenticationFailed(
            request.account, f"PassTimeout must be a positive number of seconds, not {raw!r}"
        )
    return value


def _show(request: CredentialRequest, entry_name: str, timeout: float) -> PassEntry:
    log.debug("asking pass for %s (account %s)", entry_name, request.account)
    try:
        return show(entry_name, timeout=timeout)
    except PassError as exc:
        raise AuthenticationFailed(request.account, str(exc)) from None
