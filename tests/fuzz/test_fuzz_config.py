"""Fuzzing the config lexer and parser: any file gives a Config or a ConfigError."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncmail.config.lexer import lex
from syncmail.config.model import Config, ExtraKeyword
from syncmail.config.parser import load_config, parse_config
from syncmail.errors import ConfigError

KEYWORDS = (
    "IMAPAccount IMAPStore MaildirStore Channel Group Notmuch Account AltMap AuthMech "
    "AuthMechs BufferLimit CertificateFile Channels CipherString ClientCertificate ClientKey "
    "CopyArrivalDate Create DisableExtension DisablePlugins ExpireSide ExpireUnread Expunge "
    "ExpungeSolo Far FieldDelimiter Flatten FSync Host Inbox InfoDelimiter MapInbox Master "
    "MaxMessages MaxSize MessageSizeLimit Near Pass PassCmd PassEntry Path PathDelimiter Pattern "
    "Patterns PipelineDepth Port Remove RequireCRAM RequireSSL Slave SSLType SSLVersions "
    "SubFolders SubscribedOnly Sync SyncState SystemCertificates Timeout TLSType TLSVersions "
    "Trash TrashNewOnly TrashRemoteNew Tunnel UseIMAPS UseKeychain UseNamespace User UserCmd "
    "UseSSLv2 UseSSLv3 UseTLSv1 UseTLSv1.2 Upgrade Gone Delete ReNew New Old Flags Full Push "
    "Pull None All SyncTags"
).split()
VALUES = (
    "yes no on 0 1 -1 99999999999999999999 10k 2M 1.5 far near Both Pull Push Far Near All "
    "None IMAPS STARTTLS +1.2 -1.3 +1.0 TLSv1 TLSv1.1 SSLv3 SSLv2 Verbatim Maildir++ Legacy "
    ":far: :near:INBOX :far:box :nope: far: * % !INBOX INBOX/* ~ ~/Mail/ ~nosuchuser/x "
    "rel/path/ /abs/ . : , # #x \" \\ \\\" a\"b c\" PLAIN LOGIN CRAM-MD5 MOVE c c:INBOX,Work"
).split()
EXTRA = [
    ExtraKeyword("IMAPAccount", "PassEntry"),
    ExtraKeyword("Notmuch", "Config"),
    ExtraKeyword("Notmuch", "SyncTags"),
    ExtraKeyword("Global", "Notmuch"),
]

word = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(VALUES),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"), max_size=8),
)
line = st.one_of(
    st.just(""),
    st.lists(word, min_size=1, max_size=4).map(" ".join),
    st.builds(lambda k, v: f"{k} {v}", st.sampled_from(KEYWORDS), st.sampled_from(VALUES)),
)
config_text = st.lists(line, max_size=30).map(lambda lines: "\n".join(lines) + "\n")


def parses(text: str) -> Config | None:
    """The property: a Config, or a ConfigError whose every problem names file and line."""
    try:
        return parse_config(text, "/fuzz/mbsyncrc", extra_keywords=EXTRA)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == "/fuzz/mbsyncrc" and problem.line >= 1, problem
            assert "\n" not in problem.message, problem
        return None


@given(config_text)
def test_structured_configs(text: str) -> None:
    parses(text)


@given(st.text())
def test_any_text(text: str) -> None:
    lines = list(lex(text))
    assert all(line.number >= 1 for line in lines)
    parses(text)


@pytest.fixture(scope="module")
def scratch() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield os.path.join(tmp, "mbsyncrc")


@given(data=st.one_of(st.binary(), config_text.map(str.encode), st.binary().map(
    lambda b: b"IMAPAccount a\nHost h\nPass " + b + b"\n")))
def test_any_file(scratch: str, data: bytes) -> None:
    with open(scratch, "wb") as f:
        f.write(data)
    try:
        load_config(scratch)
    except ConfigError as exc:
        assert exc.problems and all(p.file == scratch for p in exc.problems)
