"""The cheap entry-point scan finds what importlib.metadata finds."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from syncmail.entrypoints import entry_points


@pytest.mark.parametrize("group", ["syncmail", "console_scripts"])
def test_same_entry_points_as_importlib_metadata(group: str) -> None:
    ours = {(e.name, e.value) for e in entry_points(group)}
    theirs = {(e.name, e.value) for e in importlib.metadata.entry_points(group=group)}
    assert ours == theirs
    if group == "syncmail":
        assert ("notmuch", "syncmail_notmuch") in ours


def _dist(site: Path, dirname: str, text: str, meta: str = "") -> None:
    d = site / dirname
    d.mkdir(parents=True)
    (d / "entry_points.txt").write_text(text)
    if meta:
        (d / "METADATA").write_text(meta)


def test_first_distribution_on_the_path_wins_and_metadata_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _dist(first, "My_Plugin-2.0.dist-info", "[syncmail]\nmine = my_plugin:Plugin.hooks\n",
          "Metadata-Version: 2.1\nName: my-plugin\nVersion: 2.0\n\nVersion: not this\n")
    _dist(second, "my_plugin-1.0.dist-info", "[syncmail]\nmine = old_plugin\n")
    _dist(second, "other.egg-info", "# comment\n[other]\nx = y\n\n[syncmail]\n zz = z:a \n")
    monkeypatch.setattr(sys, "path", [str(first), str(tmp_path / "missing"), str(second)])
    found = entry_points("syncmail")
    assert [(e.name, e.value) for e in found] == [("mine", "my_plugin:Plugin.hooks"), ("zz", "z:a")]
    assert found[0].distribution() == ("my-plugin", "2.0")
    assert found[1].distribution() is None


def test_load_follows_the_attribute_path() -> None:
    from syncmail.entrypoints import EntryPoint

    assert EntryPoint("x", "os.path:join").load() is __import__("os").path.join
    assert EntryPoint("x", "json").load() is __import__("json")
