"""``syncmail watch``: stay running and sync each box pair as soon as it changed.

``daemon`` runs the loop; ``server`` watches IMAP stores (NOTIFY, else IDLE), ``local``
watches Maildir stores (inotify, else polling); ``timing`` holds the clocks and delays.
The syncing itself is the engine's ``run``, called with the daemon's connected stores.
"""
