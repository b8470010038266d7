"""Server-sent events and NDJSON framing, and cutting a finished text into stream pieces."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

_PIECE = re.compile(r"\S+\s*|\s+")


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event (``event:`` line when given, then one ``data:`` line)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def ndjson(data: Any) -> bytes:
    """One line of newline-delimited JSON (Ollama's streaming format)."""
    return json.dumps(data, ensure_ascii=False).encode() + b"\n"


def pieces(text: str, words: int = 4) -> Iterator[str]:
    """``text`` in pieces of a few words (whitespace kept), so clients of a non-streaming backend
    still see the answer arrive as deltas; CJK text, which has no spaces, is cut every 8 characters."""
    parts = _PIECE.findall(text)
    if len(parts) <= 1 and len(text) > 8:
        parts = [text[i:i + 8] for i in range(0, len(text), 8)]
        words = 1
    for i in range(0, len(parts), words):
        yield "".join(parts[i:i + words])


STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
