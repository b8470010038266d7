"""Describe SQL in Spark DataFrames: a pandas UDF (Arrow batches) that adds a description per row.

::

    from pyspark.sql.functions import col
    from sql2nl.integrations.spark import describe_udf

    described = df.withColumn("description", describe_udf(language="en")(col("query_text")))
    described.select("query_text", "description.text", "description.error.message").show()

Each row gets a struct (:data:`RESULT_TYPE`): ``text``, ``warnings``, ``faithfulness``,
``fingerprint`` (:func:`sql2nl.cache.fingerprint`), ``backend``, and ``error``: null when the
statement was described, else its ``type`` (the :class:`~sql2nl.errors.Sql2NLError` subclass),
``message``, ``line`` and ``column``. Bad SQL, a null or empty statement, an unknown dialect, even
a backend that cannot start on an executor: each is a row with its error, never a failed task.

A second column gives each row's dialect: ``describe_udf(dialect="postgres")(col("sql"),
col("dialect"))`` (a null dialect falls back to ``dialect=``, else permissive parsing).

How it runs: pyspark and pandas are imported only here (``pip install 'sql2nl[spark]'``). The
backend is checked on the driver (a mistyped name or option fails before the job starts, and no
model is loaded there) and built once per executor Python worker process, on its first batch,
then reused by every task that process runs. Within a partition, a statement seen before (same
fingerprint and dialect) is not described again. Any backend works: an OpenAI-compatible server
(vLLM, llama-server, ``sql2nl serve``) serves the neural path at scale with
``describe_udf(backend="openai", base_url="http://host:8000/v1", model=...)``.
"""

# (No `from __future__ import annotations`: pyspark reads the pandas UDF's type hints as objects.)

import os
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, Sql2NLError

if TYPE_CHECKING:
    from ..backends import Backend

__all__ = ["describe_udf", "RESULT_TYPE", "RESULT_FIELDS", "SHORT_JOB_JVM_OPTIONS"]

#: The struct each row gets, as a Spark DDL string.
RESULT_TYPE = (
    "text string, warnings array<string>, faithfulness double, fingerprint string, backend string, "
    "error struct<type: string, message: string, line: int, column: int>"
)
RESULT_FIELDS = ("text", "warnings", "faithfulness", "fingerprint", "backend", "error")
#: Statements a partition remembers (fingerprint and dialect -> result) to answer repeats.
PARTITION_CACHE = 100_000
#: JVM options for a short job (minutes), for ``spark.driver.extraJavaOptions`` (and, on a cluster,
#: ``spark.executor.extraJavaOptions``): the client compiler only (C1) compiles far less, and the
#: serial collector starts no GC threads to compete with the Python workers. At 100,000 statements
#: on ``local[2]`` they took Spark's CPU from 43.8 to 35.5 s (benchmarks/RESULTS.md). Keep the JVM's
#: defaults for long jobs, where the optimizing compiler pays back.
SHORT_JOB_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@dataclass(frozen=True)
class _Spec:
    """What every executor needs to describe: the backend (a name, a class or an instance), its
    options and describe()'s settings. ``token`` names the describer each process builds from it."""

    backend: Any
    backend_options: dict[str, Any]
    settings: dict[str, Any]  # describe()'s keyword arguments: language, schema, redact, cache, max_chars
    dialect: str | None
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


def describe_udf(
    *,
    backend: Any = None,
    language: str = "en",
    dialect: str | None = None,
    schema: Any = None,
    redact: bool = False,
    cache: bool = True,
    max_chars: int | None = None,
    **options: Any,
) -> Callable[..., Any]:
    """A function of a SQL column (and optionally a dialect column) giving the description struct.

    >>> udf = describe_udf(language="zh")                                 # doctest: +SKIP
    >>> df.select(udf(col("sql")).alias("d")).select("d.text", "d.error")  # doctest: +SKIP
    >>> df.select(udf(col("sql"), col("dialect")).alias("d"))              # doctest: +SKIP

    Arguments are :func:`sql2nl.describe`'s: ``backend`` (a name, else ``$SQL2NL_BACKEND`` on the
    driver, else ``"rules"``; or a :class:`~sql2nl.Backend` class or picklable instance),
    ``language``, ``dialect`` (for rows without one of their own), ``schema``, ``redact``,
    ``cache`` (the executors' in-process cache), ``max_chars``, any other setting of
    describe() (:data:`sql2nl.api.DESCRIBE_SETTINGS`), and the backend's options (``base_url=``,
    ``model=``...). They are checked here, on the driver: a wrong one raises a
    :class:`~sql2nl.errors.Sql2NLError` before any job runs.
    """
    from ..api import DESCRIBE_SETTINGS, describe
    from ..parsing import MAX_CHARS
    from ..schema import Schema

    if not isinstance(redact, bool) or not isinstance(cache, bool):
        raise InvalidInputError("redact= and cache= take True or False.")
    if max_chars is not None and (type(max_chars) is not int or max_chars < 1):
        raise InvalidInputError(f"max_chars= must be a whole number of at least 1, got {max_chars!r}.")
    settings: dict[str, Any] = dict(
        language=language,
        schema=Schema.from_any(schema),
        redact=redact,
        cache=cache,
        max_chars=MAX_CHARS if max_chars is None else max_chars,
    )
    settings.update({k: options.pop(k) for k in list(options) if k in DESCRIBE_SETTINGS})  # (detail=, style=...)
    # describe() itself checks its settings (language, dialect, schema...) with the rules describer:
    # the same messages as on the executors, here and now.
    describe("SELECT 1", backend="rules", dialect=dialect, **{**settings, "cache": False, "max_chars": MAX_CHARS})
    backend_options = options
    spec = _Spec(*_checked_backend(backend, backend_options), settings=settings, dialect=dialect)
    pandas_udf = _pyspark_pandas_udf()
    udfs: dict[bool, Any] = {}

    def column(sql: Any, dialect_column: Any = None) -> Any:
        with_dialect = dialect_column is not None
        if with_dialect not in udfs:
            udfs[with_dialect] = pandas_udf(_partition_function(spec, with_dialect), RESULT_TYPE)
        return udfs[with_dialect](sql, dialect_column) if with_dialect else udfs[with_dialect](sql)

    column.__doc__ = "Apply to a SQL column (and optionally a dialect column): the description struct column."
    column.spec = spec  # type: ignore[attr-defined]  # (for tests and debugging)
    return column


def _pyspark_pandas_udf() -> Any:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
        from pyspark.sql.functions import pandas_udf
    except ImportError as e:
        raise InvalidInputError(
            f"The Spark integration needs pyspark, pandas and pyarrow ({e}). Install them with: "
            "pip install 'sql2nl[spark]'"
        ) from None
    return pandas_udf


def _checked_backend(backend: Any, options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The backend as executors should rebuild it, with its options checked here (nothing built)."""
    from ..api import DEFAULT_BACKEND
    from ..backends import Backend, available_backends, get_backend
    from ..plugins import DEFAULT_PLUGINS, ENTRY_POINT_GROUP

    if isinstance(backend, Backend):
        if options:
            raise InvalidInputError(
                f"Backend options ({', '.join(sorted(options))}) cannot be passed with a "
                "Backend instance; give them when building it."
            )
        _check_picklable(backend)
        return backend, {}
    if isinstance(backend, type) and issubclass(backend, Backend):
        return backend, dict(backend.Options.convert(options, backend=backend.name))
    if backend is not None and not isinstance(backend, str):
        raise InvalidInputError(
            f"backend= must be a backend name, a Backend class or instance, got {type(backend).__name__}."
        )
    # The driver's $SQL2NL_BACKEND decides, not each executor's environment.
    name = backend or os.environ.get("SQL2NL_BACKEND") or DEFAULT_BACKEND
    info = available_backends().get(name)
    if info is None:
        get_backend(name, **options)  # raises the helpful error (closest name, or what to install)
        raise InvalidInputError(f"Unknown backend {name!r}.")  # (not reached)
    given = dict(info.options.convert(options, backend=name)) if info.options is not None else dict(options)
    from importlib import metadata

    installed = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)} | set(DEFAULT_PLUGINS)
    if info.plugin not in installed:
        # Registered at run time (register_plugin in a notebook): executors do not know the name,
        # so they get the factory itself (cloudpickle sends a class defined in a notebook by value).
        _check_picklable(info.factory)
        return info.factory, given
    return name, given


def _check_picklable(obj: Any) -> None:
    import pickle

    try:
        from pyspark import cloudpickle
    except ImportError:  # checked again when the UDF is built
        return
    try:
        cloudpickle.dumps(obj)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise InvalidInputError(
            f"The backend {obj!r} cannot be sent to Spark's executors ({e}); pass its name "
            "or class and options instead, so each executor builds its own."
        ) from None


def _partition_function(spec: _Spec, with_dialect: bool) -> Callable[..., Any]:
    import pandas as pd

    # Iterator UDFs: called once per partition with its Arrow batches, so the repeat cache and the
    # describer lookup live as long as the partition, not one batch.
    if with_dialect:

        def describe_pairs(batches: Iterator[tuple[pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
            return _describe_partition(spec, batches)

        return describe_pairs

    def describe_column(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        return _describe_partition(spec, ((sqls, None) for sqls in batches))

    return describe_column


# -- on the executors ------------------------------------------------------------------------------


class _Describer:
    """The backend one executor process describes with, built once, and describe()'s settings."""

    def __init__(self, spec: _Spec):
        from ..api import resolve_backend

        self.settings = spec.settings
        self.failure: Sql2NLError | None = None
        self.backend: Backend | None = None
        try:
            self.backend = resolve_backend(spec.backend, spec.backend_options)
        except Sql2NLError as e:  # e.g. the plugin is not installed on this executor: every row says so
            self.backend, self.failure = None, e
        except Exception as e:
            from ..errors import BackendError

            self.backend, self.failure = (
                None,
                BackendError(f"Could not start the backend on this executor: {type(e).__name__}: {e}"),
            )

    def describe(self, statements: list[tuple[Any, str | None]]) -> list[dict[str, Any]]:
        """The rows for ``(sql, dialect)`` pairs, in order; never raises for a statement."""
        from ..api import describe
        from ..cache import fingerprint

        rows = []
        for sql, dialect in statements:
            fp = fingerprint(sql) if isinstance(sql, str) else None
            if self.failure is not None:
                rows.append({**_error_row(self.failure), "fingerprint": fp})
                continue
            try:
                d = describe(sql, backend=self.backend, dialect=dialect, **self.settings)
            except Sql2NLError as e:
                rows.append({**_error_row(e), "fingerprint": fp})
                continue
            rows.append(
                {
                    "text": d.text,
                    "warnings": list(d.warnings),
                    "faithfulness": d.faithfulness,
                    "fingerprint": fp,
                    "backend": d.backend,
                    "error": None,
                }
            )
        return rows


_describers: dict[str, _Describer] = {}  # one per UDF, in each executor Python worker process


def _describer(spec: _Spec) -> _Describer:
    d = _describers.get(spec.token)
    if d is None:
        import logging

        logging.getLogger("sqlglot").setLevel(logging.ERROR)  # as the CLI does: errors are rows, not logs
        d = _describers[spec.token] = _Describer(spec)
    return d


def _error_row(e: BaseException) -> dict[str, Any]:
    return {
        "text": None,
        "warnings": [],
        "faithfulness": None,
        "backend": None,
        "error": {
            "type": type(e).__name__,
            "message": str(e),
            "line": getattr(e, "line", None),
            "column": getattr(e, "column", None),
        },
    }


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, and pandas' NA (whose comparison is NA: bool() raises)
    except TypeError:
        return True


_NULL_ROW = {
    **_error_row(InvalidInputError("The statement is null: there is no SQL to describe.")),
    "fingerprint": None,
}


def _describe_partition(spec: _Spec, batches: Iterable[tuple[Any, Any]]) -> Iterator[Any]:
    import pandas as pd

    from ..cache import fingerprint

    describer = _describer(spec)
    # (fingerprint, dialect) -> (the text described, its row). A description holds for every
    # spacing of a statement, but an error's message and position are those of the text itself.
    seen: OrderedDict[tuple[str, str | None], tuple[str, dict[str, Any]]] = OrderedDict()
    for sql_series, dialect_series in batches:
        sqls = sql_series.tolist()
        dialects = dialect_series.tolist() if dialect_series is not None else [None] * len(sqls)
        rows: list[Any] = [None] * len(sqls)
        todo: dict[tuple[str, str | None], list[tuple[int, str]]] = {}  # new statements -> (row, text)
        for i, (sql, dialect) in enumerate(zip(sqls, dialects)):
            if _is_null(dialect) or dialect == "":
                dialect = spec.dialect
            if _is_null(sql):
                rows[i] = _NULL_ROW
            elif not isinstance(sql, str):
                rows[i] = describer.describe([(sql, dialect)])[0]  # describe() says why it cannot
            else:
                key = (fingerprint(sql), dialect)
                hit = seen.get(key)
                if hit is not None and (hit[1]["error"] is None or hit[0] == sql):
                    rows[i] = hit[1]
                else:
                    todo.setdefault(key, []).append((i, sql))
        firsts = [(group[0][1], key[1]) for key, group in todo.items()]
        respelled = []  # other spellings of a statement whose first spelling is an error
        for (key, group), row in zip(todo.items(), describer.describe(firsts)):
            if key not in seen:
                seen[key] = (group[0][1], row)
                if len(seen) > PARTITION_CACHE:
                    seen.popitem(last=False)
            for i, sql in group:
                if row["error"] is None or sql == group[0][1]:
                    rows[i] = row
                else:
                    respelled.append((i, sql, key[1]))
        for (i, _, _), row in zip(respelled, describer.describe([(sql, d) for _, sql, d in respelled])):
            rows[i] = row
        yield pd.DataFrame.from_records(rows, columns=list(RESULT_FIELDS))
