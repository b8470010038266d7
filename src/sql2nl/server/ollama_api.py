"""Ollama-compatible routes (``/api/tags``, ``/api/chat``, ``/api/generate``, ``/api/version``).

Tools that speak Ollama (DBeaver's commercial editions among them) stream newline-delimited
JSON; ``"stream": false`` gets one object. The shapes follow Ollama's API documentation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import __version__
from .chat import Turn, answer, answer_stream, estimate_tokens, turn_from_messages
from .http import field, json_response, read_json
from .openai_api import _error_event, model_ids
from .service import DescribeService
from .sse import ndjson

#: How an answer's text goes into a reply: chat puts it in a message, generate in "response".
Shape = Callable[[str], dict[str, Any]]

NDJSON = "application/x-ndjson"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


async def version(request: Request) -> Response:
    return json_response({"version": __version__})


async def tags(request: Request) -> Response:
    service: DescribeService = request.app.state.service
    models = [
        {
            "name": m,
            "model": m,
            "modified_at": _now(),
            "size": 0,
            "digest": "",
            "details": {
                "format": "sql2nl",
                "family": service.backend.name,
                "parameter_size": "",
                "quantization_level": "",
            },
        }
        for m in model_ids(service)
    ]
    return json_response({"models": models})


async def chat(request: Request) -> Response:
    service: DescribeService = request.app.state.service
    data = await read_json(request)
    messages = field(data, "messages", list, required=True)
    # Ollama streams unless told not to.
    turn = turn_from_messages(
        messages, model=field(data, "model", str), stream=field(data, "stream", bool, default=True)
    )
    return await _reply(service, turn, lambda text: {"message": {"role": "assistant", "content": text}})


async def generate(request: Request) -> Response:
    service: DescribeService = request.app.state.service
    data = await read_json(request)
    prompt = field(data, "prompt", str, required=True)
    turn = Turn(
        user=prompt,
        system=field(data, "system", str, default=""),
        model=field(data, "model", str) or "sql2nl",
        stream=field(data, "stream", bool, default=True),
    )
    return await _reply(service, turn, lambda text: {"response": text})


async def _reply(service: DescribeService, turn: Turn, shape: Shape) -> Response:
    if turn.stream:
        return StreamingResponse(_stream(service, turn, shape), media_type=NDJSON)
    text, _ = await answer(service, turn)
    return json_response(
        {
            "model": turn.model,
            "created_at": _now(),
            **shape(text),
            "done": True,
            "done_reason": "stop",
            **_counts(turn, text),
        }
    )


def _counts(turn: Turn, text: str) -> dict[str, int]:
    return {"prompt_eval_count": turn.prompt_tokens, "eval_count": estimate_tokens(text)}


async def _stream(service: DescribeService, turn: Turn, shape: Shape) -> AsyncIterator[bytes]:
    text = []
    try:
        async for piece in answer_stream(service, turn):
            text.append(piece)
            yield ndjson({"model": turn.model, "created_at": _now(), **shape(piece), "done": False})
    except Exception as e:
        yield ndjson({"error": _error_event(e)["message"]})
        return
    yield ndjson(
        {
            "model": turn.model,
            "created_at": _now(),
            **shape(""),
            "done": True,
            "done_reason": "stop",
            **_counts(turn, "".join(text)),
        }
    )
