"""The syncmail command's error paths, run in-process with real config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncmail import cli
from syncmail.cli import VERSION_TEXT
from tests.clirun import Result, invoke


def assert_clean_failure(result: Result) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output


def test_version() -> None:
    result = invoke("-v")
    assert result.exit_code == 0
    assert result.stdout == VERSION_TEXT + "\n"
    assert VERSION_TEXT == "syncmail 0.1.0 (mbsync-compatible, isync 1.5)"


def test_help_lists_every_option() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for option in ("--all", "--list", "--create", "--remove", "--expunge", "--expunge-solo",
                   "--new", "--old", "--gone", "--flags", "--upgrade", "--pull", "--push",
                   "--noop", "--full", "--dry-run", "--ext-exit", "--verbose", "--quiet",
                   "--debug", "--config", "--version", "plugins", "install-hook", "--force"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-k"], "Unknown option '-k'"),
        (["--frobnicate"], "Unknown option '--frobnicate'"),
        (["-c"], "-c requires an argument."),
        (["-n", "-0", "-a"], "Conflicting Sync options specified on the command line."),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert_clean_failure(result)
    assert result.stderr == message + "\n"
    assert result.stdout == ""


def test_old_and_expunge_solo_are_not_refused() -> None:
    result = invoke("-x", "-o", "-a")
    assert "not supported" not in result.stderr


def test_internal_error_is_one_line_with_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(inv: object, argv: object, io: object) -> int:
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(cli, "_run", boom)
    result = invoke("-a")
    assert_clean_failure(result)
    assert result.stderr.splitlines() == [
        "syncmail: internal error: RuntimeError: something broke",
        "syncmail: run with -D to see the traceback",
    ]


def test_internal_error_traceback_with_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(inv: object, argv: object, io: object) -> int:
        from syncmail.report import setup_logging

        setup_logging(io.err, debug=True)  # type: ignore[attr-defined]
        raise RuntimeError("something broke")

    monkeypatch.setattr(cli, "_run", boom)
    result = invoke("-D", "-a")
    assert result.exit_code == 1
    assert result.stderr.startswith("syncmail: internal error: RuntimeError: something broke\n")
    assert "Traceback" in result.stderr
    assert "run with -D" not in result.stderr


def test_keyboard_interrupt_exits_130_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(inv: object, argv: object, io: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", interrupted)
    result = invoke("-a")
    assert result.exit_code == 130
    assert result.stdout == ""  # scripts reading the summary get none
    assert result.stderr == "syncmail: interrupted; run failed (the next run completes it)\n"


# --- with the config parser ------------------------------------------------------------

RC = """\
MaildirStore far
Path {root}/far/
Inbox {root}/far/INBOX
SubFolders Verbatim

MaildirStore near
Path {root}/near/
Inbox {root}/near/INBOX
SubFolders Verbatim

Channel mail
Far :far:
Near :near:
Patterns *
Create Both
SyncState *
"""


@pytest.fixture
def parser() -> None:
    pytest.importorskip("syncmail.config.parser", reason="config parser not written yet")
    pytest.importorskip("syncmail.config.selection", reason="target selection not written yet")


def write_rc(tmp_path: Path, text: str) -> Path:
    rc = tmp_path / "mbsyncrc"
    rc.write_text(text)
    return rc


def test_bad_config_names_file_and_line(parser: None, tmp_path: Path) -> None:
    rc = write_rc(tmp_path, RC.format(root=tmp_path) + "\nChannel other\nFrobnicate yes\n")
    result = invoke("-c", str(rc), "-a")
    assert_clean_failure(result)
    lines = result.stderr.splitlines()
    assert lines, "no error message"
    assert any(line.startswith(f"{rc}:19:") for line in lines), result.stderr


def test_missing_config_file(parser: None, tmp_path: Path) -> None:
    result = invoke("-c", str(tmp_path / "nope"), "-a")
    assert_clean_failure(result)
    assert "nope" in result.stderr


def test_unknown_channel(parser: None, tmp_path: Path) -> None:
    rc = write_rc(tmp_path, RC.format(root=tmp_path))
    result = invoke("-c", str(rc), "nochan")
    assert_clean_failure(result)
    assert "No channel or group named 'nochan' defined." in result.stderr


def test_no_channel_specified(parser: None, tmp_path: Path) -> None:
    rc = write_rc(tmp_path, RC.format(root=tmp_path))
    result = invoke("-c", str(rc))
    assert_clean_failure(result)
    assert "No channel specified" in result.stderr


def test_relative_config_name_is_read_from_the_current_directory(
    parser: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rc(tmp_path, RC.format(root=tmp_path))
    monkeypatch.chdir(tmp_path)
    result = invoke("-c", "mbsyncrc", "nochan")
    assert "No channel or group named 'nochan' defined." in result.stderr


def test_subcommand_word_is_a_channel_when_defined(parser: None, tmp_path: Path) -> None:
    from syncmail.config.parser import load_config

    rc = write_rc(tmp_path, RC.format(root=tmp_path).replace("Channel mail", "Channel plugins"))
    config = load_config(str(rc))
    assert not cli._is_subcommand(cli.parse_args(["plugins"]), config)
    assert cli._is_subcommand(cli.parse_args(["install-hook", "notmuch"]), config)
    assert not cli._is_subcommand(cli.parse_args(["-a", "install-hook"]), config)


def test_plugins_subcommand(parser: None, tmp_path: Path) -> None:
    rc = write_rc(tmp_path, RC.format(root=tmp_path))
    result = invoke("-c", str(rc), "plugins")
    assert result.exit_code == 0, result.output
    assert "syncmail.credentials" in result.stdout


# --- with the Maildir store and the engine ---------------------------------------------


def make_maildir(path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)


def test_list_boxes(parser: None, tmp_path: Path) -> None:
    pytest.importorskip("syncmail.store.maildir", reason="Maildir store not written yet")
    pytest.importorskip("syncmail.config.patterns", reason="patterns not written yet")
    rc = write_rc(tmp_path, RC.format(root=tmp_path))
    for box in ("INBOX", "Archive", "Lists/python"):
        make_maildir(tmp_path / "far" / box)
    make_maildir(tmp_path / "near" / "Drafts")
    result = invoke("-c", str(rc), "-l", "mail")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["INBOX", "Archive", "Drafts", "Lists/python"]


def test_sync_prints_summary(parser: None, tmp_path: Path) -> None:
    pytest.importorskip("syncmail.sync.engine", reason="engine not written yet")
    rc = write_rc(tmp_path, RC.format(root=tmp_path))
    make_maildir(tmp_path / "far" / "INBOX")
    msg = b"From: a@example.org\nSubject: hi\nMessage-ID: <1@example.org>\n\nbody\n"
    (tmp_path / "far" / "INBOX" / "cur" / "1.host:2,S").write_bytes(msg)
    (tmp_path / "near").mkdir()
    result = invoke("-c", str(rc), "-a")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Processed 1 box(es) in 1 channel(s),\n"
        "pulled 1 new message(s) and 0 flag update(s),\n"
        "pushed 0 new message(s) and 0 flag update(s).\n"
    )
    assert len(list((tmp_path / "near" / "INBOX" / "cur").iterdir())) == 1
    # Nothing left to do: -e adds nothing, -q hides the summary.
    again = invoke("-c", str(rc), "-a", "-q", "-e")
    assert again.exit_code == 0, again.output
    assert again.stdout == ""


def test_dry_run_changes_nothing(parser: None, tmp_path: Path) -> None:
    pytest.importorskip("syncmail.sync.engine", reason="engine not written yet")
    rc = write_rc(tmp_path, RC.format(root=tmp_path))
    make_maildir(tmp_path / "far" / "INBOX")
    msg = b"From: a@example.org\nSubject: hi\nMessage-ID: <1@example.org>\n\nbody\n"
    (tmp_path / "far" / "INBOX" / "cur" / "1.host:2,S").write_bytes(msg)
    (tmp_path / "near").mkdir()
    result = invoke("-c", str(rc), "-a", "-y")
    assert result.exit_code == 0, result.output
    assert "would pull 1 new message(s)" in result.stdout
    assert not list((tmp_path / "near").rglob("*:2,*"))
    assert not list(tmp_path.rglob(".mbsyncstate*"))


def test_ext_exit_reports_near_change(parser: None, tmp_path: Path) -> None:
    pytest.importorskip("syncmail.sync.engine", reason="engine not written yet")
    rc = write_rc(tmp_path, RC.format(root=tmp_path))
    make_maildir(tmp_path / "far" / "INBOX")
    msg = b"From: a@example.org\nSubject: hi\nMessage-ID: <1@example.org>\n\nbody\n"
    (tmp_path / "far" / "INBOX" / "cur" / "1.host:2,S").write_bytes(msg)
    (tmp_path / "near").mkdir()
    result = invoke("-c", str(rc), "-a", "-e", "-q")
    assert result.exit_code == 64, result.output
    assert result.output == ""


def test_plugins_subcommand_needs_no_config(parser: None, tmp_path: Path) -> None:
    result = invoke("-c", str(tmp_path / "missing"), "plugins")
    assert result.exit_code == 0, result.output
    assert "syncmail.credentials" in result.stdout


def test_list_channel_without_patterns(parser: None, tmp_path: Path) -> None:
    rc = write_rc(
        tmp_path,
        RC.format(root=tmp_path)
        + "\nChannel single\nFar :far:Archive\nNear :near:old-archive\n"
        + "\nChannel inbox\nFar :far:\nNear :near:\n",
    )
    result = invoke("-c", str(rc), "-l", "single", "inbox")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "single:", "Archive <=> old-archive", "inbox:", "INBOX <=> INBOX",
    ]


def test_list_stores(parser: None, tmp_path: Path) -> None:
    pytest.importorskip("syncmail.store.maildir", reason="Maildir store not written yet")
    rc = write_rc(tmp_path, RC.format(root=tmp_path))
    for box in ("INBOX", "Archive"):
        make_maildir(tmp_path / "far" / box)
    (tmp_path / "near").mkdir()
    result = invoke("-c", str(rc), "-ls", "far")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["===== far:", "INBOX", "Archive"]
    missing = invoke("-c", str(rc), "-ls", "nostore")
    assert_clean_failure(missing)
    assert "No store named 'nostore' defined." in missing.stderr


def test_install_hook_notmuch(
    parser: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    if shutil.which("notmuch") is None:
        pytest.skip("notmuch is not installed")
    hooks = tmp_path / "hooks"
    config = tmp_path / "notmuch-config"
    config.write_text(f"[database]\npath={tmp_path / 'mail'}\nhook_dir={hooks}\n")
    monkeypatch.setenv("NOTMUCH_CONFIG", str(config))
    result = invoke("-c", str(tmp_path / "no-rc"), "install-hook", "notmuch")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"installed {hooks / 'pre-new'}\n"
    assert (hooks / "pre-new").stat().st_mode & 0o111
    wrong = invoke("-c", str(tmp_path / "no-rc"), "install-hook", "mutt")
    assert_clean_failure(wrong)
    assert "usage: syncmail install-hook notmuch" in wrong.stderr


@pytest.mark.parametrize(
    ("channel_ops", "cli_args", "expected"),
    [
        ("", [], dict(pull=True, push=True)),
        ("Sync Pull\n", [], dict(pull=True, push=False)),
        ("Sync Push\nExpunge Near\n", [], dict(pull=False, push=True, expunge_near=True)),
        ("Expunge Both\n", ["-0"], dict(pull=False, push=False, expunge_far=True,
                                        expunge_near=True)),
        ("Sync Pull\n", ["-H"], dict(pull=False, push=True)),
    ],
)
def test_summary_shape_follows_the_operations(
    parser: None, tmp_path: Path, channel_ops: str, cli_args: list[str], expected: dict[str, bool]
) -> None:
    from syncmail.config.model import Target
    from syncmail.config.parser import load_config
    from syncmail.report import SummaryShape

    rc = write_rc(tmp_path, RC.format(root=tmp_path) + channel_ops)
    config = load_config(str(rc))
    shape = cli.summary_shape(config, [Target("mail")], cli.parse_args(cli_args).ops)
    assert shape == SummaryShape(**expected)


def test_plugin_veto_is_reported_once(
    parser: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    pytest.importorskip("syncmail.sync.engine", reason="engine not written yet")
    if importlib.util.find_spec("syncmail_example") is None:
        pytest.skip("tests/plugins/example_plugin is not installed")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".syncmail-pause").write_text("")
    rc = write_rc(tmp_path, RC.format(root=tmp_path))
    result = invoke("-c", str(rc), "-a")
    assert_clean_failure(result)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and "paused: remove ~/.syncmail-pause" in lines[0], lines
    assert lines[1].startswith("syncmail: run failed:"), lines
    assert not (tmp_path / "near").exists()
