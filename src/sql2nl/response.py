"""One answer, streamed or not: :class:`Response` (simonw/llm's idea).

:func:`~sql2nl.describe` and :func:`~sql2nl.describe_stream` both build a :class:`Response`; the
first asks it for the whole :class:`~sql2nl.Description`, the second iterates over its text as it
arrives. Either way the answer passes through the same post-processing, here and nowhere else:
the backend's guarded :class:`~sql2nl.backends.Draft` (the guard itself runs in the backend's one
batch path and one stream path, :mod:`sql2nl.guard`), placeholders restored
(:meth:`Prepared.finish`, and piece by piece while streaming), the description built and cached.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, TypeVar

from .backends import Backend, Draft, Request
from .description import Description
from .errors import BackendError, InternalError, Sql2NLError
from .facts import statement_facts
from .parsing import parse_text, run_deep, unsupported_sql
from .redact import redact as _redact
from .schema import Schema

T = TypeVar("T")


def call_backend(be: Backend, fn: Callable[..., T], *args: Any, blame: Sequence[Prepared] = ()) -> T:
    """``fn(*args)``, with anything but a :class:`Sql2NLError` turned into a :class:`BackendError` --
    or, when one of the statements in ``blame`` is what failed, that statement's error."""
    try:
        return fn(*args)
    except (Sql2NLError, RecursionError):
        raise
    except Exception as e:  # a backend bug or an outside failure; never leak another exception type
        raise statement_error(blame) or BackendError(f"The {be.name!r} backend failed: {type(e).__name__}: {e}") from e


def statement_error(preps: Sequence[Prepared]) -> Sql2NLError | None:
    """The error of a statement sqlglot parses but cannot write back as SQL: it fails in any backend,
    so it is the input's fault (:func:`~sql2nl.parsing.unsupported_sql`); None if there is none."""
    for p in preps:
        err = unsupported_sql(p.sql, [f.tree for f in p.facts if f.tree is not None], p.request.dialect)
        if err is not None:
            return err
    return None


def deep_ok(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``; input nested deeper than Python's default recursion limit is retried on a big stack."""
    try:
        return fn(*args)
    except RecursionError:
        return run_deep(fn, *args)


class Prepared:
    """A statement parsed, its facts extracted and (if asked) redacted: what the backend gets."""

    __slots__ = ("sql", "facts", "request", "redaction")

    def __init__(
        self,
        text: str,
        language: str,
        dialect: str | None,
        schema: Schema | None,
        redact: bool,
        detail: str = "summary",
        style: str = "statement",
    ):
        trees = parse_text(text, dialect)
        try:
            # The trees were parsed just now, for this: the facts may normalise them in place.
            self.facts = [statement_facts(t, dialect, schema=schema, owned=True, text=text) for t in trees]
            # Redact the trees the facts read: they have Spider-style "strings" as literals, which
            # redaction must hide too.
            self.redaction = _redact([f.tree for f in self.facts], text, dialect) if redact else None
            if self.redaction is not None:
                rfacts = tuple(statement_facts(t, dialect, schema=schema) for t in self.redaction.trees)
                self.request = Request(self.redaction.sql(dialect), rfacts, language, dialect, schema, detail, style)
            else:
                self.request = Request(text, tuple(self.facts), language, dialect, schema, detail, style)
        except (Sql2NLError, RecursionError):
            raise
        except Exception as e:  # a bug in sql2nl, not in the user's SQL (unless sqlglot cannot write it)
            raise unsupported_sql(text, trees, dialect) or InternalError(
                f"sql2nl failed while analysing the SQL ({type(e).__name__}: {e}). This is a bug "
                "in sql2nl; please report it together with the SQL."
            ) from e
        self.sql = text

    def finish(self, draft: Draft, be: Backend) -> Description:
        """THE post-processing of a backend's answer: values restored, the Description built."""
        text, warnings, guard = draft.text, list(draft.warnings), draft.guard
        r = self.redaction
        if r is not None:
            text = r.restore(text)
            warnings = [r.restore(w) for w in warnings]
            if guard:
                guard = {k: [r.restore(x) for x in v] if isinstance(v, list) else v for k, v in guard.items()}
        return Description(
            text=text,
            backend=draft.backend or be.name,
            language=self.request.language,
            sql=self.sql,
            facts=self.facts,
            warnings=warnings,
            faithfulness=draft.faithfulness,
            guard=guard,
        )


class Response:
    """The answer to one call: iterate for the text as it is produced, or ask for :meth:`description`.

    >>> from sql2nl import describe_stream
    >>> r = describe_stream("SELECT name FROM users")  # doctest: +SKIP
    >>> for piece in r: print(piece, end="")           # doctest: +SKIP
    >>> r.description().warnings                       # doctest: +SKIP

    Iterating yields exactly the description's text, values restored; for a streaming LLM backend
    with ``on_unfaithful="fallback"``/``"retry"`` or ``candidates > 1`` nothing comes until the
    guard has chosen (see :mod:`sql2nl.guard`); with ``"warn"`` the text comes live and the
    warnings are on :meth:`description` afterwards.
    """

    def __init__(
        self,
        backend: Backend,
        prep: Prepared | None = None,
        *,
        description: Description | None = None,
        on_done: Callable[[Description], None] | None = None,
    ):
        self.backend = backend
        self.prep = prep
        self._description = description
        self._on_done = on_done
        self._gen: Generator[str, None, None] | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._gen is None:
            self._gen = self._pieces()
        return next(self._gen)

    def close(self) -> None:
        """Stop a stream early (the backend's generator is closed, releasing its model)."""
        if self._gen is not None:
            self._gen.close()

    def description(self) -> Description:
        """The whole :class:`~sql2nl.Description` (reading the rest of the stream if it was started)."""
        if self._description is None:
            if self._gen is None:
                assert self.prep is not None
                prep = self.prep
                draft = deep_ok(lambda: call_backend(self.backend, self.backend.describe, prep.request, blame=(prep,)))
                self._done(self.prep.finish(draft, self.backend))
            else:
                for _ in self:
                    pass
        assert self._description is not None
        return self._description

    def text(self) -> str:
        return self.description().text

    def _done(self, d: Description) -> None:
        self._description = d
        if self._on_done is not None:
            self._on_done(d)

    def _pieces(self) -> Generator[str, None, None]:
        if self._description is not None:  # answered from the cache
            if self._description.text:
                yield self._description.text
            return
        be, prep = self.backend, self.prep
        assert prep is not None
        red = prep.redaction
        gen = be.stream(prep.request)
        sent: list[str] = []
        pending = ""
        draft: Draft | None = None
        try:
            while True:
                try:
                    piece = next(gen)
                except StopIteration as stop:
                    draft = stop.value if isinstance(stop.value, Draft) else None
                    break
                sent.append(piece)
                if red is None:
                    yield piece
                    continue
                # A placeholder ("'value12'") may arrive split over pieces: hold back a possible start.
                pending += piece
                cut = len(pending) - red.hold_back(pending)
                if cut > 0:
                    yield red.restore(pending[:cut])
                    pending = pending[cut:]
            if pending:
                yield red.restore(pending) if red is not None else pending
        except GeneratorExit:
            gen.close()
            raise
        except Sql2NLError:
            raise
        except Exception as e:
            raise statement_error((prep,)) or BackendError(
                f"The {be.name!r} backend failed while streaming: {type(e).__name__}: {e}"
            ) from e
        self._done(prep.finish(draft if draft is not None else Draft(text="".join(sent)), be))
