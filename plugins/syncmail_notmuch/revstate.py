"""The notmuch revision up to which tag changes are already reflected in Maildir flags."""

from __future__ import annotations

import json
import logging
import os

from syncmail import jsontext
from syncmail.record import record

log = logging.getLogger(__name__)


@record(frozen=True)
class Revision:
    """``db.revision()``; a different ``uuid`` means the database was rebuilt."""

    rev: int
    uuid: str


def state_path(database_path: str) -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    key = os.path.realpath(database_path).replace("/", "!")
    return os.path.join(base, "syncmail", "notmuch", key + ".json")


def load(database_path: str) -> Revision | None:
    path = state_path(database_path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = jsontext.loads(handle.read())
        return Revision(int(data["rev"]), str(data["uuid"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: unreadable notmuch revision state (%s); starting afresh", path, exc)
        return None


def save(database_path: str, revision: Revision) -> None:
    path = state_path(database_path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"rev": revision.rev, "uuid": revision.uuid}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def from_db(db: object) -> Revision:
    raw = db.revision()  # type: ignore[attr-defined]
    uuid = raw.uuid.decode() if isinstance(raw.uuid, bytes) else str(raw.uuid)
    return Revision(int(raw.rev), uuid)
