"""syncmail's own token manager: a valid access token for an account, refreshed when due.

Used by ``syncmail oauth2 token`` and, in-process, by an IMAP login whose ``PassCmd`` is
that command. Refreshes happen under the account's lock, and a token that another
process refreshed meanwhile is taken instead of refreshing again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from syncmail.errors import SyncmailError
from syncmail.oauth2 import settings
from syncmail.oauth2.http import TokenEndpointError, post_form
from syncmail.oauth2.settings import AccountSettings, SettingsError
from syncmail.oauth2.tokens import TokenState, open_store

log = logging.getLogger(__name__)

__all__ = ["OAuth2Error", "access_token", "client_fields", "configured", "state_from_answer"]

# When the server gives no lifetime: RFC 6749 leaves it open, an hour is everyone's default.
DEFAULT_LIFETIME = 3600.0


class OAuth2Error(SyncmailError):
    """A token could not be had; the message says what to do (never the token).

    ``transient``: the token endpoint could not answer now (unreachable, 5xx, garbled);
    asking again later may work, unlike for a refused refresh token.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def configured(name: str) -> bool:
    """Whether ``oauth2.toml`` has an ``[accounts.NAME]`` table (a broken file: no)."""
    try:
        return name in settings.account_names()
    except SettingsError:
        return False


def access_token(
    name: str,
    *,
    refused: str | None = None,
    force: bool = False,
    clock: Callable[[], float] = time.time,
    pm: Any = None,
) -> str:
    """A valid access token for account ``name``.

    ``refused``: the token a server just refused; unless another process has replaced it
    meanwhile, a new one is fetched. ``force``: always refresh. ``pm``: the plugin manager
    that serves a plugin's token store.
    """
    cfg = settings.load(name)
    store = open_store(cfg, pm)
    with store.locked():
        state = store.load()
        now = clock()
        if not force and state.access_token and state.fresh_for(now):
            if refused is None or state.access_token != refused:
                return state.access_token
        if not state.refresh_token:
            raise OAuth2Error(
                f"no OAuth2 refresh token for account {name}: run `syncmail oauth2 login {name}`"
            )
        log.debug("refreshing the OAuth2 access token of account %s", name)
        answer = _refresh(cfg, state.refresh_token)
        new = state_from_answer(answer, now, previous=state, provider=cfg.provider.name)
        # The refresh token may have rotated: it is saved before the access token is used.
        store.save(new)
        assert new.access_token is not None
        return new.access_token


def _refresh(cfg: AccountSettings, refresh_token: str) -> dict[str, Any]:
    fields = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    fields.update(client_fields(cfg))
    if cfg.provider.scopes:
        fields["scope"] = " ".join(cfg.provider.scopes)
    try:
        return post_form(cfg.provider.token_url, fields)
    except TokenEndpointError as exc:
        if exc.error == "invalid_grant":
            hint = ""
            if cfg.provider.name == "google":
                hint = (" (Google expires the refresh tokens of apps in 'Testing' status "
                        "after 7 days)")  # fmt: skip
            raise OAuth2Error(
                f"the refresh token of account {cfg.name} is no longer valid{hint}: "
                f"run `syncmail oauth2 login {cfg.name}` again"
            ) from None
        again = "; try again later" if exc.transient else ""
        raise OAuth2Error(
            f"cannot refresh the token of account {cfg.name}: {exc}{again}",
            transient=exc.transient,
        ) from None


def client_fields(cfg: AccountSettings) -> dict[str, str]:
    """``client_id`` (and ``client_secret`` when there is one), from the file or a command."""
    from syncmail.credentials import run_credential_command
    from syncmail.errors import AuthenticationFailed

    try:
        client_id = cfg.client_id or (
            run_credential_command(cfg.client_id_cmd, cfg.name, "client_id_cmd")
            if cfg.client_id_cmd
            else None
        )
        secret = cfg.client_secret or (
            run_credential_command(cfg.client_secret_cmd, cfg.name, "client_secret_cmd")
            if cfg.client_secret_cmd
            else None
        )
    except AuthenticationFailed as exc:
        raise OAuth2Error(f"{cfg.source}: {exc.message}") from None
    if not client_id:
        raise OAuth2Error(
            f"{cfg.source}: [accounts.{cfg.name}] has no client_id (syncmail bundles none; "
            "docs/oauth2.md says how to register one)"
        )
    fields = {"client_id": client_id}
    if secret:
        from syncmail.report import hide_secret

        hide_secret(secret)
        fields["client_secret"] = secret
    return fields


def state_from_answer(
    answer: dict[str, Any], now: float, previous: TokenState, provider: str | None = None
) -> TokenState:
    """The state after a token answer: a new refresh token replaces the old one (Microsoft
    rotates them), none keeps the old (Google)."""
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise OAuth2Error("the token endpoint's answer has no access_token")
    try:
        lifetime = float(answer.get("expires_in", DEFAULT_LIFETIME))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME
    refresh = answer.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        refresh = previous.refresh_token
    scope = answer.get("scope")
    from syncmail.report import hide_secret

    hide_secret(token)
    if refresh:
        hide_secret(refresh)
    return TokenState(
        access_token=token,
        expires_at=now + lifetime,
        obtained_at=now,
        refresh_token=refresh,
        scope=scope if isinstance(scope, str) else previous.scope,
        provider=provider or previous.provider,
    )
