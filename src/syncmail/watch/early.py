"""Signals that reach ``syncmail watch`` before its loop has its handlers.

A service manager may send SIGHUP (reload) or SIGUSR1 (sync now) right after it
started the watch, while Python still imports and reads the config; their default
action ends the process.  ``hold()``, called as soon as the command line says
``watch``, records them instead, and the loop takes them (``take()``) when it starts.
"""

from __future__ import annotations

import signal

_held: list[int] = []
_HELD = (signal.SIGHUP, signal.SIGUSR1)


def _record(signum: int, frame: object) -> None:
    _held.append(signum)


def hold() -> None:
    """Record SIGHUP and SIGUSR1 from now on, until the watch loop takes over."""
    for signum in _HELD:
        signal.signal(signum, _record)


def take() -> list[int]:
    """The signals held so far, oldest first; forgotten here."""
    held = list(_held)
    _held.clear()
    return held
