"""What every LLM backend shares: options, prompt building, think-stripping, and the guard.

A plugin subclasses :class:`LLMBackend` and implements :meth:`~LLMBackend.generate` (a batch of
rendered prompts to texts), :meth:`~LLMBackend.generate_stream` and :meth:`~LLMBackend.render`;
its options class subclasses :class:`LLMOptions`. Every answer, batched or streamed, goes through
:func:`sql2nl.guard.choose` in :meth:`~LLMBackend.describe_batch` or :meth:`~LLMBackend.stream`:
a plugin cannot skip the guard.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import guard as _guard
from . import prompt as prompt_format
from .backends import Backend, Draft, Request
from .options import Options, option

log = logging.getLogger("sql2nl.llm")

GUARD_MODES = _guard.GUARD_MODES


@dataclass
class LLMOptions(Options):
    """Options every LLM backend takes: the faithfulness guard and sampling."""

    on_unfaithful: Literal["warn", "fallback", "retry"] = option(
        "warn",
        "What the guard does with an answer that leaves something out: warn (keep it, list what is "
        "missing in warnings), fallback (answer with the rules describer), retry (sample again, then fall back).",
        per_request=True,
    )
    min_faithfulness: float = option(
        1.0, "The checker's score below which the guard acts.", minimum=0.0, maximum=1.0, per_request=True
    )
    candidates: int = option(
        1,
        "Best of n: when the first answer is not perfect, sample n-1 more and keep the one "
        "the checker scores best (ties keep the greedy one).",
        minimum=1,
        maximum=64,
        per_request=True,
    )
    retries: int = option(
        2,
        "With on_unfaithful=retry: how many more samples before falling back.",
        minimum=0,
        maximum=32,
        per_request=True,
    )
    mend: bool = option(
        True,
        "Before falling back: append the rules describer's clauses for what the answer leaves out "
        "(a value, a limit, an ordering; English), and keep it if the checker then passes it.",
        per_request=True,
    )
    sample_temperature: float = option(
        0.7, "Temperature of the extra candidates and retries.", minimum=0.0, per_request=True
    )
    max_new_tokens: int = option(160, "Most tokens generated for one answer.", minimum=1, per_request=True)
    temperature: float = option(0.0, "Temperature of the first answer (0: greedy).", minimum=0.0, per_request=True)
    top_p: float = option(0.95, "Nucleus sampling when sampling.", minimum=0.0, maximum=1.0, per_request=True)
    seed: int | None = option(0, "Sampling seed (null: a fresh one each call).", per_request=True)


class LLMBackend(Backend):
    """Base for model-driven backends; its options (:class:`LLMOptions`) are the guard's and sampling's."""

    streams = True
    Options = LLMOptions
    options: LLMOptions  # set by Backend.__init__ from Options
    # A statement takes a tenth of a second or more: a worker's start (loading the model) pays back
    # after a few, and tasks of a few statements keep the workers evenly busy to the end.
    pool_chunk = 4
    pool_min = 8
    pool_start = "forkserver"  # (spawn where there is none): not forked from a process that ran a model

    # The options every plugin reads, as attributes (read-only: build another backend to change them).
    on_unfaithful = property(lambda self: self.options.on_unfaithful)
    min_faithfulness = property(lambda self: self.options.min_faithfulness)
    candidates = property(lambda self: self.options.candidates)
    retries = property(lambda self: self.options.retries)
    max_new_tokens = property(lambda self: self.options.max_new_tokens)
    temperature = property(lambda self: self.options.temperature)
    top_p = property(lambda self: self.options.top_p)
    seed = property(lambda self: self.options.seed)

    def fingerprint(self) -> Any:
        return prompt_format.PROMPT_VERSION

    # -- what a plugin implements -------------------------------------------------------------
    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text for ``messages`` (normally ``prompt.render_prompt`` with the model's template)."""
        return prompt_format.render_prompt(messages)

    def generate(self, prompts: Sequence[str], *, temperature: float | None = None) -> list[str]:
        """One answer per prompt (the same prompt may come several times: sample each anew)."""
        raise NotImplementedError

    def generate_stream(self, prompt: str) -> Iterator[str]:
        yield self.generate([prompt])[0]

    # -- shared behaviour ---------------------------------------------------------------------
    def prompt_for(self, request: Request) -> Any:
        tables = [t for f in request.facts for t in f.tables]
        messages = prompt_format.build_messages(
            request.sql,
            language=request.language,
            schema=request.schema,
            tables=tables,
            detail=request.detail,
            style=request.style,
        )
        return self.render(messages)

    def clean(self, prompt: Any, raw: str) -> str:
        """A raw generation without its reasoning (and without an echoed prompt)."""
        # A chat backend's "prompt" is its message list: no prompt text can be echoed back then.
        return prompt_format.strip_thinking(raw, prompt if isinstance(prompt, str) else None)

    def sample(self, prompts: Sequence[Any]) -> list[str]:
        """Sampled (not greedy) answers for the guard's extra candidates and retries, cleaned."""
        outs = self.generate(prompts, temperature=max(self.temperature, self.options.sample_temperature))
        return [self.clean(p, o) for p, o in zip(prompts, outs)]

    def describe(self, request: Request) -> Draft:
        return self.describe_batch([request])[0]

    def describe_batch(self, requests: Sequence[Request]) -> list[Draft]:
        prompts = [self.prompt_for(r) for r in requests]
        outputs = self.generate(prompts)
        return _guard.choose(self, requests, prompts, [self.clean(p, o) for p, o in zip(prompts, outputs)])

    def stream(self, request: Request) -> Generator[str, None, Draft]:
        """The answer in pieces, then (as the generator's return value) the guarded :class:`Draft`.

        When the guard may still replace the text (``fallback``/``retry``, ``candidates`` > 1) nothing
        is sent until it has chosen; with ``warn`` the text streams live and the draft carries the
        warnings, which every front end shows after the text.
        """
        if _guard.buffers(self):
            draft = self.describe(request)
            if draft.text:
                yield draft.text
            return draft
        prompt = self.prompt_for(request)
        filt = ThinkFilter()
        sent = []
        for piece in self.generate_stream(prompt):
            out = filt.feed(piece)
            if out:
                sent.append(out)
                yield out
        tail = filt.finish()
        if tail:
            sent.append(tail)
            yield tail
        return _guard.choose(self, [request], [prompt], ["".join(sent)])[0]

    def guard(self, request: Request, prompt: Any, raw: str) -> Draft:
        """The guarded draft for one raw answer (strip reasoning, check, act on ``on_unfaithful``)."""
        return _guard.choose(self, [request], [prompt], [self.clean(prompt, raw)])[0]


class ThinkFilter:
    """Streaming counterpart of :func:`prompt.strip_thinking`: hides ``<think>…</think>`` as it streams."""

    def __init__(self) -> None:
        self.buf = ""
        self.in_think = False
        self.started = False

    def feed(self, piece: str) -> str:
        self.buf += piece
        out: list[str] = []
        while True:
            if self.in_think:
                i = self.buf.find(prompt_format.THINK_CLOSE)
                if i < 0:
                    # Keep a tail that could be the start of the closing tag.
                    self.buf = self.buf[-len(prompt_format.THINK_CLOSE) :]
                    break
                self.buf = self.buf[i + len(prompt_format.THINK_CLOSE) :]
                self.in_think = False
                continue
            i = self.buf.find(prompt_format.THINK_OPEN)
            j = self.buf.find(prompt_format.THINK_CLOSE)
            if j >= 0 and (i < 0 or j < i):  # a close with no open: the prompt opened the block
                self.buf = self.buf[j + len(prompt_format.THINK_CLOSE) :]
                out.clear()
                continue
            if i >= 0:
                out.append(self.buf[:i])
                self.buf = self.buf[i + len(prompt_format.THINK_OPEN) :]
                self.in_think = True
                continue
            # Hold back what could be a partial tag.
            keep = max(len(prompt_format.THINK_OPEN), len(prompt_format.THINK_CLOSE))
            lt = self.buf.rfind("<", max(0, len(self.buf) - keep))
            if lt >= 0:
                out.append(self.buf[:lt])
                self.buf = self.buf[lt:]
            else:
                out.append(self.buf)
                self.buf = ""
            break
        text = "".join(out)
        if not self.started:
            text = text.lstrip()
            self.started = bool(text)
        return text

    def finish(self) -> str:
        if self.in_think:
            return ""
        rest, self.buf = self.buf, ""
        return rest.rstrip() if self.started else rest.strip()
