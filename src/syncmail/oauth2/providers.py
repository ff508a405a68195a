"""OAuth2 provider presets (endpoints, scopes, refresh-token habits) and custom providers."""

from __future__ import annotations

from syncmail.record import record

__all__ = ["PRESETS", "Provider", "preset"]


@record(frozen=True)
class Provider:
    """Where and how to get tokens for IMAP from one authorization server."""

    name: str
    authorize_url: str
    token_url: str
    device_url: str | None
    scopes: tuple[str, ...]
    # Microsoft replaces the refresh token on every refresh; Google keeps it. Either way a
    # refresh token in the answer is stored: this only says what to expect.
    rotates_refresh_token: bool = False
    # Extra authorize-URL parameters (Google hands out a refresh token only with these).
    authorize_params: tuple[tuple[str, str], ...] = ()


_MS = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"

PRESETS: dict[str, Provider] = {
    "google": Provider(
        name="google",
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        # Google's device grant does not allow the mail scope: the loopback flow is the way.
        device_url=None,
        scopes=("https://mail.google.com/",),
        authorize_params=(("access_type", "offline"), ("prompt", "consent")),
    ),
    "microsoft": Provider(
        name="microsoft",
        authorize_url=_MS + "/authorize",
        token_url=_MS + "/token",
        device_url=_MS + "/devicecode",
        scopes=("https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"),
        rotates_refresh_token=True,
    ),
}


def preset(name: str, tenant: str = "common") -> Provider | None:
    """The preset ``name`` with Microsoft's ``{tenant}`` filled in, or None."""
    base = PRESETS.get(name)
    if base is None:
        return None
    return Provider(
        name=base.name,
        authorize_url=base.authorize_url.format(tenant=tenant),
        token_url=base.token_url.format(tenant=tenant),
        device_url=base.device_url.format(tenant=tenant) if base.device_url else None,
        scopes=base.scopes,
        rotates_refresh_token=base.rotates_refresh_token,
        authorize_params=base.authorize_params,
    )
