"""IMAP user names and passwords: plugins first, then mbsync's User/UserCmd/Pass/PassCmd/prompt.

The built-in provider is itself a plugin (``syncmail_get_credentials``, registered ``trylast``
by ``syncmail.plugins.make_plugin_manager``), so third-party providers always win.
"""

from __future__ import annotations

import contextvars
import logging
import os
import shlex
import sys
from typing import Any

from syncmail import hookimpl
from syncmail.config.model import IMAPAccountConfig
from syncmail.errors import AuthenticationFailed, ConnectionFailed, SyncmailError
from syncmail.events import CredentialRequest

log = logging.getLogger(__name__)

__all__ = [
    "forget",
    "get_password",
    "get_token",
    "get_user",
    "own_token_account",
    "token_manager_account",
    "run_credential_command",
    "syncmail_get_credentials",
]

# A credential command that neither prompts nor finishes (a pinentry with no terminal)
# must not hang a sync forever; an interactive one gets time for a human.
COMMAND_TIMEOUT = 120.0
INTERACTIVE_TIMEOUT = 600.0

# The account whose credential is being asked for: lets the module-level built-in hookimpl
# see the whole account config while CredentialRequest stays a small plugin-facing event.
_current: contextvars.ContextVar[IMAPAccountConfig | None] = contextvars.ContextVar(
    "syncmail_credentials_account", default=None
)

# The plugin manager asking, for the token manager's store when a plugin serves it.
_plugins: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "syncmail_credentials_plugins", default=None
)

# Passwords (and command-produced user names) are asked once per account per process,
# as a run may log in to the same account for several stores and channels. The key holds
# everything that decides the answer, so equally named accounts of different configs
# (tests, a library user loading two files) never share an entry.
_CacheKey = tuple[object, ...]
_cache: dict[_CacheKey, str] = {}
# The token the server just refused, for the built-in token manager: a token that is
# no longer the stored one was already refreshed by a parallel connection.
_refused: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "syncmail_credentials_refused", default=None
)


def _key(account: IMAPAccountConfig, kind: str, user: str | None) -> _CacheKey:
    return (
        kind,
        account.name,
        account.host,
        account.port,
        account.user,
        account.user_cmd,
        account.pass_cmd,
        frozenset(account.extra.items()),
        user,
    )


def get_user(account: IMAPAccountConfig, pm: Any = None) -> str:
    """The login name for ``account``: plugins, then User / UserCmd / a prompt."""
    return _get(account, pm, "user", None)


def get_password(account: IMAPAccountConfig, pm: Any = None, *, user: str | None = None) -> str:
    """The password for ``account``: plugins, then Pass / PassCmd / a prompt (tty only)."""
    return _get(account, pm, "password", user if user is not None else account.user)


def get_token(
    account: IMAPAccountConfig,
    pm: Any = None,
    *,
    user: str | None,
    mechanism: str,
    refused: str | None = None,
) -> str:
    """The OAuth2 bearer token for ``account``: plugins, then Pass / PassCmd (whose output
    is the token, as for mbsync) or the built-in token manager.

    ``refused``: the token the server just refused; a fresh one is then asked for.
    """
    fresh = refused is not None
    if fresh:
        forget(account)
    token = _refused.set(refused)
    try:
        return _get(account, pm, "password", user, mechanism=mechanism, fresh=fresh)
    finally:
        _refused.reset(token)


def forget(account: IMAPAccountConfig) -> None:
    """Drop the cached passwords of ``account`` (after the server refused one)."""
    for key in [k for k in _cache if k[0] == "password" and k[1:8] == _key(account, "", None)[1:8]]:
        del _cache[key]


def _get(
    account: IMAPAccountConfig,
    pm: Any,
    kind: str,
    user: str | None,
    *,
    mechanism: str | None = None,
    fresh: bool = False,
) -> str:
    key = _key(account, kind, user)
    # A bearer token expires: it is asked for at every login, never kept (a long watch
    # would otherwise offer the server an expired one first).
    keep = mechanism is None
    cached = _cache.get(key) if keep and not fresh else None
    if cached is not None:
        return cached
    request = CredentialRequest(
        account=account.name,
        kind=kind,
        host=account.host,
        user=user,
        extra=dict(account.extra),
        mechanism=mechanism,
        fresh=fresh,
    )
    value: str | None = None
    if pm is not None:
        token, plugins = _current.set(account), _plugins.set(pm)
        try:
            value = pm.hook.syncmail_get_credentials(request=request)
        except (AuthenticationFailed, ConnectionFailed):
            raise  # said by the built-in provider, a refusal or an outage
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not crash the run
            # Only the type: a plugin's message could quote what it was handling.
            raise AuthenticationFailed(
                account.name,
                f"a credential plugin failed for account {account.name}: {type(exc).__name__}",
            ) from None
        finally:
            _current.reset(token)
            _plugins.reset(plugins)
    if value is None:
        value = _builtin(account, request)
    if not isinstance(value, str):
        raise AuthenticationFailed(account.name, f"a plugin gave a non-text {kind}")
    if kind == "password":
        from syncmail.report import hide_secret

        hide_secret(value)
    literal = account.user if kind == "user" else account.password
    if keep and value != literal:  # config literals cost nothing and must never go stale
        _cache[key] = value
    return value


@hookimpl(trylast=True)
def syncmail_get_credentials(request: CredentialRequest) -> str | None:
    """Built-in provider: mbsync's User / UserCmd / Pass / PassCmd, else a tty prompt."""
    account = _current.get()
    if account is None or account.name != request.account:
        return None
    return _builtin(account, request)


def _builtin(account: IMAPAccountConfig, request: CredentialRequest) -> str:
    if request.kind == "user":
        if account.user is not None:
            return account.user
        if account.user_cmd:
            return run_credential_command(account.user_cmd, account.name, "UserCmd")
        return _prompt(account.name, f"User ({account.name}): ", secret=False, what="user name")
    if request.kind == "password" and request.mechanism:
        return _token(account, request)
    if request.kind == "password":
        if account.password is not None:
            return account.password
        if account.pass_cmd:
            return run_credential_command(account.pass_cmd, account.name, "PassCmd")
        return _prompt(account.name, f"Password ({account.name}): ", secret=True, what="password")
    raise AuthenticationFailed(account.name, f"unknown credential kind {request.kind!r}")


def _token(account: IMAPAccountConfig, request: CredentialRequest) -> str:
    """mbsync's rule first: Pass / PassCmd give the token; else syncmail's own manager."""
    if account.password is not None:
        return account.password
    name = token_manager_account(account)
    if account.pass_cmd and name is None:
        return run_credential_command(account.pass_cmd, account.name, "PassCmd")
    from syncmail.oauth2 import manager

    if name is None:
        raise AuthenticationFailed(
            account.name,
            f"no OAuth2 token for account {account.name}: set PassCmd "
            f'(e.g. PassCmd "syncmail oauth2 token {account.name}") and run '
            f"`syncmail oauth2 login {account.name}`",
        )
    try:
        refused = _refused.get() if request.fresh else None
        return manager.access_token(name, refused=refused, pm=_plugins.get())
    except manager.OAuth2Error as exc:
        if exc.transient:
            # Not a refusal: like a server that cannot be reached, tried again later
            # (``syncmail watch`` backs off instead of stopping the account).
            raise ConnectionFailed(account.name, str(exc)) from None
        raise AuthenticationFailed(account.name, str(exc)) from None
    except SyncmailError as exc:
        raise AuthenticationFailed(account.name, str(exc)) from None


def token_manager_account(account: IMAPAccountConfig) -> str | None:
    """The token manager's account that gives ``account`` its tokens, or None when its
    tokens (or password) come from elsewhere: its PassCmd is ``syncmail oauth2 token A``,
    or it has neither Pass nor PassCmd but an ``[accounts.NAME]`` in oauth2.toml."""
    if account.pass_cmd:
        return own_token_account(account.pass_cmd)
    if account.password is not None:
        return None
    from syncmail.oauth2 import manager

    return account.name if manager.configured(account.name) else None


def own_token_account(command: str) -> str | None:
    """The account of a ``PassCmd`` that is ``syncmail oauth2 token ACCOUNT`` (or
    ``python3 -m syncmail oauth2 token ACCOUNT``), which syncmail answers in-process."""
    try:
        words = shlex.split(command.removeprefix("+"))
    except ValueError:
        return None
    if len(words) >= 3 and words[1:3] == ["-m", "syncmail"]:
        words = ["syncmail", *words[3:]]
    if len(words) == 4 and os.path.basename(words[0]) == "syncmail" and words[1:3] == [
        "oauth2",
        "token",
    ]:
        return words[3]
    return None


def run_credential_command(command: str, account: str, keyword: str) -> str:
    """Run a ``UserCmd``/``PassCmd`` like mbsync: ``/bin/sh -c``, first line of stdout.

    A leading ``+`` makes it interactive (it may use the terminal); otherwise its stdin is
    closed. Failures name the account, keyword and exit status, never the output.
    """
    import subprocess  # only for accounts that have a command: it costs start-up time

    interactive = command.startswith("+")
    if interactive:
        command = command[1:]
        sys.stderr.flush()
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", command],
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None,
            timeout=INTERACTIVE_TIMEOUT if interactive else COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AuthenticationFailed(
            account,
            f"{keyword} of account {account} did not finish within "
            f"{INTERACTIVE_TIMEOUT if interactive else COMMAND_TIMEOUT:.0f} s",
        ) from None
    except OSError as exc:
        raise AuthenticationFailed(
            account, f"{keyword} of account {account} could not be run: {exc.strerror}"
        ) from None
    if proc.returncode != 0:
        status = (
            f"killed by signal {-proc.returncode}"
            if proc.returncode < 0
            else f"exit status {proc.returncode}"
        )
        raise AuthenticationFailed(account, f"{keyword} of account {account} failed ({status})")
    line = proc.stdout.split(b"\n", 1)[0]
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line:
        raise AuthenticationFailed(account, f"{keyword} of account {account} produced no output")
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthenticationFailed(
            account, f"{keyword} of account {account} printed something that is not UTF-8"
        ) from None


def _prompt(account: str, prompt: str, *, secret: bool, what: str) -> str:
    if not sys.stdin or not sys.stdin.isatty():
        keyword = "Pass or PassCmd" if secret else "User or UserCmd"
        raise AuthenticationFailed(
            account,
            f"no {what} for account {account}: set {keyword} (cannot prompt: not a terminal)",
        )
    try:
        if secret:
            import getpass

            value = getpass.getpass(prompt)
        else:
            sys.stderr.write(prompt)
            sys.stderr.flush()
            value = sys.stdin.readline().rstrip("\n")
    except (EOFError, KeyboardInterrupt):
        raise AuthenticationFailed(account, f"no {what} given for account {account}") from None
    if not value:
        raise AuthenticationFailed(account, f"no {what} given for account {account}")
    return value
