"""Build the plugin manager and call hooks so that one broken plugin cannot break a sync.

``make_plugin_manager()`` loads the entry points of group ``"syncmail"`` itself (pluggy's
``load_setuptools_entrypoints`` aborts on the first plugin that fails to import) and
``deliver()`` calls each implementation of an event hook separately, logging failures.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy
from pluggy import HookImpl, Result

from syncmail import PROJECT_NAME, __version__, hookspecs
from syncmail.config.model import ExtraKeyword
from syncmail.entrypoints import EntryPoint, entry_points
from syncmail.errors import PluginError

if TYPE_CHECKING:
    from syncmail.config.model import Config, Target

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = PROJECT_NAME
BUILTIN_PLUGINS: tuple[str, ...] = ("syncmail.credentials",)
TRACE_ENV = "SYNCMAIL_TRACE_PLUGINS"

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "config_keywords",
    "deliver",
    "describe_plugins",
    "disable_plugins",
    "make_plugin_manager",
    "pre_sync",
]


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution each entry-point plugin came from."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        # Entry-point plugin name -> its entry point (for its distribution's name and version).
        self.entry_points: dict[str, EntryPoint] = {}
        self.builtin_names: set[str] = set()


def make_plugin_manager(
    *,
    disabled: Iterable[str] = (),
    only: Iterable[str] | None = None,
    strict: bool = False,
) -> pluggy.PluginManager:
    """Return a new plugin manager with the hookspecs, the built-ins and installed plugins.

    ``disabled`` and ``only`` name entry points (``pass``, ``notmuch``, ...); built-in
    plugins are always loaded. A plugin that fails to load or implements an unknown hook
    is logged and skipped, or raises ``PluginError`` when ``strict``.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_ENV, "") not in ("", "0"):
        _enable_tracing(pm)

    for module_name in BUILTIN_PLUGINS:
        _register_builtin(pm, module_name)

    blocked = _blockable(disabled)
    wanted = None if only is None else set(only)
    for name in sorted(blocked):
        pm.set_blocked(name)
    for ep in _entry_points():
        if ep.name in blocked or (wanted is not None and ep.name not in wanted):
            log.debug("plugin %s not loaded (disabled)", ep.name)
            continue
        if pm.has_plugin(ep.name):
            # The same distribution seen twice on sys.path (e.g. editable + installed).
            continue
        _load_entry_point(pm, ep, strict=strict)

    _check_pending(pm, strict=strict)
    return pm


def _entry_points() -> list[EntryPoint]:
    return entry_points(ENTRY_POINT_GROUP)


def _register_builtin(pm: PluginManager, module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only tolerate the built-in itself being absent, not a broken import inside it.
        if exc.name != module_name:
            raise
        log.debug("built-in plugin %s is not available", module_name)
        return
    pm.register(module, name=module_name)
    pm.builtin_names.add(module_name)


def _load_entry_point(
    pm: PluginManager, ep: EntryPoint, *, strict: bool
) -> None:
    try:
        plugin = ep.load()
        pm.register(plugin, name=ep.name)
    except Exception as exc:
        error = PluginError(ep.name, f"cannot be loaded ({ep.value}): {_describe(exc)}")
        if strict:
            raise error from exc
        log.warning("%s; skipped", error)
        log.debug("loading plugin %s failed", ep.name, exc_info=True)
        if pm.has_plugin(ep.name):
            pm.unregister(name=ep.name)
        return
    pm.entry_points[ep.name] = ep


def _check_pending(pm: PluginManager, *, strict: bool) -> None:
    """Like ``pm.check_pending()``, but reports every misspelled hook and names the plugin."""
    for hook_name in list(vars(pm.hook)):
        if hook_name.startswith("_"):
            continue
        caller: pluggy.HookCaller = getattr(pm.hook, hook_name)
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            error = PluginError(
                impl.plugin_name, f"implements unknown hook {hook_name!r} (misspelled?)"
            )
            if strict:
                raise error
            log.warning("%s", error)


def _describe(exc: BaseException) -> str:
    # One line: pluggy's validation errors spread the useful part over several lines.
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# Hooks whose result is a secret: the trace shows that one came, never what it was.
_SECRET_RESULTS = frozenset({"syncmail_get_credentials"})


def _enable_tracing(pm: pluggy.PluginManager) -> None:
    """``SYNCMAIL_TRACE_PLUGINS``: every hook call on stderr, with its implementations,
    arguments and result, through the same mask as the log (pluggy's own tracing would
    print a plugin's password as the result of ``syncmail_get_credentials``)."""
    from syncmail.report import mask_text

    def write(text: str) -> None:
        sys.stderr.write(mask_text(text))

    pm.trace.root.setwriter(write)  # call_isolated's "[deliver]" lines
    depth = 0

    def before(hook_name: str, impls: Sequence[HookImpl], kwargs: Mapping[str, Any]) -> None:
        nonlocal depth
        pad = "  " * depth
        names = ", ".join(impl.plugin_name for impl in impls)
        lines = [f"{pad}{hook_name} -> {names} [hook]"]
        lines += [f"{pad}    {name}: {value!r}" for name, value in kwargs.items()]
        write("\n".join(lines) + "\n")
        depth += 1

    def after(
        outcome: Result[Any], hook_name: str, impls: Sequence[HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        nonlocal depth
        depth -= 1
        if outcome.exception is not None:
            shown = f"raised {outcome.exception!r}"
        elif hook_name in _SECRET_RESULTS and outcome.get_result() is not None:
            shown = "<hidden>"
        else:
            shown = repr(outcome.get_result())
        write(f"{'  ' * depth}finish {hook_name} --> {shown} [hook]\n")

    pm.add_hookcall_monitoring(before, after)


def disable_plugins(pm: pluggy.PluginManager, names: Iterable[str]) -> None:
    """Unregister and block the named plugins (for ``DisablePlugins`` read from the config)."""
    for name in _blockable(names):
        pm.set_blocked(name)


def _blockable(names: Iterable[str]) -> set[str]:
    """``names`` less the built-ins, which stay loaded: without them no store could log in."""
    blocked = set(names)
    for name in sorted(blocked & set(BUILTIN_PLUGINS)):
        log.warning("plugin %s is built in and cannot be disabled; keeping it", name)
    return blocked - set(BUILTIN_PLUGINS)


def call_isolated(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call every implementation of ``hook_name`` separately, in pluggy's call order.

    Returns ``(plugin name, result)`` for each implementation that returned something
    other than ``None``. An implementation that raises is logged as a ``PluginError``
    naming the plugin and the others still run. Hook wrappers are not applied.
    """
    caller: pluggy.HookCaller | None = getattr(pm.hook, hook_name, None)
    if caller is None:
        raise AttributeError(f"no hook named {hook_name!r}")
    trace = pm.trace.root.get("deliver")
    results: list[tuple[str, Any]] = []
    # pluggy calls the last registered (and tryfirst) implementations first.
    for impl in reversed(caller.get_hookimpls()):
        if impl.wrapper or impl.hookwrapper:
            continue
        name = impl.plugin_name
        try:
            args = [kwargs[arg] for arg in impl.argnames]
        except KeyError as exc:
            log.warning("%s", PluginError(name, f"{hook_name}: asks for unknown argument {exc}"))
            continue
        trace(f"{hook_name} -> {name}")
        try:
            result = impl.function(*args)
        except Exception as exc:
            log.warning("%s", PluginError(name, f"{hook_name} failed: {_describe(exc)}"))
            log.debug("plugin %s raised in %s", name, hook_name, exc_info=True)
            continue
        if result is not None:
            trace(f"{hook_name} -> {name} --> {result!r}")
            results.append((name, result))
    return results


def deliver(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> None:
    """Call an event hook on every plugin; never raises for a plugin's failure."""
    call_isolated(pm, hook_name, **kwargs)


def pre_sync(pm: pluggy.PluginManager, config: Config, targets: Sequence[Target]) -> str | None:
    """Call ``syncmail_pre_sync``; return the first veto as ``"plugin NAME: reason"``, or None."""
    for name, reason in call_isolated(pm, "syncmail_pre_sync", config=config, targets=targets):
        return str(PluginError(name, str(reason)))
    return None


def config_keywords(pm: pluggy.PluginManager) -> list[ExtraKeyword]:
    """Collect the keywords all plugins declare, without duplicates, in call order."""
    seen: set[ExtraKeyword] = set()
    keywords: list[ExtraKeyword] = []
    for name, declared in call_isolated(pm, "syncmail_config_keywords"):
        if not isinstance(declared, list | tuple):
            declared = [declared]
        for kw in declared:
            if not isinstance(kw, ExtraKeyword):
                log.warning(
                    "%s",
                    PluginError(
                        name, f"syncmail_config_keywords returned {kw!r}, not an ExtraKeyword"
                    ),
                )
                continue
            if kw not in seen:
                seen.add(kw)
                keywords.append(kw)
    return keywords


def describe_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Describe the registered plugins for ``syncmail plugins``: name, version, hooks."""
    found: dict[str, EntryPoint] = getattr(pm, "entry_points", {})
    builtins: set[str] = getattr(pm, "builtin_names", set())
    described: list[dict[str, Any]] = []
    for name, plugin in sorted(pm.list_name_plugin()):
        if plugin is None:
            continue
        ep = found.get(name)
        dist = ep.distribution() if ep is not None else None
        callers = pm.get_hookcallers(plugin) or []
        described.append(
            {
                "name": name,
                "builtin": name in builtins,
                "distribution": dist[0] if dist is not None else None,
                "version": dist[1] if dist is not None else (
                    __version__ if name in builtins else None
                ),
                "module": getattr(plugin, "__name__", type(plugin).__name__),
                "hooks": sorted(caller.name for caller in callers),
            }
        )
    return described
