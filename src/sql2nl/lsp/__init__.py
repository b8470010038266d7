"""``sql2nl lsp``: a language server that explains SQL on hover, in .sql files and Python strings.

The statement finding lives in :mod:`sql2nl.lsp.spans` (no editor protocol); the pygls server in
:mod:`sql2nl.lsp.server` is imported only when the server starts.
"""

from __future__ import annotations

from typing import Any


def serve_stdio(
    *,
    backend: str | None = None,
    backend_options: dict[str, Any] | None = None,
    language: str = "en",
    redact: bool = False,
) -> None:
    """Run the language server on standard input/output until the editor closes it (``redact``: as in describe())."""
    try:
        from .server import build_server
    except ImportError as e:
        from ..errors import BackendUnavailableError, install_extra

        raise BackendUnavailableError("lsp", install_extra("lsp"), str(e)) from None
    build_server(backend=backend, backend_options=backend_options or {}, language=language, redact=redact).start_io()
