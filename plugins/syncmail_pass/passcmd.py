"""Run ``pass show|insert|rm ENTRY`` safely: argv list, secrets only on stdin, bounded time,
secrets kept out of errors."""

from __future__ import annotations

import os
import signal
from dataclasses import field
from typing import TYPE_CHECKING, NoReturn

from syncmail.record import record

if TYPE_CHECKING:
    import subprocess

DEFAULT_TIMEOUT = 30.0

# gpg's complaints when it needs a passphrase it cannot ask for (no agent cache, no tty).
_LOCKED_HINTS = (
    "no secret key",
    "inappropriate ioctl",
    "no pinentry",
    "operation cancelled",
    "cannot open '/dev/tty'",
    "screen or window too small",
    "bad passphrase",
    "timeout",
)


class PassError(Exception):
    """``pass`` could not give the entry; the message names the entry, never the secret."""


class PassMissing(PassError):
    """The entry is not in the password store."""


@record(frozen=True)
class PassEntry:
    """A decrypted entry: the password (first line) and the ``key: value`` lines after it."""

    name: str
    password: str = field(repr=False)
    fields: dict[str, str] = field(default_factory=dict, repr=False)

    def value(self, key: str) -> str | None:
        """The value of the `key:` line (case-insensitive), or None."""
        return self.fields.get(key.lower())


def _parse(name: str, data: bytes) -> PassEntry:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PassError(f"pass entry {name} is not valid UTF-8") from None
    # The password is the whole first line, spaces included; only the newline goes.
    first, _, rest = text.partition("\n")
    fields: dict[str, str] = {}
    for line in rest.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields.setdefault(key.strip().lower(), value.strip())
    return PassEntry(name, first, fields)


def show(name: str, *, timeout: float = DEFAULT_TIMEOUT, command: str = "pass") -> PassEntry:
    """Decrypt entry ``name`` with ``pass show``; raise PassError with a clear message."""
    entry = _parse(name, run_pass(["show", name], name, timeout=timeout, command=command))
    if not entry.password:
        raise PassError(f"pass entry {name} has an empty first line (no password)")
    return entry


def insert(
    name: str, content: str, *, timeout: float = DEFAULT_TIMEOUT, command: str = "pass"
) -> None:
    """Replace entry ``name`` by ``content`` (``pass insert -m -f``): the secret goes on
    stdin, never on a command line that ``ps`` would show."""
    run_pass(["insert", "-m", "-f", name], name, timeout=timeout, command=command,
             stdin=content.encode("utf-8"))  # fmt: skip


def run_pass(
    args: list[str],
    name: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    command: str = "pass",
    stdin: bytes | None = None,
) -> bytes:
    """Run ``pass ARGS`` about entry ``name`` (no shell, stdin closed unless ``stdin``
    is given, bounded time); its stdout, or PassError (PassMissing when there is no
    such entry)."""
    import subprocess  # only when a password is asked for: it costs start-up time

    if not name or name.startswith("-"):
        raise PassError(f"invalid pass entry name {name!r}")
    try:
        # Own session so that on timeout the whole group (pass, gpg, pinentry) is killed;
        # otherwise a surviving gpg keeps the pipes open and communicate() never returns.
        proc = subprocess.Popen(
            [command, *args],
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise PassError(f"cannot run {command}: {exc.strerror or exc}") from None
    try:
        out, err = proc.communicate(input=stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        action = "decrypt" if args[0] == "show" else args[0]
        raise PassError(
            f"pass could not {action} {name} within {timeout:g} s: gpg is probably waiting "
            f"for a passphrase it cannot ask for; run `pass show {name}` once in a terminal "
            "(or configure a graphical pinentry / longer gpg-agent cache)"
        ) from None
    if proc.returncode != 0:
        _raise_failure(name, args[0], err)
    return out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    # The pipes are closed by the kill of every holder; this cannot block for long.
    proc.communicate()


def _raise_failure(name: str, verb: str, stderr: bytes) -> NoReturn:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    detail = lines[-1] if lines else "no error message"
    lowered = " ".join(lines).lower()
    if "is not in the password store" in lowered:
        store = os.environ.get("PASSWORD_STORE_DIR", "~/.password-store")
        raise PassMissing(f"pass entry {name} is not in the password store ({store})")
    if any(hint in lowered for hint in _LOCKED_HINTS):
        raise PassError(
            f"pass could not decrypt {name}: gpg-agent has no cached passphrase and no "
            f"terminal; run `pass show {name}` once ({detail})"
        )
    raise PassError(f"pass {verb} {name} failed: {detail}")
