"""Test plugin: append one JSON line per hook call to ``$SYNCMAIL_RECORDER_LOG``.

Installed by entry point (group ``syncmail``, name ``recorder``) so that the tests see
exactly what a third-party plugin sees. Without ``$SYNCMAIL_RECORDER_LOG`` it does
nothing, so it is harmless in every other test. ``$SYNCMAIL_RECORDER_WATCH`` may name
sync state files (``os.pathsep``-separated): each record then carries what each file held,
and whether its ``.new``/``.journal`` existed, when the hook was called, so that a test can
check that events follow the state commit.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Any

from syncmail import hookimpl
from syncmail.config.model import Config, ExtraKeyword, Target
from syncmail.events import (
    CredentialRequest,
    FlagsChanged,
    MessageRemoved,
    NewMessage,
    RunSummary,
)

LOG_ENV = "SYNCMAIL_RECORDER_LOG"
WATCH_ENV = "SYNCMAIL_RECORDER_WATCH"


def _watched(path: str) -> dict[str, Any]:
    def read(name: str) -> str | None:
        try:
            with open(name, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return None

    return {
        "state": read(path),
        "new_exists": os.path.exists(path + ".new"),
        "journal_exists": os.path.exists(path + ".journal"),
    }


def _record(hook: str, **args: Any) -> None:
    log = os.environ.get(LOG_ENV)
    if not log:
        return
    entry: dict[str, Any] = {"hook": hook, "pid": os.getpid(), "args": args}
    watch = os.environ.get(WATCH_ENV)
    if watch:
        entry["watched"] = {path: _watched(path) for path in watch.split(os.pathsep) if path}
    # One write per line in append mode: lines of one run never interleave.
    with open(log, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")


def _event(event: Any) -> dict[str, Any]:
    return {"type": type(event).__name__, **dataclasses.asdict(event)}


@hookimpl
def syncmail_config_keywords() -> list[ExtraKeyword]:
    _record("syncmail_config_keywords")
    return []


@hookimpl
def syncmail_pre_sync(config: Config, targets: Sequence[Target]) -> str | None:
    _record(
        "syncmail_pre_sync",
        config=config.path,
        channels=sorted(config.channels),
        targets=[[t.channel, None if t.boxes is None else list(t.boxes)] for t in targets],
    )
    return None


@hookimpl
def syncmail_new_message(event: NewMessage) -> None:
    args = _event(event)
    # Whether the file is there when the plugin hears of it (it must be, for indexing).
    args["path_exists"] = event.path is not None and os.path.exists(event.path)
    _record("syncmail_new_message", event=args)


@hookimpl
def syncmail_flags_changed(event: FlagsChanged) -> None:
    args = _event(event)
    args["path_exists"] = event.path is not None and os.path.exists(event.path)
    _record("syncmail_flags_changed", event=args)


@hookimpl
def syncmail_message_removed(event: MessageRemoved) -> None:
    args = _event(event)
    args["path_exists"] = event.path is not None and os.path.exists(event.path)
    _record("syncmail_message_removed", event=args)


@hookimpl
def syncmail_post_sync(summary: RunSummary) -> None:
    _record("syncmail_post_sync", summary=dataclasses.asdict(summary))


@hookimpl
def syncmail_get_credentials(request: CredentialRequest) -> str | None:
    # Recorded, never answered: the built-in provider must still get the question.
    _record("syncmail_get_credentials", request=dataclasses.asdict(request))
    return None


@hookimpl
def syncmail_watch_started(config: Config, targets: Sequence[Target]) -> None:
    _record(
        "syncmail_watch_started",
        channels=sorted(config.channels),
        targets=[[t.channel, None if t.boxes is None else list(t.boxes)] for t in targets],
    )


@hookimpl
def syncmail_watch_stopped() -> None:
    _record("syncmail_watch_stopped")
