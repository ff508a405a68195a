"""The watcher's clocks: quiet periods, reconnect back-off, and suspend detection. Pure."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable
from dataclasses import field

from syncmail.record import record

# A box's sync waits this long after its last change (renames come in bursts)...
QUIET = 0.2
# ...but never longer than this after its first one.
QUIET_CAP = 2.0
# Reconnect back-off: first wait, longest wait, and the jitter (a fraction either way).
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
BACKOFF_JITTER = 0.2
# A jump of the boot-time clock over the monotonic clock longer than this is a suspend.
SUSPEND_JUMP = 5.0


@record
class Debouncer:
    """When each key's work is due: ``quiet`` after its last event, at most ``cap`` after
    its first (goimapnotify's wait / maxDelay)."""

    quiet: float = QUIET
    cap: float = QUIET_CAP
    _first: dict[Hashable, float] = field(default_factory=dict)
    _due: dict[Hashable, float] = field(default_factory=dict)

    def touch(self, key: Hashable, now: float, *, delay: float | None = None) -> None:
        """An event for ``key`` at ``now`` (``delay`` instead of ``quiet``: a retry)."""
        first = self._first.setdefault(key, now)
        if delay is not None:
            self._due[key] = min(self._due.get(key, now + delay), now + delay)
            return
        self._due[key] = min(now + self.quiet, first + self.cap)

    def next_due(self) -> float | None:
        return min(self._due.values(), default=None)

    def pop_due(self, now: float) -> list[Hashable]:
        """The keys due at ``now``, forgotten (a later event starts them again)."""
        due = [k for k, t in self._due.items() if t <= now]
        for key in due:
            del self._due[key]
            del self._first[key]
        return due

    def __len__(self) -> int:
        return len(self._due)


@record
class Backoff:
    """Waits between reconnects: 1 s, doubling up to 5 minutes, with jitter."""

    first: float = BACKOFF_FIRST
    cap: float = BACKOFF_MAX
    jitter: float = BACKOFF_JITTER
    rand: Callable[[], float] = random.random
    failures: int = 0

    def next_wait(self) -> float:
        """The wait before the next try; each call counts one more failure."""
        base = min(self.first * 2.0 ** min(self.failures, 64), self.cap)
        self.failures += 1
        return base * (1.0 + self.jitter * (2.0 * self.rand() - 1.0))

    def reset(self) -> None:
        self.failures = 0


def _boottime() -> float:
    return float(time.clock_gettime(time.CLOCK_BOOTTIME))


@record
class SuspendDetector:
    """A suspend shows as the boot-time clock (which counts sleep) running ahead of the
    monotonic clock (which does not); checked at every wake-up of the loop."""

    jump: float = SUSPEND_JUMP
    boottime: Callable[[], float] = _boottime
    monotonic: Callable[[], float] = time.monotonic
    _offset: float | None = None

    def slept(self) -> float:
        """Seconds slept since the last call (0.0 when none worth mentioning)."""
        offset = self.boottime() - self.monotonic()
        previous, self._offset = self._offset, offset
        if previous is None or offset - previous < self.jump:
            return 0.0
        return offset - previous
