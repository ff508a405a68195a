"""``syncmail oauth2 login|token|status|logout``: the token manager's command line."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TextIO

from syncmail.errors import SyncmailError
from syncmail.oauth2 import settings
from syncmail.oauth2.manager import OAuth2Error, access_token, state_from_answer
from syncmail.oauth2.tokens import TokenState, open_store

__all__ = ["USAGE", "run_command"]

USAGE = """usage: syncmail oauth2 login ACCOUNT [--device] [--no-browser]
       syncmail oauth2 token ACCOUNT [--refresh]
       syncmail oauth2 status [ACCOUNT ...]
       syncmail oauth2 logout ACCOUNT
ACCOUNT is an [accounts.ACCOUNT] table of oauth2.toml (see docs/oauth2.md)."""


class CommandUsageError(SyncmailError):
    """The ``oauth2`` command line is wrong."""


def run_command(args: Sequence[str], out: TextIO, err: TextIO, pm: Any = None) -> int:
    """Run ``syncmail oauth2 ARGS``; results on ``out``, messages on ``err``; ``pm``, the
    plugin manager, serves the token stores of plugins."""
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, file=out if args else err)
        return 0 if args else 1
    verb, rest = args[0], list(args[1:])
    if verb == "token":
        name, opts = _account(rest, {"--refresh"}, verb)
        print(access_token(name, force="--refresh" in opts, pm=pm), file=out)
        return 0
    if verb == "login":
        name, opts = _account(rest, {"--device", "--no-browser"}, verb)
        return _login(name, "--device" in opts, "--no-browser" not in opts, out, err, pm)
    if verb == "status":
        return _status(rest or settings.account_names(), out, pm)
    if verb == "logout":
        name, _ = _account(rest, set(), verb)
        store = open_store(settings.load(name), pm)
        with store.locked():
            removed = store.remove()
        print(f"{name}: {'tokens removed' if removed else 'no tokens stored'}", file=out)
        return 0
    raise CommandUsageError(f"syncmail oauth2: unknown command {verb!r}\n{USAGE}")


def _account(rest: list[str], allowed: set[str], verb: str) -> tuple[str, set[str]]:
    opts = {a for a in rest if a.startswith("-")}
    names = [a for a in rest if not a.startswith("-")]
    bad = opts - allowed
    if bad or len(names) != 1:
        what = f"unknown option {sorted(bad)[0]}" if bad else "give exactly one ACCOUNT"
        raise CommandUsageError(f"syncmail oauth2 {verb}: {what}\n{USAGE}")
    return names[0], opts


def _login(name: str, device: bool, browser: bool, out: TextIO, err: TextIO, pm: Any) -> int:
    from syncmail.oauth2.flows import device_login, loopback_login

    cfg = settings.load(name)
    answer = device_login(cfg, err) if device else loopback_login(cfg, err, browser=browser)
    store = open_store(cfg, pm)
    with store.locked():
        state = state_from_answer(answer, time.time(), TokenState(), cfg.provider.name)
        if not state.refresh_token:
            raise OAuth2Error(
                f"the login of account {name} gave no refresh token, so syncmail could not "
                "renew the access token (Google: the app needs access_type=offline)"
            )
        store.save(state)
    print(f"{name}: logged in; tokens stored in {store.where}", file=out)
    return 0


def _status(names: Sequence[str], out: TextIO, pm: Any) -> int:
    if not names:
        print(f"no OAuth2 accounts in {settings.config_path()}", file=out)
        return 0
    now = time.time()
    for name in names:
        cfg = settings.load(name)
        state = open_store(cfg, pm).load()
        print(f"{name} ({cfg.provider.name}): {_describe(state, now, name)}", file=out)
    return 0


def _describe(state: TokenState, now: float, name: str) -> str:
    if not state.refresh_token and not state.access_token:
        return f"not logged in; run `syncmail oauth2 login {name}`"
    parts = []
    if state.access_token and state.expires_at is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.expires_at))
        if state.expires_at > now:
            parts.append(f"access token valid until {when} ({_span(state.expires_at - now)} left)")
        else:
            parts.append(f"access token expired at {when}")
    parts.append("refresh token stored" if state.refresh_token else "no refresh token")
    return ", ".join(parts)


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
