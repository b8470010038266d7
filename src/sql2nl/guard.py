"""The faithfulness guard: check a model's answers against the statement's facts and act on it.

Every LLM answer passes through :func:`choose`, whichever way it was asked for (``describe``,
``describe_many``, ``describe_stream``, the server, the LSP): :class:`sql2nl.llm.LLMBackend`
calls it from its one batch path and from its one stream path. In order:

1. **Check** the first (greedy) answer with :func:`sql2nl.faithfulness.check`.
2. **Best of n** (``candidates=N``): when it is not perfect, sample ``N - 1`` more answers (in one
   batch for all the statements of the call, where the backend batches) and keep the one the
   checker scores best; on a tie the greedy answer stays.
3. **Retry** (``on_unfaithful="retry"``): while the best is below ``min_faithfulness``, sample
   again, up to ``retries`` rounds.
4. **Mend** (``mend=True``, the default; English): an answer that only leaves things out (a filter
   value, a limit, an ordering) gets the rules describer's clauses that say them appended
   (:func:`sql2nl.faithfulness.repair.mend`, the same repair the training targets get), and is kept
   if the checker then passes it: the model's wording survives where a fallback would replace it.
5. **Fall back** (``"fallback"`` or ``"retry"``): if none is good enough, answer with the rules
   describer. ``"warn"`` keeps the best answer and lists what it may leave out in ``warnings``.

What happened is recorded in the draft's ``guard`` dict (and so on ``Description.guard``):
``mode``, ``candidates`` (answers generated, first one included), ``retries``, ``mended``, ``fell_back``,
``first_faithfulness`` (the greedy answer's score), ``faithful`` (whether the kept text passed),
``missing`` and ``contradicted``. Benchmarks add these up to report how often it retried or fell back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .backends import Draft, Request


class GuardedBackend(Protocol):
    """What the guard reads of :class:`sql2nl.llm.LLMBackend` (which calls it, so it is named here,
    not imported): its name, its options and more sampled answers."""

    @property
    def name(self) -> str: ...
    @property
    def options(self) -> Any: ...
    def sample(self, prompts: Sequence[Any]) -> list[str]: ...


GUARD_MODES = ("warn", "fallback", "retry")


@dataclass
class _Candidate:
    text: str
    score: float
    missing: list[str]
    contradicted: list[str]
    order: int  # 0 = the greedy answer: wins ties

    @property
    def rank(self) -> tuple:
        return (self.score, -len(self.contradicted), -self.order)


def _score(request: Request, text: str, order: int) -> _Candidate:
    from .faithfulness import check

    r = check(text, request.facts, language=request.language, schema=request.schema)
    return _Candidate(text, float(r.score), list(r.missing), list(getattr(r, "contradicted", []) or []), order)


def _passes(c: _Candidate, minimum: float) -> bool:
    return c.score >= minimum and not c.contradicted


def buffers(backend: GuardedBackend) -> bool:
    """Whether a stream must be held back until the guard has chosen: when the text the user
    would see can still be replaced (by a better candidate, a retry or the rules describer)."""
    o = backend.options
    return o.on_unfaithful in ("fallback", "retry") or o.candidates > 1


def choose(
    backend: GuardedBackend, requests: Sequence[Request], prompts: Sequence[Any], texts: Sequence[str]
) -> list[Draft]:
    """The guarded drafts for ``requests``, given the prompts and the first (greedy) answers."""
    o: Any = backend.options
    best = [_score(r, t, 0) for r, t in zip(requests, texts)]
    first = [c.score for c in best]
    made = [1] * len(best)
    retries = [0] * len(best)

    def sample(todo: list[int], n: int) -> None:
        # One generate call for every statement that still needs answers: batched where the backend can.
        batch = [prompts[i] for i in todo for _ in range(n)]
        outs = backend.sample(batch)
        for k, i in enumerate(todo):
            for j in range(n):
                c = _score(requests[i], outs[k * n + j], made[i] + j)
                if c.rank > best[i].rank:
                    best[i] = c
            made[i] += n

    # A perfect greedy answer cannot be beaten (ties keep it), so only imperfect ones are sampled.
    todo = [i for i, c in enumerate(best) if c.score < 1.0 or c.contradicted]
    if o.candidates > 1 and todo:
        sample(todo, o.candidates - 1)
    if o.on_unfaithful == "retry":
        for _ in range(o.retries):
            todo = [i for i, c in enumerate(best) if not _passes(c, o.min_faithfulness)]
            if not todo:
                break
            for i in todo:
                retries[i] += 1
            sample(todo, 1)
    out = []
    for i, (r, c) in enumerate(zip(requests, best)):
        info = {
            "mode": o.on_unfaithful,
            "candidates": made[i],
            "retries": retries[i],
            "mended": False,
            "fell_back": False,
            "first_faithfulness": first[i],
            "faithful": _passes(c, o.min_faithfulness),
            "missing": c.missing,
            "contradicted": c.contradicted,
        }
        if not info["faithful"] and o.on_unfaithful in ("fallback", "retry"):
            out.append(_fallback(backend, r, c, info))
        else:
            out.append(Draft(text=c.text, faithfulness=c.score, warnings=_warnings(c), guard=info))
    return out


def _warnings(c: _Candidate) -> list[str]:
    if not c.text:
        return ["the model produced no answer (its reasoning did not finish within max_new_tokens)"]
    return [f"the description may not mention: {m}" for m in c.missing] + [
        f"the description may contradict the SQL: {m}" for m in c.contradicted
    ]


def _mended(backend: GuardedBackend, request: Request, c: _Candidate, teacher: str) -> _Candidate | None:
    """``c`` with the rules text's clauses for what it leaves out appended, if the checker then passes it."""
    if not backend.options.mend or c.contradicted or not c.missing:
        return None
    from .faithfulness.repair import mend

    text = mend(c.text, request.facts, teacher, c.missing, language=request.language, schema=request.schema)
    if text is None:
        return None
    m = _score(request, text, c.order)
    return m if _passes(m, backend.options.min_faithfulness) else None


def _fallback(backend: GuardedBackend, request: Request, c: _Candidate, info: dict[str, Any]) -> Draft:
    from .rules import RulesBackend

    rules = RulesBackend().describe(request)
    m = _mended(backend, request, c, rules.text)
    if m is not None:
        guard = {**info, "mended": True, "faithful": True, "missing": [], "contradicted": []}
        return Draft(text=m.text, faithfulness=m.score, warnings=[], guard=guard)
    left = ", ".join(c.missing + c.contradicted) or "everything"
    rules.warnings = [
        f"the {backend.name} backend's answer left out or contradicted: {left}; answered with the "
        "rules describer instead"
    ] + rules.warnings
    rules.backend = "rules"
    checked = _score(request, rules.text, 0)
    rules.faithfulness = checked.score
    rules.guard = {**info, "fell_back": True, "faithful": _passes(checked, backend.options.min_faithfulness)}
    return rules


def correction(guard: dict[str, Any] | None, language: str = "en") -> str:
    """The note a chat client is shown after a text the guard let through with ``warn`` ("" if none).

    Streams cannot take back what they sent, so in ``warn`` mode the server appends this to the
    reply (streamed or not, the same), and the CLI prints the warnings after the text.
    """
    if not guard or guard.get("faithful", True) or guard.get("fell_back"):
        return ""
    items = ", ".join(guard.get("missing", []) + guard.get("contradicted", []))
    if language == "zh":
        return f"\n\n（sql2nl 提示：此描述可能遗漏或误述：{items}。）"
    return f"\n\n(sql2nl warning: this description may leave out or misstate: {items}.)"
