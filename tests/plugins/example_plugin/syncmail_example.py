"""Example syncmail plugin: log each new message, pause syncing while a file exists."""

from __future__ import annotations

import os

from syncmail import hookimpl
from syncmail.events import NewMessage


@hookimpl
def syncmail_pre_sync(config, targets):
    if os.path.exists(os.path.expanduser("~/.syncmail-pause")):
        return "paused: remove ~/.syncmail-pause to sync again"
    return None


@hookimpl
def syncmail_new_message(event: NewMessage) -> None:
    log = os.environ.get("SYNCMAIL_EXAMPLE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{event.channel} {event.box} {event.side} UID {event.uid} {event.flags}\n")
