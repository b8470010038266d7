"""Plugin hook specifications. A plugin implements any of these with ``@sql2nl.hookimpl``."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("sql2nl")
hookimpl = pluggy.HookimplMarker("sql2nl")


@hookspec
def register_backends(register):
    """Register backends: call ``register(name, factory, description=..., install=...)`` once per backend."""


@hookspec
def register_commands(cli):
    """Add commands to the ``sql2nl`` click group ``cli`` (training adds train/eval/export this way)."""


@hookspec
def register_models(register):
    """Register named models: call ``register(name, backend=..., options=..., description=..., install=...)``."""
