"""Bounded retries after a lost connection: how often, how long to wait, what is worth it.

Work that broke because its connection was lost (cut, timed out, out of step) is done
again on a new connection after a back-off - a box pair from its journal, so nothing
is done twice.  What a new connection would only repeat (a refused login, a certificate
that does not verify, a limit exceeded) is not retried.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

from syncmail.errors import ConnectionFailed

log = logging.getLogger(__name__)

# Seconds to wait before each new try; their number is the most retries of one piece
# of work (a box pair, or opening a channel's stores).
RETRY_DELAYS = (1.0, 3.0, 8.0)
# Tests only: a factor on those delays (0 for no waiting).
RETRY_SCALE_ENV = "SYNCMAIL_TEST_RETRY_SCALE"

T = TypeVar("T")

__all__ = ["RETRY_DELAYS", "RETRY_SCALE_ENV", "retrying"]


def retrying(
    attempt: Callable[[], T], recover: Callable[[ConnectionFailed], None], what: str
) -> tuple[T, int]:
    """``attempt()``, and again after each lost connection, at most ``len(RETRY_DELAYS)``
    more times; returns its value and how many retries it took.

    ``recover`` drops the broken connection before the wait (it may raise to stop the
    retries, e.g. for a store the run has given up on).  The last error, or one not
    worth retrying, is raised.
    """
    retries = 0
    while True:
        try:
            return attempt(), retries
        except ConnectionFailed as e:
            recover(e)
            if not e.retryable or retries >= len(RETRY_DELAYS):
                raise
            log.warning(
                "Warning: %s; %s again (retry %d of %d)",
                e, what, retries + 1, len(RETRY_DELAYS),
            )  # fmt: skip
            time.sleep(RETRY_DELAYS[retries] * _scale())
            retries += 1


def _scale() -> float:
    try:
        return max(float(os.environ.get(RETRY_SCALE_ENV, "1")), 0.0)
    except ValueError:
        return 1.0
