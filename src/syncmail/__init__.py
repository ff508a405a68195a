"""syncmail: two-way Maildir <-> IMAP sync that reads mbsync's config and state.

Plugins import ``hookimpl`` from here and receive the event objects of
``syncmail.events``.
"""

from __future__ import annotations

import pluggy

from syncmail import events

__version__ = "0.1.0"

PROJECT_NAME = "syncmail"
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "__version__", "events", "hookimpl"]
