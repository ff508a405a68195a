"""Pure parts of the token manager: answers to states, freshness, PassCmd recognition,
settings validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncmail.credentials import own_token_account
from syncmail.oauth2.manager import OAuth2Error, state_from_answer
from syncmail.oauth2.settings import SettingsError, load
from syncmail.oauth2.tokens import TokenState, TokenStore, TokenStoreError, open_store
from syncmail.plugins import make_plugin_manager


def test_a_refresh_without_refresh_token_keeps_the_old_one() -> None:
    old = TokenState(access_token="a", refresh_token="rt-google")
    new = state_from_answer({"access_token": "b", "expires_in": 3599}, 1000.0, previous=old)
    assert (new.access_token, new.refresh_token, new.expires_at) == ("b", "rt-google", 4599.0)


def test_a_rotated_refresh_token_replaces_the_old_one() -> None:
    old = TokenState(access_token="a", refresh_token="rt-1")
    answer = {"access_token": "b", "refresh_token": "rt-2", "expires_in": 10}
    assert state_from_answer(answer, 0.0, previous=old).refresh_token == "rt-2"


def test_an_answer_without_access_token_is_an_error() -> None:
    with pytest.raises(OAuth2Error, match="no access_token"):
        state_from_answer({"token_type": "Bearer"}, 0.0, previous=TokenState())


@pytest.mark.parametrize(
    ("obtained", "expires", "now", "fresh"),
    [
        (0, 3600, 3500, True),  # a minute's margin on an hour's token
        (0, 3600, 3550, False),
        (0, 2, 0.9, True),  # half the life of a short-lived one
        (0, 2, 1.1, False),
    ],
)
def test_fresh_for(obtained: float, expires: float, now: float, fresh: bool) -> None:
    state = TokenState(access_token="t", obtained_at=obtained, expires_at=expires)
    assert state.fresh_for(now) is fresh


@pytest.mark.parametrize(
    ("command", "account"),
    [
        ("syncmail oauth2 token work", "work"),
        ("/usr/local/bin/syncmail oauth2 token 'my acct'", "my acct"),
        ("python3 -m syncmail oauth2 token work", "work"),
        ("+syncmail oauth2 token work", "work"),
        ("pizauth show work", None),
        ("syncmail oauth2 token", None),
        ("syncmail oauth2 token work | head -1", None),
        ("echo 'unbalanced", None),
    ],
)
def test_own_token_account(command: str, account: str | None) -> None:
    assert own_token_account(command) == account


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[accounts.a]\nprovider = "google"\nclientid = "x"\n', "unknown key(s) clientid"),
        ("[accounts.a]\n", "provider is missing"),
        ('[accounts.a]\nprovider = "nope"\n', 'unknown provider "nope"'),
        ('[accounts.a]\nprovider = "google"\nscopes = "x"\n', "scopes must be a list"),
        ('[accounts.a]\nprovider = "google"\nredirect_port = true\n', "must be a int"),
        ('[accounts.a]\nprovider = "p"\n[providers.p]\ntoken_url = "ftp://x"\n', "http(s) URL"),
        ('[accounts.a]\nprovider = "google"\ntoken_store = "pass"\n', "token_store must be"),
        ("[accounts.b]\n", "no [accounts.a] table"),
        ("[accounts.a\n", "oauth2.toml: "),
    ],
)
def test_settings_errors_name_file_and_table(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "oauth2.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load("a", path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_microsoft_preset_takes_the_tenant(tmp_path: Path) -> None:
    path = tmp_path / "oauth2.toml"
    path.write_text('[accounts.a]\nprovider = "microsoft"\ntenant = "consumers"\n')
    provider = load("a", path).provider
    assert provider.token_url == "https://login.microsoftonline.com/consumers/oauth2/v2.0/token"
    assert provider.rotates_refresh_token
    assert "offline_access" in provider.scopes


def test_token_file_is_private_and_whole(tmp_path: Path) -> None:
    store = TokenStore("a", directory=tmp_path / "d")
    with store.locked():
        store.save(TokenState(access_token="x", refresh_token="y"))
    path = tmp_path / "d" / "a.json"
    assert store.where == str(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert store.load().refresh_token == "y"
    assert [p.name for p in store.dir.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    "text",
    [
        '{"refresh_token": "RT", "access_token": "AT", "expires_at": "tomorrow"}',
        '{"refresh_token": "RT", "access_token": "AT", "expires_at": 1e300}',
        '{"refresh_token": "RT", "access_token": "AT", "expires_at": NaN}',
        '{"refresh_token": "RT", "obtained_at": true}',
        '{"refresh_token": ["RT"]}',
        '{"refresh_token": "RT", "expires_at": -5}',
        "[" * 100_000,
    ],
    ids=["text time", "huge time", "NaN", "bool time", "list token", "negative", "deep"],
)
def test_a_damaged_token_file_is_named_not_an_internal_error(tmp_path: Path, text: str) -> None:
    store = TokenStore("a", directory=tmp_path)
    (tmp_path / "a.json").write_text(text)
    with pytest.raises(TokenStoreError) as info:
        store.load()
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'a.json'}: not a token ") and "log in again" in message


def test_a_token_file_with_whole_seconds_and_unknown_keys_is_read(tmp_path: Path) -> None:
    store = TokenStore("a", directory=tmp_path)
    (tmp_path / "a.json").write_text(
        '{"refresh_token": "RT", "access_token": "AT", "expires_at": 1800000000, "x": 1}'
    )
    state = store.load()
    assert (state.refresh_token, state.expires_at, state.obtained_at) == ("RT", 1800000000, None)


class _BrokenBackend:
    where = "broken store"

    def load(self) -> None:
        raise ValueError("refresh-token-xyz")

    def save(self, record: object) -> None:
        raise OSError("refresh-token-xyz")

    def remove(self) -> bool:
        return False


def test_a_failing_plugin_store_is_reported_by_type_only(tmp_path: Path) -> None:
    store = TokenStore("a", _BrokenBackend(), tmp_path)
    with pytest.raises(TokenStoreError) as info:
        store.load()
    assert str(info.value) == "broken store: cannot read the tokens of account a: ValueError"
    with pytest.raises(TokenStoreError, match="cannot write .* OSError$"):
        store.save(TokenState(refresh_token="refresh-token-xyz"))


def test_a_store_no_plugin_serves_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "oauth2.toml"
    path.write_text('[accounts.a]\nprovider = "google"\ntoken_store = "keyring:work"\n')
    cfg = load("a", path)
    with pytest.raises(TokenStoreError) as info:
        open_store(cfg, make_plugin_manager(only=[]))
    expected = f'{path}: [accounts.a]: token_store "keyring:work": no plugin serves "keyring:"'
    assert str(info.value).startswith(expected)
