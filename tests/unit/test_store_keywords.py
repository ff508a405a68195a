"""Store-level options read from a config file: Flatten and MapInbox on a real Maildir tree
(checked against the real mbsync's listing), AltMap with isync's mdconvert, UseKeychain,
TLSVersions sets, DisableExtensions names."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from syncmail import flags
from syncmail.config.model import IMAPStoreConfig, MaildirStoreConfig
from syncmail.config.parser import parse_config
from syncmail.errors import BoxError, ConfigError
from syncmail.store.base import ListRequest, OutgoingMessage
from syncmail.store.maildir import MaildirStore

needs_mbsync = pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync not installed")
needs_mdconvert = pytest.mark.skipif(
    shutil.which("mdconvert") is None, reason="mdconvert (isync) not installed"
)

MAIL = b"From: a@example.org\nSubject: hi\n\nbody\n"


def maildir_config(tmp_path: Path, extra: str) -> tuple[str, MaildirStoreConfig]:
    rc = tmp_path / "mbsyncrc"
    text = (
        f"MaildirStore far\nPath {tmp_path}/far/\nInbox {tmp_path}/inbox\n{extra}\n"
        f"MaildirStore near\nPath {tmp_path}/near/\nInbox {tmp_path}/ninbox\n\n"
        "Channel c\nFar :far:\nNear :near:\nPatterns * INBOX\n"
    )
    rc.write_text(text)
    config = parse_config(text, str(rc))
    store = config.stores["far"]
    assert isinstance(store, MaildirStoreConfig)
    return str(rc), store


def make_box(path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)


def mbsync_list(rc: str) -> list[str]:
    """The boxes the real mbsync lists for channel c (far and near merged)."""
    out = subprocess.run(
        ["mbsync", "-c", rc, "-l", "c"], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.split()


# --- Flatten and MapInbox on Maildir ---------------------------------------------------------


def test_flatten_dot_maps_both_ways(tmp_path: Path) -> None:
    rc, cfg = maildir_config(tmp_path, "Flatten .\n")
    make_box(tmp_path / "far" / "Archive.2024")
    store = MaildirStore(cfg, fsync=False)
    store.connect()
    try:
        assert store.list_boxes() == ["INBOX", "Archive/2024"]
        box = store.open_box("Lists/python", create=True)  # canonical -> Path/Lists.python
        [stored] = list(box.store_messages([OutgoingMessage(MAIL, flags.SEEN)]))
        assert store.box_path("Lists/python") == f"{tmp_path}/far/Lists.python"
        assert stored.uid == 1
        assert (tmp_path / "far" / "Lists.python" / ".uidvalidity").is_file()
        assert len(os.listdir(tmp_path / "far" / "Lists.python" / "cur")) == 1
        assert store.list_boxes() == ["INBOX", "Archive/2024", "Lists/python"]
        reopened = store.open_box("Lists/python")
        assert list(reopened.list_messages(ListRequest())) == [1]
        # Flattened sub-folders of INBOX end up under Path too (mbsync's manual).
        store.open_box("INBOX/Drafts", create=True)
        assert (tmp_path / "far" / "INBOX.Drafts" / "cur").is_dir()
        with pytest.raises(BoxError, match="contains flattened hierarchy delimiter"):
            store.open_box("v1.2", create=True)
    finally:
        store.close()
    assert not (tmp_path / "far" / "Lists").exists()


@needs_mbsync
def test_flatten_listing_matches_mbsync(tmp_path: Path) -> None:
    rc, cfg = maildir_config(tmp_path, "Flatten .\n")
    for name in ("Archive.2024", "Lists.python", "Plain", "INBOX.Drafts"):
        make_box(tmp_path / "far" / name)
    make_box(tmp_path / "inbox")
    (tmp_path / "near").mkdir()
    store = MaildirStore(cfg, fsync=False)
    store.connect()
    ours = store.list_boxes()
    store.close()
    assert ours == ["INBOX", "Archive/2024", "INBOX/Drafts", "Lists/python", "Plain"]
    assert sorted(mbsync_list(rc)) == sorted(ours)


def test_map_inbox_is_the_inbox_directory(tmp_path: Path) -> None:
    rc, cfg = maildir_config(tmp_path, "MapInbox Mail/Inbox\nSubFolders Verbatim\n")
    store = MaildirStore(cfg, fsync=False)
    store.connect()
    try:
        box = store.open_box("Mail/Inbox", create=True)
        assert box.path_of(1) is None
        list(box.store_messages([OutgoingMessage(MAIL, 0)]))
        assert store.box_path("Mail/Inbox") == f"{tmp_path}/inbox"
        assert not (tmp_path / "far" / "Mail").exists()  # no real box was made
        inbox = store.open_box("INBOX")
        assert list(inbox.list_messages(ListRequest())) == [1]
        assert store.list_boxes() == ["INBOX", "Mail/Inbox"]
    finally:
        store.close()


@needs_mbsync
def test_map_inbox_listing_matches_mbsync(tmp_path: Path) -> None:
    rc, cfg = maildir_config(tmp_path, "MapInbox Inbox2\nFlatten .\n")
    for name in ("Foo", "Lists.python"):
        make_box(tmp_path / "far" / name)
    make_box(tmp_path / "inbox")
    (tmp_path / "near").mkdir()
    store = MaildirStore(cfg, fsync=False)
    store.connect()
    ours = store.list_boxes()
    store.close()
    assert ours == ["INBOX", "Foo", "Inbox2", "Lists/python"]
    assert sorted(mbsync_list(rc)) == sorted(ours)


def test_flatten_map_inbox_and_subscribed_only_are_read(tmp_path: Path) -> None:
    config = parse_config(
        "MaildirStore s\nPath /a/\nMapInbox Inbox\nFlatten .\n\n"
        "IMAPStore i\nHost h\nMapInbox In\nFlatten -\nSubscribedOnly yes\n",
        str(tmp_path / "rc"),
    )
    s, i = config.stores["s"], config.stores["i"]
    assert (s.map_inbox, s.flatten, i.map_inbox, i.flatten) == ("Inbox", ".", "In", "-")
    assert isinstance(i, IMAPStoreConfig) and i.subscribed_only


# --- AltMap --------------------------------------------------------------------------------


def _native_box(tmp_path: Path, alt_map: bool = False) -> tuple[MaildirStore, str]:
    _, cfg = maildir_config(tmp_path, "AltMap yes\n" if alt_map else "")
    store = MaildirStore(cfg, fsync=False)
    store.connect()
    box = store.open_box("Box", create=True)
    list(box.store_messages([OutgoingMessage(MAIL, flags.SEEN), OutgoingMessage(MAIL, 0)]))
    store.close()
    return store, store.box_path("Box")


def _uids(store: MaildirStore, name: str) -> list[int]:
    box = store.open_box(name)
    try:
        return sorted(box.list_messages(ListRequest()))
    finally:
        box.close()


needs_berkeleydb = pytest.mark.skipif(
    importlib.util.find_spec("berkeleydb") is None,
    reason="berkeleydb (syncmail[altmap]) not installed",
)


@needs_mdconvert
@needs_berkeleydb
def test_db_only_box_from_mdconvert_keeps_its_uids(tmp_path: Path) -> None:
    store, path = _native_box(tmp_path)
    subprocess.run(["mdconvert", "-a", path], check=True, capture_output=True, timeout=60)
    assert os.path.exists(os.path.join(path, ".isyncuidmap.db"))
    assert not os.path.exists(os.path.join(path, ".uidvalidity"))
    # The database is used whatever AltMap says (this store has AltMap no).
    assert _uids(store, "Box") == [1, 2]
    box = store.open_box("Box")
    [new] = list(box.store_messages([OutgoingMessage(MAIL, 0)]))
    box.close()
    assert new.uid == 3
    names = [n for sub in ("cur", "new") for n in os.listdir(os.path.join(path, sub))]
    assert len(names) == 3 and not any(",U=" in n for n in names)
    # And back: mdconvert reads what we wrote.
    subprocess.run(["mdconvert", "-n", path], check=True, capture_output=True, timeout=60)
    assert not os.path.exists(os.path.join(path, ".isyncuidmap.db"))
    assert _uids(store, "Box") == [1, 2, 3]


def test_alt_map_on_native_boxes_keeps_them_native(tmp_path: Path) -> None:
    _native_box(tmp_path)
    _, cfg = maildir_config(tmp_path, "AltMap yes\n")
    assert cfg.alt_map
    store = MaildirStore(cfg, fsync=False)
    store.connect()
    # An existing .uidvalidity wins over AltMap (no database library needed either).
    assert _uids(store, "Box") == [1, 2]
    path = store.box_path("Box")
    assert not os.path.exists(os.path.join(path, ".isyncuidmap.db"))
    store.close()


def test_alt_map_yes_is_supported(tmp_path: Path) -> None:
    config = parse_config("MaildirStore s\nPath /a/\nAltMap yes\n", str(tmp_path / "rc"))
    store = config.stores["s"]
    assert isinstance(store, MaildirStoreConfig) and store.alt_map
    store = parse_config("MaildirStore s\nPath /a/\nAltMap no\n", "rc").stores["s"]
    assert isinstance(store, MaildirStoreConfig) and not store.alt_map


# --- IMAP account keywords -----------------------------------------------------------------


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "rc")
    return [str(p) for p in info.value.problems]


def test_use_keychain_is_macos_only() -> None:
    assert _problems("IMAPAccount a\nHost h\nUseKeychain yes\n") == [
        "rc:3: UseKeychain is only available on macOS"
    ]
    assert _problems("IMAPAccount a\nHost h\nPass p\nUseKeychain yes\n") == [
        "rc:4: UseKeychain is only available on macOS"
    ]
    config = parse_config("IMAPAccount a\nHost h\nUseKeychain no\n", "rc")
    assert config.accounts["a"].use_keychain is False


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("TLSVersions +1.0 -1.1", "1.1 is disabled between 1.0 and 1.3"),
        ("TLSVersions +1.0 -1.1 -1.2", "1.1 and 1.2 are disabled between 1.0 and 1.3"),
        ("TLSVersions -1.2 -1.3", "no TLS version is left enabled"),
        ("SSLVersions TLSv1 TLSv1.2", "1.1 is disabled between 1.0 and 1.2"),
    ],
)
def test_tls_version_sets_with_holes_are_config_errors(line: str, message: str) -> None:
    problems = _problems(f"IMAPAccount a\nHost h\n{line}\n")
    assert len(problems) == 1
    assert problems[0].startswith("rc:3: ") and message in problems[0]


@pytest.mark.parametrize(
    ("line", "versions"),
    [
        ("TLSVersions +1.3 -1.2", ("-1.0", "-1.1", "-1.2", "+1.3")),
        ("TLSVersions +1.1", ("-1.0", "+1.1", "+1.2", "+1.3")),
        ("SSLVersions TLSv1.1 TLSv1.2", ("-1.0", "+1.1", "+1.2", "-1.3")),
        # SSLv2/SSLv3 are ignored with a warning, as in mbsync: the rest, or the default.
        ("SSLVersions SSLv3", ("-1.0", "-1.1", "+1.2", "+1.3")),
        ("SSLVersion SSLv2 SSLv3", ("-1.0", "-1.1", "+1.2", "+1.3")),
        ("SSLVersions SSLv3 TLSv1.2", ("-1.0", "-1.1", "+1.2", "-1.3")),
        ("SSLVersions TLSv1 SSLv3 TLSv1.1", ("+1.0", "+1.1", "-1.2", "-1.3")),
    ],
)
def test_usable_tls_version_sets(line: str, versions: tuple[str, ...]) -> None:
    config = parse_config(f"IMAPAccount a\nHost h\n{line}\n", "rc")
    assert config.accounts["a"].tls_versions == versions


def test_disable_extensions_accepts_condstore_and_qresync() -> None:
    config = parse_config("IMAPAccount a\nHost h\nDisableExtensions CONDSTORE qresync\n", "rc")
    assert config.accounts["a"].disable_extensions == frozenset({"CONDSTORE", "QRESYNC"})


def test_tunnel_and_tls_keywords_are_supported(tmp_path: Path) -> None:
    pem = tmp_path / "c.pem"
    pem.write_text("x")
    config = parse_config(
        'IMAPAccount a\nTunnel "ssh host /usr/lib/dovecot/imap"\nCipherString HIGH\n'
        f"ClientCertificate {pem}\nClientKey {pem}\nTLSVersions +1.3 -1.2\nPipelineDepth 1\n",
        str(tmp_path / "rc"),
    )
    a = config.accounts["a"]
    assert (a.tunnel, a.tls_type, a.host) == ("ssh host /usr/lib/dovecot/imap", "none", None)
    assert (a.cipher_string, a.client_certificate, a.client_key) == ("HIGH", str(pem), str(pem))
