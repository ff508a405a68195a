"""syncmail's own OAuth2 settings file (``oauth2.toml``): accounts and custom providers.

mbsync rejects keywords it does not know, so none of this can live in the mbsyncrc;
the file is keyed by the ``IMAPAccount`` name instead::

    [accounts.work]
    provider = "microsoft"        # or "google", or a [providers.NAME] of this file
    client_id = "..."             # or client_id_cmd = "pass show oauth/client-id"
    user = "me@example.com"       # the login hint
    token_store = "pass:oauth/work"   # default "file"
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from syncmail.errors import SyncmailError
from syncmail.oauth2.providers import Provider, preset
from syncmail.record import record

__all__ = ["CONFIG_ENV", "AccountSettings", "SettingsError", "config_path", "load", "read"]

# Overrides the file's place (tests, several setups side by side).
CONFIG_ENV = "SYNCMAIL_OAUTH2_CONFIG"

_ACCOUNT_KEYS = frozenset(
    {"provider", "client_id", "client_id_cmd", "client_secret", "client_secret_cmd", "tenant",
     "user", "scopes", "token_store", "redirect_port"}
)  # fmt: skip
_PROVIDER_KEYS = frozenset(
    {"authorize_url", "token_url", "device_url", "scopes", "rotates_refresh_token"}
)
# "pass:oauth/work": a store served by a plugin through the syncmail_token_store hook.
_STORE = re.compile(r"^[a-z][a-z0-9_-]*:.+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")


class SettingsError(SyncmailError):
    """``oauth2.toml`` is missing, unreadable or wrong; the text names the file."""


@record(frozen=True)
class AccountSettings:
    """One ``[accounts.NAME]`` table, its provider resolved."""

    name: str
    provider: Provider
    client_id: str | None
    client_id_cmd: str | None
    client_secret: str | None
    client_secret_cmd: str | None
    user: str | None
    token_store: str
    redirect_port: int
    source: str


def config_path() -> Path:
    """``$SYNCMAIL_OAUTH2_CONFIG``, else ``$XDG_CONFIG_HOME/syncmail/oauth2.toml``."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "syncmail" / "oauth2.toml"


def read(path: Path | None = None) -> dict[str, Any]:
    """The parsed file, ``{}`` when there is none."""
    import tomllib

    path = path or config_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from None


def account_names(path: Path | None = None) -> list[str]:
    """The accounts the file configures, in file order."""
    accounts = read(path).get("accounts")
    return list(accounts) if isinstance(accounts, dict) else []


def load(name: str, path: Path | None = None) -> AccountSettings:
    """The settings of account ``name``; SettingsError says what is wrong and where."""
    path = path or config_path()
    data = read(path)
    accounts = data.get("accounts", {})
    table = accounts.get(name) if isinstance(accounts, dict) else None
    where = f"{path}: [accounts.{name}]"
    if not isinstance(table, dict):
        raise SettingsError(
            f"{path}: no [accounts.{name}] table; see docs/oauth2.md for an example"
        )
    unknown = sorted(set(table) - _ACCOUNT_KEYS)
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if not _NAME.match(name):
        raise SettingsError(f"{where}: account names may use letters, digits and . _ @ + -")
    provider = _provider(data, table, where)
    port = _get(table, "redirect_port", int, where) or 0
    if not 0 <= port <= 65535:
        raise SettingsError(f"{where}: redirect_port must be 0..65535")
    token_store = _get(table, "token_store", str, where) or "file"
    if token_store != "file" and not _STORE.match(token_store):
        raise SettingsError(
            f'{where}: token_store must be "file" or "PLUGIN:WHERE" (e.g. "pass:oauth/work")'
        )
    return AccountSettings(
        name=name,
        provider=provider,
        client_id=_get(table, "client_id", str, where),
        client_id_cmd=_get(table, "client_id_cmd", str, where),
        client_secret=_get(table, "client_secret", str, where),
        client_secret_cmd=_get(table, "client_secret_cmd", str, where),
        user=_get(table, "user", str, where),
        token_store=token_store,
        redirect_port=port,
        source=str(path),
    )


def _get(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    # bool is an int to Python, not to a config file.
    wrong = not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
    if value is not None and wrong:
        raise SettingsError(f"{where}: {key} must be a {kind.__name__}")
    return value


def _scopes(table: dict[str, Any], where: str) -> tuple[str, ...] | None:
    value = table.get("scopes")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise SettingsError(f"{where}: scopes must be a list of strings")
    return tuple(value)


def _provider(data: dict[str, Any], table: dict[str, Any], where: str) -> Provider:
    name = _get(table, "provider", str, where)
    if not name:
        raise SettingsError(f'{where}: provider is missing ("google", "microsoft" or custom)')
    scopes = _scopes(table, where)
    tenant = _get(table, "tenant", str, where) or "common"
    found = preset(name, tenant)
    if found is None:
        custom = data.get("providers", {}).get(name)
        if not isinstance(custom, dict):
            raise SettingsError(
                f'{where}: unknown provider "{name}" (not google, microsoft or a '
                f"[providers.{name}] table)"
            )
        found = _custom(name, custom, f"{where.split(': ')[0]}: [providers.{name}]")
    if scopes is not None:
        found = Provider(**{**found.__dict__, "scopes": scopes})
    return found


def _custom(name: str, table: dict[str, Any], where: str) -> Provider:
    unknown = sorted(set(table) - _PROVIDER_KEYS)
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(unknown)}")
    urls = {}
    for key in ("authorize_url", "token_url", "device_url"):
        url = _get(table, key, str, where)
        if url is not None and not url.startswith(("https://", "http://")):
            raise SettingsError(f"{where}: {key} must be an http(s) URL")
        urls[key] = url
    if not urls["token_url"]:
        raise SettingsError(f"{where}: token_url is missing")
    return Provider(
        name=name,
        authorize_url=urls["authorize_url"] or "",
        token_url=urls["token_url"],
        device_url=urls["device_url"],
        scopes=_scopes(table, where) or (),
        rotates_refresh_token=bool(_get(table, "rotates_refresh_token", bool, where)),
    )
