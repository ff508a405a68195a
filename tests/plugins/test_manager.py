"""make_plugin_manager(), deliver() and friends: guarded loading, selection, isolation."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import pluggy
import pytest

from syncmail import hookimpl
from syncmail.config.model import Config, ExtraKeyword, GlobalConfig, Target
from syncmail.errors import PluginError
from syncmail.events import NewMessage
from syncmail.plugins import (
    config_keywords,
    deliver,
    describe_plugins,
    disable_plugins,
    make_plugin_manager,
    pre_sync,
)

EVENT = NewMessage(channel="c", box="INBOX", side="near", store="s", uid=1, flags="S")


def _names(pm: pluggy.PluginManager) -> set[str]:
    return {name for name, plugin in pm.list_name_plugin() if plugin is not None}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_each_call_builds_a_fresh_manager_with_the_bundled_plugins() -> None:
    first, second = make_plugin_manager(), make_plugin_manager()
    assert first is not second
    assert {"pass", "notmuch"} <= _names(first)
    assert first.hook.syncmail_get_credentials.spec.opts["firstresult"]


def test_builtin_credentials_registered_trylast_when_present() -> None:
    pm = make_plugin_manager(only=[])
    if importlib.util.find_spec("syncmail.credentials") is None:
        assert _names(pm) == set()
        pytest.skip("syncmail.credentials not written yet")
    assert _names(pm) == {"syncmail.credentials"}
    impls = pm.hook.syncmail_get_credentials.get_hookimpls()
    assert [i.plugin_name for i in impls if i.trylast] == ["syncmail.credentials"]


def test_broken_plugins_are_logged_and_skipped(
    fake_plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pm = make_plugin_manager()
    names = _names(pm)
    assert "good" in names and "pass" in names
    assert not {"broken", "badsig", "missing"} & names
    warnings = "\n".join(_warnings(caplog))
    assert "plugin broken: cannot be loaded (syncmail_test_broken): RuntimeError: boom" in warnings
    assert "plugin missing: cannot be loaded" in warnings
    assert "plugin badsig: cannot be loaded" in warnings and "mailbox_size" in warnings
    assert "plugin typo: implements unknown hook 'syncmail_new_mesage'" in warnings
    # The plugins that loaded still work.
    deliver(pm, "syncmail_new_message", event=EVENT)
    assert sys.modules["syncmail_test_good"].calls[-1] is EVENT


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("broken", "plugin broken: cannot be loaded"),
        ("badsig", "plugin badsig: cannot be loaded"),
        ("typo", "plugin typo: implements unknown hook"),
    ],
)
def test_strict_mode_raises_plugin_error(fake_plugins: Path, name: str, text: str) -> None:
    with pytest.raises(PluginError, match=text) as info:
        make_plugin_manager(only=[name, "good"], strict=True)
    assert info.value.plugin == name


def test_disabled_and_only_select_entry_points(fake_plugins: Path) -> None:
    pm = make_plugin_manager(disabled=["broken", "badsig", "typo", "missing", "notmuch"])
    names = _names(pm)
    assert "good" in names and "pass" in names and "notmuch" not in names
    assert pm.is_blocked("notmuch")
    only = make_plugin_manager(only=["good"], strict=True)
    assert _names(only) - {"syncmail.credentials"} == {"good"}


def test_disable_plugins_after_reading_the_config() -> None:
    pm = make_plugin_manager()
    disable_plugins(pm, ["pass"])
    assert "pass" not in _names(pm)


class Recorder:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    @hookimpl
    def syncmail_new_message(self, event: NewMessage) -> None:
        self.log.append(self.name)


class Exploding:
    @hookimpl(tryfirst=True)
    def syncmail_new_message(self, event: NewMessage) -> None:
        raise ValueError("cannot handle UID 1")

    @hookimpl
    def syncmail_pre_sync(self, config: Config) -> str | None:
        raise OSError("disk full")


def test_deliver_isolates_a_failing_plugin(caplog: pytest.LogCaptureFixture) -> None:
    pm = make_plugin_manager(only=[])
    calls: list[str] = []
    pm.register(Recorder("first", calls), name="first")
    pm.register(Exploding(), name="exploding")
    pm.register(Recorder("last", calls), name="last")
    assert deliver(pm, "syncmail_new_message", event=EVENT) is None
    assert calls == ["last", "first"]  # pluggy's order: last registered first
    assert _warnings(caplog) == [
        "plugin exploding: syncmail_new_message failed: ValueError: cannot handle UID 1"
    ]


class Vetoing:
    @hookimpl
    def syncmail_pre_sync(self, config: Config, targets: list[Target]) -> str | None:
        return f"{len(targets)} targets is too many" if targets else None


def test_pre_sync_veto_and_failing_pre_sync(caplog: pytest.LogCaptureFixture) -> None:
    pm = make_plugin_manager(only=[])
    pm.register(Exploding(), name="exploding")
    pm.register(Vetoing(), name="veto")
    config = Config("rc", GlobalConfig(), {}, {}, {}, {})
    assert pre_sync(pm, config, []) is None
    assert any("plugin exploding: syncmail_pre_sync failed" in w for w in _warnings(caplog))
    assert pre_sync(pm, config, [Target("a")]) == "plugin veto: 1 targets is too many"


class BadKeywords:
    @hookimpl
    def syncmail_config_keywords(self) -> list[object]:
        return [ExtraKeyword("IMAPAccount", "PassEntry"), "Nonsense"]


def test_config_keywords_collected_and_checked(
    fake_plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pm = make_plugin_manager(only=["good", "pass"], strict=True)
    pm.register(BadKeywords(), name="bad")
    keywords = config_keywords(pm)
    assert ExtraKeyword("Channel", "Notify") in keywords
    assert ExtraKeyword("Global", "NotifyCommand") in keywords
    assert keywords.count(ExtraKeyword("IMAPAccount", "PassEntry")) == 1
    assert any(
        "plugin bad: syncmail_config_keywords returned 'Nonsense'" in w for w in _warnings(caplog)
    )


def test_describe_plugins(fake_plugins: Path) -> None:
    pm = make_plugin_manager(only=["good", "pass"], strict=True)
    described = {d["name"]: d for d in describe_plugins(pm)}
    good = described["good"]
    assert good["distribution"] == "syncmail-test-plugins" and good["version"] == "1.2.3"
    assert good["hooks"] == ["syncmail_config_keywords", "syncmail_new_message"]
    assert described["pass"]["distribution"] == "syncmail"
    assert "syncmail_get_credentials" in described["pass"]["hooks"]


def test_trace_env_var_prints_hook_calls(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCMAIL_TRACE_PLUGINS", "1")
    pm = make_plugin_manager(only=["pass"])
    pm.hook.syncmail_config_keywords()
    deliver(pm, "syncmail_config_keywords")
    err = capsys.readouterr().err
    assert "syncmail_config_keywords -> pass [hook]" in err
    assert "finish syncmail_config_keywords --> [[ExtraKeyword(" in err
    assert "syncmail_config_keywords -> pass [deliver]" in err
    assert "syncmail_config_keywords -> pass --> [ExtraKeyword(" in err


def test_the_trace_never_shows_a_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password a plugin hands over is a hook's result, and pluggy's own tracing
    would print it; the trace says that one came."""
    from syncmail.events import CredentialRequest

    class Vault:
        @hookimpl
        def syncmail_get_credentials(self, request: CredentialRequest) -> str | None:
            return "s3cret-from-vault" if request.kind == "password" else None

    monkeypatch.setenv("SYNCMAIL_TRACE_PLUGINS", "1")
    pm = make_plugin_manager(only=[])
    pm.register(Vault(), name="vault")
    request = CredentialRequest(account="work", kind="password", host="h", user="me")
    assert pm.hook.syncmail_get_credentials(request=request) == "s3cret-from-vault"
    err = capsys.readouterr().err
    assert "syncmail_get_credentials -> syncmail.credentials, vault [hook]" in err, err
    assert "finish syncmail_get_credentials --> <hidden> [hook]" in err, err
    assert "s3cret" not in err


def test_example_plugin_is_installed_and_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pm = make_plugin_manager(only=["example"], strict=True)
    assert "example" in _names(pm), (
        "the docs' example plugin is not installed: "
        "pip install --no-deps -e tests/plugins/example_plugin"
    )
    log = tmp_path / "new.log"
    monkeypatch.setenv("SYNCMAIL_EXAMPLE_LOG", str(log))
    deliver(pm, "syncmail_new_message", event=EVENT)
    assert log.read_text() == "c INBOX near UID 1 S\n"
    monkeypatch.setenv("HOME", str(tmp_path))
    config = Config("rc", GlobalConfig(), {}, {}, {}, {})
    assert pre_sync(pm, config, []) is None
    (tmp_path / ".syncmail-pause").touch()
    assert pre_sync(pm, config, []) == (
        "plugin example: paused: remove ~/.syncmail-pause to sync again"
    )


@pytest.mark.parametrize("how", ["make", "config"])
def test_builtin_credentials_cannot_be_disabled(how: str, caplog: pytest.LogCaptureFixture) -> None:
    if how == "make":
        pm = make_plugin_manager(disabled=["syncmail.credentials"])
    else:
        pm = make_plugin_manager()
        disable_plugins(pm, ["syncmail.credentials"])
    assert pm.has_plugin("syncmail.credentials")
    assert "cannot be disabled" in caplog.text
