"""IMAP login with an OAuth2 bearer token (XOAUTH2 / OAUTHBEARER) and its failure policy.

AUTHENTICATIONFAILED: the token was refused, so one fresh token is asked for and tried;
UNAVAILABLE: the server could not check the token, so the token is kept and the
connection is retried later (a retryable ``ConnectionFailed``), never refreshed in a loop.
"""

from __future__ import annotations

import logging
from typing import Any

from syncmail import credentials
from syncmail.config.model import IMAPAccountConfig
from syncmail.errors import AuthenticationFailed, ConnectionFailed
from syncmail.oauth2.sasl import (
    AuthResult,
    Exchange,
    authenticate,
    bad_token_reason,
    oauthbearer_payload,
    xoauth2_payload,
)
from syncmail.store.imapwire import CommandFailed, Session

log = logging.getLogger(__name__)

__all__ = ["oauth_login"]


def oauth_login(
    store: str,
    session: Session,
    acc: IMAPAccountConfig,
    pm: Any,
    mechanism: str,
    caps: frozenset[str],
) -> None:
    """Log in with ``mechanism``; raises AuthenticationFailed or a retryable ConnectionFailed."""
    try:
        user = credentials.get_user(acc, pm)
        token = credentials.get_token(acc, pm, user=user, mechanism=mechanism)
    except AuthenticationFailed as exc:
        raise AuthenticationFailed(store, exc.message) from None
    if acc.tls_type == "none" and not acc.tunnel:
        log.info("store %s: sending the OAuth2 token without TLS (TLSType None)", store)
    log.info("store %s: logging in as %s with %s", store, user, mechanism)
    result = _try(store, session, acc, mechanism, user, token, caps)
    if result.ok:
        return
    if result.code == "UNAVAILABLE":
        raise _unavailable(store, result)
    log.info("store %s: %s refused the token (%s); asking for a fresh one",
             store, mechanism, result.describe())  # fmt: skip
    try:
        fresh = credentials.get_token(acc, pm, user=user, mechanism=mechanism, refused=token)
    except AuthenticationFailed as exc:
        raise AuthenticationFailed(store, exc.message) from None
    result = _try(store, session, acc, mechanism, user, fresh, caps)
    if result.ok:
        return
    if result.code == "UNAVAILABLE":
        raise _unavailable(store, result)
    credentials.forget(acc)
    raise AuthenticationFailed(
        store, f"{mechanism} login as {user} refused: {result.describe()}; {_hint(acc)}"
    )


def _try(
    store: str,
    session: Session,
    acc: IMAPAccountConfig,
    mechanism: str,
    user: str,
    token: str,
    caps: frozenset[str],
) -> AuthResult:
    problem = bad_token_reason(token)
    if problem is not None:
        credentials.forget(acc)
        raise AuthenticationFailed(
            store, f"the OAuth2 token for account {acc.name} is unusable: {problem}"
        )
    if mechanism == "OAUTHBEARER":
        payload = oauthbearer_payload(user, token, acc.host, acc.port or None)
    else:
        payload = xoauth2_payload(user, token)
    exchange = Exchange(mechanism, payload)
    try:
        with session.guard("AUTHENTICATE"):
            return authenticate(session.client._imap, exchange, sasl_ir="SASL-IR" in caps)
    except CommandFailed as exc:
        raise AuthenticationFailed(store, f"{mechanism} login refused: {exc.text}") from None


def _unavailable(store: str, result: AuthResult) -> ConnectionFailed:
    return ConnectionFailed(
        store,
        f"the server could not check the OAuth2 token now ({result.describe()}); the token is kept",
        retryable=True,
    )


def _hint(acc: IMAPAccountConfig) -> str:
    own = credentials.token_manager_account(acc)
    if own is not None:
        return f"run `syncmail oauth2 login {own}` again"
    return "check the token that PassCmd (or Pass) gives, and the account's User"
