"""The public API: :func:`describe`, :func:`describe_many`, :func:`describe_stream`.

Every call goes the same way: check the input, look in the cache, parse once, extract the facts
once, (optionally) redact, hand a :class:`~sql2nl.backends.Request` to the backend, restore
redacted values, and wrap the answer in a :class:`~sql2nl.Description`. Whatever goes wrong
reaches the caller as a :class:`~sql2nl.errors.Sql2NLError`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import cache as _cache
from .backends import Backend, Draft, get_backend
from .description import Description
from .errors import BackendError, InvalidInputError, Sql2NLError, UnknownBackendError
from .facts import statement_facts
from .models import resolve_model
from .parsing import MAX_CHARS, check_dialect, check_text, parse_text
from .progress import progress_bar
from .prompt import LANGUAGES, check_language, check_shape
from .response import Prepared, Response, call_backend, deep_ok
from .schema import Schema

DEFAULT_BACKEND = "rules"


def resolve_backend(backend: str | Backend | type | None, options: Mapping[str, Any]) -> Backend:
    """The backend instance for ``backend=`` (else ``$SQL2NL_BACKEND``, else ``"rules"``) and options.

    A registered model name in ``model=`` (:mod:`sql2nl.models`) picks its backend and options first.
    """
    backend, options = resolve_model(backend, options)
    if isinstance(backend, Backend):
        if options:
            raise InvalidInputError(
                f"Backend options ({', '.join(sorted(options))}) cannot be passed with a "
                "Backend instance; give them when building it."
            )
        return backend
    if isinstance(backend, type) and issubclass(backend, Backend):
        return backend(**options)
    if backend:
        if not isinstance(backend, str):  # a class that is not a Backend
            raise InvalidInputError(f"backend= must be a backend name, a Backend or a Backend class, got {backend!r}.")
        return get_backend(backend, **options)
    name = os.environ.get("SQL2NL_BACKEND") or DEFAULT_BACKEND
    try:
        return get_backend(name, **options)
    except UnknownBackendError as e:
        e.args = (f"{e} (The name came from $SQL2NL_BACKEND.)",)
        raise


_LANGUAGES = frozenset(LANGUAGES)


def _check_language(language: str) -> None:
    if type(language) is not str or language not in _LANGUAGES:
        check_language(language)  # raises with the message


#: describe()'s own settings that can change the text: every one is part of the cache key (a test
#: checks that describe()'s signature has no other setting, so a new one cannot be forgotten).
DESCRIBE_SETTINGS = ("language", "dialect", "schema", "redact", "detail", "style")


def _cache_key(
    sql: str,
    be: Backend,
    language: str,
    dialect: str | None,
    schema: Schema | None,
    redact: bool,
    detail: str = "summary",
    style: str = "statement",
) -> tuple:
    # Flat, in DESCRIBE_SETTINGS order: a cached describe() costs little more than hashing this.
    return (
        _cache.normalize(sql),
        be.identity,
        language,
        dialect,
        schema.fingerprint if schema is not None else None,
        redact,
        detail,
        style,
    )


def _describe_now(
    text: str,
    be: Backend,
    language: str,
    dialect: str | None,
    schema: Schema | None,
    redact: bool,
    detail: str,
    style: str,
) -> Description:
    return Response(be, Prepared(text, language, dialect, schema, redact, detail, style)).description()


def _cached(key: tuple | None, sql: str, dialect: str | None) -> Description | None:
    if key is None:
        return None
    hit = _cache.memory.get(key)
    if hit is None and _cache.persistent is not None:
        data = _cache.persistent.get(key)
        if data is not None:
            facts = deep_ok(
                lambda: [statement_facts(t, dialect, owned=True, text=sql) for t in parse_text(sql, dialect)]
            )
            hit = Description(
                text=data["text"],
                backend=data["backend"],
                language=key[2],
                sql=sql,
                facts=facts,
                warnings=list(data.get("warnings") or []),
                faithfulness=data.get("faithfulness"),
                guard=data.get("guard"),
            )
            _cache.memory.put(key, hit)
    if hit is not None and hit.sql != sql:  # same statement, other spacing: report the caller's text
        hit = dataclasses.replace(hit, sql=sql)
    return hit


def _store(key: tuple | None, d: Description) -> None:
    if key is not None:
        _cache.memory.put(key, d)
        if _cache.persistent is not None:
            _cache.persistent.put(key, d)


def describe(
    sql: str,
    *,
    backend: str | Backend | None = None,
    language: str = "en",
    dialect: str | None = None,
    schema: Any = None,
    redact: bool = False,
    cache: bool = True,
    max_chars: int = MAX_CHARS,
    detail: str = "summary",
    style: str = "statement",
    **backend_options: Any,
) -> Description:
    """Describe ``sql`` (one statement or a script of several) in plain language.

    >>> from sql2nl import describe
    >>> print(describe("SELECT name FROM users WHERE age > 18"))  # doctest: +SKIP
    Find the name of users whose age is greater than 18.

    ``backend`` picks the describer (default ``$SQL2NL_BACKEND`` or ``"rules"``); extra keyword
    arguments (``model=``, ``adapter=``, ``base_url=``...) go to the backend. ``language`` is
    ``"en"`` or ``"zh"``. ``dialect`` is a sqlglot dialect name; ``None`` reads common
    MySQL/PostgreSQL/SQLite/T-SQL syntax. ``schema`` gives the words for tables and columns (a
    dict or a SQLAlchemy ``MetaData``). ``redact=True`` replaces literal values with placeholders
    before the backend sees the SQL and puts them back into the text locally. ``cache=False``
    neither reads nor fills the cache. Inputs over ``max_chars`` characters are refused.
    ``detail="summary"`` (default) gives one short paragraph (about 60 words at most) saying what
    comes out and the main conditions; ``detail="steps"`` a numbered outline, one step per CTE or
    derived table, then the result. ``style="statement"`` (default) reads "List the names of ...";
    ``style="question"`` reads "What are the names of ...?".

    Raises a :class:`~sql2nl.errors.Sql2NLError` subclass, and nothing else, for anything that
    goes wrong: :class:`~sql2nl.errors.SQLParseError` (with line, column and snippet),
    :class:`~sql2nl.errors.InvalidInputError`, :class:`~sql2nl.errors.UnknownBackendError`...
    """
    _check_language(language)
    check_shape(detail, style)
    be = resolve_backend(backend, backend_options)
    schema_obj = Schema.from_any(schema)
    key = (
        _cache_key(sql, be, language, dialect, schema_obj, redact, detail, style)
        if cache and isinstance(sql, str)
        else None
    )
    hit = _cached(key, sql, dialect)
    if hit is not None:
        return hit
    text = check_text(sql, max_chars=max_chars)
    check_dialect(dialect)
    d = deep_ok(_describe_now, text, be, language, dialect, schema_obj, redact, detail, style)
    _store(key, d)
    return d


def describe_many(
    sqls: Iterable[str],
    *,
    progress: bool = False,
    backend: str | Backend | None = None,
    language: str = "en",
    dialect: str | None = None,
    schema: Any = None,
    redact: bool = False,
    cache: bool = True,
    batch_size: int = 16,
    on_error: str = "raise",
    max_chars: int = MAX_CHARS,
    detail: str = "summary",
    style: str = "statement",
    workers: int | None = None,
    **backend_options: Any,
) -> list[Description]:
    """Describe many statements, in order; backends that batch get them ``batch_size`` at a time.

    >>> [d.backend for d in describe_many(["SELECT 1 FROM t", "SELECT 2 FROM u"])]  # doctest: +SKIP
    ['rules', 'rules']

    ``on_error="raise"`` (default) raises the first error; ``"keep"`` puts, for a bad statement, a
    description with empty text and the error in ``warnings``, so one bad query loses no other
    work. ``progress=True`` shows a progress bar on stderr. Other arguments as in :func:`describe`.

    ``workers=N`` (N > 1) describes in N processes (:mod:`sql2nl.pool`): same texts, same order, each
    repeated statement described once; each process builds its own backend from the name (or class)
    and options. Small inputs stay in this process. The descriptions' ``facts`` are extracted again
    here when first read.
    """
    if isinstance(sqls, (str, bytes)):
        raise InvalidInputError(
            "describe_many() takes a list of SQL strings; for a single statement (or a script) use describe()."
        )
    if on_error not in ("raise", "keep"):
        raise InvalidInputError(f"on_error must be 'raise' or 'keep', got {on_error!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError("batch_size must be a whole number of at least 1.")
    _check_language(language)
    check_shape(detail, style)
    check_dialect(dialect)
    try:
        sqls = list(sqls)
    except TypeError:
        raise InvalidInputError(f"describe_many() takes a list of SQL strings, got {type(sqls).__name__}.") from None
    be = resolve_backend(backend, backend_options)
    schema_obj = Schema.from_any(schema)
    if workers is not None and workers != 1:
        from .pool import describe_many_in_workers

        job = worker_job(
            backend,
            be,
            backend_options,
            dict(
                language=language,
                schema=schema_obj,
                redact=redact,
                cache=cache,
                batch_size=batch_size,
                max_chars=max_chars,
                detail=detail,
                style=style,
            ),
        )
        return describe_many_in_workers(
            sqls, job, dialect=dialect, on_error=on_error, workers=workers, progress=progress
        )
    results: list[Description | None] = [None] * len(sqls)
    todo: list[tuple[int, tuple | None, Prepared]] = []

    def failed(i: int, sql: Any, e: Sql2NLError) -> None:
        if on_error == "raise":
            raise e
        results[i] = _error_description(sql, e, be, language)

    with progress_bar(len(sqls), progress, f"describing with {be.name}") as bar:
        for i, sql in enumerate(sqls):
            key = (
                _cache_key(sql, be, language, dialect, schema_obj, redact, detail, style)
                if cache and isinstance(sql, str)
                else None
            )
            try:
                hit = _cached(key, sql, dialect)
                if hit is not None:
                    results[i] = hit
                    bar.update(1)
                    continue
                text = check_text(sql, max_chars=max_chars)
                todo.append((i, key, deep_ok(Prepared, text, language, dialect, schema_obj, redact, detail, style)))
            except Sql2NLError as e:
                failed(i, sql, e)
                bar.update(1)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            try:
                preps = [p for _, _, p in chunk]
                drafts: Sequence[Draft | Sql2NLError] = call_backend(
                    be, be.describe_batch, [p.request for p in preps], blame=preps
                )
                if len(drafts) != len(chunk):
                    raise BackendError(f"The {be.name!r} backend answered {len(drafts)} of {len(chunk)} requests.")
            except (Sql2NLError, RecursionError):
                # One bad statement must not cost the others their description: retry one by one.
                drafts = [_one(be, p) for _, _, p in chunk]
            for (i, key, prep), draft in zip(chunk, drafts):
                if isinstance(draft, Sql2NLError):
                    failed(i, prep.sql, draft)
                    continue
                d = results[i] = prep.finish(draft, be)
                _store(key, d)
            bar.update(len(chunk))
    return results  # type: ignore[return-value]


def _one(be: Backend, prep: Prepared) -> Draft | Sql2NLError:
    try:
        return deep_ok(lambda: call_backend(be, be.describe, prep.request, blame=(prep,)))
    except Sql2NLError as e:
        return e


def _error_description(sql: Any, e: Exception, be: Backend, language: str) -> Description:
    return Description(
        text="",
        backend=be.name,
        language=language,
        sql=sql if isinstance(sql, str) else repr(sql),
        facts=[],
        warnings=[f"{type(e).__name__}: {e}"],
    )


def describe_stream(
    sql: str,
    *,
    backend: str | Backend | None = None,
    language: str = "en",
    dialect: str | None = None,
    schema: Any = None,
    redact: bool = False,
    cache: bool = True,
    max_chars: int = MAX_CHARS,
    detail: str = "summary",
    style: str = "statement",
    **backend_options: Any,
) -> Response:
    """The description as it is produced: a :class:`~sql2nl.response.Response` to iterate over.

    >>> "".join(describe_stream("SELECT name FROM users"))  # doctest: +SKIP
    'List the name of every user.'

    Errors in the input are raised here, before the first piece. The joined pieces equal
    :func:`describe`'s text, and after the last piece ``.description()`` gives the whole
    :class:`~sql2nl.Description` (warnings, faithfulness, what the guard did), which is cached.
    An LLM backend whose guard may still replace its answer (``on_unfaithful="fallback"`` or
    ``"retry"``, ``candidates`` > 1) sends nothing until the guard has chosen; with ``"warn"`` the
    text streams live and the warnings come with the description.
    """
    _check_language(language)
    check_shape(detail, style)
    be = resolve_backend(backend, backend_options)
    schema_obj = Schema.from_any(schema)
    key = (
        _cache_key(sql, be, language, dialect, schema_obj, redact, detail, style)
        if cache and isinstance(sql, str)
        else None
    )
    hit = _cached(key, sql, dialect)
    if hit is not None:
        return Response(be, description=hit)
    text = check_text(sql, max_chars=max_chars)
    check_dialect(dialect)
    prep = deep_ok(Prepared, text, language, dialect, schema_obj, redact, detail, style)
    return Response(be, prep, on_done=lambda d: _store(key, d))


# -- worker processes (sql2nl.pool): the job they get, and what each builds from it ----------------


def worker_job(
    backend: Any, resolved: Backend | None, backend_options: Mapping[str, Any], options: dict[str, Any]
) -> Any:
    """The :class:`sql2nl.pool.Job` that describes with ``backend`` (as the caller gave it; ``resolved``:
    the instance it names here, built if None) and :func:`describe`'s keyword arguments ``options``."""
    from .pool import job_for

    if resolved is None:
        resolved = resolve_backend(backend, backend_options)
    return job_for(backend, resolved, dict(backend_options), options, ChunkDescriber)


class ChunkDescriber:
    """What one worker process describes chunks of ``(sql, dialect)`` with: the job's backend, built
    once per process, and the job's options; one :class:`sql2nl.pool.Result` per statement."""

    def __init__(self, job: Any):
        self.backend = resolve_backend(job.backend, job.backend_options)
        self.options = job.options
        self.single = {k: v for k, v in job.options.items() if k != "batch_size"}  # describe()'s share

    def __call__(self, chunk: list[tuple[str, str | None]]) -> list[Any]:
        from .pool import Result, error_result

        out: list[Any] = [None] * len(chunk)
        by_dialect: dict[str | None, list[int]] = {}
        for i, (_, dialect) in enumerate(chunk):
            by_dialect.setdefault(dialect, []).append(i)
        for dialect, idx in by_dialect.items():
            sqls = [chunk[i][0] for i in idx]
            try:  # describe_many batches for backends that can; a bad statement costs only itself
                ds = describe_many(sqls, backend=self.backend, dialect=dialect, on_error="keep", **self.options)
            except Sql2NLError as e:  # e.g. a dialect name sqlglot does not know: every statement of it
                for i in idx:
                    out[i] = error_result(e)
                continue
            for i, sql, d in zip(idx, sqls, ds):
                if not (d.facts or d.text):
                    try:  # on_error="keep" gave the message only; describing alone again gives the error itself
                        d = describe(sql, backend=self.backend, dialect=dialect, **self.single)
                    except Sql2NLError as e:
                        out[i] = error_result(e)
                        continue
                out[i] = Result(d.text, d.backend, list(d.warnings), d.faithfulness, guard=d.guard)
        return out
