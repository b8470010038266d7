"""``sql2nl serve``: a local HTTP server (JSON, OpenAI- and Ollama-compatible) for IDEs and DBeaver.

Importing this package is light; :func:`create_app` imports starlette when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["create_app"]


def create_app(config: Any = None, **kw: Any) -> Starlette:
    """The ASGI app (see :func:`sql2nl.server.app.create_app`); needs ``pip install 'sql2nl[server]'``."""
    try:
        from .app import create_app as _create
    except ImportError as e:  # starlette missing
        from ..errors import BackendUnavailableError, install_extra

        raise BackendUnavailableError("server", install_extra("server"), str(e)) from None
    return _create(config, **kw)
