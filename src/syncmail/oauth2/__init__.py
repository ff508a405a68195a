"""OAuth2 for IMAP: the XOAUTH2/OAUTHBEARER SASL mechanisms and a token manager.

Nothing here is imported unless an account uses OAuth2: ``sasl`` by the IMAP login,
the rest by ``syncmail oauth2 ...`` and by a ``PassCmd "syncmail oauth2 token A"``
taken in-process.
"""

from __future__ import annotations

__all__ = ["OAUTH_MECHANISMS"]

# Preferred first, as mbsync's "most secure choice" would have it: OAUTHBEARER is the
# standard (RFC 7628), XOAUTH2 the older Google/Microsoft form.
OAUTH_MECHANISMS = ("OAUTHBEARER", "XOAUTH2")
