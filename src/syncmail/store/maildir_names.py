"""Maildir file names and ``.uidvalidity`` contents exactly as mbsync writes and reads them; pure.

A message file is ``<base>[,U=<uid>]<D>2,<FLAGS>`` where ``<D>`` is the store's
InfoDelimiter; mbsync's own files have the base ``<time>.<pid>_<n>.<host>``.
"""

from __future__ import annotations

import re
from functools import cmp_to_key
from typing import Any

from syncmail import flags as mflags

UID_TAG = ",U="
UINT_MAX = 0xFFFFFFFF

# sscanf("%u\n%u") accepts any whitespace (or none) between the numbers and a leading '+';
# possessive digits keep "1234" from being split into two numbers.
_UIDVALIDITY_RE = re.compile(rb"\s*+\+?(\d++)\s*+\+?(\d++)")


def parse_uidvalidity(data: bytes) -> tuple[int, int] | None:
    """``(uidvalidity, highest assigned UID)`` from a ``.uidvalidity`` file, None if unparsable."""
    m = _UIDVALIDITY_RE.match(data)
    if not m:
        return None
    uidvalidity, nuid = int(m.group(1)), int(m.group(2))
    if uidvalidity > UINT_MAX or nuid > UINT_MAX:
        return None
    return uidvalidity, nuid


def format_uidvalidity(uidvalidity: int, nuid: int) -> bytes:
    """The ``.uidvalidity`` contents mbsync writes."""
    return f"{uidvalidity}\n{nuid}\n".encode("ascii")


def info_prefix(delimiter: str) -> str:
    """``:2,`` for the InfoDelimiter ``:``."""
    return delimiter + "2,"


def parse_uid(name: str) -> int:
    """The UID in ``,U=<digits>`` (the first such tag), 0 when there is none."""
    i = name.find(UID_TAG)
    if i < 0:
        return 0
    i += 3
    j = i
    n = len(name)
    while j < n and "0" <= name[j] <= "9":
        j += 1
    return int(name[i:j]) if j > i else 0


def parse_uids(names: list[str], delimiter: str = ":") -> list[int]:
    """``parse_uid`` of each name, in bulk.  ``delimiter`` (the InfoDelimiter, which
    ends the UID in every name mbsync writes) only makes it quicker.

    Two C-level splits per name beat a regex pass: the usual name is answered without
    a Python loop over its characters, any other one by ``parse_uid``.
    """
    out: list[int] = []
    append = out.append
    for name in names:
        digits = name.partition(UID_TAG)[2].partition(delimiter)[0]
        # Only ASCII digits count, as for strtoul() (isdigit() alone takes "\u0663").
        if digits.isdigit() and digits.isascii():
            append(int(digits))
        else:
            append(parse_uid(name) if digits else 0)
    return out


def parse_flags_bulk(names: list[str], prefix: str) -> list[int]:
    """``parse_flags`` of each name, in bulk: one split per name, and each distinct
    letter string (a box has a handful) converted once."""
    letters = [name.partition(prefix)[2] for name in names]
    values = {s: mflags.from_letters(s) for s in set(letters)}
    return [values[s] for s in letters]


def parse_flags(name: str, prefix: str) -> int:
    """Flag bits from the letters after the info prefix (``:2,``); unknown letters ignored."""
    i = name.find(prefix)
    if i < 0:
        return 0
    return mflags.from_letters(name[i + 3 :])


def with_uid(name: str, uid: int, delimiter: str) -> str:
    """``name`` carrying ``,U=<uid>``: an existing ``,U=digits`` is replaced, otherwise the
    tag goes before the first info delimiter, or at the end when there is none."""
    tag = f"{UID_TAG}{uid}"
    i = name.find(UID_TAG)
    if i >= 0:
        j = i + 3
        n = len(name)
        while j < n and "0" <= name[j] <= "9":
            j += 1
        return name[:i] + tag + name[j:]
    i = name.find(delimiter)
    if i >= 0:
        return name[:i] + tag + name[i:]
    return name + tag


def with_flags(name: str, flags: int, prefix: str) -> str:
    """``name`` with its DFPRST letters replaced by ``flags``; other letters are kept."""
    i = name.find(prefix)
    if i < 0:
        return name + prefix + mflags.to_letters(flags)
    i += 3
    return name[:i] + mflags.merge_maildir_info(name[i:], flags)


def make_base(seconds: int, pid: int, counter: int, host: str) -> str:
    """mbsync's unique part of a new file name: ``<time>.<pid>_<n>.<host>``."""
    return f"{seconds}.{pid}_{counter}.{host}"


def make_name(base: str, uid: int | None, flags: int, delimiter: str) -> str:
    """A complete file name for a new message (the info part is written even in ``new/``)."""
    tag = f"{UID_TAG}{uid}" if uid is not None else ""
    return f"{base}{tag}{delimiter}2,{mflags.to_letters(flags)}"


def host_part(hostname: str) -> str:
    """The host field: the host name up to its first dot.

    ``/`` and ``:`` would break the name, so they get the escapes the Maildir
    specification gives them (mbsync does not; no sane host name has them).
    """
    host = hostname.split(".", 1)[0]
    return host.replace("/", "\\057").replace(":", "\\072")


# --- mbsync's order for messages without UID (drv_maildir.c: maildir_compare) ----------


def _strtoul(s: str, i: int) -> tuple[int, int]:
    """Leading decimal digits of ``s[i:]`` as (value, end); (0, i) when there are none."""
    j = i
    n = len(s)
    while j < n and "0" <= s[j] <= "9":
        j += 1
    return (int(s[i:j]) if j > i else 0), j


def _atoi(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in " \t\n\v\f\r":
        i += 1
    neg = False
    if i < n and s[i] in "+-":
        neg = s[i] == "-"
        i += 1
    value, _ = _strtoul(s, i)
    return -value if neg else value


def _pid_delta(ret: int) -> int:
    # PID wraparound: a much smaller PID is assumed to be a later one.
    return -ret if ret > 20000 or ret < -20000 else ret


def _strcmp(a: str, b: str) -> int:
    return (a > b) - (a < b)


def compare_names(a: str, b: str) -> int:
    """mbsync's arrival order of two file names: seconds field numerically (the shorter
    number is smaller), then the PID and ``_n`` counter, or the ``#``/``M``/``P``/``Q``
    sequence fields other Maildir writers use, and finally a plain string compare."""
    ldot = a.find(".")
    rdot = b.find(".")
    if ldot < 0 or rdot < 0:
        return _strcmp(a, b)
    if ldot != rdot:
        return ldot - rdot
    if a[:ldot] != b[:rdot]:
        return _strcmp(a[:ldot], b[:rdot])
    ldot += 1
    rdot += 1
    lpid, lend = _strtoul(a, ldot)
    if lpid:
        rpid, rend = _strtoul(b, rdot)
        if not rpid:
            return _strcmp(a, b)
        if lpid != rpid:
            return _pid_delta(lpid - rpid)
        lseq = _atoi(a, lend + 1) if lend < len(a) and a[lend] == "_" else 0
        rseq = _atoi(b, rend + 1) if rend < len(b) and b[rend] == "_" else 0
        return lseq - rseq
    ldot2 = a.find(".", ldot)
    rdot2 = b.find(".", rdot)
    if ldot2 < 0 or rdot2 < 0:
        return _strcmp(a, b)
    lfield = a[ldot:ldot2]
    rfield = b[rdot:rdot2]
    for mark in "#M":
        li = lfield.find(mark)
        if li >= 0:
            ri = rfield.find(mark)
            if ri >= 0:
                return _atoi(lfield, li + 1) - _atoi(rfield, ri + 1)
    li = lfield.find("P")
    ri = rfield.find("P")
    if li >= 0 and ri >= 0:
        ret = _atoi(lfield, li + 1) - _atoi(rfield, ri + 1)
        if ret:
            return _pid_delta(ret)
        li = lfield.find("Q")
        ri = rfield.find("Q")
        if li >= 0 and ri >= 0:
            return _atoi(lfield, li + 1) - _atoi(rfield, ri + 1)
    return _strcmp(a, b)


name_order: Any = cmp_to_key(compare_names)
"""Sort key giving mbsync's arrival order of file names (``sorted(names, key=name_order)``)."""
