"""The command line's plugin selection: ``-p NAME``, ``-p no:NAME``, ``--strict-plugins``."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from tests.clirun import Result, invoke
from tests.unit.engine_support import deliver, files, write_config

INSTALL = "pip install --no-deps -e tests/plugins/recorder_plugin"


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = {ep.name for ep in importlib.metadata.entry_points(group="syncmail")}
    assert "recorder" in names, f"the recorder test plugin is not installed: {INSTALL}"
    # No ~/.syncmail-pause (the example plugin), no notmuch configuration.
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("NOTMUCH_CONFIG", "SYNCMAIL_TRACE_PLUGINS", "SYNCMAIL_EXAMPLE_LOG"):
        monkeypatch.delenv(var, raising=False)


def names(result: Result) -> list[str]:
    """The loaded plugins ``syncmail plugins`` printed (not its "disabled" lines)."""
    assert result.exit_code == 0, result.output
    return [
        line.split(":")[0].split(" ")[0]
        for line in result.stdout.splitlines()
        if ": disabled by " not in line
    ]


@pytest.fixture
def rc(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_plain_run_loads_every_installed_plugin(rc: Path) -> None:
    loaded = names(invoke("-c", str(rc), "plugins"))
    assert {"recorder", "example", "pass", "notmuch", "syncmail.credentials"} <= set(loaded)


@pytest.mark.parametrize("argv", [["-p", "recorder"], ["-precorder"], ["--plugin=recorder"],
                                  ["--plugin", "recorder"]])
def test_p_name_loads_only_that_plugin_and_the_builtin(rc: Path, argv: list[str]) -> None:
    result = invoke("-c", str(rc), *argv, "plugins")
    assert names(result) == ["recorder", "syncmail.credentials"]
    assert "recorder 0.1.0: syncmail_config_keywords, syncmail_flags_changed" in result.stdout


def test_p_names_repeat(rc: Path) -> None:
    result = invoke("-c", str(rc), "-p", "recorder", "-p", "pass", "plugins")
    assert names(result) == ["pass", "recorder", "syncmail.credentials"]


def test_p_no_name_disables(rc: Path) -> None:
    result = invoke("-c", str(rc), "-p", "no:recorder", "-pno:example", "plugins")
    loaded = names(result)
    assert "pass" in loaded and "syncmail.credentials" in loaded
    assert "recorder: disabled by -p no:recorder" in result.stdout.splitlines()
    assert "example: disabled by -p no:example" in result.stdout.splitlines()
    assert not [line for line in result.stdout.splitlines() if line.startswith("recorder ")]


def test_p_unknown_name_is_an_error(rc: Path) -> None:
    result = invoke("-c", str(rc), "-p", "recordr", "-a")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "-p recordr: no plugin named 'recordr' is installed (installed: "
    )
    assert "recorder" in result.stderr and "Traceback" not in result.output
    # Disabling one that is not there only warns.
    result = invoke("-c", str(rc), "-p", "no:recordr", "plugins")
    assert result.exit_code == 0
    assert "-p no:recordr: no plugin named 'recordr' is installed" in result.stderr


def test_builtin_cannot_be_disabled(rc: Path) -> None:
    result = invoke("-c", str(rc), "-p", "no:syncmail.credentials", "-a")
    assert result.exit_code == 1
    assert result.stderr == (
        "-p no:syncmail.credentials: the built-in plugin syncmail.credentials "
        "cannot be disabled.\n"
    )


def test_command_line_p_overrides_disable_plugins(tmp_path: Path) -> None:
    rc = write_config(tmp_path)
    rc.write_text("DisablePlugins recorder example\n" + rc.read_text())
    result = invoke("-c", str(rc), "plugins")
    assert "recorder" not in names(result) and "example" not in names(result)
    assert "recorder: disabled by DisablePlugins" in result.stdout.splitlines()
    result = invoke("-c", str(rc), "-p", "recorder", "plugins")
    assert names(result) == ["recorder", "syncmail.credentials"]
    assert "recorder: disabled" not in result.stdout
    # Only the named plugin is taken back; the config's other choices stay.
    result = invoke("-c", str(rc), "-p", "recorder", "-p", "pass", "plugins")
    assert names(result) == ["pass", "recorder", "syncmail.credentials"]
    assert result.stdout.splitlines()[-1] == "example: disabled by DisablePlugins"


def test_strict_plugins_turns_a_broken_plugin_into_an_error(
    rc: Path, fake_plugins: Path
) -> None:
    lenient = invoke("-c", str(rc), "plugins")
    assert lenient.exit_code == 0
    assert "plugin broken: cannot be loaded" in lenient.stderr
    assert "good" in names(lenient) and "broken" not in names(lenient)
    strict = invoke("-c", str(rc), "--strict-plugins", "plugins")
    assert strict.exit_code == 1
    # The first broken one in name order, as one line, and nothing was run.
    assert strict.stderr.startswith("plugin badsig: cannot be loaded")
    assert len(strict.stderr.splitlines()) == 1 and strict.stdout == ""
    # Strict about what is loaded only: leaving the broken ones out is fine.
    chosen = invoke("-c", str(rc), "--strict-plugins", "-p", "good", "plugins")
    assert names(chosen) == ["good", "syncmail.credentials"]
    assert chosen.stderr == ""


def test_p_selects_the_plugins_a_sync_calls(
    tmp_path: Path, rc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "recorded.jsonl"
    monkeypatch.setenv("SYNCMAIL_RECORDER_LOG", str(log))
    monkeypatch.setenv("SYNCMAIL_EXAMPLE_LOG", str(tmp_path / "example.log"))
    deliver(tmp_path, "far", "M1", "S")
    result = invoke("-c", str(rc), "-p", "no:recorder", "-a")
    assert result.exit_code == 0, result.output
    assert set(files(tmp_path, "near")) == {"M1"}
    assert not log.exists()
    assert (tmp_path / "example.log").read_text() == "test INBOX near UID 1 S\n"
    (tmp_path / "example.log").unlink()
    deliver(tmp_path, "far", "M2")
    result = invoke("-c", str(rc), "-p", "recorder", "-a")
    assert result.exit_code == 0, result.output
    hooks = [json.loads(line)["hook"] for line in log.read_text().splitlines()]
    assert hooks == [
        "syncmail_config_keywords", "syncmail_pre_sync", "syncmail_new_message",
        "syncmail_post_sync",
    ]
    assert not (tmp_path / "example.log").exists()
