"""Request bodies, field checks, error responses and the guard middleware shared by every route."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

import anyio
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import (
    BackendError,
    BackendUnavailableError,
    InvalidInputError,
    ModelError,
    Sql2NLError,
    SQLParseError,
    UnknownBackendError,
)
from .config import ServerConfig
from .service import ApiError

log = logging.getLogger("sql2nl.server")

JSON = "application/json"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def error_response(err: ApiError) -> Response:
    return json_response(err.body(), err.status, err.headers)


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, read with the server's size (413) and time (408) limits."""
    config: ServerConfig = request.app.state.config
    # A client that trickles its body must not hold a connection and a slot for ever.
    with anyio.move_on_after(config.timeout_s) as scope:
        data = await _read_json(request, config.max_body_bytes)
    if scope.cancelled_caught:
        raise ApiError(408, f"The request body did not arrive within {config.timeout_s:g} s.", code="body_timeout")
    return data


async def _read_json(request: Request, limit: int) -> dict[str, Any]:
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > limit:
        raise ApiError(
            413,
            f"The request body is {int(size):,} bytes, over the server's limit of {limit:,}. "
            "Send a shorter statement, or start the server with a larger --max-body.",
            code="body_too_large",
        )
    chunks, total = [], 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:  # chunked bodies carry no length: count as they arrive
                raise ApiError(
                    413, f"The request body is over the server's limit of {limit:,} bytes.", code="body_too_large"
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "The client went away before sending the whole body.", code="client_disconnected") from None
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(400, "The request body is empty; send a JSON object.", code="empty_body")
    try:
        data = json.loads(raw)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, and an integer of over 4,300 digits
        raise ApiError(400, f"The request body is not valid JSON: {e}.", code="malformed_json") from None
    except RecursionError:
        raise ApiError(400, "The request body's JSON is nested too deeply.", code="malformed_json") from None
    if not isinstance(data, dict):
        raise ApiError(422, f"Expected a JSON object, got {type(data).__name__}.", code="wrong_type")
    return data


def field(
    data: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = False, default: Any = None
) -> Any:
    """``data[name]`` checked against ``kind`` (422 naming the field when it is wrong or missing)."""
    if name not in data or data[name] is None:
        if required:
            raise ApiError(422, f"The field {name!r} is required.", code="missing_field", param=name)
        return default
    value = data[name]
    # bool is an int in Python; a JSON true where a number is expected is still a type error.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        want = " or ".join(_json_type(k) for k in _as_tuple(kind))
        raise ApiError(
            422, f"The field {name!r} must be {want}, got {_json_type(type(value))}.", code="wrong_type", param=name
        )
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _json_type(t: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }.get(t, t.__name__)


_STATUS = (  # most specific first
    (SQLParseError, 422, "invalid_request_error", "sql_parse_error"),
    (InvalidInputError, 422, "invalid_request_error", "invalid_input"),
    (BackendUnavailableError, 503, "server_error", "backend_unavailable"),
    (UnknownBackendError, 503, "server_error", "unknown_backend"),
    (ModelError, 502, "server_error", "model_error"),
    (BackendError, 502, "server_error", "backend_error"),
)


def api_error(e: Sql2NLError) -> ApiError:
    """The HTTP form of a sql2nl error: the user's mistakes are 422, the backend's failures 5xx."""
    for cls, status, type_, code in _STATUS:
        if isinstance(e, cls):
            err = ApiError(status, str(e), type=type_, code=code, param="sql" if status == 422 else None)
            if isinstance(e, SQLParseError):
                err.extra = {"line": e.line, "column": e.column}
            return err
    return ApiError(500, str(e), type="server_error", code="sql2nl_error")


async def handle_api_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)  # type: ignore[arg-type]


async def handle_sql2nl_error(request: Request, exc: Exception) -> Response:
    return error_response(api_error(exc))  # type: ignore[arg-type]


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(
        ApiError(
            500,
            f"Internal error: {type(exc).__name__}. The server keeps running; see its log for details.",
            type="server_error",
            code="internal",
        )
    )


class HostCheck:
    """The guard against DNS rebinding: only requests addressed to an allowed Host pass.

    Starlette's ``TrustedHostMiddleware`` decides (``*.example.com`` patterns work too), asked with
    a scope holding just the Host header; a refusal is answered like every other API error (403,
    JSON saying why) instead of its bare 400. Hosts that passed are remembered (a few), so the
    usual request costs a set lookup. A request with no Host header at all (HTTP/1.0) passes:
    browsers, the only way in for a rebinding attack, always send one.
    """

    REMEMBERED = 64  # allowed Host values kept (name:port spellings); bounded against floods of new ones

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.trusted = TrustedHostMiddleware(self._mark, allowed_hosts=list(allowed_hosts), www_redirect=False)
        self.names = ", ".join(allowed_hosts)
        self.passed: set[bytes] = set()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = next((v for k, v in scope["headers"] if k == b"host"), None)
            if host is not None and host not in self.passed:
                if not await self.allows(host):
                    return await error_response(
                        ApiError(
                            403,
                            f"Host {host.decode('latin-1')!r} is not allowed: this server only answers requests "
                            f"addressed to {self.names} (a guard against DNS rebinding from web pages; "
                            "`sql2nl serve --allow-host NAME` adds a name).",
                            type="permission_error",
                            code="host_not_allowed",
                        )
                    )(scope, receive, send)
                if len(self.passed) < self.REMEMBERED:
                    self.passed.add(host)
        return await self.app(scope, receive, send)

    async def allows(self, host: bytes) -> bool:
        """Whether ``TrustedHostMiddleware`` lets a request addressed to ``host`` through."""
        probe: dict[str, Any] = {"type": "http", "headers": [(b"host", host)]}
        await self.trusted(probe, _no_body, _discard)
        return probe.get("sql2nl.host_allowed", False)

    @staticmethod
    async def _mark(scope: Scope, receive: Receive, send: Send) -> None:
        scope["sql2nl.host_allowed"] = True


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Message) -> None:
    pass


class Guard:
    """Pure ASGI middleware: bearer token, early 413 on Content-Length (after :class:`HostCheck`).

    Written without ``BaseHTTPMiddleware``, which would cost a task per request.
    """

    OPEN_PATHS = ("/health",)

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.token = config.token.encode() if config.token else None
        self.limit = config.max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        err = self.check(scope, headers)
        if err is not None:
            return await error_response(err)(scope, receive, send)
        return await self.app(scope, receive, send)

    def check(self, scope: Scope, headers: dict[bytes, bytes]) -> ApiError | None:
        if self.token is not None and scope["path"] not in self.OPEN_PATHS:
            auth = headers.get(b"authorization", b"")
            scheme, _, given = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                return ApiError(
                    401,
                    "Missing or wrong API key: send 'Authorization: Bearer <token>' with the "
                    "token given to `sql2nl serve --token`.",
                    type="authentication_error",
                    code="invalid_api_key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        size = headers.get(b"content-length")
        if size is not None and size.isdigit() and int(size) > self.limit:
            return ApiError(
                413,
                f"The request body is {int(size):,} bytes, over the server's limit of {self.limit:,}.",
                code="body_too_large",
            )
        return None
