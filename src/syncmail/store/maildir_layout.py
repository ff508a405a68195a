"""Where a Maildir store keeps its boxes: canonical box name <-> directory, and box listing.

Follows mbsync 1.5 (``drv_maildir.c``: ``maildir_join_path``, ``maildir_list_*``): Inbox,
Path with its name-prefix suffix, SubFolders Verbatim / Maildir++ / Legacy, plus the
generic Flatten and MapInbox mapping, and refuses names that would lead outside the store.
"""

from __future__ import annotations

import logging
import os

from syncmail.config.model import MaildirStoreConfig
from syncmail.errors import BoxError, StoreError

log = logging.getLogger(__name__)

_MAX_DEPTH = 10
_BOX_SUBDIRS = ("cur", "new", "tmp")


class MaildirBoxError(BoxError):
    """A box of a Maildir store cannot be used; the channel is not known down here."""

    def __init__(self, store: str, box: str, message: str) -> None:
        super().__init__("", box, message)
        self.store = store

    def __str__(self) -> str:
        return f"Maildir store {self.store}, box {self.box}: {self.message}"


class MaildirLayout:
    """Name mapping and listing for one ``MaildirStore`` configuration."""

    def __init__(self, cfg: MaildirStoreConfig) -> None:
        self.store = cfg.name
        self.style = cfg.subfolders
        self.flatten = cfg.flatten or ""
        self.map_inbox = cfg.map_inbox
        self.inbox = os.path.normpath(cfg.inbox or os.path.expanduser("~/Maildir"))
        # mbsync 1.5: the text after the last '/' of Path is a prefix of every box name.
        self.root: str | None = None
        self.suffix = ""
        if cfg.path is not None and self.style != "maildir++":
            cut = cfg.path.rfind("/")
            if cut < 0:
                self.root, self.suffix = ".", cfg.path
            else:
                self.root = os.path.normpath(cfg.path[:cut] or "/")
                self.suffix = cfg.path[cut + 1 :]

    # --- canonical name -> directory ------------------------------------------------

    def _error(self, box: str, message: str) -> MaildirBoxError:
        return MaildirBoxError(self.store, box, message)

    def driver_name(self, name: str) -> str:
        """The store's own spelling of canonical ``name`` (MapInbox, Flatten applied)."""
        if not name or "\0" in name:
            raise self._error(repr(name), f"refusing mailbox name {name!r}: empty or contains NUL")
        for part in name.split("/"):
            if part in ("", ".", ".."):
                raise self._error(
                    name, f"refusing mailbox name '{name}': empty, '.' or '..' component"
                )
        if self.map_inbox is not None and name == self.map_inbox:
            return "INBOX"
        if self.flatten and self.flatten != "/":
            if self.flatten in name:
                raise self._error(
                    name,
                    f"canonical mailbox name '{name}' contains flattened hierarchy delimiter",
                )
            return name.replace("/", self.flatten)
        return name

    def box_dir(self, name: str) -> str:
        """Directory of the box with canonical ``name``; MaildirBoxError if it cannot be one."""
        box = self.driver_name(name)
        for part in box.split("/"):
            if part in ("", ".", ".."):
                raise self._error(
                    name,
                    f"refusing mailbox name '{name}': empty, '.' or '..' component",
                )
        if box == "INBOX":
            return self.inbox
        if box.startswith("INBOX/"):
            return self._join(name, True, box[5:])
        return self._join(name, False, box)

    def _join(self, name: str, in_inbox: bool, box: str) -> str:
        if "/" in box and self.style is None:
            raise self._error(
                name,
                f"accessing subfolder '{box.lstrip('/')}', but store '{self.store}' "
                "does not specify SubFolders style",
            )
        if self.style == "maildir++" and "." in box:
            raise self._error(
                name,
                f"SubFolders style Maildir++ does not support dots in mailbox names ('{name}')",
            )
        if in_inbox or self.style == "maildir++":
            base = self.inbox
            rel = "." if self.style == "maildir++" else ""
        else:
            if self.root is None:
                raise self._error(name, f"store '{self.store}' has no Path")
            base = self.root
            rel = self.suffix
        if self.style == "maildir++":
            rel += box.replace("/", ".")
        elif self.style == "legacy":
            rel += box.replace("/", "/.")
        else:
            rel += box
        rel = rel.lstrip("/")
        # A name must never reach a box's own cur/new/tmp (or leave the base).
        for i, part in enumerate(rel.split("/")):
            if part in ("", ".", ".."):
                raise self._error(name, f"refusing mailbox name '{name}': leads to '{rel}'")
            if part in _BOX_SUBDIRS:
                under_root = i == 0 and not in_inbox and self.style != "maildir++"
                if not under_root or base == self.inbox or os.path.isdir(os.path.join(base, "cur")):
                    raise self._error(
                        name,
                        f"refusing mailbox name '{name}': '{part}' would be inside a mailbox",
                    )
        return os.path.join(base, rel)

    # --- listing -------------------------------------------------------------------

    def list_boxes(self, *, inbox: bool = True) -> list[str]:
        """Canonical names of all boxes (INBOX always unless not ``inbox``: it is
        created on demand; without ``inbox`` only when it is found under Path)."""
        found: list[str] = []
        if self.style == "maildir++":
            self._list_maildirpp(found)
        else:
            state = {"inbox_listed": False}
            if self.root is not None:
                self._recurse(found, state, 0, self.root.rstrip("/") + "/", "", self.suffix)
            if inbox and not state["inbox_listed"]:
                self._list_inbox(found, state)
        names: list[str] = []
        for box in found:
            if self.flatten and self.flatten != "/":
                if "/" in box:
                    raise StoreError(
                        self.store,
                        f"flattened mailbox name '{box}' contains canonical hierarchy delimiter",
                    )
                box = box.replace(self.flatten, "/")
            names.append(box)
        if self.map_inbox is not None:
            names.append(self.map_inbox)
        return sorted(set(names), key=lambda n: (n != "INBOX", n))

    def _list_inbox(self, found: list[str], state: dict[str, bool]) -> None:
        state["inbox_listed"] = True
        found.append("INBOX")
        self._recurse(found, state, 1, self.inbox.rstrip("/") + "/", "INBOX/", "")

    def _recurse(
        self,
        found: list[str],
        state: dict[str, bool],
        depth: int,
        path: str,
        name: str,
        suffix: str,
    ) -> None:
        try:
            with os.scandir(path) as it:
                entries = [(e.name, e.is_dir()) for e in it]
        except (FileNotFoundError, NotADirectoryError):
            # A missing Path is an empty store: boxes get created below it on demand.
            return
        except OSError as e:
            raise StoreError(self.store, f"cannot list {path}: {e.strerror}") from None
        if depth > 1 and self.style is None:
            raise StoreError(
                self.store,
                f"found subfolder '{name[:-1]}', but store '{self.store}' "
                "does not specify SubFolders style",
            )
        if depth > _MAX_DEPTH:
            raise StoreError(self.store, f"path {path} is too deeply nested. Symlink loop?")
        warned = False
        for ent, is_dir in sorted(entries):
            if ent in _BOX_SUBDIRS or not is_dir:
                continue
            full = path + ent
            if suffix:
                if not ent.startswith(suffix):
                    continue
                if ent == suffix:
                    raise StoreError(
                        self.store,
                        f"empty mailbox name under {path} - did you forget the trailing slash?",
                    )
                ent = ent[len(suffix) :]
            if full == self.inbox:
                # The Inbox nested in Path is listed as INBOX, not under its directory name.
                if not state["inbox_listed"]:
                    self._list_inbox(found, state)
                continue
            if self.style == "legacy":
                if ent.startswith("."):
                    if not depth:
                        continue
                    ent = ent[1:]
                elif depth:
                    continue
            if not name and ent == "INBOX":
                if not warned:
                    warned = True
                    log.warning("Maildir warning: ignoring INBOX in %s", path)
                continue
            box = name + ent
            if os.path.isdir(full + "/cur"):
                found.append(box)
            self._recurse(found, state, depth + 1, full + "/", box + "/", "")

    def _list_maildirpp(self, found: list[str]) -> None:
        found.append("INBOX")
        path = self.inbox.rstrip("/") + "/"
        try:
            with os.scandir(path) as it:
                entries = sorted(e.name for e in it)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as e:
            raise StoreError(self.store, f"cannot list {path}: {e.strerror}") from None
        warned = False
        for ent in entries:
            if not ent.startswith(".") or len(ent) < 2:
                continue
            rest = ent[1:]
            if rest.startswith("."):
                rest = rest[1:]
                if not rest:
                    continue
                box = "INBOX/" + rest.replace(".", "/")
            else:
                if rest == "INBOX" or rest.startswith("INBOX."):
                    if not warned:
                        warned = True
                        log.warning("Maildir warning: ignoring INBOX in %s", path)
                    continue
                box = rest.replace(".", "/")
            if os.path.isdir(path + ent + "/cur"):
                found.append(box)
