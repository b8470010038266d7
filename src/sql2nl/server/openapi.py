"""The server's OpenAPI 3.0 document, written by hand to match the routes (tests fuzz it with schemathesis).

The ``options`` a describe request may carry come from the served backend's declared options
(:meth:`sql2nl.options.Options.json_schema`), so the document cannot drift from the backend.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..backends import Backend
from ..prompt import DETAILS, LANGUAGES, STYLES
from .config import ServerConfig


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed JSON or an empty body",
        401: "Missing or wrong bearer token",
        403: "Host not allowed",
        408: "The body did not arrive in time",
        413: "Body over the size limit",
        422: "Wrong field types, or SQL that cannot be described",
        502: "The backend failed",
        503: "Busy, or the backend is unavailable or stuck",
        504: "The backend did not answer in time",
    }
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


_POST_ERRORS = (400, 401, 403, 408, 413, 422, 502, 503, 504)
_GET_ERRORS = (401, 403)

_NULLABLE_STR = {"type": "string", "nullable": True}
_SHAPE = {
    "detail": {
        "type": "string",
        "nullable": True,
        "enum": [*DETAILS, None],
        "default": "summary",
        "description": "'summary': one short paragraph; 'steps': a numbered outline (one step per CTE or "
        "derived table, then the result).",
    },
    "style": {
        "type": "string",
        "nullable": True,
        "enum": [*STYLES, None],
        "default": "statement",
        "description": "'statement' (List the names of ...) or 'question' (What are the names of ...?).",
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "code": _NULLABLE_STR,
                    "param": _NULLABLE_STR,
                    "line": {"type": "integer", "nullable": True},
                    "column": {"type": "integer", "nullable": True},
                },
            }
        },
    },
    "DescribeRequest": {
        "type": "object",
        "required": ["sql"],
        "properties": {
            "sql": {"type": "string", "description": "The SQL to describe (never executed)."},
            "dialect": {**_NULLABLE_STR, "description": "sqlglot dialect name; default: permissive."},
            "language": {"type": "string", "nullable": True, "enum": [*LANGUAGES, None]},
            "facts": {
                "type": "boolean",
                "nullable": True,
                "default": True,
                "description": "false leaves the facts out of the answer (faster).",
            },
            "options": _ref("BackendOptions"),
            **_SHAPE,
        },
    },
    "Description": {
        "type": "object",
        "required": ["text", "warnings", "facts", "faithfulness"],
        "properties": {
            "text": {"type": "string"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "facts": {"type": "array", "items": {"type": "object"}},
            "faithfulness": {"type": "number", "nullable": True, "minimum": 0, "maximum": 1},
            "backend": {"type": "string"},
            "language": {"type": "string"},
            "guard": {
                "type": "object",
                "nullable": True,
                "description": "What the faithfulness guard did (LLM "
                "backends): mode, candidates, retries, mended, fell_back, first_faithfulness, faithful, missing.",
            },
        },
    },
    "BatchRequest": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"oneOf": [{"type": "string"}, _ref("DescribeRequest")]}},
            "dialect": _NULLABLE_STR,
            "language": {"type": "string", "nullable": True, "enum": [*LANGUAGES, None]},
            "options": _ref("BackendOptions"),
            **_SHAPE,
        },
    },
    "BatchResponse": {
        "type": "object",
        "required": ["results"],
        "properties": {"results": {"type": "array", "items": {"oneOf": [_ref("Description"), _ref("Error")]}}},
    },
    "Health": {
        "type": "object",
        "required": ["status", "backend"],
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "version": {"type": "string"},
            "backend": {"type": "string"},
            "waiting": {"type": "integer"},
            "stuck": {"type": "integer"},
        },
    },
    "Model": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["model"]},
            "created": {"type": "integer"},
            "owned_by": {"type": "string"},
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": _ref("Model")},
        },
    },
    # Clients send many shapes (parts lists, tool messages, images); what is not text is ignored, so
    # the document promises no more than an object per message.
    "Message": {
        "type": "object",
        "description": "A chat message: role (system/user/assistant...) and content "
        "(a string or a list of parts with 'text'); other fields are ignored.",
        "properties": {
            "role": {"description": "Only 'user' messages are read for SQL."},
            "content": {"description": "A string, or a list of {type, text} parts."},
        },
    },
    "ChatCompletionRequest": {
        "type": "object",
        "required": ["messages"],
        "properties": {
            "model": _NULLABLE_STR,
            "messages": {"type": "array", "items": _ref("Message")},
            "stream": {"type": "boolean", "nullable": True},
            "stream_options": {"type": "object", "nullable": True},
            "temperature": {"type": "number", "nullable": True},
        },
        "description": "Other OpenAI fields (tools...) are ignored.",
    },
    "ChatCompletion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["chat.completion"]},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": "object"},
        },
    },
    "ResponsesRequest": {
        "type": "object",
        "required": ["input"],
        "properties": {
            "model": _NULLABLE_STR,
            "instructions": _NULLABLE_STR,
            "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": _ref("Message")}]},
            "stream": {"type": "boolean", "nullable": True},
            "temperature": {"type": "number", "nullable": True},
        },
        "description": "Other OpenAI fields (tools, store, reasoning...) are ignored.",
    },
    "Response": {
        "type": "object",
        "required": ["id", "object", "created_at", "status", "model", "output"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["response"]},
            "created_at": {"type": "number"},
            "status": {"type": "string"},
            "model": {"type": "string"},
            "output": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": "object", "nullable": True},
        },
    },
    "OllamaChatRequest": {
        "type": "object",
        "required": ["messages"],
        "properties": {
            "model": _NULLABLE_STR,
            "messages": {"type": "array", "items": _ref("Message")},
            "stream": {"type": "boolean", "nullable": True},
        },
    },
    "OllamaGenerateRequest": {
        "type": "object",
        "required": ["prompt"],
        "properties": {
            "model": _NULLABLE_STR,
            "prompt": {"type": "string"},
            "system": _NULLABLE_STR,
            "stream": {"type": "boolean", "nullable": True},
        },
    },
    "OllamaReply": {
        "type": "object",
        "required": ["model", "done"],
        "properties": {
            "model": {"type": "string"},
            "done": {"type": "boolean"},
            "response": {"type": "string"},
            "message": {"type": "object"},
        },
    },
}


def _post(summary: str, request: str, ok: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(request)}}},
            "responses": {"200": ok, **_errors(*_POST_ERRORS)},
        }
    }


def _get(summary: str, schema: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {"200": _json(_ref(schema), summary), **_errors(*_GET_ERRORS)}}}


# With "stream": true the answer is a stream; these schemas describe one event (SSE) or one line (NDJSON).
_STREAM_ITEM = {
    "text/event-stream": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string"},
            "data": {"type": "string", "description": "JSON, or [DONE] for chat"},
        },
    },
    "application/x-ndjson": {"type": "object"},
}


def _streamable(schema: str, stream_type: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}, stream_type: {"schema": _STREAM_ITEM[stream_type]}},
    }


def openapi_document(config: ServerConfig, backend: Backend | None = None) -> dict[str, Any]:
    """The OpenAPI 3.0 document served at ``/openapi.json`` (``options``: what ``backend`` lets a request set)."""
    from ..options import Options

    options_cls = type(backend).Options if backend is not None else Options
    backend_options = {
        **options_cls.json_schema(per_request_only=True),
        "nullable": True,
        "description": f"Per-request options of the {backend.name if backend else 'served'!s} backend "
        "(`sql2nl backends --options`).",
    }
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "sql2nl server",
            "version": __version__,
            "description": "Describe SQL in plain language. OpenAI- and Ollama-compatible routes answer chat "
            "turns with the description of the SQL in the last user message. SQL is never executed.",
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "Liveness and load",
                    "security": [],
                    "responses": {"200": _json(_ref("Health"), "Server is up"), **_errors(403)},
                }
            },
            "/v1/describe": _post(
                "Describe one statement", "DescribeRequest", _json(_ref("Description"), "The description")
            ),
            "/v1/describe/batch": _post(
                "Describe several statements",
                "BatchRequest",
                _json(_ref("BatchResponse"), "One result (or error) per item, in order"),
            ),
            "/v1/models": _get("Models (any name is accepted)", "ModelList"),
            "/v1/chat/completions": _post(
                "OpenAI chat completion",
                "ChatCompletionRequest",
                _streamable("ChatCompletion", "text/event-stream", "Completion or SSE chunks"),
            ),
            "/v1/responses": _post(
                "OpenAI Responses API",
                "ResponsesRequest",
                _streamable("Response", "text/event-stream", "Response or SSE events"),
            ),
            "/api/tags": {
                "get": {
                    "summary": "Ollama model list",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["models"],
                                "properties": {"models": {"type": "array", "items": {"type": "object"}}},
                            },
                            "Models",
                        ),
                        **_errors(*_GET_ERRORS),
                    },
                }
            },
            "/api/version": {
                "get": {
                    "summary": "Ollama version",
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["version"], "properties": {"version": {"type": "string"}}},
                            "Version",
                        ),
                        **_errors(*_GET_ERRORS),
                    },
                }
            },
            "/api/chat": _post(
                "Ollama chat",
                "OllamaChatRequest",
                _streamable("OllamaReply", "application/x-ndjson", "Reply or NDJSON stream"),
            ),
            "/api/generate": _post(
                "Ollama generate",
                "OllamaGenerateRequest",
                _streamable("OllamaReply", "application/x-ndjson", "Reply or NDJSON stream"),
            ),
        },
        "components": {"schemas": {**SCHEMAS, "BackendOptions": backend_options}},
    }
    if config.token:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    return doc
