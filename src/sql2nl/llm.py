"""What every LLM backend shares: prompt building, think-stripping, and the faithfulness guard.

A plugin subclasses :class:`LLMBackend` and implements :meth:`~LLMBackend.generate` (a batch of
rendered prompts to texts), :meth:`~LLMBackend.generate_stream` and :meth:`~LLMBackend.render`.
"""

from __future__ import annotations

import logging
from typing import Iterator, Sequence

from . import prompt as prompt_format
from .backends import Backend, Draft, Request
from .errors import InvalidInputError

log = logging.getLogger("sql2nl.llm")

GUARD_MODES = ("warn", "fallback", "retry")


class LLMBackend(Backend):
    """Base for model-driven backends. Options common to all of them:

    * ``on_unfaithful``: ``"warn"`` (default: keep the text, list what is missing in ``warnings``),
      ``"fallback"`` (answer with the rules describer) or ``"retry"`` (sample again, keep the best,
      then fall back);
    * ``min_faithfulness`` (default 1.0): the score below which the guard acts;
    * ``max_new_tokens`` (default 160), ``temperature`` (default 0: greedy), ``retries`` (default 2).
    """

    streams = True

    def __init__(self, *, on_unfaithful: str = "warn", min_faithfulness: float = 1.0,
                 max_new_tokens: int = 160, temperature: float = 0.0, top_p: float = 0.95,
                 retries: int = 2, seed: int | None = 0):
        if on_unfaithful not in GUARD_MODES:
            raise InvalidInputError(f"on_unfaithful must be one of {', '.join(GUARD_MODES)}, got {on_unfaithful!r}.")
        if max_new_tokens < 1:
            raise InvalidInputError("max_new_tokens must be at least 1.")
        self.on_unfaithful = on_unfaithful
        self.min_faithfulness = float(min_faithfulness)
        self.max_new_tokens = int(max_new_tokens)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.retries = int(retries)
        self.seed = seed

    # -- what a plugin implements -------------------------------------------------------------
    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt text for ``messages`` (normally ``prompt.render_prompt`` with the model's template)."""
        return prompt_format.render_prompt(messages)

    def generate(self, prompts: Sequence[str], *, temperature: float | None = None) -> list[str]:
        raise NotImplementedError

    def generate_stream(self, prompt: str) -> Iterator[str]:
        yield self.generate([prompt])[0]

    # -- shared behaviour ---------------------------------------------------------------------
    def prompt_for(self, request: Request) -> str:
        tables = [t for f in request.facts for t in f.tables]
        messages = prompt_format.build_messages(request.sql, language=request.language,
                                                schema=request.schema, tables=tables, detail=request.detail,
                                                style=request.style)
        return self.render(messages)

    def describe(self, request: Request) -> Draft:
        return self.describe_batch([request])[0]

    def describe_batch(self, requests: Sequence[Request]) -> list[Draft]:
        prompts = [self.prompt_for(r) for r in requests]
        outputs = self.generate(prompts)
        return [self.guard(r, p, o) for r, p, o in zip(requests, prompts, outputs)]

    def stream(self, request: Request) -> Iterator[str]:
        prompt = self.prompt_for(request)
        filt = ThinkFilter()
        for piece in self.generate_stream(prompt):
            out = filt.feed(piece)
            if out:
                yield out
        tail = filt.finish()
        if tail:
            yield tail

    def guard(self, request: Request, prompt: str, raw: str) -> Draft:
        """Strip reasoning, score faithfulness and act on ``on_unfaithful``."""
        from .faithfulness import check

        # A chat backend's "prompt" is its message list: no prompt text can be echoed back then.
        echo = prompt if isinstance(prompt, str) else None
        text = prompt_format.strip_thinking(raw, echo)
        result = check(text, request.facts, language=request.language, schema=request.schema)
        draft = Draft(text=text, faithfulness=result.score, warnings=_missing_warnings(result.missing, text))
        if result.score >= self.min_faithfulness:
            return draft
        if self.on_unfaithful == "retry":
            for i in range(self.retries):
                again = prompt_format.strip_thinking(
                    self.generate([prompt], temperature=max(self.temperature, 0.7))[0], echo)
                r2 = check(again, request.facts, language=request.language, schema=request.schema)
                if r2.score > (draft.faithfulness or 0):
                    draft = Draft(text=again, faithfulness=r2.score, warnings=_missing_warnings(r2.missing, again))
                if r2.score >= self.min_faithfulness:
                    return draft
        if self.on_unfaithful in ("fallback", "retry"):
            from .rules import RulesBackend

            rules = RulesBackend().describe(request)
            rules.warnings = [f"the {self.name} backend's answer left out: {', '.join(result.missing) or 'everything'}; "
                              "answered with the rules describer instead"] + rules.warnings
            rules.backend = "rules"
            rules.faithfulness = check(rules.text, request.facts, language=request.language, schema=request.schema).score
            return rules
        return draft


def _missing_warnings(missing: list[str], text: str) -> list[str]:
    if not text:
        return ["the model produced no answer (its reasoning did not finish within max_new_tokens)"]
    return [f"the description may not mention: {m}" for m in missing]


class ThinkFilter:
    """Streaming counterpart of :func:`prompt.strip_thinking`: hides ``<think>…</think>`` as it streams."""

    def __init__(self) -> None:
        self.buf = ""
        self.in_think = False
        self.started = False

    def feed(self, piece: str) -> str:
        self.buf += piece
        out = []
        while True:
            if self.in_think:
                i = self.buf.find(prompt_format.THINK_CLOSE)
                if i < 0:
                    # Keep a tail that could be the start of the closing tag.
                    self.buf = self.buf[-len(prompt_format.THINK_CLOSE):]
                    break
                self.buf = self.buf[i + len(prompt_format.THINK_CLOSE):]
                self.in_think = False
                continue
            i = self.buf.find(prompt_format.THINK_OPEN)
            j = self.buf.find(prompt_format.THINK_CLOSE)
            if j >= 0 and (i < 0 or j < i):  # a close with no open: the prompt opened the block
                self.buf = self.buf[j + len(prompt_format.THINK_CLOSE):]
                out.clear()
                continue
            if i >= 0:
                out.append(self.buf[:i])
                self.buf = self.buf[i + len(prompt_format.THINK_OPEN):]
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
