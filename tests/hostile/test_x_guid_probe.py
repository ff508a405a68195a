"""DetectMoves against a server that is not Dovecot: the FETCH item X-GUID that asks
for Dovecot's message id is refused with BAD once per run, which costs one listing
again, no failure and no warning; moves then go by Message-ID."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.conftest import run_syncmail, write_rc
from tests.hostile.server import Box, HostileServer, Message
from tests.hostile.test_hostile_server import count, messages


def test_a_bad_to_x_guid_is_no_failure(tmp_path: Path) -> None:
    inbox, other = Box("INBOX", messages(3)), Box("Other")
    with HostileServer([inbox, other]) as server:
        rc = write_rc(tmp_path, server.port)
        rc.write_text(rc.read_text() + "DetectMoves yes\nExpunge Near\n")
        first = run_syncmail(rc, "-a")
        assert first.returncode == 0, first.stderr
        # Message 3 moved on the server (another client).
        moved = inbox.messages.pop()
        other.messages.append(Message(1, moved.body))
        server.commands.clear()
        run = run_syncmail(rc, "-a")
        commands = list(server.commands)
    assert run.returncode == 0, run.stderr
    said = [ln for ln in run.stderr.splitlines() if "sent in the clear" not in ln]
    assert not [ln for ln in said if "warning" in ln.lower() or "error" in ln.lower()], said
    # One probe for the store, not one per box, on the connection that goes on.
    assert len([c for c in commands if "X-GUID" in c]) == 1, commands
    assert not [c for c in commands if "BODY.PEEK[]" in c], commands
    root = tmp_path / "mail"
    assert (count(root, "INBOX"), count(root, "Other")) == (2, 1)
