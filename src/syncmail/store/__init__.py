"""Mail stores: the Store contract (``base``) and its drivers (``imap``, ``maildir``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from syncmail.config.model import IMAPStoreConfig, MaildirStoreConfig, StoreConfig

if TYPE_CHECKING:
    from syncmail.config.model import Config
    from syncmail.store.base import Store


def make_store(store: StoreConfig, config: Config, plugin_manager: Any = None) -> Store:
    """The driver for ``store``; nothing is opened or connected yet."""
    if isinstance(store, MaildirStoreConfig):
        from syncmail.store.maildir import MaildirStore

        return MaildirStore(store, fsync=config.globals.fsync)
    if isinstance(store, IMAPStoreConfig):
        from syncmail.store.imap import IMAPStore

        return IMAPStore(
            store, plugin_manager=plugin_manager, buffer_limit=config.globals.buffer_limit
        )
    raise TypeError(f"no driver for {type(store).__name__}")
