"""The ASGI application: ``create_app(config)`` wires the routes, the guard and the error handlers.

>>> from sql2nl.server.app import create_app  # doctest: +SKIP
>>> app = create_app()  # then: uvicorn.run(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import __version__
from ..backends import Backend
from ..errors import Sql2NLError
from ..prompt import DETAILS, STYLES, check_language
from . import ollama_api, openai_api
from .config import ServerConfig
from .http import (
    Guard,
    HostCheck,
    api_error,
    error_response,
    field,
    handle_api_error,
    handle_sql2nl_error,
    handle_unexpected,
    json_response,
    read_json,
)
from .openapi import openapi_document
from .service import ApiError, DescribeService


def _language(data: dict[str, Any], default: str) -> str:
    lang = field(data, "language", str)
    return check_language(default if lang is None else lang)


def _shape(data: dict[str, Any], default: tuple[str, str] = ("summary", "statement")) -> tuple[str, str]:
    """``(detail, style)`` from a request (``"summary"``/``"steps"``, ``"statement"``/``"question"``)."""
    detail, style = field(data, "detail", str) or default[0], field(data, "style", str) or default[1]
    for name, value, allowed in (("detail", detail, DETAILS), ("style", style, STYLES)):
        if value not in allowed:
            raise ApiError(
                422,
                f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}.",
                code="invalid_value",
                param=name,
            )
    return detail, style


async def describe(request: Request) -> Response:
    service: DescribeService = request.app.state.service
    data = await read_json(request)
    sql = field(data, "sql", str, required=True)
    language, dialect = _language(data, service.config.language), field(data, "dialect", str)
    facts = field(data, "facts", bool, default=True)
    options = field(data, "options", dict)
    service.backend_for(options)
    detail, style = _shape(data)
    return json_response(await service.describe_json(sql, language, dialect, facts, options, detail, style))


async def describe_batch(request: Request) -> Response:
    service: DescribeService = request.app.state.service
    data = await read_json(request)
    items = field(data, "items", list, required=True)
    if len(items) > service.config.max_batch:
        raise ApiError(
            422,
            f"A batch holds at most {service.config.max_batch} items; got {len(items)}. "
            "Split it into several requests.",
            code="batch_too_large",
            param="items",
        )
    language, dialect = _language(data, service.config.language), field(data, "dialect", str)
    options = field(data, "options", dict)
    service.backend_for(options)  # wrong options are the request's mistake (422), even with no items
    shape = _shape(data)
    plans = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = {"sql": item}
        if not isinstance(item, dict):
            raise ApiError(
                422, f"items[{i}] must be a string or an object with 'sql'.", code="wrong_type", param="items"
            )
        item_options = field(item, "options", dict)
        service.backend_for(item_options)
        plans.append(
            (
                field(item, "sql", str, required=True),
                _language(item, language),
                field(item, "dialect", str) or dialect,
                field(item, "facts", bool, default=True),
                item_options or options,
                _shape(item, shape),
            )
        )
    results = []
    for sql, lang, dia, facts, opts, (detail, style) in plans:  # one bad statement costs only its own slot
        try:
            results.append(await service.describe_payload(sql, lang, dia, facts, opts, detail, style))
        except Sql2NLError as e:
            results.append(api_error(e).body())
        except ApiError as e:
            results.append(e.body())
    return json_response({"results": results})


async def health(request: Request) -> Response:
    service: DescribeService = request.app.state.service
    return json_response(
        {
            "status": "ok",
            "version": __version__,
            "backend": service.backend.name,
            "waiting": service.waiting,
            "stuck": service.stuck,
        }
    )


async def openapi(request: Request) -> Response:
    return json_response(request.app.state.openapi)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail
    if exc.status_code == 404:
        path = request.url.path
        hint = (
            f" The OpenAI-compatible API lives under /v1: set the client's base URL to {request.base_url}v1/"
            if not path.startswith(("/v1", "/api"))
            else ""
        )
        message = f"No route {path!r}.{hint} See /openapi.json for the routes."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /openapi.json."
    return error_response(
        ApiError(
            exc.status_code,
            message,
            code="not_found" if exc.status_code == 404 else None,
            headers=dict(exc.headers or {}),
        )
    )


ROUTES = [
    Route("/health", health, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/v1/describe", describe, methods=["POST"]),
    Route("/v1/describe/batch", describe_batch, methods=["POST"]),
    Route("/v1/models", openai_api.list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", openai_api.get_model, methods=["GET"]),
    Route("/v1/chat/completions", openai_api.chat_completions, methods=["POST"]),
    Route("/v1/responses", openai_api.responses, methods=["POST"]),
    Route("/api/version", ollama_api.version, methods=["GET"]),
    Route("/api/tags", ollama_api.tags, methods=["GET"]),
    Route("/api/chat", ollama_api.chat, methods=["POST"]),
    Route("/api/generate", ollama_api.generate, methods=["POST"]),
]


def create_app(config: ServerConfig | None = None, *, backend: Backend | None = None) -> Starlette:
    """The server's ASGI app. The backend is built now, so a missing model fails at start, not per request."""
    config = config or ServerConfig()
    service = DescribeService(config, backend)
    middleware = [Middleware(Guard, config=config)]
    if config.allowed_hosts:  # None: off loopback with a token, any Host
        middleware.insert(0, Middleware(HostCheck, allowed_hosts=config.allowed_hosts))
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["*"],
            ),
        )
    app = Starlette(
        routes=ROUTES,
        middleware=middleware,
        exception_handlers={
            ApiError: handle_api_error,
            Sql2NLError: handle_sql2nl_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
    )
    app.state.service = service
    app.state.config = config
    app.state.openapi = openapi_document(config, service.backend)
    return app


CONFIG_ENV = "SQL2NL_SERVER_CONFIG"


def app_from_env() -> Starlette:
    """An app built from the JSON config in ``$SQL2NL_SERVER_CONFIG`` (``serve --workers N`` starts
    N processes through this uvicorn factory; each has its own backend and cache)."""
    import json
    import os

    from .steady import steady

    app = create_app(ServerConfig(**json.loads(os.environ[CONFIG_ENV])))
    steady()
    return app
