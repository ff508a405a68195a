"""Bundled plugins' keywords through the real config parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncmail.errors import ConfigError
from syncmail.plugins import config_keywords, make_plugin_manager

parser = pytest.importorskip("syncmail.config.parser")

RC = """\
IMAPAccount work
Host 127.0.0.1
User alice
PassEntry "mail/work account"
PassField username

IMAPStore work-remote
Account work

MaildirStore work-local
Path {mail}/
Inbox {mail}/INBOX

Channel work
Far :work-remote:
Near :work-local:

Notmuch default
Config ~/nm/config
SyncTags no
"""


def test_bundled_keywords_parse(tmp_path: Path) -> None:
    pm = make_plugin_manager(only=["pass", "notmuch"], strict=True)
    keywords = config_keywords(pm)
    path = str(tmp_path / "mbsyncrc")
    config = parser.parse_config(RC.format(mail=tmp_path / "mail"), path, extra_keywords=keywords)
    assert config.accounts["work"].extra == {
        "PassEntry": "mail/work account",
        "PassField": "username",
    }
    section = config.plugin_sections["Notmuch"]["default"]
    assert section.values["SyncTags"] == "no"

    from syncmail_notmuch.settings import settings_from_config

    settings = settings_from_config(config)
    assert settings.configured and settings.index and not settings.sync_tags
    assert settings.config_file is not None and settings.config_file.endswith("/nm/config")
    assert settings.maildir_roots == (
        str((tmp_path / "mail").resolve()),
        str((tmp_path / "mail" / "INBOX").resolve()),
    )


def test_a_bad_value_names_its_own_line(tmp_path: Path) -> None:
    from syncmail_notmuch.settings import SettingsError, settings_from_config

    keywords = config_keywords(make_plugin_manager(only=["pass", "notmuch"], strict=True))
    path = str(tmp_path / "mbsyncrc")
    text = RC.format(mail=tmp_path / "mail").replace("SyncTags no", "SyncTags no\nIndex maybe")
    config = parser.parse_config(text, path, extra_keywords=keywords)
    with pytest.raises(SettingsError) as info:
        settings_from_config(config)
    line = text.splitlines().index("Index maybe") + 1
    assert str(info.value) == f"{path}:{line}: Index: expected yes or no, not 'maybe'"


def test_second_notmuch_section_is_a_tagged_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keywords = config_keywords(make_plugin_manager(only=["pass", "notmuch"], strict=True))
    path = str(tmp_path / "mbsyncrc")
    text = RC.format(mail=tmp_path / "mail") + "\nNotmuch other\nSyncTags yes\n"
    config = parser.parse_config(text, path, extra_keywords=keywords)

    from syncmail_notmuch.settings import settings_from_config

    assert not settings_from_config(config).sync_tags
    assert f"{path}:18: warning: more than one Notmuch section; using Notmuch default" in (
        caplog.text
    )


def test_plugin_keywords_are_unknown_without_the_plugin(tmp_path: Path) -> None:
    pm = make_plugin_manager(only=[], strict=True)
    with pytest.raises(ConfigError, match="PassEntry"):
        parser.parse_config(
            RC.format(mail=tmp_path / "mail"),
            str(tmp_path / "rc"),
            extra_keywords=config_keywords(pm),
        )
