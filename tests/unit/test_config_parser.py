"""The mbsyncrc parser: every keyword family, back-references, paths, errors with file:line."""

from __future__ import annotations

import logging
import os
import pwd
from pathlib import Path

import pytest

from syncmail.config.model import (
    BoxRef,
    Config,
    ExtraKeyword,
    GroupMember,
    IMAPStoreConfig,
    MaildirStoreConfig,
    SyncOps,
)
from syncmail.config.parser import default_config_path, load_config, parse_config
from syncmail.errors import ConfigError

RC = "/cfg/mbsyncrc"
INVALID = "Invalid combination of simple and compound Sync options in Channel 'c'."

STORES = """\
MaildirStore near
Path ~/Mail/
Inbox ~/Mail/INBOX
SubFolders Verbatim

IMAPStore far
Host imap.example.com
User me
Pass secret
"""


def parse(text: str, path: str = RC, **kwargs: object) -> Config:
    return parse_config(text, path, **kwargs)  # type: ignore[arg-type]


def errors(text: str, path: str = RC, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, path, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in info.value.problems]


def channel(body: str) -> str:
    return STORES + "\nChannel c\nFar :far:\nNear :near:\n" + body


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOME", "/home/tester")
    return "/home/tester"


# --- structure ---------------------------------------------------------------------------


def test_minimal_config() -> None:
    config = parse(channel("Patterns *\n"))
    assert list(config.stores) == ["near", "far"]
    near = config.stores["near"]
    assert isinstance(near, MaildirStoreConfig)
    assert near.path == "/home/tester/Mail/"
    assert near.inbox == "/home/tester/Mail/INBOX"
    assert near.subfolders == "verbatim"
    assert near.defined_at.line == 1
    chan = config.channels["c"]
    assert chan.far == BoxRef("far", "")
    assert chan.near == BoxRef("near", "")
    assert chan.patterns == ("*",)
    assert chan.defined_at.line == 11
    assert str(chan.defined_at) == f"{RC}:11"
    assert config.path == RC


def test_keywords_and_enum_values_are_case_insensitive_names_are_not() -> None:
    config = parse(
        "maildirstore Near\npath /m/\nsubfolders VERBATIM\n\n"
        "CHANNEL Chan\nfar :Near:a\nNEAR :Near:b\nsync pullNEW\n"
    )
    assert list(config.stores) == ["Near"]
    assert config.channels["Chan"].ops.sync == SyncOps(pull=frozenset({"new"}), push=frozenset())
    problems = errors("MaildirStore Near\nPath /m/\n\nChannel c\nFar :near:\nNear :Near:\n")
    assert problems == [f"{RC}:5: unknown store 'near'"]


def test_comment_line_does_not_end_a_section() -> None:
    config = parse("MaildirStore s\nPath /a/\n# comment\nInbox /a/INBOX\n")
    store = config.stores["s"]
    assert isinstance(store, MaildirStoreConfig)
    assert store.inbox == "/a/INBOX"


def test_whitespace_only_line_ends_a_section() -> None:
    problems = errors("MaildirStore s\nPath /a/\n   \t\nInbox /a/INBOX\n")
    assert problems == [f"{RC}:4: 'Inbox' is not a recognized section-starting or global keyword"]


def test_section_keyword_inside_a_section_is_unknown() -> None:
    problems = errors("MaildirStore a\nPath /a/\nMaildirStore b\nPath /b/\n")
    assert problems == [
        f"{RC}:3: keyword 'MaildirStore' is not recognized in MaildirStore sections"
    ]


def test_global_options_must_precede_sections() -> None:
    problems = errors("FSync no\n\nMaildirStore a\nPath /a/\n\nFSync yes\n")
    assert problems == [f"{RC}:6: global options may not follow sections"]


def test_global_then_section_without_blank_line() -> None:
    config = parse("FSync no\nMaildirStore a\nPath /a/\n")
    assert config.globals.fsync is False
    assert "a" in config.stores


def test_unknown_global_keyword_skips_its_block() -> None:
    problems = errors("Frobnicate yes\nAlsoUnknown 1\n\nFSync no\n")
    assert problems == [
        f"{RC}:1: 'Frobnicate' is not a recognized section-starting or global keyword"
    ]


@pytest.mark.parametrize(
    ("section", "kind"),
    [
        ("MaildirStore s\nPath /a/\n", "MaildirStore"),
        ("IMAPStore s\nHost h\n", "IMAPStore"),
        ("IMAPAccount s\nHost h\n", "IMAPAccount"),
        ("Group g c\n", "Group"),
        ("MaildirStore s\nPath /a/\n\nChannel c\nFar :s:a\nNear :s:b\n", "Channel"),
    ],
)
def test_unknown_keyword_in_each_section_kind(section: str, kind: str) -> None:
    text = section + "Bogus 1\n"
    line = text.count("\n")
    assert errors(text) == [f"{RC}:{line}: keyword 'Bogus' is not recognized in {kind} sections"]


def test_parameter_missing_and_excess_token() -> None:
    problems = errors("FSync\nFSync yes no\nMaildirStore s\nPath /a/ /b/\nInbox # only a comment\n")
    assert problems == [
        f"{RC}:1: parameter missing",
        f"{RC}:2: excess token 'no'",
        f"{RC}:4: excess token '/b/'",
        f"{RC}:5: parameter missing",
    ]


def test_an_excess_token_of_a_secret_is_not_quoted() -> None:
    """An unquoted password with a space: the second half must not reach the terminal."""
    hidden = "(not shown: it may be part of the secret; put a value with spaces in double quotes)"
    for keyword, value in (("Pass", "hunter2 s3cretpart"), ("PassCmd", '"pass show x" s3cretpart')):
        problems = errors(f"IMAPAccount a\nHost h\n{keyword} {value}\n")
        assert problems == [f"{RC}:3: excess token after the value of {keyword} {hidden}"]
        assert "s3cret" not in " ".join(problems)


def test_section_keyword_without_name() -> None:
    problems = errors("Channel\nFar :a:\nNear :b:\n\nFSync no\n")
    assert problems == [f"{RC}:1: parameter missing"]


def test_lexer_errors_are_reported_with_line() -> None:
    problems = errors('IMAPAccount a\nHost h\nPass "unterminated\nUser x\\\n')
    assert problems == [
        f"{RC}:3: missing closing quote",
        f"{RC}:4: unterminated escape sequence",
    ]


def test_all_errors_of_a_file_in_one_error() -> None:
    text = (
        "FSync maybe\n"
        "BufferLimit 0\n"
        "\n"
        "IMAPAccount a\n"
        "Port 99999\n"
        "Timeout soon\n"
        "\n"
        "MaildirStore m\n"
        "SubFolders Weird\n"
        "MaxSize 10q\n"
        "\n"
        "Channel c\n"
        "Far :nope:\n"
        "Near m\n"
        "Sync Sideways\n"
    )
    assert errors(text) == [
        f"{RC}:1: invalid boolean value 'maybe'",
        f"{RC}:2: BufferLimit cannot be zero",
        f"{RC}:4: IMAP account 'a' has neither Tunnel nor Host",
        f"{RC}:5: Invalid port number",
        f"{RC}:6: invalid integer value 'soon'",
        f"{RC}:9: Unrecognized SubFolders style",
        f"{RC}:10: invalid size '10q'",
        f"{RC}:13: unknown store 'nope'",
        f"{RC}:14: malformed mailbox spec",
        f"{RC}:15: invalid Sync arg 'Sideways'",
    ]


def test_long_line_is_accepted(caplog: pytest.LogCaptureFixture) -> None:
    cmd = "oauth2 --token " + "x" * 2000
    config = parse(f'IMAPAccount a\nHost h\nPassCmd "{cmd}"\n')
    assert config.accounts["a"].pass_cmd == cmd
    assert f"{RC}:3: warning: line is longer" in caplog.text


# --- value syntaxes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "value"),
    [("yes", True), ("TRUE", True), ("On", True), ("1", True),
     ("no", False), ("False", False), ("OFF", False), ("0", False)],
)  # fmt: skip
def test_booleans(word: str, value: bool) -> None:
    assert parse(f"FSync {word}\n").globals.fsync is value


@pytest.mark.parametrize(
    ("word", "value"),
    [("100", 100), ("1k", 1024), ("2K", 2048), ("3m", 3 << 20), ("4MB", 4 << 20),
     ("5kb", 5120), ("6b", 6)],
)  # fmt: skip
def test_sizes(word: str, value: int) -> None:
    assert parse(f"BufferLimit {word}\n").globals.buffer_limit == value


def test_bad_size_and_integer() -> None:
    assert errors("BufferLimit 1g\n") == [f"{RC}:1: invalid size '1g'"]
    assert errors("MaxMessages 1k\n") == [f"{RC}:1: invalid integer value '1k'"]


# --- global options ----------------------------------------------------------------------


def test_global_options() -> None:
    config = parse(
        "FSync no\nFieldDelimiter ;\nBufferLimit 1M\nSync Pull\nCreate Near\nRemove Both\n"
        "Expunge Far\nCopyArrivalDate no\nSyncState ~/state/\nDisablePlugins notmuch\n"
        "DisablePlugins pass other\n"
    )
    g = config.globals
    assert (g.fsync, g.field_delimiter, g.buffer_limit) == (False, ";", 1 << 20)
    assert g.ops.sync == SyncOps(pull=frozenset({"new", "upgrade", "gone", "flags"}),
                                 push=frozenset())  # fmt: skip
    assert g.ops.create == frozenset({"near"})
    assert g.ops.remove == frozenset({"far", "near"})
    assert g.ops.expunge == frozenset({"far"})
    assert g.ops.expunge_solo is None
    assert g.copy_arrival_date is False
    assert g.sync_state == "/home/tester/state/"
    assert g.disable_plugins == ("notmuch", "pass", "other")


def test_global_sync_state_star_is_kept() -> None:
    assert parse("SyncState *\n").globals.sync_state == "*"


def test_global_defaults() -> None:
    g = parse("").globals
    assert (g.fsync, g.field_delimiter, g.buffer_limit) == (True, ":", 10 << 20)
    assert g.ops.sync is None and g.sync_state is None


@pytest.mark.parametrize(
    ("value", "message"),
    [("::", "Field delimiter must be exactly one character long"),
     ("a", "Field delimiter must be a punctuation character")],
)  # fmt: skip
def test_field_delimiter_errors(value: str, message: str) -> None:
    assert errors(f"FieldDelimiter {value}\n") == [f"{RC}:1: {message}"]


def test_maxsize_is_not_global() -> None:
    assert errors("MaxSize 1m\n") == [
        f"{RC}:1: 'MaxSize' is not a recognized section-starting or global keyword"
    ]


def test_field_delimiter_is_the_default_info_delimiter() -> None:
    config = parse("FieldDelimiter ;\n\nMaildirStore a\nPath /a/\n\nMaildirStore b\nPath /b/\n"
                   "InfoDelimiter !\n")  # fmt: skip
    a, b = config.stores["a"], config.stores["b"]
    assert isinstance(a, MaildirStoreConfig) and isinstance(b, MaildirStoreConfig)
    assert (a.info_delimiter, b.info_delimiter) == (";", "!")


def test_channel_starts_from_global_values() -> None:
    config = parse("MaxMessages 100\nExpireSide Far\nExpireUnread no\n\n" + channel(""))
    chan = config.channels["c"]
    assert (chan.max_messages, chan.expire_side, chan.expire_unread) == (100, "far", False)


# --- Maildir stores ----------------------------------------------------------------------


def test_maildir_paths(tmp_path: Path) -> None:
    rc = str(tmp_path / "rc")
    config = parse(
        "MaildirStore rel\nPath mail/\nInbox inbox\n\n"
        "MaildirStore prefix\nPath ~/Mail/work-\n\n"
        "MaildirStore bare\nPath ~\n\n"
        "MaildirStore root\nPath ~root/Mail/\n",
        path=rc,
    )
    stores = config.stores
    assert stores["rel"].path == f"{tmp_path}/mail/"
    assert isinstance(stores["rel"], MaildirStoreConfig)
    assert stores["rel"].inbox == f"{tmp_path}/inbox"
    assert stores["prefix"].path == "/home/tester/Mail/work-"
    assert stores["bare"].path == "/home/tester"
    assert stores["root"].path == pwd.getpwnam("root").pw_dir + "/Mail/"


def test_default_inbox() -> None:
    store = parse("MaildirStore s\nPath /a/\n").stores["s"]
    assert isinstance(store, MaildirStoreConfig)
    assert store.inbox == "/home/tester/Maildir"
    assert store.subfolders is None


def test_unknown_user_in_path() -> None:
    problems = errors("MaildirStore s\nPath ~nosuchuser-xyz/Mail/\n")
    assert problems == [f"{RC}:2: cannot expand '~nosuchuser-xyz/Mail/': no user 'nosuchuser-xyz'"]


def test_maildirpp_with_path_is_an_error() -> None:
    problems = errors("MaildirStore s\nPath /a/\nSubFolders Maildir++\n")
    assert problems == [
        f"{RC}:1: Maildir store 's': Setting Path is incompatible with 'SubFolders Maildir++'"
    ]


def test_path_nested_under_inbox_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    parse("MaildirStore s\nInbox /m/INBOX\nPath /m/INBOX/sub/\n")
    assert f"{RC}:1: warning: Maildir store 's': Path is nested under Inbox" in caplog.text


@pytest.mark.parametrize(
    ("word", "style"),
    [("verbatim", "verbatim"), ("Maildir++", "maildir++"), ("LEGACY", "legacy")],
)
def test_subfolders(word: str, style: str) -> None:
    store = parse(f"MaildirStore s\nSubFolders {word}\n").stores["s"]
    assert isinstance(store, MaildirStoreConfig)
    assert store.subfolders == style


def test_generic_store_options_are_all_supported() -> None:
    config = parse(
        "MaildirStore s\nPath /a/\nTrash Trash\nTrashNewOnly yes\nTrashRemoteNew yes\n"
        "MaxSize 1m\nMapInbox Inbox\nFlatten .\nAltMap yes\n"
    )
    s = config.stores["s"]
    assert isinstance(s, MaildirStoreConfig)
    assert (s.trash, s.trash_new_only, s.trash_remote_new) == ("Trash", True, True)
    assert (s.max_size, s.map_inbox, s.flatten, s.alt_map) == (1 << 20, "Inbox", ".", True)
    # MaxSize (placeholders and their Upgrade) and AltMap yes are implemented.


def test_off_values_are_read_as_off() -> None:
    s = parse("MaildirStore s\nPath /a/\nMaxSize 0\nAltMap no\nTrashNewOnly no\n").stores["s"]
    assert isinstance(s, MaildirStoreConfig)
    assert (s.max_size, s.alt_map, s.trash_new_only) == (0, False, False)


def test_flatten_with_slash_is_an_error() -> None:
    assert errors("MaildirStore s\nFlatten a/b\n") == [
        f"{RC}:2: flattened hierarchy delimiter cannot contain the canonical delimiter '/'"
    ]


# --- IMAP accounts and stores ------------------------------------------------------------


def test_imap_account_options(tmp_path: Path) -> None:
    cert = tmp_path / "ca.pem"
    cert.write_text("x")
    config = parse(
        "IMAPAccount a\nHost imap.example.com\nPort 1143\nTimeout 60\nUser me@example.com\n"
        "PassCmd \"pass show mail\"\nAuthMechs PLAIN LOGIN\nAuthMech XOAUTH2\nTLSType IMAPS\n"
        "SystemCertificates no\nCertificateFile ca.pem\nPipelineDepth 1\n"
        "DisableExtension MOVE\nDisableExtensions utf8=accept compress=deflate\n\n"
        "IMAPStore s\nAccount a\nPath INBOX.\nPathDelimiter .\nUseNamespace no\n",
        path=str(tmp_path / "rc"),
    )
    a = config.accounts["a"]
    assert (a.host, a.port, a.timeout, a.user, a.pass_cmd) == (
        "imap.example.com", 1143, 60, "me@example.com", "pass show mail"
    )  # fmt: skip
    assert a.password is None
    assert a.auth_mechs == ("PLAIN", "LOGIN", "XOAUTH2")
    assert (a.tls_type, a.system_certificates) == ("imaps", False)
    assert a.certificate_file == str(cert)
    assert a.pipeline_depth == 1
    assert a.disable_extensions == frozenset({"MOVE", "UTF8=ACCEPT", "COMPRESS=DEFLATE"})
    s = config.stores["s"]
    assert isinstance(s, IMAPStoreConfig)
    assert s.account is a
    assert (s.path, s.path_delimiter, s.use_namespace) == ("INBOX.", ".", False)


def test_imap_defaults() -> None:
    config = parse("IMAPAccount a\nHost h\n\nIMAPAccount b\nHost h\nTLSType imaps\n\n"
                   "IMAPAccount t\nTunnel \"ssh host imapd\"\n")  # fmt: skip
    a, b, t = config.accounts["a"], config.accounts["b"], config.accounts["t"]
    assert (a.port, a.tls_type, a.timeout, a.auth_mechs) == (143, "starttls", 20, ("*",))
    assert (b.port, b.tls_type) == (993, "imaps")
    assert (t.tls_type, t.tunnel, t.host) == ("none", "ssh host imapd", None)


def test_password_is_not_in_repr() -> None:
    config = parse("IMAPAccount a\nHost h\nPass hunter2\n")
    assert config.accounts["a"].password == "hunter2"
    assert "hunter2" not in repr(config)


def test_imap_store_with_inline_account() -> None:
    config = parse("IMAPStore s\nHost h\nUser u\nPass p\nSSLType None\nPath Mail/\n")
    s = config.stores["s"]
    assert isinstance(s, IMAPStoreConfig)
    assert s.account is not None
    assert (s.account.name, s.account.host, s.account.user, s.account.tls_type) == (
        "s", "h", "u", "none"
    )  # fmt: skip
    assert s.path == "Mail/"  # IMAP Path is a mailbox prefix: not expanded
    assert config.accounts == {}


def test_imap_store_with_account_and_account_options() -> None:
    problems = errors("IMAPAccount a\nHost h\n\nIMAPStore s\nAccount a\nHost other\n")
    assert problems == [f"{RC}:4: IMAP store 's' has both Account and account-specific options"]


def test_account_must_be_defined_before() -> None:
    problems = errors("IMAPStore s\nAccount a\n\nIMAPAccount a\nHost h\n")
    assert problems == [f"{RC}:2: unknown IMAP account 'a'"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("User u\n", "IMAP account 'a' has neither Tunnel nor Host"),
        ("Host h\nUser u\nUserCmd x\n", "IMAP account 'a' has both User and UserCmd"),
        ("Host h\nPass p\nPassCmd x\n", "IMAP account 'a' has both Pass and PassCmd"),
        ("Host h\nRequireCRAM yes\nAuthMechs PLAIN\n",
         "IMAP account 'a': The deprecated RequireCRAM option is mutually exclusive "
         "with AuthMech."),
    ],
)  # fmt: skip
def test_account_consistency_errors(body: str, message: str) -> None:
    assert errors("IMAPAccount a\n" + body) == [f"{RC}:1: {message}"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Port -1", "Invalid port number"),
        ("PipelineDepth 0", "PipelineDepth must be at least 1"),
        ("TLSType SSL", "Invalid TLS type"),
        ("DisableExtension FOO", "Unrecognized IMAP extension 'FOO'"),
        ("TLSVersions 1.2", "TLSVersions arguments must start with +/-"),
        ("TLSVersions +1.4", "Unrecognized TLS version '1.4'"),
        ("SSLVersions TLSv2", "Unrecognized SSL version"),
        ("CertificateFile /nonexistent/ca.pem",
         "CertificateFile '/nonexistent/ca.pem': No such file or directory"),
    ],
)  # fmt: skip
def test_account_value_errors(line: str, message: str) -> None:
    assert errors(f"IMAPAccount a\nHost h\n{line}\n") == [f"{RC}:3: {message}"]


def test_require_cram(caplog: pytest.LogCaptureFixture) -> None:
    config = parse("IMAPAccount a\nHost h\nRequireCRAM yes\n")
    assert config.accounts["a"].auth_mechs == ("CRAM-MD5",)
    assert f"{RC}:1: notice: IMAP account 'a': RequireCRAM is deprecated" in caplog.text


def test_tls_versions() -> None:
    config = parse("IMAPAccount a\nHost h\nTLSVersions -1.2\n\n"
                   "IMAPAccount b\nHost h\nTLSVersions +1.2 +1.3\n\n"
                   "IMAPAccount c\nHost h\nSSLVersions TLSv1.2 TLSv1.3\n\n"
                   "IMAPAccount d\nHost h\nSSLVersion TLSv1 TLSv1.1 SSLv3\n")  # fmt: skip
    assert config.accounts["a"].tls_versions == ("-1.0", "-1.1", "-1.2", "+1.3")
    assert config.accounts["b"].tls_versions == ("-1.0", "-1.1", "+1.2", "+1.3")
    assert config.accounts["c"].tls_versions == ("-1.0", "-1.1", "+1.2", "+1.3")
    assert config.accounts["d"].tls_versions == ("+1.0", "+1.1", "-1.2", "-1.3")


def test_tls_deprecations(caplog: pytest.LogCaptureFixture) -> None:
    config = parse("IMAPAccount a\nHost h\nSSLType IMAPS\nSSLVersions TLSv1.3 TLSv1.2\n")
    assert config.accounts["a"].tls_type == "imaps"
    assert f"{RC}:3: notice: SSLType is deprecated. Use TLSType instead." in caplog.text
    assert f"{RC}:4: notice: SSLVersions is deprecated. Use TLSVersions instead." in caplog.text


@pytest.mark.parametrize(
    ("body", "tls"),
    [("UseIMAPS yes\n", "imaps"), ("RequireSSL yes\n", "starttls"),
     ("RequireSSL no\nUseTLSv1 no\n", "none"), ("UseTLSv1.2 yes\n", "starttls")],
)  # fmt: skip
def test_legacy_ssl_options(body: str, tls: str, caplog: pytest.LogCaptureFixture) -> None:
    config = parse("IMAPAccount a\nHost h\n" + body)
    assert config.accounts["a"].tls_type == tls
    assert "UseSSL*, UseTLS*, UseIMAPS, and RequireSSL are deprecated" in caplog.text


def test_legacy_ssl_conflicts_with_tls_type() -> None:
    assert errors("IMAPAccount a\nHost h\nUseIMAPS yes\nTLSType IMAPS\n") == [
        f"{RC}:1: IMAP account 'a': The deprecated UseSSL*, UseTLS*, UseIMAPS, and RequireSSL "
        "options are mutually exclusive with SSLType and SSLVersions."
    ]


def test_store_level_imap_options_are_supported(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x")
    config = parse(
        "IMAPAccount a\nHost h\nUseKeychain no\nCipherString HIGH\nClientCertificate c.pem\n"
        "ClientKey c.pem\nTLSVersions +1.3 -1.2\n\nIMAPStore s\nAccount a\nSubscribedOnly yes\n",
        path=str(tmp_path / "rc"),
    )
    a, s = config.accounts["a"], config.stores["s"]
    pem = str(tmp_path / "c.pem")
    assert (a.use_keychain, a.cipher_string, a.client_certificate, a.client_key) == (
        False, "HIGH", pem, pem
    )  # fmt: skip
    assert a.tls_versions == ("-1.0", "-1.1", "-1.2", "+1.3")
    assert isinstance(s, IMAPStoreConfig) and s.subscribed_only


# --- channels ----------------------------------------------------------------------------


def test_channel_options(tmp_path: Path) -> None:
    config = parse(
        channel(
            "Pattern INBOX\nPatterns Work* !Work/Old\nPatterns % \"With Space\"\n"
            "MaxSize 0\nCopyArrivalDate no\nSyncState state/\n"
        ),
        path=str(tmp_path / "rc"),
    )
    chan = config.channels["c"]
    assert chan.patterns == ("INBOX", "Work*", "!Work/Old", "%", "With Space")
    assert chan.max_size == 0
    assert chan.copy_arrival_date is False
    assert chan.sync_state == f"{tmp_path}/state/"
    assert chan.ops.sync is None


def test_channel_boxes() -> None:
    config = parse(STORES + "\nChannel c\nFar :far:INBOX.\nNear :near:sub/dir\n")
    assert config.channels["c"].far == BoxRef("far", "INBOX.")
    assert config.channels["c"].near == BoxRef("near", "sub/dir")


def test_master_slave(caplog: pytest.LogCaptureFixture) -> None:
    config = parse(STORES + "\nChannel c\nMaster :far:\nSlave :near:\nCreate Slave\n")
    chan = config.channels["c"]
    assert (chan.far.store, chan.near.store) == ("far", "near")
    assert chan.ops.create == frozenset({"near"})
    assert caplog.text.count("Master/Slave are deprecated; use Far/Near instead.") == 1
    assert f"{RC}:12: notice: Master/Slave are deprecated" in caplog.text


def test_channel_errors() -> None:
    assert errors(STORES + "\nChannel c\nFar far\nNear :near\n") == [
        f"{RC}:12: malformed mailbox spec",
        f"{RC}:13: malformed mailbox spec",
    ]
    assert errors(STORES + "\nChannel c\nNear :near:\n") == [
        f"{RC}:11: channel 'c' refers to no far side store"
    ]
    assert errors(STORES + "\nChannel c\nSync Pull\n") == [
        f"{RC}:11: channel 'c' refers to no far side store",
        f"{RC}:11: channel 'c' refers to no near side store",
    ]


def test_stores_must_be_defined_before_channels() -> None:
    text = "Channel c\nFar :far:\nNear :near:\n\n" + STORES
    assert errors(text) == [f"{RC}:2: unknown store 'far'", f"{RC}:3: unknown store 'near'"]


@pytest.mark.parametrize(
    ("words", "pull", "push"),
    [
        ("Pull", "new upgrade gone flags", ""),
        ("Push", "", "new upgrade gone flags"),
        ("Pull Push", "new upgrade gone flags", "new upgrade gone flags"),
        ("New", "new", "new"),
        ("Pull New Flags", "new flags", ""),
        ("New Gone", "new gone", "new gone"),
        ("All", "new old upgrade gone flags", "new old upgrade gone flags"),
        ("Full", "new old upgrade gone flags", "new old upgrade gone flags"),
        ("None", "", ""),
        ("Noop", "", ""),
        ("PullNew PushFlags", "new", "flags"),
        ("PullNew Push", "new", "new upgrade gone flags"),
        ("PushNew Pull", "new upgrade gone flags", "new"),
        ("PullNew Gone", "new gone", "gone"),
        ("PullFull", "new old upgrade gone flags", ""),
        ("PullUpgrade PushGone", "upgrade", "gone"),
        ("ReNew", "upgrade", "upgrade"),
        ("PullDelete", "gone", ""),
    ],
)
def test_sync_matrix_in_channel(words: str, pull: str, push: str) -> None:
    sync = parse(channel(f"Sync {words}\n")).channels["c"].ops.sync
    assert sync == SyncOps(pull=frozenset(pull.split()), push=frozenset(push.split()))  # type: ignore[arg-type]


def test_sync_lines_accumulate() -> None:
    sync = parse(channel("Sync Pull\nSync New\n")).channels["c"].ops.sync
    assert sync == SyncOps(pull=frozenset({"new"}), push=frozenset())


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("PullNew Pull", "Redundant Sync options specified in Channel 'c'."),
        ("PullNew New", "Redundant Sync options specified in Channel 'c'."),
        ("PullNew Gone Push", INVALID),
        ("PullNew Pull Push", INVALID),
        ("None New", "Conflicting Sync options specified in Channel 'c'."),
        ("Noop PullNew", "Conflicting Sync options specified in Channel 'c'."),
        ("Pull Bogus", "invalid Sync arg 'Bogus'"),
    ],
)  # fmt: skip
def test_sync_matrix_errors(words: str, message: str) -> None:
    line = 14 if message.startswith("invalid") else 11
    assert errors(channel(f"Sync {words}\n")) == [f"{RC}:{line}: {message}"]


def test_sync_deprecations(caplog: pytest.LogCaptureFixture) -> None:
    parse(channel("Sync PullReNew PushDelete\n"))
    assert f"{RC}:14: notice: ReNew is deprecated; use Upgrade instead." in caplog.text
    assert f"{RC}:14: notice: Delete is deprecated; use Gone instead." in caplog.text


def test_old_is_read() -> None:
    def sync(words: str) -> tuple[set[str], set[str]]:
        ops = parse(channel(f"Sync {words}\n")).channels["c"].ops.sync
        assert ops is not None
        return set(ops.pull), set(ops.push)

    assert sync("Old") == ({"old"}, {"old"})
    assert sync("PullOld") == ({"old"}, set())
    assert sync("PushOld New") == ({"new"}, {"old", "new"})
    assert "old" in sync("All")[0] & sync("All")[1]


def test_box_operations() -> None:
    config = parse(channel("Create Both\nRemove Far\nExpunge Near Far\nExpungeSolo None\n"))
    ops = config.channels["c"].ops
    assert ops.create == frozenset({"far", "near"})
    assert ops.remove == frozenset({"far"})
    assert ops.expunge == frozenset({"far", "near"})
    assert ops.expunge_solo == frozenset()


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("Create Sideways\n", 14, "invalid Create arg 'Sideways'"),
        ("Create None Far\n", 11, "Conflicting Create options specified in Channel 'c'."),
        ("Remove Both Near\n", 11, "Redundant Remove options specified in Channel 'c'."),
        ("Expunge Far\nExpungeSolo Far\n", 11,
         "Specified both Expunge and ExpungeSolo for far side of Channel 'c'."),
    ],
)  # fmt: skip
def test_box_operation_errors(body: str, line: int, message: str) -> None:
    assert errors(channel(body)) == [f"{RC}:{line}: {message}"]


def test_expunge_solo_is_supported() -> None:
    config = parse(channel("Expunge Far\nExpungeSolo Near\n"))
    assert config.channels["c"].ops.expunge_solo == frozenset({"near"})


def test_channel_expiry_and_size_options() -> None:
    config = parse(channel("MaxMessages 10\nExpireUnread yes\nExpireSide Far\nMaxSize 1k\n"
                           "CopyArrivalDate yes\n"))  # fmt: skip
    c = config.channels["c"]
    assert (c.max_messages, c.expire_unread, c.expire_side, c.max_size) == (10, True, "far", 1024)
    assert c.copy_arrival_date
    assert errors(channel("ExpireSide Middle\n")) == [
        f"{RC}:14: invalid ExpireSide argument 'Middle'"
    ]


def test_global_operations_errors() -> None:
    assert errors("Sync PullNew New\n") == [
        f"{RC}:1: Redundant Sync options specified in global config section."
    ]


def test_duplicate_names_keep_the_first(caplog: pytest.LogCaptureFixture) -> None:
    config = parse("MaildirStore s\nPath /a/\n\nMaildirStore s\nPath /b/\n")
    assert config.stores["s"].path == "/a/"
    assert f"{RC}:4: warning: Store 's' is already defined at line 1" in caplog.text


# --- groups ------------------------------------------------------------------------------


def test_groups() -> None:
    config = parse(
        channel("Patterns *\n")
        + "\nGroup g c c:INBOX,,Work later\nChannel x:a\nChannels y z:\n"
    )
    group = config.groups["g"]
    assert group.members == (
        GroupMember("c"),
        GroupMember("c", ("INBOX", "INBOX", "Work")),
        GroupMember("later"),
        GroupMember("x", ("a",)),
        GroupMember("y"),
        GroupMember("z", ("INBOX",)),
    )
    assert group.defined_at.line == 16


def test_group_without_members_is_allowed() -> None:
    assert parse("Group empty\n").groups["empty"].members == ()


# --- plugin keywords ---------------------------------------------------------------------

KEYWORDS = [
    ExtraKeyword("Global", "NotifyCmd"),
    ExtraKeyword("IMAPAccount", "PassEntry"),
    ExtraKeyword("IMAPStore", "Labels"),
    ExtraKeyword("MaildirStore", "Index"),
    ExtraKeyword("Channel", "Tags"),
    ExtraKeyword("Notmuch", "Config"),
    ExtraKeyword("Notmuch", "SyncTags"),
]


def test_plugin_keywords() -> None:
    config = parse(
        "notifycmd \"notify-send done\"\n\n"
        "IMAPAccount a\nHost h\npassentry mail/a\n\n"
        "IMAPStore s\nAccount a\nLabels yes\n\n"
        "IMAPStore inline\nHost h\nPassEntry mail/inline\n\n"
        "MaildirStore m\nPath /m/\nINDEX on\n\n"
        "Channel c\nFar :s:\nNear :m:\nTags new inbox\n\n"
        "notmuch default\nConfig ~/.notmuch-config\nsynctags no\n",
        extra_keywords=KEYWORDS,
    )
    assert config.globals.extra == {"NotifyCmd": "notify-send done"}
    assert config.accounts["a"].extra == {"PassEntry": "mail/a"}
    s, inline, m = config.stores["s"], config.stores["inline"], config.stores["m"]
    assert isinstance(s, IMAPStoreConfig) and isinstance(inline, IMAPStoreConfig)
    assert s.extra == {"Labels": "yes"}
    assert inline.account is not None and inline.account.extra == {"PassEntry": "mail/inline"}
    assert m.extra == {"Index": "on"}
    assert config.channels["c"].extra == {"Tags": "new inbox"}
    section = config.plugin_sections["Notmuch"]["default"]
    assert section.values == {"Config": "~/.notmuch-config", "SyncTags": "no"}
    assert section.keyword == "Notmuch"
    assert section.defined_at.line == 24
    # Each value's own line, for messages about it; the header for one not set.
    assert str(section.location_of("SyncTags")) == f"{RC}:26"
    assert str(section.location_of("Index")) == f"{RC}:24"


def test_plugin_keywords_are_unknown_without_the_plugin() -> None:
    assert errors("IMAPAccount a\nHost h\nPassEntry x\n") == [
        f"{RC}:3: keyword 'PassEntry' is not recognized in IMAPAccount sections"
    ]
    assert errors("Notmuch default\nConfig x\n") == [
        f"{RC}:1: 'Notmuch' is not a recognized section-starting or global keyword"
    ]


def test_unknown_keyword_in_plugin_section() -> None:
    assert errors("Notmuch default\nIndex yes\n", extra_keywords=KEYWORDS) == [
        f"{RC}:2: keyword 'Index' is not recognized in Notmuch sections"
    ]


# --- files -------------------------------------------------------------------------------


def test_load_config_reads_file(tmp_path: Path) -> None:
    rc = tmp_path / "rc"
    rc.write_text("MaildirStore s\nPath mail/\n")
    config = load_config(str(rc))
    assert config.path == str(rc)
    assert config.stores["s"].path == f"{tmp_path}/mail/"


def test_load_config_missing_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(info.value) == f"{missing}: cannot read config file: No such file or directory"


def test_load_config_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path))
    assert str(tmp_path) in str(info.value)


def test_default_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    xdg = tmp_path / ".config" / "isyncrc"
    legacy = tmp_path / ".mbsyncrc"
    with pytest.raises(ConfigError) as info:
        default_config_path()
    assert str(xdg) in str(info.value) and str(legacy) in str(info.value)
    legacy.write_text("FSync no\n")
    assert default_config_path() == str(legacy)
    assert load_config(None).globals.fsync is False
    xdg.parent.mkdir()
    xdg.write_text("FSync yes\n")
    with caplog.at_level(logging.WARNING):
        assert default_config_path() == str(xdg)
    assert f"Both {xdg} and {legacy} exist; using the former." in caplog.text
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(other))
    assert default_config_path() == str(legacy)
    (other / "isyncrc").write_text("")
    assert default_config_path() == str(other / "isyncrc")


# --- whole configurations ----------------------------------------------------------------


def test_benchmark_config(tmp_path: Path) -> None:
    """The config /work/shared/bench/bench-sync writes (mbsync and syncmail read it)."""
    cert = tmp_path / "ssl" / "cert.pem"
    cert.parent.mkdir()
    cert.write_text("x")
    maildir = tmp_path / "maildir"
    for tls, ssltype, extra in (("none", "None", "AuthMechs LOGIN"),
                                ("imaps", "IMAPS", f"CertificateFile {cert}")):  # fmt: skip
        text = f"""# written by bench-sync
IMAPAccount bench
Host 127.0.0.1
Port 10143
User bench1
Pass s3cret
SSLType {ssltype}
{extra}

IMAPStore bench-remote
Account bench

MaildirStore bench-local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel bench
Far :bench-remote:
Near :bench-local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
"""
        config = parse(text, path=str(tmp_path / "mbsyncrc"))
        account = config.accounts["bench"]
        assert account.tls_type == tls
        assert account.port == 10143
        remote = config.stores["bench-remote"]
        assert isinstance(remote, IMAPStoreConfig) and remote.account is account
        local = config.stores["bench-local"]
        assert isinstance(local, MaildirStoreConfig)
        assert local.path == f"{maildir}/" and local.inbox == f"{maildir}/INBOX"
        chan = config.channels["bench"]
        assert chan.sync_state == "*"
        assert chan.patterns == ("*",)
        assert chan.ops.create == chan.ops.expunge == frozenset({"far", "near"})
        assert chan.ops.sync is not None and "new" in chan.ops.sync.pull


GMAIL = """\
# ~/.mbsyncrc for Gmail, the way the isync wiki and many dotfiles write it
IMAPAccount gmail
Host imap.gmail.com
User someone@gmail.com
PassCmd "gpg -q --for-your-eyes-only --no-tty -d ~/.mailpass.gpg"
SSLType IMAPS
# The Debian/Ubuntu CA bundle
CertificateFile /etc/ssl/certs/ca-certificates.crt
AuthMechs LOGIN

IMAPStore gmail-remote
Account gmail

MaildirStore gmail-local
Subfolders Verbatim
Path ~/Mail/gmail/
Inbox ~/Mail/gmail/Inbox

Channel gmail-inbox
Far :gmail-remote:
Near :gmail-local:
Patterns "INBOX"
Create Both
Expunge Both
SyncState *

Channel gmail-trash
Far :gmail-remote:"[Gmail]/Trash"
Near :gmail-local:Trash
Create Both
Expunge Both
SyncState *

Channel gmail-sent
Far :gmail-remote:"[Gmail]/Sent Mail"
Near :gmail-local:Sent
Create Both
Expunge Both
SyncState *

Channel gmail-all
Far :gmail-remote:
Near :gmail-local:
Patterns * ![Gmail]* "[Gmail]/Starred" !INBOX
Create Slave
Sync Pull Flags
SyncState *

Group gmail
Channel gmail-inbox
Channel gmail-sent
Channel gmail-trash
Channel gmail-all
"""


def test_gmail_style_config(caplog: pytest.LogCaptureFixture) -> None:
    if not os.access("/etc/ssl/certs/ca-certificates.crt", os.R_OK):
        pytest.skip("no system CA bundle")
    config = parse(GMAIL, path="/home/tester/.mbsyncrc")
    account = config.accounts["gmail"]
    assert account.pass_cmd == "gpg -q --for-your-eyes-only --no-tty -d ~/.mailpass.gpg"
    assert (account.tls_type, account.port, account.auth_mechs) == ("imaps", 993, ("LOGIN",))
    assert config.channels["gmail-sent"].far == BoxRef("gmail-remote", "[Gmail]/Sent Mail")
    assert config.channels["gmail-trash"].near == BoxRef("gmail-local", "Trash")
    every = config.channels["gmail-all"]
    assert every.patterns == ("*", "![Gmail]*", "[Gmail]/Starred", "!INBOX")
    assert every.ops.create == frozenset({"near"})
    assert every.ops.sync == SyncOps(pull=frozenset({"flags"}), push=frozenset())
    assert [m.channel for m in config.groups["gmail"].members] == [
        "gmail-inbox", "gmail-sent", "gmail-trash", "gmail-all"
    ]  # fmt: skip
    local = config.stores["gmail-local"]
    assert isinstance(local, MaildirStoreConfig)
    assert local.inbox == "/home/tester/Mail/gmail/Inbox"
    assert "SSLType is deprecated" in caplog.text
    assert "Master/Slave are deprecated" in caplog.text


def test_broken_account_does_not_cascade() -> None:
    assert errors("IMAPAccount a\nUser u\n\nIMAPStore s\nAccount a\n") == [
        f"{RC}:1: IMAP account 'a' has neither Tunnel nor Host"
    ]


def test_imap_store_without_account_or_host() -> None:
    assert errors("IMAPStore s\nPath INBOX.\n") == [
        f"{RC}:1: IMAP store 's' has neither Tunnel nor Host"
    ]


# --- syncmail's own channel options ------------------------------------------------------


def test_max_delete_percent_default_global_and_channel() -> None:
    assert parse(channel("")).channels["c"].max_delete_percent == 50
    assert parse(channel("MaxDeletePercent 100\n")).channels["c"].max_delete_percent == 100
    # A global value is the default of channels defined after it; a channel's own wins.
    config = parse("MaxDeletePercent 80\n\n" + channel("") + "\nChannel d\nFar :far:\n"
                   "Near :near:\nmaxdeletepercent 0\n")  # fmt: skip
    assert config.globals.max_delete_percent == 80
    assert config.channels["c"].max_delete_percent == 80
    assert config.channels["d"].max_delete_percent == 0


def test_max_delete_percent_errors() -> None:
    problems = errors(channel("MaxDeletePercent 101\nMaxDeletePercent half\n"))
    assert problems == [
        f"{RC}:14: MaxDeletePercent must be between 0 and 100",
        f"{RC}:15: invalid integer value 'half'",
    ]
