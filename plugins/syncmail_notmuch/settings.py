"""What the notmuch plugin should do this run: its ``Notmuch`` config section, the environment."""

from __future__ import annotations

import functools
import logging
import os
import re

from syncmail.config.model import Config, ExtraKeyword, MaildirStoreConfig
from syncmail.record import record

log = logging.getLogger(__name__)

SECTION = "Notmuch"
KEYWORDS: tuple[str, ...] = (
    "Config", "Index", "SyncTags", "Keywords", "NeverPush", "MapKeywords",
)  # fmt: skip
# Set by our pre-new script; notmuch >= 0.37 also sets NOTMUCH_CONFIG for hooks.
IN_HOOK_ENV = "SYNCMAIL_IN_NOTMUCH_HOOK"
# notmuch before 0.32 keeps its write lock while pre-new runs.
FIRST_VERSION_UNLOCKED_PRE_NEW = (0, 32)

_TRUE = {"yes", "true", "on", "1"}
_FALSE = {"no", "false", "off", "0"}


def config_keywords() -> list[ExtraKeyword]:
    return [ExtraKeyword(SECTION, keyword) for keyword in KEYWORDS]


@record(frozen=True)
class Settings:
    """The plugin's settings; the defaults are what a config without a Notmuch section gets."""

    # None = the lookup notmuch itself does (NOTMUCH_CONFIG, profiles, ~/.notmuch-config).
    config_file: str | None = None
    # Where ``Config`` was set (``file:line: Config``), for messages about that file.
    config_where: str | None = None
    index: bool = True
    sync_tags: bool = True
    # Directories of the configured Maildir stores: the scope of the tag -> flag push.
    maildir_roots: tuple[str, ...] = ()
    # True when the config has a Notmuch section: problems are then warnings, not debug notes.
    configured: bool = False
    # Tags as IMAP keywords (syncmail_notmuch.tagmap): on, extra never-pushed tags,
    # incoming table entries (folded keyword -> tag, "" = ignored).
    keywords: bool = True
    never_push: tuple[str, ...] = ()
    map_keywords: tuple[tuple[str, str], ...] = ()

    @property
    def active(self) -> bool:
        return self.index or self.sync_tags


class SettingsError(Exception):
    """A bad value in the ``Notmuch`` section, already formatted as ``file:line: message``."""


def settings_from_config(config: Config) -> Settings:
    roots = _maildir_roots(config)
    sections = config.plugin_sections.get(SECTION, {})
    if not sections:
        return Settings(maildir_roots=roots)
    name = "default" if "default" in sections else next(iter(sections))
    if len(sections) > 1:
        log.warning(
            "%s: warning: more than one %s section; using %s %s",
            sections[name].defined_at,
            SECTION,
            SECTION,
            name,
        )
    section = sections[name]
    values = section.values

    def where(keyword: str) -> str:
        return f"{section.location_of(keyword)}: {keyword}"

    config_file = values.get("Config")
    if config_file:
        config_file = os.path.abspath(
            os.path.join(os.path.dirname(config.path), os.path.expanduser(config_file))
        )
    return Settings(
        config_file=config_file or None,
        config_where=where("Config") if config_file else None,
        index=_bool(values.get("Index"), True, where("Index")),
        sync_tags=_bool(values.get("SyncTags"), True, where("SyncTags")),
        maildir_roots=roots,
        configured=True,
        keywords=_bool(values.get("Keywords"), True, where("Keywords")),
        never_push=tuple((values.get("NeverPush") or "").split()),
        map_keywords=_pairs(values.get("MapKeywords"), where("MapKeywords")),
    )


def _pairs(raw: str | None, what: str) -> tuple[tuple[str, str], ...]:
    """``keyword=tag`` words (``keyword=`` ignores the keyword)."""
    out: list[tuple[str, str]] = []
    for word in (raw or "").split():
        keyword, eq, tag = word.partition("=")
        if not eq or not keyword:
            raise SettingsError(f"{what}: expected keyword=tag words, not {word!r}")
        out.append((keyword, tag))
    return tuple(out)


def _bool(raw: str | None, default: bool, what: str) -> bool:
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(f"{what}: expected yes or no, not {raw!r}")


def _maildir_roots(config: Config) -> tuple[str, ...]:
    roots: list[str] = []
    for store in config.stores.values():
        if not isinstance(store, MaildirStoreConfig):
            continue
        candidates: list[str] = []
        if store.path:
            # mbsync 1.5 allows a name prefix ("~/Mail/work-"): the root is its directory.
            candidates.append(
                store.path if store.path.endswith("/") else os.path.dirname(store.path)
            )
        if store.inbox:
            candidates.append(store.inbox)
        for candidate in candidates:
            root = os.path.realpath(candidate)
            if root not in roots:
                roots.append(root)
    return tuple(roots)


def notmuch_configured(settings: Settings) -> bool:
    """Whether notmuch's own config lookup can succeed, checked without importing notmuch2."""
    if (
        settings.config_file
        or os.environ.get("NOTMUCH_CONFIG")
        or os.environ.get("NOTMUCH_DATABASE")
    ):
        return True
    profile = os.environ.get("NOTMUCH_PROFILE")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    candidates = [
        os.path.join(xdg, "notmuch", profile or "default", "config"),
        os.path.expanduser("~/.notmuch-config" + (f".{profile}" if profile else "")),
    ]
    return any(os.path.exists(path) for path in candidates)


def in_notmuch_hook() -> bool:
    return os.environ.get(IN_HOOK_ENV, "") not in ("", "0")


@functools.cache
def notmuch_version() -> tuple[int, ...] | None:
    """The version of the notmuch CLI, or None when it is not installed or says nothing usable."""
    import subprocess  # only when asked: it costs every run start-up time

    try:
        out = subprocess.run(
            ["notmuch", "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if not match:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def may_write_database() -> bool:
    """False inside the pre-new hook of a notmuch that still holds its write lock there."""
    if not in_notmuch_hook():
        return True
    version = notmuch_version()
    return version is None or version >= FIRST_VERSION_UNLOCKED_PRE_NEW
