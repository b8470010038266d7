"""A tiny OpenAI-compatible HTTP server with canned answers that records what it is sent.

A real peer on a loopback port (Starlette served by uvicorn through ``sql2nl.server.runner``),
speaking the chat-completions protocol to the official ``openai`` client: the openai backend's
requests, retries, errors and streams are tested against it without building llama-cpp-python.
What it answers is set per test (``peer.answer``, ``peer.fail``...); ``peer.requests`` holds
every request as (headers, JSON body).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sql2nl.server.runner import ServerThread


class CannedOpenAI:
    """Answers ``answer`` (a string, or a function of the request body) to every chat completion."""

    def __init__(self) -> None:
        self.thread = ServerThread(
            Starlette(
                routes=[
                    Route("/v1/models", self._models, methods=["GET"]),
                    Route("/v1/chat/completions", self._chat, methods=["POST"]),
                ]
            )
        )
        self.reset()

    def reset(self) -> None:
        """Back to the default script: one model, a fixed answer, no failures, no delay."""
        self.models: list[str] = ["canned"]
        self.answer: str | Callable[[dict[str, Any]], str] = "Lists the names of singers older than 30."
        #: (status, message): every chat request fails so; ``fail_times`` limits it to the first N.
        self.fail: tuple[int, str] | None = None
        self.fail_times: int | None = None
        self.no_choices = False
        self.delay_s = 0.0
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.in_flight = self.most_in_flight = 0

    @property
    def url(self) -> str:
        return f"{self.thread.url}/v1"

    def __enter__(self) -> "CannedOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.thread.stop()

    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.requests]

    async def _models(self, request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.models],
            }
        )

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if self.fail is not None and (self.fail_times is None or self.fail_times > 0):
            if self.fail_times is not None:
                self.fail_times -= 1
            status, message = self.fail
            return JSONResponse(
                {"error": {"message": message, "type": "invalid_request_error", "code": None}}, status_code=status
            )
        text = self.answer(body) if callable(self.answer) else self.answer
        base = {"id": "chatcmpl-canned", "created": 0, "model": body.get("model")}
        if body.get("stream"):
            return StreamingResponse(self._stream(base, text), media_type="text/event-stream")
        choices = (
            []
            if self.no_choices
            else [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
        )
        return JSONResponse(
            {
                **base,
                "object": "chat.completion",
                "choices": choices,
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    @staticmethod
    async def _stream(base: dict[str, Any], text: str):
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word + (" " if i < len(words) - 1 else "")
            chunk = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        done = {
            **base,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode()
