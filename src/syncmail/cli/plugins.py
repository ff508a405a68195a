"""The ``plugins``, ``install-hook`` and ``oauth2`` commands."""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pluggy

    from syncmail.config.model import Config

from syncmail.cli.argv import Invocation, UsageError
from syncmail.cli.common import _config_disabled, _Output, _plugin_selection

log = logging.getLogger(__name__)


def _subcommand(
    inv: Invocation, config: Config | None, pm: pluggy.PluginManager, io: _Output
) -> int:
    name, rest = inv.args[0], inv.args[1:]
    if name == "plugins":
        if rest:
            raise UsageError("syncmail plugins takes no arguments.")
        from syncmail.plugins import describe_plugins

        for plugin in describe_plugins(pm):
            version = f" {plugin['version']}" if plugin.get("version") else ""
            kind = " (built-in)" if plugin.get("builtin") else ""
            hooks = ", ".join(plugin.get("hooks") or ()) or "no hooks"
            print(f"{plugin['name']}{version}{kind}: {hooks}", file=io.out)
        for blocked in _plugin_selection(inv)[0]:
            print(f"{blocked}: disabled by -p no:{blocked}", file=io.out)
        for blocked in _config_disabled(inv, config) if config is not None else ():
            print(f"{blocked}: disabled by DisablePlugins", file=io.out)
        return 0
    if name == "oauth2":
        # A module of its own, imported only here: no cost for runs that do not use it.
        from syncmail.oauth2.command import run_command

        return run_command(rest, io.out, io.err, pm)
    if rest != ("notmuch",):
        raise UsageError("usage: syncmail install-hook notmuch")
    try:
        # A plugin package, not part of syncmail itself: looked up at run time.
        hook_module = importlib.import_module("syncmail_notmuch.hook")
    except ImportError as exc:
        raise UsageError(
            f"the notmuch plugin is not installed ({exc}); pip install 'syncmail[notmuch]'"
        ) from exc
    install_hook = hook_module.install_hook
    # The hook goes where notmuch looks for hooks ($NOTMUCH_CONFIG's database); with -c,
    # its syncmail reads that config file.
    print(f"installed {install_hook(syncmail_config=inv.config)}", file=io.out)
    return 0


