"""The XOAUTH2 and OAUTHBEARER SASL exchanges, over imaplib's AUTHENTICATE machinery.

imapclient's ``oauth2_login`` answers the server's error challenge with the token again
and drops the error; this exchange answers it as the mechanisms require (an empty line
for XOAUTH2, ``%x01`` for OAUTHBEARER, RFC 7628 3.2.3) and keeps the server's JSON.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import field
from typing import Any

from syncmail import jsontext
from syncmail.record import record

__all__ = [
    "AuthResult",
    "Exchange",
    "authenticate",
    "bad_token_reason",
    "oauthbearer_payload",
    "xoauth2_payload",
]

# Most of a server's error JSON kept: it is only shown, never trusted.
_MAX_ERROR = 2000
_CODE = re.compile(r"^\[([A-Z-]+)")


def xoauth2_payload(user: str, token: str) -> bytes:
    """Google's and Microsoft's XOAUTH2 initial response."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer_payload(user: str, token: str, host: str | None, port: int | None) -> bytes:
    """RFC 7628's initial response, the user as authzid (``,`` and ``=`` escaped, RFC 5801)."""
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    parts = [f"n,a={authzid},"]
    if host:
        parts.append(f"host={host}")
    if port:
        parts.append(f"port={port}")
    parts.append(f"auth=Bearer {token}")
    return ("\x01".join(parts) + "\x01\x01").encode()


def bad_token_reason(token: str) -> str | None:
    """Why ``token`` cannot be a bearer token (RFC 6750's b64token and then some), or None.

    The reason never quotes the token: it is a secret even when malformed.
    """
    if not token:
        return "it is empty"
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in token):
        return "it contains spaces, control or non-ASCII characters"
    return None


@record
class Exchange:
    """The client side of one AUTHENTICATE: a callable for imaplib's continuation loop.

    ``error`` holds the server's decoded error challenge (a dict when it was JSON).
    """

    mechanism: str
    payload: bytes = field(repr=False)
    sent: bool = False
    error: dict[str, Any] | None = None
    answered_error: bool = False

    def __call__(self, challenge: bytes) -> bytes | None:
        if not self.sent:
            self.sent = True
            return self.payload
        if self.answered_error:
            return None  # a server that keeps challenging gets an abort, not a loop
        self.answered_error = True
        self.error = _error_json(challenge)
        return b"\x01" if self.mechanism == "OAUTHBEARER" else b""


def _error_json(challenge: bytes) -> dict[str, Any]:
    text = challenge[:_MAX_ERROR].decode("utf-8", "replace")
    try:
        value = jsontext.loads(text)
    except ValueError:
        return {"status": text}
    return value if isinstance(value, dict) else {"status": str(value)}


@record(frozen=True)
class AuthResult:
    """How the AUTHENTICATE ended: ``ok``, the response ``code`` and ``text``, the error JSON."""

    ok: bool
    code: str | None
    text: str
    error: dict[str, Any] | None

    def describe(self) -> str:
        """The server's answer for a message: its text and the JSON ``status`` if any."""
        detail = self.text or "refused"
        if self.error and self.error.get("status") is not None:
            detail += f" (status {str(self.error['status'])[:80]})"
        return detail


def authenticate(imap: Any, exchange: Exchange, *, sasl_ir: bool) -> AuthResult:
    """Run AUTHENTICATE on the imaplib object ``imap``; with ``sasl_ir`` the first
    response rides on the command line (RFC 4959), saving a round trip.

    Raises what imaplib raises for a lost connection or a BAD answer (the session's
    guard translates them); NO is a result.
    """
    args = [exchange.mechanism]
    if sasl_ir:
        exchange.sent = True
        args.append(base64.b64encode(exchange.payload).decode("ascii"))
    # imaplib runs a continuation loop only for a bound method (it tests the type).
    imap.literal = _Continuations(exchange).process
    typ, data = imap._simple_command("AUTHENTICATE", *args)
    text = _last_text(data)
    if typ == "OK":
        imap.state = "AUTH"
    match = _CODE.match(text)
    return AuthResult(typ == "OK", match.group(1) if match else None, text, exchange.error)


class _Continuations:
    """Decodes each ``+`` challenge for the exchange and encodes its answer."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def process(self, data: bytes) -> bytes:
        try:
            challenge = base64.b64decode(data, validate=False) if data else b""
        except (binascii.Error, ValueError):
            challenge = bytes(data)
        answer = self.exchange(challenge)
        if answer is None:
            return b"*"
        return base64.b64encode(answer)


def _last_text(data: Any) -> str:
    if not data:
        return ""
    last = data[-1]
    if isinstance(last, bytes):
        return last.decode("utf-8", "replace").strip()
    return str(last or "").strip()
