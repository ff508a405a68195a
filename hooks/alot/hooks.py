"""alot hooks for syncmail: a `:sync` command and an optional sync before `refresh`.

Put this file where alot's ``hooksfile`` setting points (or import it from your
hooks file). The sync runs as an asyncio subprocess, so alot stays usable meanwhile.
The command is ``syncmail -a`` unless $SYNCMAIL_ALOT_COMMAND says otherwise
(e.g. ``notmuch new`` when syncmail runs from notmuch's pre-new hook).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
from typing import Any

COMMAND_ENV = "SYNCMAIL_ALOT_COMMAND"
DEFAULT_COMMAND = ("syncmail", "-a")
# Set to False to keep `refresh` from syncing first (`:sync` still works).
SYNC_ON_REFRESH = True

# Two syncs at once would only wait for each other's locks.
_state = {"running": False}


def sync_command() -> list[str]:
    raw = os.environ.get(COMMAND_ENV, "").strip()
    return shlex.split(raw) if raw else list(DEFAULT_COMMAND)


def _notify(ui: Any, message: str, priority: str = "normal", timeout: int = 0) -> Any:
    """alot's notify: timeout 0 = alot's notify_timeout, negative = until cleared."""
    if ui is None:
        return None
    return ui.notify(message, priority=priority, timeout=timeout)


def _clear(ui: Any, widget: Any) -> None:
    if ui is not None and widget is not None:
        ui.clear_notify([widget])


async def run_sync(ui: Any = None, command: list[str] | None = None, refresh: bool = False) -> int:
    """Run the sync without blocking alot; notify how it went; return its exit status."""
    argv = command or sync_command()
    if _state["running"]:
        _notify(ui, "a mail sync is already running")
        return 0
    _state["running"] = True
    busy = _notify(ui, f"syncing mail ({shlex.join(argv)})...", timeout=-1)
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            _clear(ui, busy)
            _notify(ui, f"mail sync: cannot run {argv[0]}: {exc.strerror or exc}", "error")
            return 127
        _, err = await proc.communicate()
        status = proc.returncode if proc.returncode is not None else 1
    finally:
        _state["running"] = False
    _clear(ui, busy)
    if status != 0:
        lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit status {status}"
        _notify(ui, f"mail sync failed: {detail}", "error")
        return status
    _notify(ui, "mail synced")
    if refresh:
        await _refresh(ui)
    return 0


async def _refresh(ui: Any) -> None:
    if ui is None:
        return
    try:
        from alot.commands.globals import RefreshCommand
    except ImportError:
        # Not inside alot (tests, other front ends): a plain redraw is all we can do.
        update = getattr(ui, "update", None)
        if callable(update):
            update()
        return
    await ui.apply_command(RefreshCommand())


async def pre_global_refresh(ui: Any = None, dbm: Any = None, cmd: Any = None) -> None:
    """Sync before alot's `refresh` command (which then shows the new mail)."""
    if SYNC_ON_REFRESH:
        await run_sync(ui)


try:
    from alot.commands import Command, registerCommand
except ImportError:
    pass
else:

    @registerCommand("global", "sync")
    class SyncCommand(Command):  # type: ignore[misc]
        """sync mail with syncmail, then refresh the buffers"""

        async def apply(self, ui: Any) -> None:
            await run_sync(ui, refresh=True)
