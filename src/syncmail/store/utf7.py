"""Modified UTF-7 mailbox name encoding (RFC 3501 section 5.1.3); pure."""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode", "encode"]


def _b64(chunk: str) -> str:
    raw = chunk.encode("utf-16-be")
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def encode(name: str) -> str:
    """Modified UTF-7 spelling of ``name`` (printable ASCII stays, ``&`` becomes ``&-``)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            out.append("&" + _b64("".join(pending)) + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def decode(name: str | bytes) -> str:
    """Unicode name of a modified UTF-7 ``name``; ``ValueError`` when it is not valid."""
    text = name.decode("ascii") if isinstance(name, bytes) else name
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ord(ch) < 0x20 or ord(ch) > 0x7E:
            raise ValueError(f"non-ASCII character in modified UTF-7 name {text!r}")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = text.find("-", i + 1)
        if end < 0:
            raise ValueError(f"unterminated '&' shift in {text!r}")
        chunk = text[i + 1 : end]
        i = end + 1
        if not chunk:
            out.append("&")
            continue
        out.append(_decode_chunk(chunk, text))
    return "".join(out)


def _decode_chunk(chunk: str, whole: str) -> str:
    if any(not (c.isascii() and (c.isalnum() or c in "+,")) for c in chunk):
        raise ValueError(f"invalid base64 in {whole!r}")
    # n UTF-16 units take ceil(16n/6) base64 chars, so only lengths 0, 3, 6 mod 8 occur.
    if len(chunk) % 8 not in (0, 3, 6):
        raise ValueError(f"truncated modified base64 in {whole!r}")
    padded = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64 in {whole!r}") from exc
    if len(raw) % 2:
        raise ValueError(f"odd UTF-16 length in {whole!r}")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-16 in {whole!r}") from exc
    # RFC 3501: printable ASCII must not be base64-encoded; a decoder that accepted it
    # would give two spellings to one name.
    if any(0x20 <= ord(c) <= 0x7E for c in text):
        raise ValueError(f"needlessly encoded ASCII in {whole!r}")
    return text
