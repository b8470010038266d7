"""OpenAI-compatible routes: ``/v1/models``, ``/v1/chat/completions`` and ``/v1/responses``.

The shapes follow the official ``openai`` client's types (``openai.types.responses`` and
``openai.types.chat``) so that it, DBeaver and IDE assistants parse them. Any model name is
accepted; tools are ignored (the answer is always a description).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .. import __version__
from ..errors import Sql2NLError
from .chat import Turn, answer, answer_stream, estimate_tokens, new_id, now, turn_from_messages
from .http import api_error, field, json_response, read_json
from .service import ApiError, DescribeService
from .sse import event_stream, sse

STARTED = now()


def model_ids(service: DescribeService) -> list[str]:
    """The names listed by ``/v1/models``; requests may use any name."""
    # DBeaver treats an unknown model as a chat model only if its name starts with "gpt-" or "o"
    # (OpenAIModels.isChatModel), so one name is spelled for it.
    ids = ["sql2nl", f"sql2nl-{service.backend.name}", "gpt-sql2nl"]
    model = service.config.backend_options.get("model")
    if isinstance(model, str) and model and model not in ids:
        ids.append(model)
    return ids


def _model(mid: str) -> dict[str, Any]:
    return {"id": mid, "object": "model", "created": STARTED, "owned_by": "sql2nl"}


async def list_models(request: Request) -> Response:
    service: DescribeService = request.app.state.service
    return json_response({"object": "list", "data": [_model(m) for m in model_ids(service)]})


async def get_model(request: Request) -> Response:
    return json_response(_model(request.path_params["model"]))


def _error_event(e: Exception) -> dict[str, Any]:
    err = (
        e
        if isinstance(e, ApiError)
        else api_error(e)
        if isinstance(e, Sql2NLError)
        else ApiError(500, f"Internal error: {type(e).__name__}", type="server_error", code="internal")
    )
    return err.body()["error"]


# -- chat completions --------------------------------------------------------------------------
async def chat_completions(request: Request) -> Response:
    service: DescribeService = request.app.state.service
    data = await read_json(request)
    messages = field(data, "messages", list, required=True)
    turn = turn_from_messages(messages, model=field(data, "model", str), stream=field(data, "stream", bool))
    field(data, "temperature", (int, float))  # ignored, but a wrong type is still the client's mistake
    opts = field(data, "stream_options", dict, default={})
    cid, created = new_id("chatcmpl"), now()
    if turn.stream:
        return event_stream(_chat_stream(service, turn, cid, created, opts.get("include_usage") is True))
    text, _ = await answer(service, turn)
    return json_response(
        {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": turn.model,
            "system_fingerprint": f"sql2nl-{__version__}",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": _chat_usage(turn, text),
        }
    )


def _chat_usage(turn: Turn, text: str) -> dict[str, int]:
    out = estimate_tokens(text)
    return {"prompt_tokens": turn.prompt_tokens, "completion_tokens": out, "total_tokens": turn.prompt_tokens + out}


async def _chat_stream(
    service: DescribeService, turn: Turn, cid: str, created: int, include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> dict[str, Any]:
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": turn.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if usage is not None:
            body["choices"], body["usage"] = [], usage
        return sse(body)

    yield chunk({"role": "assistant", "content": ""})
    text = []
    try:
        async for piece in answer_stream(service, turn):
            text.append(piece)
            yield chunk({"content": piece})
    except Exception as e:  # headers are sent: the error goes in the stream, as OpenAI does
        yield sse({"error": _error_event(e)})
        yield sse("[DONE]")
        return
    yield chunk({}, "stop")
    if include_usage:
        yield chunk({}, usage=_chat_usage(turn, "".join(text)))
    yield sse("[DONE]")


# -- responses -----------------------------------------------------------------------------------
async def responses(request: Request) -> Response:
    service: DescribeService = request.app.state.service
    data = await read_json(request)
    inp = data.get("input")
    if inp is None:
        raise ApiError(422, "The field 'input' is required.", code="missing_field", param="input")
    turn = turn_from_messages(
        inp,
        model=field(data, "model", str),
        stream=field(data, "stream", bool),
        instructions=field(data, "instructions", str),
    )
    temperature = field(data, "temperature", (int, float))
    rid, mid, created = new_id("resp"), new_id("msg"), now()
    if turn.stream:
        return event_stream(_responses_stream(service, turn, rid, mid, created, temperature))
    text, _ = await answer(service, turn)
    return json_response(_response_object(turn, rid, mid, created, temperature, "completed", text))


def _message_item(mid: str, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"id": mid, "type": "message", "role": "assistant", "status": status, "content": content}


def _response_object(
    turn: Turn, rid: str, mid: str, created: int, temperature: Any, status: str, text: str | None
) -> dict[str, Any]:
    done = status == "completed"
    usage = None
    if done:
        out = estimate_tokens(text or "")
        usage = {
            "input_tokens": turn.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": turn.prompt_tokens + out,
        }
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "completed_at": now() if done else None,
        "status": status,
        "model": turn.model,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "output": [_message_item(mid, text, "completed")] if done else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": temperature,
        "top_p": None,
        "max_output_tokens": None,
        "previous_response_id": None,
        "reasoning": None,
        "store": False,
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "usage": usage,
        "output_text": text if done else "",
    }


async def _responses_stream(
    service: DescribeService, turn: Turn, rid: str, mid: str, created: int, temperature: Any
) -> AsyncIterator[dict[str, Any]]:
    seq = 0

    def event(kind: str, **body: Any) -> dict[str, Any]:
        nonlocal seq
        body = {"type": kind, "sequence_number": seq, **body}
        seq += 1
        return sse(body, event=kind)

    where = {"item_id": mid, "output_index": 0, "content_index": 0}
    yield event(
        "response.created", response=_response_object(turn, rid, mid, created, temperature, "in_progress", None)
    )
    yield event(
        "response.in_progress", response=_response_object(turn, rid, mid, created, temperature, "in_progress", None)
    )
    yield event("response.output_item.added", output_index=0, item=_message_item(mid, None, "in_progress"))
    yield event("response.content_part.added", **where, part={"type": "output_text", "text": "", "annotations": []})
    text = []
    try:
        async for piece in answer_stream(service, turn):
            text.append(piece)
            yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
    except Exception as e:
        err = _error_event(e)
        yield event("error", code=err["code"], message=err["message"], param=err["param"], error=err)
        return
    full = "".join(text)
    yield event("response.output_text.done", **where, text=full, logprobs=[])
    yield event("response.content_part.done", **where, part={"type": "output_text", "text": full, "annotations": []})
    yield event("response.output_item.done", output_index=0, item=_message_item(mid, full, "completed"))
    yield event(
        "response.completed", response=_response_object(turn, rid, mid, created, temperature, "completed", full)
    )
