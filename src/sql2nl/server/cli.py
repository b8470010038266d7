"""The ``sql2nl serve`` and ``sql2nl lsp`` commands.

Importing this module imports only click: starlette, uvicorn and pygls load when a command runs,
so ``sql2nl describe`` stays fast and works without the extras.
"""

from __future__ import annotations

import click

from ..clioptions import backend_options, backend_params


def _need(modules: tuple[str, ...], extra: str) -> None:
    import importlib.util

    from ..errors import install_extra

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise click.ClickException(
            f"This command needs {', '.join(missing)}, which is not installed. Install it with: {install_extra(extra)}"
        )


def _backend_opts(f):
    f = click.option(
        "-l",
        "--language",
        default="en",
        show_default=True,
        help="Language when a request names none and its message gives no hint.",
    )(f)
    return backend_params(f)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless --token).")
@click.option("--port", default=8765, show_default=True, type=int, help="TCP port.")
@click.option("--uds", default=None, metavar="PATH", help="Listen on a Unix domain socket instead of TCP.")
@click.option(
    "--token",
    default=None,
    envvar="SQL2NL_SERVER_TOKEN",
    help="Require 'Authorization: Bearer TOKEN' (needed to bind off loopback). Env: SQL2NL_SERVER_TOKEN.",
)
@_backend_opts
@click.option("--redact", is_flag=True, help="Hide literal values, comments and passwords from the backend.")
@click.option(
    "--timeout", default=25.0, show_default=True, type=float, help="Seconds a backend call may take (504 after)."
)
@click.option(
    "--max-body", default=1_000_000, show_default=True, type=int, help="Largest request body in bytes (413 above)."
)
@click.option("--concurrency", default=4, show_default=True, type=int, help="Backend calls at once (others queue).")
@click.option("--max-queue", default=256, show_default=True, type=int, help="Queued backend calls before 503.")
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow this browser origin (CORS is off by default; repeatable).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests whose Host is NAME (loopback names always pass; '*.example.com' "
    "patterns work; repeatable). Others get 403: a guard against DNS rebinding.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=int,
    help="Server processes (each loads its own backend and cache; helps with many distinct statements).",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(
    host,
    port,
    uds,
    token,
    backend,
    model,
    adapter,
    options,
    language,
    redact,
    timeout,
    max_body,
    concurrency,
    max_queue,
    cors_origins,
    allow_hosts,
    workers,
    access_log,
    log_level,
):
    """Serve descriptions over HTTP: JSON, OpenAI-compatible (/v1) and Ollama-compatible (/api) routes.

    Point DBeaver (AI settings -> OpenAI -> base URL http://127.0.0.1:8765/v1/) or an IDE assistant at it.
    The SQL in requests is never executed.
    """
    _need(("starlette", "uvicorn", "sse_starlette"), "server")
    import uvicorn

    from .app import create_app
    from .config import LOOPBACK_NAMES, ServerConfig

    config = ServerConfig(
        host=host,
        port=port,
        uds=uds,
        token=token,
        backend=backend,
        backend_options=backend_options(backend, model, adapter, options),
        language=language,
        redact=redact,
        timeout_s=timeout,
        max_body_bytes=max_body,
        max_concurrency=concurrency,
        max_queue=max_queue,
        cors_origins=tuple(cors_origins),
        allowed_hosts=LOOPBACK_NAMES + tuple(allow_hosts) if allow_hosts else None,
    )
    app = create_app(config)  # also in the parent with --workers: a bad backend or model fails here, once
    where = f"unix:{uds}" if uds else f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    named = f" with model {model!r}" if model else ""
    click.echo(
        f"sql2nl serving the {app.state.service.backend.name!r} backend{named} at {where} "
        f"(OpenAI base URL: {where}/v1/)",
        err=True,
    )
    run = dict(
        host=host,
        port=port,
        uds=uds,
        log_level=log_level,
        access_log=access_log,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    if workers > 1:
        import dataclasses
        import json
        import os

        from .app import CONFIG_ENV

        os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(config))
        uvicorn.run("sql2nl.server.app:app_from_env", factory=True, workers=workers, **run)
    else:
        from .steady import steady

        steady()  # first-use costs now, and the heap frozen (each --workers process does the same)
        uvicorn.run(app, **run)


@click.command()
@_backend_opts
@click.option("--redact", is_flag=True, help="Hide literal values, comments and passwords from the backend.")
def lsp(backend, model, adapter, options, language, redact):
    """Run the language server over stdio: hover a SQL statement to read its description.

    Works in .sql files and in Python string literals that hold SQL; a code action inserts the
    description as a comment above the statement.
    """
    _need(("pygls", "lsprotocol"), "lsp")
    from ..lsp import serve_stdio

    serve_stdio(
        backend=backend,
        backend_options=backend_options(backend, model, adapter, options),
        language=language,
        redact=redact,
    )
