"""The public API: :func:`describe`, :func:`describe_many`, :func:`describe_stream`."""

from __future__ import annotations

import os
from typing import Any, Iterable, Iterator, Mapping

from . import cache as _cache
from .backends import Backend, Draft, Request, get_backend
from .description import Description
from .errors import BackendError, InvalidInputError, Sql2NLError
from .facts import StatementFacts, statement_facts
from .parsing import MAX_CHARS, parse
from .prompt import check_language
from .redact import redact as _redact
from .schema import Schema

DEFAULT_BACKEND = "rules"


def resolve_backend(backend: str | Backend | None, options: Mapping[str, Any]) -> Backend:
    """The backend instance for ``backend=`` (else ``$SQL2NL_BACKEND``, else rules) and options."""
    if isinstance(backend, Backend):
        return backend
    name = backend or os.environ.get("SQL2NL_BACKEND") or DEFAULT_BACKEND
    return get_backend(name, **options)


def _cache_key(sql: str, be: Backend, language: str, dialect: str | None, schema: Schema | None,
               redact: bool) -> tuple:
    return (_cache.normalize(sql) if isinstance(sql, str) else sql, be.identity, language, dialect,
            schema.fingerprint if schema is not None else None, redact)


class _Prepared:
    __slots__ = ("sql", "facts", "request", "redaction")

    def __init__(self, sql: str, language: str, dialect: str | None, schema: Schema | None, redact: bool,
                 max_chars: int):
        try:
            trees = parse(sql, dialect, max_chars=max_chars)
            self.facts = [statement_facts(t, dialect) for t in trees]
            self.redaction = _redact(trees) if redact else None
            if self.redaction is not None:
                rfacts = tuple(statement_facts(t, dialect) for t in self.redaction.trees)
                self.request = Request(self.redaction.sql(dialect), rfacts, language, dialect, schema)
            else:
                self.request = Request(sql, tuple(self.facts), language, dialect, schema)
        except RecursionError:
            raise InvalidInputError("The SQL is nested too deeply to describe; simplify the statement.") from None
        self.sql = sql

    def finish(self, draft: Draft, be: Backend) -> Description:
        text = draft.text
        if self.redaction is not None:
            text = self.redaction.restore(text)
        return Description(text=text, backend=draft.backend or be.name, language=self.request.language,
                           sql=self.sql, facts=self.facts, warnings=list(draft.warnings),
                           faithfulness=draft.faithfulness)


def _call(be: Backend, fn, *args):
    try:
        return fn(*args)
    except Sql2NLError:
        raise
    except RecursionError:
        raise InvalidInputError("The SQL is nested too deeply to describe; simplify the statement.") from None
    except Exception as e:  # a backend bug or an outside failure; never leak another exception type
        raise BackendError(f"The {be.name!r} backend failed: {type(e).__name__}: {e}") from e


def _from_persistent(key: tuple, sql: str, language: str, dialect: str | None) -> Description | None:
    if _cache.persistent is None:
        return None
    data = _cache.persistent.get(key)
    if data is None:
        return None
    facts = [statement_facts(t, dialect) for t in parse(sql, dialect)]
    return Description(text=data["text"], backend=data["backend"], language=language, sql=sql, facts=facts,
                       warnings=data.get("warnings", []), faithfulness=data.get("faithfulness"))


def describe(sql: str, *, backend: str | Backend | None = None, language: str = "en", dialect: str | None = None,
             schema: Any = None, redact: bool = False, cache: bool = True, max_chars: int = MAX_CHARS,
             **backend_options: Any) -> Description:
    """Describe ``sql`` in plain language.

    >>> from sql2nl import describe
    >>> print(describe("SELECT name FROM users WHERE age > 18"))  # doctest: +SKIP
    Find the name of users whose age is greater than 18.

    ``backend`` picks the describer (default ``$SQL2NL_BACKEND`` or ``"rules"``); extra keyword
    arguments (``model=``, ``adapter=``, ``base_url=``...) go to the backend. ``schema`` gives the
    words for tables and columns; ``redact=True`` hides literal values from the backend.
    """
    check_language(language)
    be = resolve_backend(backend, backend_options)
    schema_obj = Schema.from_any(schema)
    key = _cache_key(sql, be, language, dialect, schema_obj, redact) if cache and isinstance(sql, str) else None
    if key is not None:
        hit = _cache.memory.get(key)
        if hit is not None:
            return hit
        hit = _from_persistent(key, sql, language, dialect)
        if hit is not None:
            _cache.memory.put(key, hit)
            return hit
    prep = _Prepared(sql, language, dialect, schema_obj, redact, max_chars)
    d = prep.finish(_call(be, be.describe, prep.request), be)
    if key is not None:
        _cache.memory.put(key, d)
        if _cache.persistent is not None:
            _cache.persistent.put(key, d)
    return d


def describe_many(sqls: Iterable[str], *, progress: bool = False, backend: str | Backend | None = None,
                  language: str = "en", dialect: str | None = None, schema: Any = None, redact: bool = False,
                  cache: bool = True, batch_size: int = 16, on_error: str = "raise", max_chars: int = MAX_CHARS,
                  **backend_options: Any) -> list[Description]:
    """Describe many statements; backends that batch get them ``batch_size`` at a time.

    ``on_error="raise"`` (default) raises the first error; ``"keep"`` puts, for a bad statement, a
    description with empty text and the error in ``warnings``, so one bad query loses no other work.
    ``progress=True`` shows a progress bar on stderr.
    """
    if on_error not in ("raise", "keep"):
        raise InvalidInputError("on_error must be 'raise' or 'keep'.")
    if batch_size < 1:
        raise InvalidInputError("batch_size must be at least 1.")
    check_language(language)
    sqls = list(sqls)
    be = resolve_backend(backend, backend_options)
    schema_obj = Schema.from_any(schema)
    results: list[Description | None] = [None] * len(sqls)
    todo: list[tuple[int, tuple | None, _Prepared]] = []
    bar = _progress(len(sqls), progress, f"describing with {be.name}")
    try:
        for i, sql in enumerate(sqls):
            key = _cache_key(sql, be, language, dialect, schema_obj, redact) if cache and isinstance(sql, str) else None
            hit = _cache.memory.get(key) if key is not None else None
            if hit is not None:
                results[i] = hit
                bar.update(1)
                continue
            try:
                todo.append((i, key, _Prepared(sql, language, dialect, schema_obj, redact, max_chars)))
            except Sql2NLError as e:
                if on_error == "raise":
                    raise
                results[i] = _error_description(sql, e, be, language)
                bar.update(1)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            try:
                drafts = _call(be, be.describe_batch, [p.request for _, _, p in chunk])
            except Sql2NLError as e:
                if on_error == "raise":
                    raise
                drafts = [None] * len(chunk)
                err = e
            for (i, key, prep), draft in zip(chunk, drafts):
                if draft is None:
                    results[i] = _error_description(prep.sql, err, be, language)
                    continue
                d = results[i] = prep.finish(draft, be)
                if key is not None:
                    _cache.memory.put(key, d)
            bar.update(len(chunk))
    finally:
        bar.close()
    return results  # type: ignore[return-value]


def _error_description(sql: Any, e: Exception, be: Backend, language: str) -> Description:
    return Description(text="", backend=be.name, language=language, sql=sql if isinstance(sql, str) else repr(sql),
                       facts=[], warnings=[f"{type(e).__name__}: {e}"])


def describe_stream(sql: str, *, backend: str | Backend | None = None, language: str = "en",
                    dialect: str | None = None, schema: Any = None, redact: bool = False, cache: bool = True,
                    max_chars: int = MAX_CHARS, **backend_options: Any) -> Iterator[str]:
    """Yield the description as it is produced (backends that cannot stream yield it once).

    Errors in the input are raised before the first piece is yielded.
    """
    check_language(language)
    be = resolve_backend(backend, backend_options)
    if not be.streams:
        d = describe(sql, backend=be, language=language, dialect=dialect, schema=schema, redact=redact,
                     cache=cache, max_chars=max_chars)
        return iter([d.text])
    prep = _Prepared(sql, language, dialect, Schema.from_any(schema), redact, max_chars)
    return _stream(be, prep)


def _stream(be: Backend, prep: _Prepared) -> Iterator[str]:
    try:
        for piece in be.stream(prep.request):
            yield prep.redaction.restore(piece) if prep.redaction is not None else piece
    except Sql2NLError:
        raise
    except Exception as e:
        raise BackendError(f"The {be.name!r} backend failed while streaming: {type(e).__name__}: {e}") from e


def _progress(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="query")
