"""Answering a chat turn: find the SQL in the last user message and describe it in the wanted language.

Finding is linear in the message and capped (:mod:`.finder`); a statement that does not parse is
answered with its error and position, the rest are described.

Shared by the OpenAI-compatible and Ollama-compatible routes, which differ only in their JSON.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError, SQLParseError
from .finder import Search, find_statements
from .messages import CANNOT_DESCRIBE, CAPPED, NO_SQL, detect_language, dialect_hint
from .service import ApiError, DescribeService, reply_text
from .sse import pieces


@dataclass
class Turn:
    """What the client asked: the last user message, the system prompt, and the model name it used."""

    user: str
    system: str = ""
    model: str = "sql2nl"
    stream: bool = False

    @property
    def prompt_tokens(self) -> int:
        return estimate_tokens(self.system) + estimate_tokens(self.user)


def estimate_tokens(text: str) -> int:
    """A rough token count for ``usage`` (about four characters a token); clients only display it."""
    return (len(text) + 3) // 4 if text else 0


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def _plan(service: DescribeService, turn: Turn) -> tuple[Search, str]:
    search = find_statements(turn.user, dialect_hint(turn.system))
    lang = detect_language(turn.user, turn.system, [f.sql for f in search.found], default=service.config.language)
    return search, lang


def _answer_sync(service: DescribeService, turn: Turn) -> tuple[str, str]:
    search, lang = _plan(service, turn)
    note = CAPPED[lang][search.capped] if search.capped else ""
    if not search.found:
        return NO_SQL[lang] + (f"\n\n{note}" if note else ""), lang
    parts = []
    for found in search.found:
        if found.error is not None:  # the user's SQL, not the server, is at fault: say where
            parts.append(CANNOT_DESCRIBE[lang].format(error=found.error))
            continue
        try:
            # Parsed already, in this dialect (None: the permissive chain, which will parse it the same way).
            parts.append(reply_text(service.describe_sync(found.sql, lang, found.dialect)))
        except (InvalidInputError, SQLParseError) as e:
            parts.append(CANNOT_DESCRIBE[lang].format(error=e))
    text = parts[0] if len(parts) == 1 else "\n".join(f"{i}. {p}" for i, p in enumerate(parts, 1))
    return text + (f"\n\n{note}" if note else ""), lang


async def answer(service: DescribeService, turn: Turn) -> tuple[str, str]:
    """The whole reply text and its language; repeated questions are answered from the cache."""
    key = ("chat", turn.user, turn.system)
    return await service.cached(key, lambda: _answer_sync(service, turn))


async def answer_stream(service: DescribeService, turn: Turn) -> AsyncIterator[str]:
    """The reply in pieces: live from a streaming backend when there is one statement, else cut up."""
    if service.backend.streams:
        search, lang = await service.cached(("plan", turn.user, turn.system), lambda: _plan(service, turn))
        if len(search.found) == 1 and search.found[0].error is None and not search.capped:
            started = False
            try:
                async for piece in service.stream(search.found[0].sql, lang, search.found[0].dialect):
                    started = True
                    yield piece
                return
            except (InvalidInputError, SQLParseError):
                if started:
                    raise
    text, _ = await answer(service, turn)
    for piece in pieces(text):
        yield piece


def turn_from_messages(messages: Any, *, model: Any, stream: Any, instructions: Any = None) -> Turn:
    """A :class:`Turn` from OpenAI/Ollama ``messages`` (``instructions`` is the Responses API's system prompt)."""
    from .messages import last_user_text, system_text

    if isinstance(messages, str):
        user, system = messages, ""
    elif isinstance(messages, list):
        if not all(isinstance(m, dict) for m in messages):
            raise ApiError(
                422, "Each message must be an object with 'role' and 'content'.", code="wrong_type", param="messages"
            )
        user, system = last_user_text(messages), system_text(messages)
    else:
        raise ApiError(
            422, "'messages' (or 'input') must be a list of messages or a string.", code="wrong_type", param="messages"
        )
    if isinstance(instructions, str):
        system = f"{instructions}\n{system}" if system else instructions
    return Turn(
        user=user, system=system, model=model if isinstance(model, str) and model else "sql2nl", stream=stream is True
    )
