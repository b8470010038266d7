"""The ``openai`` backend: describes SQL with a model behind any OpenAI-compatible chat API.

>>> from sql2nl import describe
>>> describe("SELECT name FROM users", backend="openai",
...          base_url="http://127.0.0.1:11434/v1", model="sql2nl")  # doctest: +SKIP

Works with Ollama, vLLM, llama.cpp's ``llama-server`` and ``python -m llama_cpp.server``. The
messages are :func:`sql2nl.prompt.build_messages`' (the server applies the model's chat template);
think-stripping and the faithfulness guard come from :class:`sql2nl.llm.LLMBackend`.

Nothing is sent anywhere unless the user names the server: ``base_url=`` or ``$OPENAI_BASE_URL``
is required, there is no default endpoint.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sql2nl.errors import BackendError, BackendUnavailableError, InvalidInputError, ModelError, Sql2NLError
from sql2nl.llm import LLMBackend

from .options import OpenAIOptions

#: Sent as the key when none is configured: local servers ignore it, the client refuses an empty one.
DUMMY_KEY = "sk-no-key-required"
INSTALL = "pip install sql2nl-openai  (from plugins/sql2nl-openai; it needs the `openai` client)"


def normalize_base_url(url: str) -> str:
    """``url`` checked for a scheme and host; a bare ``http://host:port`` gets the usual ``/v1``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"base_url must be an http(s) URL such as http://127.0.0.1:11434/v1, got {url!r}.")
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class OpenAIBackend(LLMBackend):
    """Describe with a model served over the OpenAI chat-completions API.

    Options (``describe(..., backend="openai", **options)``, CLI ``-b openai -m MODEL -o base_url=...``):
    :class:`~sql2nl_openai.options.OpenAIOptions` (``sql2nl backends --options``), e.g. ``base_url``
    ``http://127.0.0.1:11434/v1`` (Ollama), ``http://127.0.0.1:8000/v1`` (vLLM, llama-cpp-python),
    ``http://127.0.0.1:8080/v1`` (llama-server).
    """

    name = "openai"
    Options = OpenAIOptions
    options: OpenAIOptions  # set by Backend.__init__ from Options

    def __init__(self, base_url: str | None = None, model: str | None = None, **options: Any):
        if base_url is not None:
            options["base_url"] = base_url
        if model is not None:
            options["model"] = model
        super().__init__(**options)
        o = self.options
        url = o.base_url or os.environ.get("OPENAI_BASE_URL")
        if not url:
            raise InvalidInputError(
                "The openai backend needs the address of the server to use: base_url='http://127.0.0.1:11434/v1' "
                "(CLI: -o base_url=...) or OPENAI_BASE_URL. sql2nl has no default endpoint and sends your SQL "
                "nowhere you did not name."
            )
        timeout, max_retries, concurrency, stop, extra_body = (
            o.timeout,
            o.max_retries,
            o.concurrency,
            o.stop,
            o.extra_body,
        )
        api_key, model = o.api_key, o.model
        try:
            import openai
        except ImportError as e:
            raise BackendUnavailableError("openai", INSTALL, f"the openai client cannot be imported: {e}") from None
        self._openai = openai
        self.base_url = normalize_base_url(url)
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.stop = [stop] if isinstance(stop, str) else list(stop or [])
        self.extra_body = dict(extra_body or {})
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or DUMMY_KEY,
            timeout=timeout,
            max_retries=max_retries,
        )
        self._model = model
        self._model_lock = threading.Lock()
        self._calls = itertools.count()

    # -- the served model ---------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The model name sent with each request (asked of the server once when not given)."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = self._only_model()
        return self._model

    def served_models(self) -> list[str]:
        """The model names the server lists at ``/models``."""
        try:
            return [m.id for m in self.client.models.list()]
        except self._openai.OpenAIError as e:
            raise self._error(e, "listing its models") from None

    def _only_model(self) -> str:
        names = self.served_models()
        if len(names) == 1:
            return names[0]
        listing = ", ".join(names) if names else "none"
        raise InvalidInputError(
            f"Say which model to use: the server at {self.base_url} serves {listing}. Pass model=NAME (CLI: -m NAME)."
        )

    def fingerprint(self):
        # The model the server resolved when none was named, and the normalized URL.
        return (super().fingerprint(), self.base_url, self.model)

    # -- LLMBackend ---------------------------------------------------------------------------
    def render(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:  # type: ignore[override]
        # The server renders the model's chat template; we send the messages themselves.
        return messages

    def _request(self, messages: list[dict[str, str]], temperature: float | None) -> dict[str, Any]:
        temp = self.temperature if temperature is None else temperature
        kw: dict[str, Any] = dict(
            model=self.model, messages=messages, max_tokens=self.max_new_tokens, temperature=temp, top_p=self.top_p
        )
        if self.seed is not None:  # a sampled retry must not draw the very same sample again
            kw["seed"] = self.seed + (next(self._calls) if temp > 0 else 0)
        if self.stop:
            kw["stop"] = self.stop
        if self.extra_body:
            kw["extra_body"] = self.extra_body
        return kw

    def _complete(self, messages: list[dict[str, str]], temperature: float | None) -> str:
        try:
            r = self.client.chat.completions.create(**self._request(messages, temperature))
        except self._openai.OpenAIError as e:
            raise self._error(e) from None
        if not r.choices:
            raise BackendError(f"The server at {self.base_url} answered with no choices for model {self.model!r}.")
        return r.choices[0].message.content or ""

    def generate(self, prompts: Sequence[Any], *, temperature: float | None = None) -> list[str]:
        if len(prompts) <= 1 or self.concurrency == 1:
            return [self._complete(p, temperature) for p in prompts]
        _ = self.model  # resolve once, not in every worker
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(lambda p: self._complete(p, temperature), prompts))

    def generate_stream(self, prompt: Any) -> Iterator[str]:
        try:
            stream = self.client.chat.completions.create(stream=True, **self._request(prompt, None))
            with stream:
                for chunk in stream:
                    if chunk.choices:
                        piece = chunk.choices[0].delta.content
                        if piece:
                            yield piece
        except self._openai.OpenAIError as e:
            raise self._error(e, "streaming") from None

    # -- errors -------------------------------------------------------------------------------
    def _error(self, e: Exception, doing: str = "describing") -> Sql2NLError:
        """The sql2nl error for a failed request, saying what to check."""
        o = self._openai
        where = f"the OpenAI-compatible server at {self.base_url}"
        tries = f"{self.max_retries + 1} attempt{'s' if self.max_retries else ''}"
        if isinstance(e, o.APITimeoutError):
            return BackendError(
                f"{where[0].upper()}{where[1:]} did not answer within {self.timeout:g}s while {doing} "
                f"({tries}). Check that it is up and not overloaded, or raise timeout= "
                "(CLI: -o timeout=120)."
            )
        if isinstance(e, o.APIConnectionError):
            cause = e.__cause__ or e.__context__
            why = f": {cause}" if cause else ""
            return BackendError(
                f"Could not connect to {where} while {doing} ({tries}){why}. Is the server "
                "running, and is base_url right (it usually ends in /v1)?"
            )
        if isinstance(e, (o.AuthenticationError, o.PermissionDeniedError)):
            return BackendError(
                f"{where[0].upper()}{where[1:]} refused the request (HTTP {e.status_code}): "
                f"{_message(e)}. Pass api_key= or set OPENAI_API_KEY."
            )
        if isinstance(e, o.NotFoundError):
            return BackendError(
                f"{where[0].upper()}{where[1:]} answered 404 while {doing}: {_message(e)}. Check "
                f"model= (now {self._model!r}) and that base_url is the API root (usually ending in /v1)."
            )
        if isinstance(e, o.APIStatusError):
            msg = _message(e)
            if e.status_code == 400 and "context" in msg.lower():
                return ModelError(
                    f"The prompt does not fit the served model's context window: {msg}. Start the "
                    "server with a larger context (e.g. llama-server -c / Ollama num_ctx) or describe a "
                    "shorter statement."
                )
            return BackendError(f"{where[0].upper()}{where[1:]} answered HTTP {e.status_code} while {doing}: {msg}.")
        return BackendError(f"The request to {where} failed while {doing}: {type(e).__name__}: {e}")


def _message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return str(getattr(e, "message", e))
