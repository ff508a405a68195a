"""Fake installed distributions with entry points in group "syncmail", good and broken."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

MODULES = {
    "syncmail_test_broken": """
        raise RuntimeError("boom at import")
    """,
    "syncmail_test_typo": """
        from syncmail import hookimpl

        @hookimpl
        def syncmail_new_mesage(event):
            pass
    """,
    "syncmail_test_badsig": """
        from syncmail import hookimpl

        @hookimpl
        def syncmail_new_message(event, mailbox_size):
            pass
    """,
    "syncmail_test_good": """
        from syncmail import hookimpl
        from syncmail.config.model import ExtraKeyword

        calls = []

        @hookimpl
        def syncmail_new_message(event):
            calls.append(event)

        @hookimpl
        def syncmail_config_keywords():
            return [ExtraKeyword("Channel", "Notify"), ExtraKeyword("Global", "NotifyCommand")]
    """,
}

ENTRY_POINTS = """\
[syncmail]
broken = syncmail_test_broken
typo = syncmail_test_typo
badsig = syncmail_test_badsig
good = syncmail_test_good
missing = syncmail_test_not_there
"""


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    dist = site / "syncmail_test_plugins-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: syncmail-test-plugins\nVersion: 1.2.3\n"
    )
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    for name, source in MODULES.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(site))
    return site
