"""DetectMoves with the notmuch plugin: a message moved on the server keeps its notmuch
message (tags included): the new file is indexed before the old one is removed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.notmuch.test_e2e_dovecot import _message, _sync, _write_rc
from tests.notmuch.test_keywords_dovecot import _tag

if TYPE_CHECKING:
    from tests.notmuch.conftest import NotmuchEnv

pytest.importorskip("notmuch2")

pytestmark = [pytest.mark.dovecot, pytest.mark.notmuch]


@pytest.mark.parametrize("detect", [True, False])
def test_server_move_keeps_the_notmuch_message(
    nm: NotmuchEnv, imap_user: Any, tmp_path: Path, detect: bool
) -> None:
    c = imap_user.client()
    c.create_folder("Zoo")
    c.logout()
    imap_user.append("INBOX", _message(1), (r"\Seen",))
    imap_user.append("INBOX", _message(2))
    rc = _write_rc(nm, imap_user, tmp_path / "mbsyncrc")
    text = Path(rc).read_text().replace(
        "SyncState *\n", "SyncState *\nExpunge Both\n" + ("DetectMoves yes\n" if detect else "")
    )
    Path(rc).write_text(text)
    _sync(rc)
    # A local-only change no server knows of: "inbox" is never pushed as a keyword, and
    # a message notmuch indexed afresh would get it again from new.tags.
    _tag("1@e2e.test", add=("todo",), remove=("inbox",))
    _sync(rc)
    assert nm.tags("1@e2e.test") == {"todo"}
    c = imap_user.client()
    c.select_folder("INBOX")
    c.move(c.search(["HEADER", "Message-ID", "<1@e2e.test>"]), "Zoo")
    c.logout()
    _sync(rc)
    [path] = nm.files("1@e2e.test")
    assert "/Zoo/cur/" in path
    if detect:
        assert nm.tags("1@e2e.test") == {"todo"}
    else:
        assert "inbox" in nm.tags("1@e2e.test")
