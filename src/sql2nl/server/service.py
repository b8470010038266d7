"""Calling the backend from async handlers: off the event loop, bounded, timed out, cached.

Backends are blocking (a model generates for seconds), so every call runs in a worker thread
(``anyio.to_thread``) under a :class:`~anyio.CapacityLimiter`; a call over ``timeout_s`` is
abandoned with a 504 while the server goes on serving. Threads of abandoned calls are counted,
and past a bound the server answers 503 instead of starting more: a hanging backend cannot eat
the machine. Answers to repeated statements come from an in-process cache without leaving the
event loop, which is what makes thousands of requests per second possible on two cores.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any

import anyio
from anyio import to_thread

from .. import api
from ..backends import Backend
from ..cache import LRUCache
from ..description import Description
from ..faithfulness import check
from ..guard import correction
from ..options import freeze
from .config import ServerConfig


class ApiError(Exception):
    """An error with its HTTP status, shown to the client as ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.extra: dict[str, Any] = {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param, **self.extra}
        }


#: Requests whose text is longer than this are answered but not remembered.
MAX_CACHED_KEY_CHARS = 32_768


def description_payload(d: Description, facts: bool = True) -> dict[str, Any]:
    """The JSON answer for one description: text, warnings, facts, faithfulness (always scored).

    ``facts=False`` leaves the facts out: writing them out (each part's SQL text) costs about as
    much as describing, and an editor that shows only the text does not need them.
    """
    faith = d.faithfulness
    if faith is None and d.text:
        faith = check(d.text, d.facts, language=d.language).score
    return {
        "text": d.text,
        "warnings": list(d.warnings),
        "facts": [f.to_dict() for f in d.facts] if facts else [],
        "faithfulness": faith,
        "backend": d.backend,
        "language": d.language,
        "guard": d.guard,
    }


def reply_text(d: Description) -> str:
    """The text a chat client is shown: the description, plus the guard's note when it let an
    unfaithful answer through (``on_unfaithful="warn"``) — the same streamed or not."""
    return d.text + correction(d.guard, d.language)


class DescribeService:
    """The one backend a server serves, with the limits of its :class:`ServerConfig`."""

    def __init__(self, config: ServerConfig, backend: Backend | None = None):
        self.config = config
        self.backend = backend if backend is not None else api.resolve_backend(config.backend, config.backend_options)
        self.limiter = anyio.CapacityLimiter(config.max_concurrency)
        self.cache = LRUCache(4096, max_key_chars=MAX_CACHED_KEY_CHARS)  # answers, by request
        # The library's own cache as well? It keeps each Description with its facts, and so the
        # statement's syntax tree (thousands of objects for a long statement); Python's full garbage
        # collections walk all of them, which stalled a chat server for 80-140 ms every few dozen
        # 4 KB messages. The rules backend answers again in a millisecond and self.cache keeps the
        # answers; a model backend's answers are worth the library's cache (and its persistent one).
        self.library_cache = self.backend.name != "rules"
        self._computing: dict[Hashable, asyncio.Future] = {}  # keys of cached() being computed now
        self.waiting = 0  # calls admitted and not finished (running or queued for a thread)
        self._abandoned = 0  # threads still running calls whose request already timed out
        self._abandoned_lock = threading.Lock()

    # -- admission and the thread hop ---------------------------------------------------------
    def _admit(self) -> None:
        if self._abandoned >= 2 * self.config.max_concurrency:
            raise ApiError(
                503,
                f"The {self.backend.name!r} backend is not answering: {self._abandoned} calls "
                "are still stuck after timing out. Restart `sql2nl serve` or check the backend.",
                type="server_error",
                code="backend_stuck",
                headers={"Retry-After": "30"},
            )
        if self.waiting >= self.config.max_concurrency + self.config.max_queue:
            raise ApiError(
                503,
                "The server is busy: too many requests are waiting for the backend. Retry shortly.",
                type="server_error",
                code="overloaded",
                headers={"Retry-After": "1"},
            )

    def _timeout_error(self) -> ApiError:
        return ApiError(
            504,
            f"The {self.backend.name!r} backend did not answer within {self.config.timeout_s:g} s; "
            "try a shorter statement, a faster backend, or raise --timeout.",
            type="server_error",
            code="timeout",
        )

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker thread, within the concurrency, queue and time limits."""
        self._admit()
        self.waiting += 1
        finished = threading.Event()
        abandoned = [False]

        def work():
            try:
                return fn(*args)
            finally:
                finished.set()
                with self._abandoned_lock:
                    if abandoned[0]:
                        self._abandoned -= 1

        try:
            with anyio.fail_after(self.config.timeout_s):
                return await to_thread.run_sync(work, abandon_on_cancel=True, limiter=self.limiter)
        except TimeoutError:
            with self._abandoned_lock:
                if not finished.is_set():
                    abandoned[0] = True
                    self._abandoned += 1
            raise self._timeout_error() from None
        finally:
            self.waiting -= 1

    @property
    def stuck(self) -> int:
        return self._abandoned

    # -- describing ---------------------------------------------------------------------------
    def backend_for(self, options: dict[str, Any] | None) -> Backend:
        """The served backend, with a request's own values for the options a request may set."""
        return self.backend.with_options(**options) if options else self.backend

    def describe_sync(
        self,
        sql: str,
        language: str,
        dialect: str | None,
        options: dict[str, Any] | None = None,
        detail: str = "summary",
        style: str = "statement",
    ) -> Description:
        return api.describe(
            sql,
            backend=self.backend_for(options),
            language=language,
            dialect=dialect,
            redact=self.config.redact,
            detail=detail,
            style=style,
            cache=self.library_cache,
        )

    async def describe(self, sql: str, language: str, dialect: str | None) -> Description:
        return await self.run(self.describe_sync, sql, language, dialect)

    async def describe_payload(
        self,
        sql: str,
        language: str,
        dialect: str | None,
        facts: bool = True,
        options: dict[str, Any] | None = None,
        detail: str = "summary",
        style: str = "statement",
    ) -> dict[str, Any]:
        """The JSON answer for ``/v1/describe``; repeated statements never leave the event loop."""
        key = ("describe", sql, language, dialect, facts, freeze(options or {}), detail, style)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        self.backend_for(options)  # a bad option is the client's mistake: 422 before queueing
        payload = await self.run(
            lambda: description_payload(self.describe_sync(sql, language, dialect, options, detail, style), facts)
        )
        self.cache.put(key, payload)
        return payload

    async def describe_json(
        self,
        sql: str,
        language: str,
        dialect: str | None,
        facts: bool = True,
        options: dict[str, Any] | None = None,
        detail: str = "summary",
        style: str = "statement",
    ) -> bytes:
        """:meth:`describe_payload` already encoded, so a cache hit costs one dict lookup."""
        key = ("describe-json", sql, language, dialect, facts, freeze(options or {}), detail, style)
        hit = self.cache.get(key)
        if hit is None:
            payload = await self.describe_payload(sql, language, dialect, facts, options, detail, style)
            hit = json.dumps(payload, ensure_ascii=False).encode()
            self.cache.put(key, hit)
        return hit

    async def cached(self, key: Hashable, fn: Callable[[], Any]) -> Any:
        """``fn()`` in a worker thread, remembered under ``key`` (for chat answers).

        Requests for a key already being computed wait for that computation instead of starting
        their own: 64 clients sending the same message at once cost one thread and one queue
        slot, not 64. The computation goes on if the request that started it goes away.
        """
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        task = self._computing.get(key)
        if task is None:
            task = asyncio.ensure_future(self.run(fn))
            self._computing[key] = task
            task.add_done_callback(lambda t: self._finished(key, t))
        return await asyncio.shield(task)

    def _finished(self, key: Hashable, task: asyncio.Future) -> None:
        del self._computing[key]
        if not task.cancelled() and task.exception() is None:  # (reading the exception marks it seen)
            self.cache.put(key, task.result())

    async def stream(self, sql: str, language: str, dialect: str | None) -> AsyncIterator[str]:
        """The reply in pieces as a streaming backend produces them (one piece otherwise), then the
        guard's note if it let an unfaithful answer through (:func:`reply_text`: same as unstreamed).

        The backend's iterator runs in a worker thread that stops at its next piece once the
        client has gone away (the generator is closed) or the time limit has passed.
        """
        if not self.backend.streams:
            yield reply_text(await self.describe(sql, language, dialect))
            return
        self._admit()
        self.waiting += 1
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()

        def work():
            try:
                response = api.describe_stream(
                    sql, backend=self.backend, language=language, dialect=dialect, redact=self.config.redact
                )
                for piece in response:
                    if stop.is_set():
                        response.close()
                        return
                    loop.call_soon_threadsafe(queue.put_nowait, ("piece", piece))
                d = response.description()
                note = correction(d.guard, d.language)
                if note:
                    loop.call_soon_threadsafe(queue.put_nowait, ("piece", note))
                loop.call_soon_threadsafe(queue.put_nowait, ("end", None))
            except BaseException as e:  # handed to the event loop, re-raised there
                loop.call_soon_threadsafe(queue.put_nowait, ("error", e))

        task = asyncio.ensure_future(to_thread.run_sync(work, abandon_on_cancel=True, limiter=self.limiter))
        try:
            deadline = loop.time() + self.config.timeout_s
            while True:
                try:
                    kind, value = await asyncio.wait_for(queue.get(), max(0.0, deadline - loop.time()))
                except asyncio.TimeoutError:
                    raise self._timeout_error() from None
                if kind == "piece":
                    yield value
                elif kind == "end":
                    return
                else:
                    raise value
        finally:
            stop.set()
            self.waiting -= 1
            if not task.done():
                task.cancel()
