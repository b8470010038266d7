"""Describe the queries an SQLAlchemy engine runs, off the hot path, and log them.

>>> import logging
>>> from sqlalchemy import create_engine, text
>>> from sql2nl.integrations.sqlalchemy import instrument, uninstrument
>>> logging.basicConfig(level=logging.INFO)
>>> engine = create_engine("sqlite://")
>>> hook = instrument(engine)                      # or instrument(Engine) for every engine
>>> with engine.connect() as conn:
...     _ = conn.execute(text("SELECT 1 AS one")).all()
>>> hook.flush()                                   # doctest: +SKIP
INFO:sql2nl.sqlalchemy:List 1 as one. | SELECT 1 AS one

The event listener only puts the statement on a bounded queue (a full queue drops and counts); a
daemon thread describes it (once per fingerprint) and logs a record to the ``sql2nl.sqlalchemy``
logger whose ``extra`` fields are ``statement``, ``description``, ``fingerprint``, ``backend``,
``dialect`` and ``executemany``. By default each distinct statement is logged once (a program
that runs the same query 10,000 times gets one record, not 10,000); ``log_repeats=True`` logs
every execution, from the cache.

``comment=True`` prefixes each statement sent to the database with ``/* sql2nl: ... */``. That
text comes only from the cache or the rules describer (never a slow backend) and is pinned per
fingerprint, so server-side statement caches keep hitting.

Nothing here may break the user's program: every listener body swallows its own errors, a backend
that raises falls back to the rules describer, and one that hangs only stalls the background
thread (its calls time out and later statements use the rules describer until it answers).
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from ..api import resolve_backend
from ..backends import Backend
from ..cache import fingerprint
from ..errors import InvalidInputError, SQLParseError, install_extra
from ..prompt import check_language

__all__ = ["instrument", "uninstrument", "Instrumentation", "LOGGER_NAME", "comment_text"]

LOGGER_NAME = "sql2nl.sqlalchemy"

#: SQLAlchemy dialect names -> sqlglot dialect names (others are parsed permissively).
SQLGLOT_DIALECTS = {
    "sqlite": "sqlite",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "tsql",
    "oracle": "oracle",
    "duckdb": "duckdb",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "trino": "trino",
    "databricks": "databricks",
    "clickhouse": "clickhouse",
}

# Bounds on the hot-path memos: past these they are emptied rather than grown (programs that build
# a new statement string per call must not leak memory through us).
_MAX_MEMO = 100_000
_MAX_COMMENT_CHARS = 240
_MAX_COMMENTED_CHARS = 10_000
_PYFORMAT_TOKENS = re.compile(r"%\((\w+)\)s|%s|%%")

_active: dict[Any, "Instrumentation"] = {}
_active_lock = threading.Lock()


def _describable(statement: str, paramstyle: str | None) -> str:
    """The statement with DBAPI ``%s``/``%(name)s`` placeholders as ones sqlglot reads."""
    if paramstyle not in ("format", "pyformat"):
        return statement

    def sub(m: re.Match) -> str:
        tok = m.group(0)
        return "%" if tok == "%%" else "?" if tok == "%s" else f":{m.group(1)}"

    return _PYFORMAT_TOKENS.sub(sub, statement)


def comment_text(description: str, max_chars: int = _MAX_COMMENT_CHARS) -> str:
    """A description made safe to sit inside a ``/* ... */`` SQL comment.

    Whitespace is collapsed, ``*/`` and ``/*`` are broken apart (PostgreSQL nests block
    comments, so an inner ``/*`` would swallow the statement), control characters are dropped
    and the text is cut to ``max_chars``.
    """
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in description).split())
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    while "*/" in text or "/*" in text:
        text = text.replace("*/", "* /").replace("/*", "/ *")
    return text


@dataclass(frozen=True)
class _Described:
    text: str | None
    backend: str | None
    warning: str | None = None
    bad_input: bool = False  # the SQL itself could not be read: no other backend would do better
    routine: bool = False  # only statements the facts know no kind for (PRAGMA, SET, SHOW...): DEBUG


class Instrumentation:
    """The listeners and the background describer attached by :func:`instrument`.

    ``stats()`` gives counters; ``flush()`` waits until everything queued has been logged;
    ``close()`` (or :func:`uninstrument`) detaches the listeners.
    """

    def __init__(
        self,
        target: Any,
        *,
        backend: str | Backend | None = None,
        language: str = "en",
        level: int = logging.INFO,
        comment: bool = False,
        sample_rate: float = 1.0,
        queue_size: int = 10_000,
        log_repeats: bool = False,
        timeout: float = 5.0,
        logger: logging.Logger | str | None = None,
        **backend_options: Any,
    ):
        check_language(language)
        if not isinstance(sample_rate, (int, float)) or not 0.0 <= sample_rate <= 1.0:
            raise InvalidInputError(f"sample_rate must be a number between 0 and 1, got {sample_rate!r}.")
        if not isinstance(queue_size, int) or queue_size < 1:
            raise InvalidInputError(f"queue_size must be a positive integer, got {queue_size!r}.")
        if isinstance(level, str):
            level = logging.getLevelName(level.upper())  # "INFO" -> 20; unknown names stay strings
        if not isinstance(level, int) or isinstance(level, bool):
            raise InvalidInputError(f"level must be a logging level such as logging.INFO or 'DEBUG', got {level!r}.")
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout!r}.")
        # Resolved now, so that a misspelt backend fails at setup rather than silently in a thread.
        self.backend = resolve_backend(backend, backend_options)
        self._rules = resolve_backend("rules", {})
        self.target = target
        self.language = language
        self.level = level
        self.comment = comment
        self.sample_rate = float(sample_rate)
        self.queue_size = queue_size
        self.log_repeats = log_repeats
        self.timeout = float(timeout)
        self.logger = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger or LOGGER_NAME)
        self._queue: deque = deque()
        self._seen: dict[str, None] = {}  # statements already queued (when not log_repeats)
        self._commented: dict[str, str] = {}  # statement -> "/* sql2nl: ... */ statement" (hot path)
        self._fingerprints: dict[str, str] = {}  # statement -> fingerprint (worker)
        self._pinned: dict[str, str] = {}  # fingerprint -> comment text, never changes
        self._described: OrderedDict[str, _Described] = OrderedDict()
        self._stalled: threading.Thread | None = None
        self._busy = False
        self._closed = False
        self.dropped = 0
        self.counts = {"logged": 0, "described": 0, "cache_hits": 0, "failures": 0, "timeouts": 0, "listener_errors": 0}
        self._stop = threading.Event()
        self._start_worker()
        self._listener = self._comment_listener if comment else self._log_listener
        from sqlalchemy import event

        event.listen(target, "before_cursor_execute", self._listener, retval=comment)

    # -- the hot path: runs inside the user's query, must be cheap and must never raise ----------
    def _log_listener(self, conn, cursor, statement, parameters, context, executemany):
        try:
            self._enqueue(conn, statement, executemany)
        except Exception:
            self.counts["listener_errors"] += 1

    def _comment_listener(self, conn, cursor, statement, parameters, context, executemany):
        try:
            self._enqueue(conn, statement, executemany)
            commented = self._commented.get(statement)
            if commented is None:
                commented = self._commented_for(statement, conn.dialect)
            return commented, parameters
        except Exception:
            self.counts["listener_errors"] += 1
        return statement, parameters

    def _enqueue(self, conn: Any, statement: str, executemany: bool) -> None:
        if self._closed:
            return
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:
            return
        if not self.log_repeats and statement in self._seen:
            return
        if not self.logger.isEnabledFor(self.level):
            return  # nobody would read the record: do not describe at all
        queue = self._queue
        if len(queue) >= self.queue_size:
            self.dropped += 1
            return
        queue.append((statement, conn.dialect, executemany))
        if not self.log_repeats:
            if len(self._seen) >= _MAX_MEMO:
                self._seen.clear()
            self._seen[statement] = None

    def _commented_for(self, statement: str, dialect: Any) -> str:
        # Once per distinct statement string; the text is pinned per fingerprint so that every
        # spelling of a statement, now and later, gets the same comment.
        fp = fingerprint(statement)
        text = self._pinned.get(fp)
        if text is None:
            known = self._described.get(fp)
            if known is not None and known.text:
                text = known.text
            elif len(statement) > _MAX_COMMENTED_CHARS:
                text = ""  # describing a huge generated statement in the query's thread costs too much
            else:
                text = self._describe_with(self._rules, statement, dialect).text or ""
            text = comment_text(text)
            if len(self._pinned) >= _MAX_MEMO:
                self._pinned.clear()
            self._pinned[fp] = text
        prefix = f"/* sql2nl: {text} */ " if text else ""
        if prefix and getattr(dialect, "paramstyle", None) in ("format", "pyformat"):
            prefix = prefix.replace("%", "%%")  # the driver %-formats the whole statement
        commented = prefix + statement
        if len(self._commented) >= _MAX_MEMO:
            self._commented.clear()
        # The same string object every time: drivers' statement caches hash it once.
        self._commented[statement] = commented
        return commented

    # -- the background worker -------------------------------------------------------------------
    def _start_worker(self) -> None:
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="sql2nl-sqlalchemy", daemon=True)
        self._worker.start()

    def _after_fork(self) -> None:
        try:
            self._busy = False
            self._stalled = None
            if not self._closed:
                self._start_worker()
        except Exception:
            pass

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                item = self._queue.popleft()
            except IndexError:
                stop.wait(0.02)  # polling keeps the hot path free of locks and notifications
                continue
            except Exception:
                stop.wait(0.02)
                continue
            self._busy = True
            try:
                self._handle(*item)
            except Exception:  # the worker must outlive any failure
                self.counts["failures"] += 1
            finally:
                self._busy = False

    def _handle(self, statement: str, dialect: Any, executemany: bool) -> None:
        fp = self._fingerprints.get(statement)
        if fp is None:
            fp = fingerprint(statement)
            if len(self._fingerprints) >= _MAX_MEMO:
                self._fingerprints.clear()
            self._fingerprints[statement] = fp
        known = self._described.get(fp)
        if known is None:
            known = self._describe(statement, dialect)
            self._described[fp] = known
            if len(self._described) > _MAX_MEMO:
                self._described.popitem(last=False)
        else:
            self.counts["cache_hits"] += 1
        self._log(statement, fp, known, dialect, executemany)

    def _describe(self, statement: str, dialect: Any) -> _Described:
        self.counts["described"] += 1
        if self.backend.name == "rules" and self.backend is self._rules:
            return self._describe_with(self._rules, statement, dialect)
        stalled = self._stalled
        if stalled is not None and stalled.is_alive():
            return self._fallback(
                statement, dialect, f"the {self.backend.name!r} backend is still busy with an earlier statement"
            )
        self._stalled = None
        box: list = []
        call = threading.Thread(
            target=lambda: box.append(self._describe_with(self.backend, statement, dialect)),
            name="sql2nl-sqlalchemy-call",
            daemon=True,
        )
        call.start()
        call.join(self.timeout)
        if call.is_alive():  # hung: let it finish on its own, use the rules describer meanwhile
            self._stalled = call
            self.counts["timeouts"] += 1
            return self._fallback(
                statement, dialect, f"the {self.backend.name!r} backend did not answer within {self.timeout:g} s"
            )
        result = box[0] if box else _Described(None, None, "no answer")
        if result.text is None and not result.bad_input:
            return self._fallback(statement, dialect, result.warning or "no answer")
        return result

    def _fallback(self, statement: str, dialect: Any, why: str) -> _Described:
        self.counts["failures"] += 1
        d = self._describe_with(self._rules, statement, dialect)
        return _Described(d.text, d.backend, f"{why}; described by the rules backend instead", routine=d.routine)

    def _describe_with(self, be: Backend, statement: str, dialect: Any) -> _Described:
        from ..api import describe

        try:
            sql = _describable(statement, getattr(dialect, "paramstyle", None))
            d = describe(
                sql, backend=be, language=self.language, dialect=SQLGLOT_DIALECTS.get(getattr(dialect, "name", ""))
            )
            return _Described(
                d.text, d.backend, "; ".join(d.warnings) or None, routine=all(f.kind == "other" for f in d.facts)
            )
        except (InvalidInputError, SQLParseError) as e:  # vendor syntax sqlglot does not read, say
            return _Described(None, None, f"{type(e).__name__}: {e}", bad_input=True)
        except Exception as e:
            return _Described(None, None, f"{type(e).__name__}: {e}")

    def _log(self, statement: str, fp: str, known: _Described, dialect: Any, executemany: bool) -> None:
        extra = {
            "statement": statement,
            "description": known.text,
            "fingerprint": fp,
            "backend": known.backend,
            "dialect": getattr(dialect, "name", None),
            "executemany": executemany,
            "sql2nl_warning": known.warning,
        }
        one_line = " ".join(statement.split())
        if len(one_line) > 500:
            one_line = one_line[:499] + "…"
        if known.text is None:
            # Statements sql2nl cannot read (vendor commands, PRAGMAs...) are not worth the user's eye.
            self.logger.debug("could not describe: %s | %s", known.warning, one_line, extra=extra)
        elif known.routine:  # the driver's and the ORM's own PRAGMA / SET / SHOW: described generically
            self.logger.debug("%s | %s", " ".join(known.text.split()), one_line, extra=extra)
        else:
            self.logger.log(self.level, "%s | %s", " ".join(known.text.split()), one_line, extra=extra)
        self.counts["logged"] += 1

    # -- control ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Counters: queued, dropped (queue full), described, cache_hits, logged, failures, timeouts."""
        return {"queued": len(self._queue), "dropped": self.dropped, **self.counts}

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued statement has been logged; ``False`` if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while self._queue or self._busy:
            if not self._worker.is_alive() or time.monotonic() >= deadline:
                return False
            time.sleep(0.001)
        return True

    def close(self) -> None:
        """Detach the listeners and stop the background thread (does not wait for a hung backend)."""
        if self._closed:
            return
        self._closed = True
        with _active_lock:
            if _active.get(self.target) is self:
                del _active[self.target]
        try:
            from sqlalchemy import event

            if event.contains(self.target, "before_cursor_execute", self._listener):
                event.remove(self.target, "before_cursor_execute", self._listener)
        finally:
            self._stop.set()
            self._worker.join(0.2)

    def __enter__(self) -> "Instrumentation":
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush(timeout=1.0)
        self.close()

    def __repr__(self) -> str:
        return (
            f"<sql2nl Instrumentation of {self.target!r}: backend={self.backend.name!r} "
            f"comment={self.comment} {self.stats()}>"
        )


def _active_hooks() -> list[Instrumentation]:
    with _active_lock:
        return list(_active.values())


def _flush_at_exit() -> None:
    # Short scripts get their records; a hung backend delays exit by at most half a second.
    deadline = time.monotonic() + 0.5
    for hook in _active_hooks():
        try:
            hook.flush(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:
            pass


def _restart_after_fork() -> None:
    # A forked child (gunicorn --preload, multiprocessing) inherits the hooks but not their threads.
    global _active_lock
    _active_lock = threading.Lock()
    for hook in list(_active.values()):
        hook._after_fork()


atexit.register(_flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_after_fork)


def _resolve_target(target: Any) -> Any:
    try:
        from sqlalchemy.engine import Engine
    except ImportError:  # pragma: no cover - sqlalchemy is an extra
        raise InvalidInputError(f"SQLAlchemy is not installed; {install_extra('sqlalchemy')}.") from None
    if target is None:
        return Engine
    if target is Engine or isinstance(target, Engine):
        return target
    sync = getattr(target, "sync_engine", None)  # AsyncEngine
    if isinstance(sync, Engine):
        return sync
    raise InvalidInputError(
        f"instrument() takes an SQLAlchemy Engine, AsyncEngine or the Engine class, got {type(target).__name__}."
    )


def instrument(
    target: Any = None,
    *,
    backend: str | Backend | None = None,
    language: str = "en",
    level: int = logging.INFO,
    comment: bool = False,
    sample_rate: float = 1.0,
    queue_size: int = 10_000,
    log_repeats: bool = False,
    timeout: float = 5.0,
    logger: logging.Logger | str | None = None,
    **backend_options: Any,
) -> Instrumentation:
    """Describe every statement ``target`` runs and log it to the ``sql2nl.sqlalchemy`` logger.

    ``target`` is an ``Engine``, an ``AsyncEngine`` or the ``Engine`` class (the default: every
    engine). Works for Core and ORM alike, ``executemany`` included. Instrumenting the same
    target again replaces the earlier instrumentation.

    - ``backend``/``language``/extra keyword options: what describes (``model=`` etc. go to it);
    - ``level``: the level of the records (nothing is described while the logger ignores it);
    - ``comment``: prefix statements with ``/* sql2nl: ... */`` (rules or cached text only);
    - ``sample_rate``: the share of executions looked at (0 to 1);
    - ``queue_size``: statements waiting to be described; past it they are dropped and counted;
    - ``log_repeats``: log every execution, not only each distinct statement's first;
    - ``timeout``: seconds a non-rules backend gets before the rules describer answers instead.
    """
    resolved = _resolve_target(target)
    hook = Instrumentation(
        resolved,
        backend=backend,
        language=language,
        level=level,
        comment=comment,
        sample_rate=sample_rate,
        queue_size=queue_size,
        log_repeats=log_repeats,
        timeout=timeout,
        logger=logger,
        **backend_options,
    )
    with _active_lock:
        old = _active.pop(resolved, None)
        _active[resolved] = hook
    if old is not None:
        old.close()
    return hook


def uninstrument(target: Any = None) -> bool:
    """Remove what :func:`instrument` attached to ``target`` (default: the ``Engine`` class).

    Returns whether anything was attached.
    """
    resolved = _resolve_target(target)
    with _active_lock:
        hook = _active.pop(resolved, None)
    if hook is None:
        return False
    hook.close()
    return True
