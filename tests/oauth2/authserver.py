"""A fake OAuth2 authorization server plus Dovecot's introspection endpoint, on 127.0.0.1.

One ``ThreadingHTTPServer`` of the standard library: ``/authorize`` (auto-approves and
redirects), ``/token`` (code exchange with PKCE, refresh with rotation, device polling),
``/devicecode`` and ``/introspect`` (Dovecot's ``introspection_mode = auth``). Access tokens
live ``access_lifetime`` seconds, so every run exercises refreshing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 64 * 1024
CLIENT_ID = "syncmail-test-client"


@dataclass
class Device:
    user: str
    pending: int  # polls answered authorization_pending before approval
    slow_down: int  # of those, how many answered slow_down instead
    polls: list[float] = field(default_factory=list)


class AuthServer:
    """The state of the fake server; tests set its knobs and read its counters."""

    def __init__(self, access_lifetime: float = 2.0) -> None:
        self.access_lifetime = access_lifetime
        self.lock = threading.Lock()
        self.access: dict[str, tuple[str, float]] = {}  # token -> (user, expires_at)
        self.refresh: dict[str, str] = {}  # refresh token -> user
        self.codes: dict[str, dict[str, str]] = {}
        self.devices: dict[str, Device] = {}
        self.rotate = True
        self.introspect_status = 200
        self.token_status = 200  # anything else: the token endpoint answers that, an outage
        self.requests: list[tuple[str, str]] = []  # (path, grant_type or "")
        self.device_plan = (2, 1)  # (pending, slow_down) for the next device code
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> AuthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- what tests use -------------------------------------------------------------------

    def issue(self, user: str, lifetime: float | None = None) -> tuple[str, str]:
        """A fresh (access, refresh) pair for ``user``, as a login would give."""
        with self.lock:
            return self._issue(user, lifetime), self._new_refresh(user)

    def revoke_refresh(self, user: str) -> None:
        with self.lock:
            for token in [t for t, u in self.refresh.items() if u == user]:
                del self.refresh[token]

    def count(self, path: str, grant: str = "") -> int:
        with self.lock:
            return sum(1 for p, g in self.requests if p == path and (not grant or g == grant))

    # --- internals ------------------------------------------------------------------------

    def _issue(self, user: str, lifetime: float | None = None) -> str:
        token = "at-" + secrets.token_urlsafe(18)
        life = self.access_lifetime if lifetime is None else lifetime
        self.access[token] = (user, time.time() + life)
        return token

    def _new_refresh(self, user: str) -> str:
        token = "rt-" + secrets.token_urlsafe(18)
        self.refresh[token] = user
        return token

    def introspect(self, token: str) -> tuple[int, dict[str, Any]]:
        if self.introspect_status != 200:
            return self.introspect_status, {"error": "server_error"}
        with self.lock:
            found = self.access.get(token)
        if found is None or found[1] < time.time():
            return 200, {"active": False}
        return 200, {"active": True, "username": found[0], "scope": "mail"}

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        if self.token_status != 200:
            return self.token_status, {"error": "temporarily_unavailable"}
        if form.get("client_id") != CLIENT_ID:
            return 401, {"error": "invalid_client"}
        with self.lock:
            if grant == "refresh_token":
                user = self.refresh.get(form.get("refresh_token", ""))
                if user is None:
                    return 400, {"error": "invalid_grant", "error_description": "revoked"}
                answer: dict[str, Any] = {"access_token": self._issue(user)}
                if self.rotate:
                    del self.refresh[form["refresh_token"]]
                    answer["refresh_token"] = self._new_refresh(user)
                return 200, {**answer, "token_type": "Bearer", "expires_in": self.access_lifetime}
            if grant == "authorization_code":
                return self._code(form)
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                return self._device(form)
        return 400, {"error": "unsupported_grant_type"}

    def _code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        entry = self.codes.pop(form.get("code", ""), None)
        if entry is None or entry["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != entry["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE mismatch"}
        user = entry["user"]
        return 200, {
            "access_token": self._issue(user),
            "refresh_token": self._new_refresh(user),
            "token_type": "Bearer",
            "expires_in": self.access_lifetime,
        }

    def _device(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        device = self.devices.get(form.get("device_code", ""))
        if device is None:
            return 400, {"error": "expired_token"}
        device.polls.append(time.monotonic())
        n = len(device.polls)
        if n <= device.slow_down:
            return 400, {"error": "slow_down"}
        if n <= device.pending:
            return 400, {"error": "authorization_pending"}
        del self.devices[form["device_code"]]
        self.devices["done-" + form["device_code"]] = device
        return 200, {
            "access_token": self._issue(device.user),
            "refresh_token": self._new_refresh(device.user),
            "expires_in": self.access_lifetime,
        }

    def devicecode(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("client_id") != CLIENT_ID:
            return 401, {"error": "invalid_client"}
        code = "dc-" + secrets.token_urlsafe(12)
        pending, slow = self.device_plan
        with self.lock:
            self.devices[code] = Device(
                form.get("login_hint", "") or self.device_user, pending, slow
            )
        return 200, {
            "device_code": code,
            "user_code": "ABCD-EFGH",
            "verification_uri": f"{self.url}/device",
            "expires_in": 60,
            "interval": 1,
        }

    device_user = ""

    def authorize(self, query: dict[str, str]) -> str:
        """The redirect location for an (auto-approved) authorization request."""
        code = "code-" + secrets.token_urlsafe(12)
        with self.lock:
            self.codes[code] = {
                "user": query.get("login_hint", ""),
                "challenge": query.get("code_challenge", ""),
                "redirect_uri": query.get("redirect_uri", ""),
            }
        params = urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
        return f"{query.get('redirect_uri', '')}?{params}"


def _handler(server: AuthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _form(self) -> dict[str, str]:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            raw = self.rfile.read(length).decode()
            return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}

        def do_GET(self) -> None:  # noqa: N802
            parts = urllib.parse.urlsplit(self.path)
            query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
            with server.lock:
                server.requests.append((parts.path, ""))
            if parts.path == "/introspect":
                auth = self.headers.get("Authorization", "")
                self._send(*server.introspect(auth.removeprefix("Bearer ").strip()))
            elif parts.path == "/authorize":
                self.send_response(302)
                self.send_header("Location", server.authorize(query))
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:  # noqa: N802
            form = self._form()
            path = urllib.parse.urlsplit(self.path).path
            with server.lock:
                server.requests.append((path, form.get("grant_type", "")))
            if path == "/token":
                self._send(*server.token(form))
            elif path == "/devicecode":
                self._send(*server.devicecode(form))
            else:
                self._send(404, {"error": "not_found"})

    return Handler
