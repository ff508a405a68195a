"""The token endpoint's side of OAuth2 (RFC 6749, 8628) over stdlib urllib.

Every answer is a JSON object; errors are classified by what the caller should do:
``invalid_grant`` means a new login, network trouble and 5xx mean try again later.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from syncmail import jsontext
from syncmail.errors import SyncmailError

log = logging.getLogger(__name__)

__all__ = ["TokenEndpointError", "post_form"]

TIMEOUT = 30.0
# An authorization server's answer is a few kB; anything far bigger is not one.
MAX_ANSWER = 1 << 20


class TokenEndpointError(SyncmailError):
    """The endpoint said no (``error`` is its RFC 6749 code) or could not be reached
    (``transient``); the message never contains a token."""

    def __init__(self, message: str, *, error: str | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.error = error
        self.transient = transient


def check_url(url: str) -> None:
    """Refuse to send secrets over plain http to anything but this machine."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost"):
        return
    raise TokenEndpointError(f"refusing to use {url!r}: OAuth2 endpoints must be https://")


def post_form(url: str, fields: dict[str, str], *, timeout: float = TIMEOUT) -> dict[str, Any]:
    """POST ``fields`` form-encoded to ``url``; the JSON object answered (2xx), else raise."""
    check_url(url)
    body = urllib.parse.urlencode(fields).encode("ascii")
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    where = urllib.parse.urlsplit(url).netloc
    log.debug("POST %s (grant_type %s)", url, fields.get("grant_type", "-"))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - checked
            return _json(answer.read(MAX_ANSWER), where)
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            data = _json(exc.read(MAX_ANSWER), where)
        except TokenEndpointError:
            data = {}
        finally:
            exc.close()
        error = data.get("error") if isinstance(data.get("error"), str) else None
        described = _describe(data)
        if status >= 500 or status == 429:
            raise TokenEndpointError(
                f"{where} answered HTTP {status}{described}", error=error, transient=True
            ) from None
        raise TokenEndpointError(
            f"{where} refused: {error or f'HTTP {status}'}{described}", error=error
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise TokenEndpointError(f"cannot reach {where}: {reason}", transient=True) from None


def _json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        value = jsontext.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TokenEndpointError(f"{where} did not answer with JSON", transient=True) from None
    if not isinstance(value, dict):
        raise TokenEndpointError(f"{where} did not answer with a JSON object", transient=True)
    return value


def _describe(data: dict[str, Any]) -> str:
    text = data.get("error_description")
    if not isinstance(text, str) or not text:
        return ""
    # A description is free text from a server: one line, bounded.
    return f" ({' '.join(text.split())[:200]})"
