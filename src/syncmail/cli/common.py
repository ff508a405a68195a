"""What every command needs: where output goes, the plugin manager, the config."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from syncmail.record import record

if TYPE_CHECKING:
    import pluggy

    from syncmail.config.model import Config

from syncmail.cli.argv import Invocation, UsageError

log = logging.getLogger(__name__)


@record
class _Output:
    """Where things go: results on stdout, progress and messages on stderr."""

    out: TextIO
    err: TextIO


def _plugin_selection(inv: Invocation) -> tuple[list[str], list[str] | None]:
    """``-p`` values as (disabled, only): ``no:NAME`` disables, any plain NAME selects."""
    disabled = [v[3:] for v in inv.plugins if v.startswith("no:")]
    only = [v for v in inv.plugins if not v.startswith("no:")]
    return disabled, (only or None)


def _plugin_manager(inv: Invocation) -> pluggy.PluginManager:
    """The run's plugin manager, as ``-p``/``--strict-plugins`` ask (before the config is read)."""
    from syncmail.entrypoints import entry_points
    from syncmail.plugins import BUILTIN_PLUGINS, ENTRY_POINT_GROUP, make_plugin_manager

    disabled, only = _plugin_selection(inv)
    for name in disabled:
        if name in BUILTIN_PLUGINS:
            raise UsageError(f"-p no:{name}: the built-in plugin {name} cannot be disabled.")
    if not inv.plugins:
        # Nothing to check: skip a second scan of every installed distribution.
        return make_plugin_manager(strict=inv.strict_plugins)
    installed = {ep.name for ep in entry_points(ENTRY_POINT_GROUP)}
    installed.update(BUILTIN_PLUGINS)
    for name in only or ():
        if name not in installed:
            raise UsageError(
                f"-p {name}: no plugin named '{name}' is installed "
                f"(installed: {', '.join(sorted(installed))})."
            )
    for name in disabled:
        if name not in installed:
            log.warning("-p no:%s: no plugin named '%s' is installed", name, name)
    return make_plugin_manager(disabled=disabled, only=only, strict=inv.strict_plugins)


def _config_disabled(inv: Invocation, config: Config) -> list[str]:
    """``DisablePlugins`` minus what ``-p`` names: ``-p NAME`` wins, ``no:NAME`` is listed."""
    off, only = _plugin_selection(inv)
    return [n for n in config.globals.disable_plugins if n not in (only or ()) and n not in off]


def _load_config(inv: Invocation, keywords: Sequence[Any]) -> Config:
    from syncmail.config.parser import load_config

    path = inv.config
    if path is not None and not os.path.isabs(path) and not path.startswith("~"):
        # mbsync reads a relative -c name relative to the current directory.
        path = os.path.join(os.getcwd(), path)
    return load_config(path, extra_keywords=keywords)
