"""The plugin manager: built-in plugins plus everything registered under the ``sql2nl`` entry-point group.

``SQL2NL_LOAD_PLUGINS`` (comma-separated distribution or entry-point names, may be empty) restricts
which entry-point plugins load; built-in plugins always load.

A plugin that fails to import does not take the others down with it: the failure is kept in
:func:`plugin_errors`, shown by ``sql2nl plugins`` and named in "unknown backend" messages, and a
:class:`PluginLoadWarning` is emitted once.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from collections.abc import Callable
from importlib import metadata

import pluggy

from . import hookspecs
from .errors import InvalidInputError

#: Built-in features are plugins too, registered exactly as third-party ones are.
DEFAULT_PLUGINS = ("sql2nl.rules.plugin",)
ENTRY_POINT_GROUP = "sql2nl"

_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None
_errors: dict[str, str] = {}
# Called when the set of plugins changes; modules that keep what plugins built (backend instances)
# subscribe, so this module needs to know none of them (and they may import it freely).
_listeners: list[Callable[[], None]] = []


class PluginLoadWarning(UserWarning):
    """An installed plugin could not be loaded; the others still work."""


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, building it (and loading entry points) on first use."""
    global _pm
    pm = _pm
    if pm is not None:
        return pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager("sql2nl")
            pm.add_hookspecs(hookspecs)
            for name in DEFAULT_PLUGINS:
                pm.register(importlib.import_module(name), name=name)
            _load_entry_points(pm)
            _pm = pm
    return _pm


def allowed_plugins() -> set[str] | None:
    """The names ``SQL2NL_LOAD_PLUGINS`` allows, or ``None`` when it is unset (load everything)."""
    allowed = os.environ.get("SQL2NL_LOAD_PLUGINS")
    if allowed is None:
        return None
    return {n.strip() for n in allowed.split(",") if n.strip()}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allow = allowed_plugins()
    _errors.clear()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else ep.name
        if allow is not None and dist not in allow and ep.name not in allow:
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            # A plugin module must stay light at import time (heavy imports happen on first use).
            pm.register(ep.load(), name=ep.name)
        except Exception as e:  # a broken plugin must not break describing with the others
            _errors[ep.name] = f"{type(e).__name__}: {e}"
            warnings.warn(
                f"sql2nl plugin {ep.name!r} (from {dist}) could not be loaded and is skipped: {type(e).__name__}: {e}",
                PluginLoadWarning,
                stacklevel=3,
            )


def on_plugins_changed(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback()`` whenever the plugins change (:func:`reset_plugin_manager`,
    :func:`register_plugin`, :func:`unregister_plugin`); usable as a decorator."""
    _listeners.append(callback)
    return callback


def _forget_instances() -> None:
    # What plugins built (backend instances...) may change with the plugin set.
    for callback in list(_listeners):
        callback()


def reset_plugin_manager() -> None:
    """Forget the plugin manager and shared backend instances (the next use rebuilds them)."""
    global _pm

    with _lock:
        _pm = None
        _errors.clear()
    _forget_instances()


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Register a plugin object (a module or an instance with ``@hookimpl`` methods) at runtime.

    The same as an entry point, without packaging: handy in notebooks and tests.
    Returns the name it was registered under; :func:`unregister_plugin` removes it.
    """
    with _lock:
        registered = get_plugin_manager().register(plugin, name=name)
    if registered is None:  # pluggy answers None for a name that was blocked
        raise InvalidInputError(f"The plugin name {name!r} is blocked in this process; register it under another name.")
    _forget_instances()
    return registered


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin` (or any plugin, by name)."""
    with _lock:
        pm = get_plugin_manager()
        plugin = pm.get_plugin(name)
        if plugin is not None:
            pm.unregister(plugin, name=name)
    _forget_instances()


def plugin_names() -> list[str]:
    """Names of the loaded plugins."""
    return sorted(n for n, _ in get_plugin_manager().list_name_plugin())


def plugin_errors() -> dict[str, str]:
    """Entry-point plugins that failed to load, with the reason."""
    get_plugin_manager()
    return dict(_errors)
