"""What the real command says about config files that are odd but real: not text at all,
Latin-1 bytes, and the mbsync 1.4 leftovers that are accepted with a warning."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from syncmail.config import parser
from syncmail.config.parser import load_config, parse_config
from syncmail.errors import ConfigError
from tests.unit.test_cli_errors import RC

# The same two Maildir stores and channel as the CLI error tests use.
MAILDIRS = RC

# A line a script filtering warnings (or notices) can recognise without knowing the text.
TAGGED = re.compile(r"^(Warning: |\S+:\d+: (warning|notice): )")


def syncmail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncmail", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def gpg_like() -> bytes:
    """An OpenPGP packet header (public-key encrypted session key) and ciphertext."""
    return b"\x85\x01\x0c\x03\x8a\x3f\x12\x9e\x01\x20\x44\x07\xff" + random.Random(8).randbytes(600)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(random.Random(1).randbytes(2000), id="random-bytes"),
        pytest.param(gpg_like(), id="gpg"),
        pytest.param(b"MaildirStore s\nPath /a/\n\0\0\0\0", id="text-with-nul"),
    ],
)
def test_binary_config_is_not_a_text_config_file(tmp_path: Path, data: bytes) -> None:
    rc = tmp_path / "mbsyncrc.gpg"
    rc.write_bytes(data)
    result = syncmail("-c", str(rc), "-a")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == f"{rc}: not a text config file"
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_latin1_config_is_still_read_as_written(tmp_path: Path) -> None:
    """mbsync reads bytes: a Latin-1 password (not UTF-8) passes through untouched."""
    rc = tmp_path / "mbsyncrc"
    rc.write_bytes(
        MAILDIRS.format(root=tmp_path).encode()
        + b"\nIMAPAccount a\nHost h\nUser j\xf6rg\nPass gr\xfcn-\xe4\xdf\n"
    )
    config = load_config(str(rc))
    password = config.accounts["a"].password
    assert password is not None
    assert password.encode("utf-8", "surrogateescape") == b"gr\xfcn-\xe4\xdf"
    result = syncmail("-c", str(rc), "-a", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_latin1_in_a_bad_line_is_reported_not_crashed(tmp_path: Path) -> None:
    rc = tmp_path / "mbsyncrc"
    rc.write_bytes(b"IMAPAccount a\nHost h\nPass p\xe4ss\nFrob\xe4 x\n")
    result = syncmail("-c", str(rc), "-a")
    assert result.returncode == 1
    assert "internal error" not in result.stderr
    assert result.stderr.startswith(f"{rc}:4: keyword 'Frob")


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", True),
        (b"IMAPAccount a\r\nHost h\r\n\tPass \"\xe4\xf6\xfc\xdf\"\n\f\n", True),
        ("Pass gr\u00fcn \u2603\n".encode(), True),
        (b"\x1b[31m\x01\x02\x03\x04 Host h\n", False),
        (b"\xe4\xf6\xfc\xdf\xe4\xf6\xfc\xdf", False),
        (b"Host h\0", False),
    ],
)
def test_looks_like_text(data: bytes, text: bool) -> None:
    assert parser.looks_like_text(data) is text


def test_every_config_warning_is_tagged(tmp_path: Path) -> None:
    """Each warning of a config that has them all; a script can grep them out of a log."""
    long_cmd = "echo " + "x" * 1100
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        MAILDIRS.format(root=tmp_path).replace(
            f"Path {tmp_path}/far/\nInbox {tmp_path}/far/INBOX\n",
            f"Inbox {tmp_path}/far/INBOX\nPath {tmp_path}/far/INBOX/sub/\n",
        )
        + "\nMaildirStore near\nPath /elsewhere/\n"
        + "\nIMAPAccount a\nHost h\nSSLVersions SSLv3\nUseSSLv2 yes\nUseSSLv3 yes\n"
        + f'PassCmd "{long_cmd}"\n'
    )
    result = syncmail("-c", str(rc), "-a", "-q")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert all(TAGGED.match(line) for line in lines), lines
    warnings = [line for line in lines if " warning: " in line]
    assert warnings == [
        f"{rc}:1: warning: Maildir store 'far': Path is nested under Inbox "
        "(mbsync 1.4 accepts this, 1.5 rejects it)",
        f"{rc}:18: warning: Store 'near' is already defined at line 6; this one is ignored",
        f"{rc}:26: warning: line is longer than 1023 characters; mbsync would split it",
        f"{rc}:23: warning: SSLVersion SSLv3 is no longer supported; ignoring it",
        f"{rc}:24: warning: UseSSLv2 is no longer supported; ignoring it",
        f"{rc}:25: warning: UseSSLv3 is no longer supported; ignoring it",
    ]


def test_sslv3_only_leaves_the_default_versions() -> None:
    config = parse_config("IMAPAccount a\nHost h\nSSLVersions SSLv3\n", "rc")
    assert config.accounts["a"].tls_versions == ("-1.0", "-1.1", "+1.2", "+1.3")
    with pytest.raises(ConfigError):
        parse_config("IMAPAccount a\nHost h\nSSLVersions SSLv3 TLSv9\n", "rc")
