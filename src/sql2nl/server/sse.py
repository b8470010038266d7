"""Server-sent events (framed by ``sse-starlette``) and NDJSON, and cutting a finished text into
stream pieces."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from sse_starlette import EventSourceResponse

_PIECE = re.compile(r"\S+\s*|\s+")

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: Seconds between keep-alive comments (``: ping``) while a slow model produces nothing, so proxies
#: and clients do not give up on an idle connection; SSE clients ignore comments.
PING_S = 15


def sse(data: Any, event: str | None = None) -> dict[str, Any]:
    """One server-sent event for :func:`event_stream`: the ``event:`` name when given, and the data
    (JSON on one line unless it is a string, such as OpenAI's ``[DONE]``)."""
    return {"data": data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), "event": event}


def event_stream(events: AsyncIterator[dict[str, Any]]) -> EventSourceResponse:
    """A ``text/event-stream`` response of ``events`` (from :func:`sse`), framed as OpenAI's API
    frames them (``event:``/``data:`` lines ending in LF, a blank line after each event)."""
    return EventSourceResponse(events, sep="\n", ping=PING_S, headers=STREAM_HEADERS)


def ndjson(data: Any) -> bytes:
    """One line of newline-delimited JSON (Ollama's streaming format)."""
    return json.dumps(data, ensure_ascii=False).encode() + b"\n"


def pieces(text: str, words: int = 4) -> Iterator[str]:
    """``text`` in pieces of a few words (whitespace kept), so clients of a non-streaming backend
    still see the answer arrive as deltas; CJK text, which has no spaces, is cut every 8 characters."""
    parts = _PIECE.findall(text)
    if len(parts) <= 1 and len(text) > 8:
        parts = [text[i : i + 8] for i in range(0, len(text), 8)]
        words = 1
    for i in range(0, len(parts), words):
        yield "".join(parts[i : i + words])
