"""The public API: :func:`describe`, :func:`describe_many`, :func:`describe_stream`.

Every call goes the same way: check the input, look in the cache, parse once, extract the facts
once, (optionally) redact, hand a :class:`~sql2nl.backends.Request` to the backend, restore
redacted values, and wrap the answer in a :class:`~sql2nl.Description`. Whatever goes wrong
reaches the caller as a :class:`~sql2nl.errors.Sql2NLError`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

from . import cache as _cache
from .backends import Backend, Draft, Request, get_backend
from .description import Description
from .errors import BackendError, InternalError, InvalidInputError, Sql2NLError, UnknownBackendError
from .facts import statement_facts
from .parsing import MAX_CHARS, check_dialect, check_text, parse_text, run_deep, unsupported_sql
from .prompt import LANGUAGES, check_language
from .redact import redact as _redact
from .schema import Schema

DEFAULT_BACKEND = "rules"
T = TypeVar("T")


def resolve_backend(backend: str | Backend | type | None, options: Mapping[str, Any]) -> Backend:
    """The backend instance for ``backend=`` (else ``$SQL2NL_BACKEND``, else ``"rules"``) and options."""
    if isinstance(backend, Backend):
        if options:
            raise InvalidInputError(f"Backend options ({', '.join(sorted(options))}) cannot be passed with a "
                                    "Backend instance; give them when building it.")
        return backend
    if isinstance(backend, type) and issubclass(backend, Backend):
        return backend(**options)
    if backend:
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


def _cache_key(sql: str, be: Backend, language: str, dialect: str | None, schema: Schema | None,
               redact: bool) -> tuple:
    return (_cache.normalize(sql), be.identity, language, dialect,
            schema.fingerprint if schema is not None else None, redact)


class _Prepared:
    """A statement parsed, its facts extracted and (if asked) redacted: what the backend gets."""

    __slots__ = ("sql", "facts", "request", "redaction")

    def __init__(self, text: str, language: str, dialect: str | None, schema: Schema | None, redact: bool):
        trees = parse_text(text, dialect)
        try:
            self.facts = [statement_facts(t, dialect) for t in trees]
            # Facts first: they may rewrite Spider-style "strings" into literals, which redaction must see.
            self.redaction = _redact(trees) if redact else None
            if self.redaction is not None:
                rfacts = tuple(statement_facts(t, dialect) for t in self.redaction.trees)
                self.request = Request(self.redaction.sql(dialect), rfacts, language, dialect, schema)
            else:
                self.request = Request(text, tuple(self.facts), language, dialect, schema)
        except (Sql2NLError, RecursionError):
            raise
        except Exception as e:  # a bug in sql2nl, not in the user's SQL (unless sqlglot cannot write it)
            raise unsupported_sql(text, trees, dialect) or InternalError(
                f"sql2nl failed while analysing the SQL ({type(e).__name__}: {e}). This is a bug "
                "in sql2nl; please report it together with the SQL.") from e
        self.sql = text

    def finish(self, draft: Draft, be: Backend) -> Description:
        text, warnings = draft.text, list(draft.warnings)
        if self.redaction is not None:
            text = self.redaction.restore(text)
            warnings = [self.redaction.restore(w) for w in warnings]
        return Description(text=text, backend=draft.backend or be.name, language=self.request.language,
                           sql=self.sql, facts=self.facts, warnings=warnings, faithfulness=draft.faithfulness)


def _call(be: Backend, fn: Callable[..., T], *args: Any, blame: Sequence[_Prepared] = ()) -> T:
    try:
        return fn(*args)
    except (Sql2NLError, RecursionError):
        raise
    except Exception as e:  # a backend bug or an outside failure; never leak another exception type
        raise _statement_error(blame) or BackendError(
            f"The {be.name!r} backend failed: {type(e).__name__}: {e}") from e


def _statement_error(preps: Sequence[_Prepared]) -> Sql2NLError | None:
    # A statement sqlglot parses but cannot write back as SQL fails in any backend: the input's fault.
    for p in preps:
        err = unsupported_sql(p.sql, [f.tree for f in p.facts if f.tree is not None], p.request.dialect)
        if err is not None:
            return err
    return None


def _deep_ok(fn: Callable[..., T], *args: Any) -> T:
    # Input nested deeper than Python's default recursion limit allows is retried on a big stack.
    try:
        return fn(*args)
    except RecursionError:
        return run_deep(fn, *args)


def _describe_now(text: str, be: Backend, language: str, dialect: str | None, schema: Schema | None,
                  redact: bool) -> Description:
    prep = _Prepared(text, language, dialect, schema, redact)
    return prep.finish(_call(be, be.describe, prep.request, blame=(prep,)), be)


def _cached(key: tuple | None, sql: str, dialect: str | None) -> Description | None:
    if key is None:
        return None
    hit = _cache.memory.get(key)
    if hit is None and _cache.persistent is not None:
        data = _cache.persistent.get(key)
        if data is not None:
            facts = _deep_ok(lambda: [statement_facts(t, dialect) for t in parse_text(sql, dialect)])
            hit = Description(text=data["text"], backend=data["backend"], language=key[2], sql=sql, facts=facts,
                              warnings=list(data.get("warnings") or []), faithfulness=data.get("faithfulness"))
            _cache.memory.put(key, hit)
    if hit is not None and hit.sql != sql:  # same statement, other spacing: report the caller's text
        hit = dataclasses.replace(hit, sql=sql)
    return hit


def _store(key: tuple | None, d: Description) -> None:
    if key is not None:
        _cache.memory.put(key, d)
        if _cache.persistent is not None:
            _cache.persistent.put(key, d)


def describe(sql: str, *, backend: str | Backend | None = None, language: str = "en", dialect: str | None = None,
             schema: Any = None, redact: bool = False, cache: bool = True, max_chars: int = MAX_CHARS,
             **backend_options: Any) -> Description:
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

    Raises a :class:`~sql2nl.errors.Sql2NLError` subclass, and nothing else, for anything that
    goes wrong: :class:`~sql2nl.errors.SQLParseError` (with line, column and snippet),
    :class:`~sql2nl.errors.InvalidInputError`, :class:`~sql2nl.errors.UnknownBackendError`...
    """
    _check_language(language)
    be = resolve_backend(backend, backend_options)
    schema_obj = Schema.from_any(schema)
    key = _cache_key(sql, be, language, dialect, schema_obj, redact) if cache and isinstance(sql, str) else None
    hit = _cached(key, sql, dialect)
    if hit is not None:
        return hit
    text = check_text(sql, max_chars=max_chars)
    check_dialect(dialect)
    d = _deep_ok(_describe_now, text, be, language, dialect, schema_obj, redact)
    _store(key, d)
    return d


def describe_many(sqls: Iterable[str], *, progress: bool = False, backend: str | Backend | None = None,
                  language: str = "en", dialect: str | None = None, schema: Any = None, redact: bool = False,
                  cache: bool = True, batch_size: int = 16, on_error: str = "raise", max_chars: int = MAX_CHARS,
                  workers: int | None = None, **backend_options: Any) -> list[Description]:
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
        raise InvalidInputError("describe_many() takes a list of SQL strings; for a single statement "
                                "(or a script) use describe().")
    if on_error not in ("raise", "keep"):
        raise InvalidInputError(f"on_error must be 'raise' or 'keep', got {on_error!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError("batch_size must be a whole number of at least 1.")
    _check_language(language)
    check_dialect(dialect)
    try:
        sqls = list(sqls)
    except TypeError:
        raise InvalidInputError(f"describe_many() takes a list of SQL strings, got {type(sqls).__name__}.") from None
    be = resolve_backend(backend, backend_options)
    schema_obj = Schema.from_any(schema)
    if workers is not None and workers != 1:
        from .pool import describe_many_in_workers, job_for

        job = job_for(backend, be, backend_options, dict(language=language, schema=schema_obj, redact=redact,
                                                         cache=cache, batch_size=batch_size, max_chars=max_chars))
        return describe_many_in_workers(sqls, job, dialect=dialect, on_error=on_error, workers=workers,
                                        progress=progress)
    results: list[Description | None] = [None] * len(sqls)
    todo: list[tuple[int, tuple | None, _Prepared]] = []

    def failed(i: int, sql: Any, e: Sql2NLError) -> None:
        if on_error == "raise":
            raise e
        results[i] = _error_description(sql, e, be, language)

    with _progress(len(sqls), progress, f"describing with {be.name}") as bar:
        for i, sql in enumerate(sqls):
            key = _cache_key(sql, be, language, dialect, schema_obj, redact) if cache and isinstance(sql, str) else None
            try:
                hit = _cached(key, sql, dialect)
                if hit is not None:
                    results[i] = hit
                    bar.update(1)
                    continue
                text = check_text(sql, max_chars=max_chars)
                todo.append((i, key, _deep_ok(_Prepared, text, language, dialect, schema_obj, redact)))
            except Sql2NLError as e:
                failed(i, sql, e)
                bar.update(1)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            try:
                drafts: Sequence[Draft | Sql2NLError] = _call(be, be.describe_batch, [p.request for _, _, p in chunk],
                                                                   blame=[p for _, _, p in chunk])
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


def _one(be: Backend, prep: _Prepared) -> Draft | Sql2NLError:
    try:
        return _deep_ok(lambda: _call(be, be.describe, prep.request, blame=(prep,)))
    except Sql2NLError as e:
        return e


def _error_description(sql: Any, e: Exception, be: Backend, language: str) -> Description:
    return Description(text="", backend=be.name, language=language, sql=sql if isinstance(sql, str) else repr(sql),
                       facts=[], warnings=[f"{type(e).__name__}: {e}"])


def describe_stream(sql: str, *, backend: str | Backend | None = None, language: str = "en",
                    dialect: str | None = None, schema: Any = None, redact: bool = False, cache: bool = True,
                    max_chars: int = MAX_CHARS, **backend_options: Any) -> Iterator[str]:
    """Yield the description as it is produced (backends that cannot stream yield it once).

    >>> "".join(describe_stream("SELECT name FROM users"))  # doctest: +SKIP
    'List the name of every user.'

    Errors in the input are raised here, before the first piece is yielded; the joined pieces
    equal :func:`describe`'s text (streamed text is not cached).
    """
    _check_language(language)
    be = resolve_backend(backend, backend_options)
    if not be.streams:
        d = describe(sql, backend=be, language=language, dialect=dialect, schema=schema, redact=redact,
                     cache=cache, max_chars=max_chars)
        return iter([d.text])
    text = check_text(sql, max_chars=max_chars)
    check_dialect(dialect)
    prep = _deep_ok(_Prepared, text, language, dialect, Schema.from_any(schema), redact)
    return _stream(be, prep)


def _stream(be: Backend, prep: _Prepared) -> Iterator[str]:
    try:
        if prep.redaction is None:
            yield from be.stream(prep.request)
            return
        # A placeholder (":v12") may arrive split over pieces; hold back a possible partial one.
        pending = ""
        for piece in be.stream(prep.request):
            pending += piece
            cut = _safe_cut(pending)
            if cut:
                yield prep.redaction.restore(pending[:cut])
                pending = pending[cut:]
        if pending:
            yield prep.redaction.restore(pending)
    except (Sql2NLError, GeneratorExit):
        raise
    except Exception as e:
        raise _statement_error((prep,)) or BackendError(
            f"The {be.name!r} backend failed while streaming: {type(e).__name__}: {e}") from e


def _safe_cut(text: str) -> int:
    m = _PARTIAL_PLACEHOLDER.search(text)
    return m.start() if m else len(text)


_PARTIAL_PLACEHOLDER = re.compile(r":(?:v\d*)?$")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="query")
