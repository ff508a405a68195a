"""Getting the first tokens: authorization code with PKCE and a loopback redirect
(RFC 7636, RFC 8252), or the device authorization grant (RFC 8628)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import logging
import os
import secrets
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, TextIO

from syncmail.oauth2.http import TokenEndpointError, check_url, post_form
from syncmail.oauth2.manager import OAuth2Error, client_fields
from syncmail.oauth2.settings import AccountSettings

log = logging.getLogger(__name__)

__all__ = ["authorize_url", "device_login", "loopback_login", "pkce_pair"]

# How long a human gets to approve in the browser before the login gives up.
LOGIN_TIMEOUT = 300.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8628 3.5: "slow_down" means the polling interval MUST grow by 5 seconds.
SLOW_DOWN_STEP = 5.0


def pkce_pair() -> tuple[str, str]:
    """A PKCE ``code_verifier`` and its S256 ``code_challenge``."""
    verifier = secrets.token_urlsafe(48)  # 64 characters: inside RFC 7636's 43..128
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    cfg: AccountSettings, client_id: str, redirect_uri: str, state: str, challenge: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(cfg.provider.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if cfg.user:
        params["login_hint"] = cfg.user
    params.update(dict(cfg.provider.authorize_params))
    sep = "&" if "?" in cfg.provider.authorize_url else "?"
    return cfg.provider.authorize_url + sep + urllib.parse.urlencode(params)


class _Callback(http.server.BaseHTTPRequestHandler):
    """Takes the one redirect the browser makes and thanks the user."""

    server: _CallbackServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if "state" not in query:
            self.send_error(404)  # a favicon or a stray visitor
            return
        self.server.result = {k: v[0] for k, v in query.items()}
        ok = "code" in query and not query.get("error")
        text = (
            "syncmail: logged in; you can close this window."
            if ok
            else "syncmail: the login did not succeed; see the terminal."
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the request line carries the code: never printed


class _CallbackServer(http.server.HTTPServer):
    result: dict[str, str] | None = None


def loopback_login(
    cfg: AccountSettings, out: TextIO, *, browser: bool = True, timeout: float = LOGIN_TIMEOUT
) -> dict[str, Any]:
    """Authorization code + PKCE: print (and open) the URL, wait for the redirect on
    127.0.0.1, exchange the code. Returns the token endpoint's answer."""
    if not cfg.provider.authorize_url:
        raise OAuth2Error(f"provider {cfg.provider.name} has no authorize_url; try --device")
    check_url(cfg.provider.authorize_url)
    client = client_fields(cfg)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    try:
        server = _CallbackServer(("127.0.0.1", cfg.redirect_port), _Callback)
    except OSError as exc:
        raise OAuth2Error(
            f"cannot listen on 127.0.0.1:{cfg.redirect_port} for the redirect: {exc.strerror}"
        ) from None
    with server:
        redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
        url = authorize_url(cfg, client["client_id"], redirect_uri, state, challenge)
        print(f"Open this URL in a browser to log in account {cfg.name}:\n{url}", file=out)
        out.flush()
        if browser and _has_browser():
            _open_browser(url)
        result = _wait(server, timeout)
    if result.get("state") != state:
        raise OAuth2Error("the redirect carried a wrong state (not this login's): try again")
    if "error" in result or "code" not in result:
        raise OAuth2Error(f"the authorization server said: {result.get('error', 'no code')}")
    fields = {
        "grant_type": "authorization_code",
        "code": result["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        **client,
    }
    try:
        return post_form(cfg.provider.token_url, fields)
    except TokenEndpointError as exc:
        raise OAuth2Error(f"the code exchange failed: {exc}") from None


def _wait(server: _CallbackServer, timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    server.timeout = 0.5
    while server.result is None:
        if time.monotonic() >= deadline:
            raise OAuth2Error(f"no redirect came back within {timeout:.0f} s")
        server.handle_request()
    return server.result


def _has_browser() -> bool:
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def _open_browser(url: str) -> None:
    import webbrowser

    # In a thread: some browsers block until they exit.
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def device_login(
    cfg: AccountSettings,
    out: TextIO,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The device grant: show the code and where to enter it, poll until approved."""
    if not cfg.provider.device_url:
        raise OAuth2Error(
            f"provider {cfg.provider.name} has no device_url (Google does not allow the mail "
            "scope there): log in without --device"
        )
    client = client_fields(cfg)
    try:
        start = post_form(
            cfg.provider.device_url, {**client, "scope": " ".join(cfg.provider.scopes)}
        )
    except TokenEndpointError as exc:
        raise OAuth2Error(f"the device authorization request failed: {exc}") from None
    device_code = start.get("device_code")
    where = start.get("verification_uri") or start.get("verification_url")
    if not isinstance(device_code, str) or not isinstance(where, str):
        raise OAuth2Error("the device authorization answer lacks device_code or verification_uri")
    print(
        f"To log in account {cfg.name}, open {where} and enter the code "
        f"{start.get('user_code', '?')}",
        file=out,
    )
    out.flush()
    interval = _number(start.get("interval"), 5.0, low=1.0)
    deadline = clock() + _number(start.get("expires_in"), 900.0, low=1.0, high=3600.0)
    fields = {"grant_type": DEVICE_GRANT, "device_code": device_code, **client}
    while True:
        sleep(interval)
        if clock() >= deadline:
            raise OAuth2Error("the device code expired before the login was approved")
        try:
            return post_form(cfg.provider.token_url, fields)
        except TokenEndpointError as exc:
            if exc.error == "authorization_pending" or (exc.transient and not exc.error):
                continue
            if exc.error == "slow_down":
                interval += SLOW_DOWN_STEP
                log.debug("device grant: slow_down, polling every %.0f s", interval)
                continue
            if exc.error in ("access_denied", "authorization_declined"):
                raise OAuth2Error("the login was declined") from None
            if exc.error == "expired_token":
                raise OAuth2Error("the device code expired before the login was approved") from None
            raise OAuth2Error(f"the device login failed: {exc}") from None


def _number(value: Any, default: float, *, low: float, high: float = 86400.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)
