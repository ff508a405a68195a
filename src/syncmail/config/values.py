"""Value syntaxes of the mbsyncrc (booleans, integers, sizes, paths), as isync parses them."""

from __future__ import annotations

import os
import pwd
import re

_TRUE = frozenset({"yes", "true", "on"})
_FALSE = frozenset({"no", "false", "off"})
_INT = re.compile(r"[ \t\n\r\f\v]*[+-]?[0-9]+\Z")
_SIZE = re.compile(r"([0-9]+)([kKmM]?)[bB]?\Z")


def parse_bool(value: str) -> bool:
    """``yes|true|on|1`` / ``no|false|off|0``; ``ValueError`` with mbsync's message."""
    low = value.lower()
    if low in _TRUE or value == "1":
        return True
    if low in _FALSE or value == "0":
        return False
    raise ValueError(f"invalid boolean value '{value}'")


def parse_int(value: str) -> int:
    """A decimal integer (C ``strtol`` without trailing garbage)."""
    if not _INT.match(value):
        raise ValueError(f"invalid integer value '{value}'")
    return int(value)


def parse_size(value: str) -> int:
    """Decimal bytes with optional ``k``/``m`` multiplier and optional ``b``."""
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"invalid size '{value}'")
    number = int(match.group(1))
    unit = match.group(2).lower()
    if unit == "k":
        number *= 1024
    elif unit == "m":
        number *= 1024 * 1024
    return number


def expand_path(value: str, base_dir: str) -> str:
    """mbsync's ``expand_strdup``: ``~``/``~user`` expansion, else relative to ``base_dir``.

    The text after the last ``/`` is kept exactly (a trailing ``/`` is meaningful for
    Maildir ``Path``), so the result is not normalised.
    """
    if value.startswith("~"):
        rest = value[1:]
        if rest == "" or rest.startswith("/"):
            return _home() + rest
        user, slash, tail = rest.partition("/")
        try:
            home = pwd.getpwnam(user).pw_dir
        except KeyError:
            raise ValueError(f"cannot expand '{value}': no user '{user}'") from None
        return home + slash + tail
    if value.startswith("/"):
        return value
    return base_dir.rstrip("/") + "/" + value


def _home() -> str:
    home = os.environ.get("HOME")
    if home:
        return home
    return pwd.getpwuid(os.getuid()).pw_dir
