"""Registers the ``transformers`` backend. Stays light: nothing heavy is imported here."""

from __future__ import annotations

import importlib.util

from sql2nl import hookimpl
from sql2nl.errors import BackendUnavailableError

from .options import TransformersOptions

INSTALL = "pip install sql2nl-transformers  (from plugins/sql2nl-transformers)"
REQUIRED = ("torch", "transformers", "peft", "accelerate")


def create_backend(**options):
    """Build the backend, or say which package is missing (checked before anything heavy is imported)."""
    missing = [m for m in REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        raise BackendUnavailableError("transformers", INSTALL, f"missing: {', '.join(missing)}")
    from .backend import TransformersBackend

    return TransformersBackend(**options)


@hookimpl
def register_backends(register):
    register(
        "transformers",
        create_backend,
        options=TransformersOptions,
        description="Hugging Face transformers model, LoRA adapter, merged model or training run (GPU/CPU)",
    )
