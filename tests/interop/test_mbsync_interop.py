"""syncmail and the real mbsync (Debian's 1.4.4) take turns on one config, Maildir and state.

What users see must hold (mbsync.md section 10): nothing downloaded twice, nothing lost or
doubled, each tool accepts the other's state, flags changed by one are seen by the other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from tests.conftest import ImapUser

pytestmark = [
    pytest.mark.interop,
    pytest.mark.dovecot,
    pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync (isync) is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]

# mbsync 1.4.4 spellings (SSLType, no Gone/Upgrade), which syncmail must read as well.
RC = """\
IMAPAccount acc
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account acc

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel ch
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""


def message(n: int, folder: str = "INBOX") -> bytes:
    return (
        f"From: Sender {n} <s{n}@example.org>\r\n"
        f"To: me@example.org\r\n"
        f"Subject: {folder} message {n}\r\n"
        f"Date: Mon, 04 Mar 2024 10:{n % 60:02d}:00 +0000\r\n"
        f"Message-ID: <interop-{folder.replace('/', '.')}-{n}@example.org>\r\n"
        f"\r\n"
        f"Body of message {n}.\r\n"
    ).encode()


def write_rc(tmp_path: Path, user: ImapUser) -> Path:
    mail = tmp_path / "mail"
    mail.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(RC.format(port=user.port, user=user.name, password=user.password, mail=mail))
    return rc


def run_mbsync(rc: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"mbsync failed:\n{proc.stdout}\n{proc.stderr}"
    # Anything beyond the expected plain-text login warning means mbsync disliked something.
    unexpected = [ln for ln in proc.stderr.splitlines() if "sent in the clear" not in ln]
    assert not unexpected, proc.stderr
    return proc


def run_syncmail(rc: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT / "plugins"), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, "-m", "syncmail", "-c", str(rc), "-a", *args],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert proc.returncode == 0, f"syncmail failed:\n{proc.stdout}\n{proc.stderr}"
    expected = ("sent in the clear", "SSLType is deprecated")
    unexpected = [ln for ln in proc.stderr.splitlines() if not any(e in ln for e in expected)]
    assert not unexpected, proc.stderr
    return proc


def local_files(mail: Path) -> dict[str, tuple[int, int]]:
    """Message files by path below the Maildir root: (inode, mtime_ns)."""
    files = {}
    for path in mail.rglob("*"):
        if path.is_file() and path.parent.name in ("cur", "new"):
            st = path.stat()
            files[str(path.relative_to(mail))] = (st.st_ino, st.st_mtime_ns)
    return files


def by_stem(files: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Keyed by box + unique part of the name: a flag change renames, it does not copy."""
    return {
        f"{Path(p).parent.parent}/{Path(p).name.partition(':2,')[0]}": v for p, v in files.items()
    }


def local_ids(mail: Path) -> Counter[tuple[str, str]]:
    ids: Counter[tuple[str, str]] = Counter()
    parser = BytesHeaderParser()
    for path in mail.rglob("*"):
        if path.is_file() and path.parent.name in ("cur", "new"):
            box = str(path.parent.parent.relative_to(mail))
            ids[(box, str(parser.parsebytes(path.read_bytes())["Message-ID"]))] += 1
    return ids


def local_flags(mail: Path, message_id: str) -> str:
    parser = BytesHeaderParser()
    for path in mail.rglob("*"):
        if path.is_file() and path.parent.name in ("cur", "new"):
            if parser.parsebytes(path.read_bytes())["Message-ID"] == message_id:
                return path.name.partition(":2,")[2]
    raise AssertionError(f"{message_id} not in the Maildir")


def set_local_flag(mail: Path, message_id: str, letter: str) -> None:
    parser = BytesHeaderParser()
    for path in mail.rglob("*"):
        if path.is_file() and path.parent.name in ("cur", "new"):
            if parser.parsebytes(path.read_bytes())["Message-ID"] == message_id:
                base, _, flags = path.name.partition(":2,")
                new = "".join(sorted(set(flags + letter)))
                path.rename(path.parent.parent / "cur" / f"{base}:2,{new}")
                return
    raise AssertionError(f"{message_id} not in the Maildir")


def server_ids(user: ImapUser) -> Counter[tuple[str, str]]:
    ids: Counter[tuple[str, str]] = Counter()
    client = user.client()
    try:
        for _flags, _delim, name in client.list_folders():
            box = name if isinstance(name, str) else name.decode()
            client.select_folder(box, readonly=True)
            uids = client.search("ALL")
            if not uids:
                continue
            fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for data in fetched.values():
                header = data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
                mid = BytesHeaderParser().parsebytes(header)["Message-ID"]
                ids[(box, str(mid))] += 1
    finally:
        client.logout()
    return ids


def server_flags(user: ImapUser, box: str, message_id: str) -> set[str]:
    client = user.client()
    try:
        client.select_folder(box, readonly=True)
        uids = client.search(["HEADER", "Message-ID", message_id])
        assert len(uids) == 1, f"{message_id}: {len(uids)} copies on the server"
        flags = client.get_flags(uids)[uids[0]]
        return {f.decode() if isinstance(f, bytes) else f for f in flags}
    finally:
        client.logout()


def set_server_flag(user: ImapUser, box: str, message_id: str, flag: str) -> None:
    client = user.client()
    try:
        client.select_folder(box)
        uids = client.search(["HEADER", "Message-ID", message_id])
        client.add_flags(uids, [flag])
    finally:
        client.logout()


def fill_server(user: ImapUser) -> None:
    for n in range(1, 9):
        user.append("INBOX", message(n), ("\\Seen",) if n % 2 else ())
    for n in range(1, 5):
        user.append("Work", message(n, "Work"), ("\\Flagged",) if n == 1 else ())


def assert_no_duplicates(user: ImapUser, mail: Path) -> None:
    local, remote = local_ids(mail), server_ids(user)
    assert all(c == 1 for c in local.values()), f"local duplicates: {local}"
    assert all(c == 1 for c in remote.values()), f"server duplicates: {remote}"
    assert set(local) == set(remote)


def test_syncmail_continues_where_mbsync_left_off(imap_user: ImapUser, tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    rc = write_rc(tmp_path, imap_user)
    fill_server(imap_user)

    run_mbsync(rc)
    before = local_files(mail)
    assert len(before) == 12
    assert_no_duplicates(imap_user, mail)

    # Same config, same state: nothing is downloaded again, no file is rewritten.
    run_syncmail(rc)
    assert local_files(mail) == before
    assert_no_duplicates(imap_user, mail)

    # New mail and flag changes on both sides, synced by syncmail.
    imap_user.append("INBOX", message(100))
    imap_user.append("Work", message(101, "Work"))
    set_server_flag(imap_user, "INBOX", "<interop-INBOX-2@example.org>", "\\Flagged")
    set_local_flag(mail, "<interop-Work-3@example.org>", "S")
    run_syncmail(rc)
    after = local_files(mail)
    assert len(after) == 14
    # Existing messages stay the same files (a flag change is a rename, same inode).
    old = by_stem(before)
    new = by_stem(after)
    assert all(new[k][0] == v[0] for k, v in old.items())
    assert "F" in local_flags(mail, "<interop-INBOX-2@example.org>")
    assert "\\Seen" in server_flags(imap_user, "Work", "<interop-Work-3@example.org>")
    assert_no_duplicates(imap_user, mail)

    # Back to mbsync: it accepts syncmail's state and downloads nothing twice.
    run_mbsync(rc)
    assert set(by_stem(local_files(mail))) == set(new)
    assert_no_duplicates(imap_user, mail)

    # Flags changed by mbsync are seen by syncmail's next run and the other way round.
    set_local_flag(mail, "<interop-INBOX-4@example.org>", "F")
    run_mbsync(rc)
    assert "\\Flagged" in server_flags(imap_user, "INBOX", "<interop-INBOX-4@example.org>")
    set_server_flag(imap_user, "INBOX", "<interop-INBOX-6@example.org>", "\\Answered")
    run_syncmail(rc)
    assert "R" in local_flags(mail, "<interop-INBOX-6@example.org>")
    assert_no_duplicates(imap_user, mail)


def test_mbsync_continues_where_syncmail_left_off(imap_user: ImapUser, tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    rc = write_rc(tmp_path, imap_user)
    fill_server(imap_user)

    run_syncmail(rc)
    before = local_files(mail)
    assert len(before) == 12
    assert_no_duplicates(imap_user, mail)

    run_mbsync(rc)
    assert local_files(mail) == before
    assert_no_duplicates(imap_user, mail)

    # A message written locally is uploaded once, whichever tool runs next.
    draft = mail / "INBOX" / "cur" / "1700000000.local1.host:2,S"
    draft.write_bytes(message(200).replace(b"\r\n", b"\n"))
    run_syncmail(rc)
    run_mbsync(rc)
    run_syncmail(rc)
    remote = server_ids(imap_user)
    assert remote[("INBOX", "<interop-INBOX-200@example.org>")] == 1
    assert_no_duplicates(imap_user, mail)


def test_syncmail_dry_run_after_mbsync_changes_nothing(
    imap_user: ImapUser, tmp_path: Path
) -> None:
    mail = tmp_path / "mail"
    rc = write_rc(tmp_path, imap_user)
    fill_server(imap_user)
    run_mbsync(rc)
    imap_user.append("INBOX", message(300))
    state_files = {p: p.read_bytes() for p in mail.rglob(".mbsyncstate*")}
    before = local_files(mail)

    proc = run_syncmail(rc, "-y")
    assert "would pull 1 new message(s)" in proc.stdout
    assert local_files(mail) == before
    assert {p: p.read_bytes() for p in mail.rglob(".mbsyncstate*")} == state_files

    # mbsync then fetches the new message exactly once.
    run_mbsync(rc)
    assert len(local_files(mail)) == len(before) + 1
    assert_no_duplicates(imap_user, mail)
