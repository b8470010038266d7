"""The plugin manager: built-in plugins plus everything registered under the ``sql2nl`` entry-point group.

``SQL2NL_LOAD_PLUGINS`` (comma-separated distribution names, may be empty) restricts which
entry-point plugins load; built-in plugins always load.
"""

from __future__ import annotations

import importlib
import os
import threading
from importlib import metadata

import pluggy

from . import hookspecs

DEFAULT_PLUGINS = ("sql2nl.rules.plugin",)

_lock = threading.Lock()
_pm: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, building it (and loading entry points) on first use."""
    global _pm
    if _pm is not None:
        return _pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager("sql2nl")
            pm.add_hookspecs(hookspecs)
            for name in DEFAULT_PLUGINS:
                pm.register(importlib.import_module(name), name=name)
            _load_entry_points(pm)
            _pm = pm
    return _pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = os.environ.get("SQL2NL_LOAD_PLUGINS")
    allow = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
    for ep in metadata.entry_points(group="sql2nl"):
        dist = ep.dist.name if ep.dist else ep.name
        if allow is not None and dist not in allow and ep.name not in allow:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        # A plugin module must stay light at import time (heavy imports happen on first use), so a
        # broken plugin is reported rather than silently ignored.
        pm.register(ep.load(), name=ep.name)


def reset_plugin_manager() -> None:
    """Forget the plugin manager (tests use this after registering or unregistering plugins)."""
    global _pm
    from . import backends

    with _lock:
        _pm = None
    backends.clear_backend_instances()


def plugin_names() -> list[str]:
    """Names of the loaded plugins."""
    return sorted(n for n, _ in get_plugin_manager().list_name_plugin())
