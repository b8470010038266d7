"""The ``openai`` backend's options, declared once (light: importing this loads no openai client)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sql2nl.llm import LLMOptions
from sql2nl.options import option


@dataclass
class OpenAIOptions(LLMOptions):
    """Options of :class:`~sql2nl_openai.backend.OpenAIBackend` (plus the guard's and sampling's)."""

    base_url: str | None = option(
        None,
        "The server's API root, e.g. http://127.0.0.1:11434/v1 (Ollama); required "
        "(or $OPENAI_BASE_URL): there is no default endpoint.",
    )
    model: str | None = option(None, "The served model's name (default: the server's only model).")
    api_key: str | None = option(None, "API key (or $OPENAI_API_KEY); local servers need none.", secret=True)
    timeout: float = option(60.0, "Seconds per request.", changes_text=False, minimum=0.001)
    max_retries: int = option(
        2, "Retries on connection errors, timeouts, 429 and 5xx (with backoff).", changes_text=False, minimum=0
    )
    concurrency: int = option(4, "Requests in flight for describe_many.", changes_text=False, minimum=1)
    stop: str | list[str] | None = option(None, "Extra stop strings.")
    extra_body: dict[str, Any] | None = option(
        None, 'Server-specific request fields, e.g. {"chat_template_kwargs": {"enable_thinking": false}} for vLLM.'
    )
