"""Describing many statements with several worker processes, in input order.

The rules describer is CPU-bound Python, so threads would share one core; a process pool
(:class:`concurrent.futures.ProcessPoolExecutor`) uses them all. Each worker builds its backend
once (from the backend's *name* and options: models and connections do not cross processes) and
describes chunks of statements; only the SQL goes in and only the text, warnings, score and error
come back, which keeps inter-process traffic small. Repeated statements (same
:func:`~sql2nl.cache.fingerprint` and dialect) are described once.

Used by :func:`sql2nl.describe_many` (``workers=``) and by ``sql2nl describe --jsonl/--csv/--parquet``
(:mod:`sql2nl.logs`). Works with the ``fork``, ``forkserver`` and ``spawn`` start methods.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import chain, islice
from typing import Any, NamedTuple, TypeVar

from . import errors as _errors
from .cache import fingerprint
from .description import Description
from .errors import BackendError, InvalidInputError, Sql2NLError

P = TypeVar("P")

#: Statements per task sent to a worker: large enough that pickling and queues cost little,
#: small enough that the workers stay evenly busy and the output flows.
CHUNK_SIZE = 64
#: Below this many statements one process is quicker than starting workers.
MIN_PARALLEL = 1000
#: How many described statements are remembered to answer repeats without describing again.
DEDUPE_WINDOW = 100_000


def default_workers() -> int:
    """The CPUs this process may use (``os.process_cpu_count()``, else the affinity mask, else all)."""
    count = getattr(os, "process_cpu_count", None)
    if count is not None:
        return count() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class Result(NamedTuple):
    """What describing one statement gave; ``error`` is ``(class name, message, fields)`` or None."""

    text: str | None
    backend: str | None
    warnings: list[str]
    faithfulness: float | None
    error: tuple[str, str, dict[str, Any]] | None = None
    guard: dict[str, Any] | None = None  # what the faithfulness guard did (LLM backends)

    @property
    def error_message(self) -> str | None:
        """``"SQLParseError: Could not parse ..."``, as ``describe_many(on_error="keep")`` reports it."""
        return f"{self.error[0]}: {self.error[1]}" if self.error else None

    def exception(self, where: str | None = None) -> Sql2NLError | None:
        """The error as the :class:`~sql2nl.errors.Sql2NLError` subclass the worker raised (its message
        prefixed with ``where``, e.g. ``"line 17"``, if given)."""
        if self.error is None:
            return None
        name, message, fields = self.error
        if where:
            message = f"{where}: {message}"
        cls = getattr(_errors, name, None)
        if not (isinstance(cls, type) and issubclass(cls, Sql2NLError)):
            cls = Sql2NLError
        # Rebuilt without __init__: the subclasses' constructors take other arguments than the message.
        e = cls.__new__(cls)
        Exception.__init__(e, message)
        e.__dict__.update(fields)
        return e


def error_result(e: BaseException) -> Result:
    """A :class:`Result` carrying ``e`` (its class name, message and simple fields such as line/column)."""
    fields = {k: v for k, v in vars(e).items() if isinstance(v, (str, int, float, bool, type(None)))}
    return Result(None, None, [], None, (type(e).__name__, str(e), fields))


@dataclasses.dataclass(frozen=True)
class Job:
    """What every worker needs to describe: the backend by name (or class), all the options, and the
    class each process builds once from this job to describe chunks (:class:`sql2nl.api.ChunkDescriber`:
    given here, by reference, so that this module does not import the API that calls it)."""

    backend: Any
    backend_options: dict[str, Any]
    options: dict[str, Any]  # describe()'s keyword arguments: language, schema, redact, cache, max_chars...
    describer: Callable[[Job], Callable[[list[tuple[str, str | None]]], list[Result]]]
    chunk_size: int | None = None  # the backend's pool_chunk / pool_min (None: CHUNK_SIZE / MIN_PARALLEL)
    min_parallel: int | None = None
    start_method: str | None = None  # the backend's pool_start (None: the platform's)
    workers: int | None = None  # the backend's pool_workers: how many when the caller does not say


def job_for(
    backend: Any, resolved: Any, backend_options: dict[str, Any], options: dict[str, Any], describer: Any
) -> Job:
    """The :class:`Job` for ``backend`` as the caller gave it (``resolved``: the instance it names here).

    Workers get what they can rebuild it from: the registered class when it pickles by reference
    (so a backend a program registered at run time also works with ``spawn``), else the name; an
    instance only when it pickles.
    """
    import pickle

    from .backends import Backend, available_backends

    sizes = dict(
        chunk_size=getattr(resolved, "pool_chunk", None),
        min_parallel=getattr(resolved, "pool_min", None),
        start_method=getattr(resolved, "pool_start", None),
        workers=getattr(resolved, "pool_workers", None),
    )
    if isinstance(backend, Backend):
        try:
            pickle.dumps(backend)
        except Exception as e:
            raise InvalidInputError(
                f"workers= needs a backend each process can build: pass its name (or class) and options instead "
                f"of this {type(backend).__name__} instance, which cannot be sent to another process ({e})."
            ) from None
        return Job(backend, {}, options, describer, **sizes)
    if backend is None or isinstance(backend, str):
        info = available_backends().get(resolved.name)
        if info is not None and info.factory is type(resolved):
            try:
                pickle.dumps(info.factory)
                return Job(info.factory, dict(backend_options), options, describer, **sizes)
            except Exception:
                pass
        return Job(resolved.name, dict(backend_options), options, describer, **sizes)
    return Job(backend, dict(backend_options), options, describer, **sizes)


class _Worker:
    """One process's describer, built once; a failure to build it (or to describe a chunk) becomes
    every statement's error instead of killing the process."""

    def __init__(self, job: Job):
        logging.getLogger("sqlglot").setLevel(logging.ERROR)  # as the CLI does; spawned workers start fresh
        self.failure: Result | None = None
        try:
            self.describe = job.describer(job)
        except Exception as e:  # reported for every statement instead of killing the process
            self.failure = error_result(e)

    def run(self, chunk: list[tuple[str, str | None]]) -> list[Result]:
        if self.failure is not None:
            return [self.failure] * len(chunk)
        try:
            return self.describe(chunk)
        except BaseException as e:  # a worker must answer every statement, whatever happens
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            return [error_result(BackendError(f"The worker failed on this chunk: {type(e).__name__}: {e}"))] * len(
                chunk
            )


_worker: _Worker | None = None  # the one in a pool's worker process
_share: int | None = None  # in a pool's worker process: the CPUs it should keep busy


def worker_cpus() -> int | None:
    """In a worker of a pool of N processes: the CPUs it should keep busy with its own threads (its
    1/N share of the CPUs, at least 1); None in any other process.

    A model's matrix work runs on a thread pool (llama.cpp's, torch's) that by default takes every
    core; N workers each doing so would fight over the cores. A small model gains little from a
    second thread (on 2 cores, SmolLM2-135M decodes 1.2x as fast with 2 threads as with 1), so one
    process per core describes more statements a second than one process using both.
    """
    return _share


def _init_worker(job: Job, workers: int) -> None:
    global _worker, _share
    _share = max(1, default_workers() // max(1, workers))
    _worker = _Worker(job)
    # The process that started this one: the caller (fork, spawn) or its fork server, which ends with it.
    threading.Thread(target=_exit_with, args=(os.getppid(),), name="sql2nl-orphan-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    # A parent killed with SIGKILL cannot shut its pool down, and a worker forked beside its siblings
    # never sees its task pipe close: without this it would wait for tasks forever.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _run_in_worker(chunk: list[tuple[str, str | None]]) -> list[Result]:
    assert _worker is not None
    return _worker.run(chunk)


class _Inline:
    """The executor interface, in this process: for workers=1 and small inputs."""

    def __init__(self, job: Job):
        self.worker = _Worker(job)

    def submit(self, fn: Any, chunk: list[tuple[str, str | None]]) -> Future:
        f: Future = Future()
        f.set_result(self.worker.run(chunk))
        return f

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _worker_count(job: Job, workers: int | None) -> int:
    """The workers asked for, else the backend's ``pool_workers``, else one per CPU."""
    return (job.workers or default_workers()) if workers is None else workers


def describe_items(
    items: Iterable[tuple[P, Any, str | None]],
    job: Job,
    *,
    workers: int | None = None,
    chunk_size: int | None = None,
    min_parallel: int | None = None,
    start_method: str | None = None,
    dedupe_window: int = DEDUPE_WINDOW,
) -> Iterator[tuple[P, str | None, Result]]:
    """Describe ``(payload, sql, dialect)`` items; yield ``(payload, fingerprint, Result)`` in input order.

    An item whose ``sql`` is a :class:`~sql2nl.errors.Sql2NLError` comes back with that error.
    ``items`` is read lazily and at most a few chunks per worker are in flight, so input of any
    length streams through in bounded memory; ``chunk_size`` statements go to a worker at a time
    (default: the job's, from the backend's ``pool_chunk``, else :data:`CHUNK_SIZE`). With
    ``workers=1``, or when ``items`` ends within the first ``min_parallel`` (default: the backend's
    ``pool_min``, else :data:`MIN_PARALLEL`), everything runs in this process.
    ``start_method`` is a :mod:`multiprocessing` start method (default: the backend's ``pool_start``,
    else the platform's). A worker
    process that dies raises :class:`~sql2nl.errors.BackendError` here; results yielded before it
    stay valid.
    """
    workers = _worker_count(job, workers)
    if not isinstance(workers, int) or workers < 1:
        raise InvalidInputError(f"workers must be a whole number of at least 1, got {workers!r}.")
    if min_parallel is None:
        min_parallel = MIN_PARALLEL if job.min_parallel is None else job.min_parallel
    if chunk_size is None:
        chunk_size = CHUNK_SIZE if job.chunk_size is None else job.chunk_size
    it = iter(items)
    head = list(islice(it, min_parallel)) if workers > 1 else []
    if workers == 1 or len(head) < min_parallel:
        executor: Any = _Inline(job)
        workers = 1
    else:
        import multiprocessing

        start_method = start_method or job.start_method
        if start_method is not None and start_method not in multiprocessing.get_all_start_methods():
            start_method = "spawn"  # forkserver: POSIX only
        executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context(start_method),
            initializer=_init_worker,
            initargs=(job, workers),
        )
    finished = False
    try:
        yield from _ordered(chain(head, it), executor, workers, chunk_size, dedupe_window)
        finished = True
    finally:  # on an error or an abandoned generator, do not wait for work nobody will read
        executor.shutdown(wait=finished, cancel_futures=not finished)


def _ordered(
    items: Iterator[tuple[P, Any, str | None]], executor: Any, workers: int, chunk_size: int, dedupe_window: int
) -> Iterator[tuple[P, str | None, Result]]:
    # Every item gets a cell that its result lands in; items wait in `pending` until every one
    # before them has its result, so output order is input order. Repeats share a cell.
    pending: deque[tuple[P, str | None, list]] = deque()
    cells: dict[tuple[str, str | None], list] = {}  # statements sent (or about to be) and not back yet
    done: OrderedDict[tuple[str, str | None], Result] = OrderedDict()  # recent results, for repeats
    chunk: list[tuple[str, str | None]] = []
    chunk_keys: list[tuple[str, str | None]] = []
    inflight: deque[tuple[Future, list[tuple[str, str | None]]]] = deque()
    max_inflight, max_pending = 2 * workers, 4 * workers * chunk_size + 10_000

    def submit() -> None:
        inflight.append((executor.submit(_run_in_worker, list(chunk)), list(chunk_keys)))
        chunk.clear()
        chunk_keys.clear()

    def collect() -> None:
        future, keys = inflight.popleft()
        try:
            results = future.result()
        except BrokenProcessPool as e:
            raise BackendError(
                "A worker process died (killed, out of memory, or a crash in the backend); "
                f"what was described before is kept: with --out, rerun with --resume ({e})."
            ) from None
        for key, result in zip(keys, results):
            cells.pop(key)[0] = result
            done[key] = result
            if len(done) > dedupe_window:
                done.popitem(last=False)

    def ready() -> Iterator[tuple[P, str | None, Result]]:
        while pending and pending[0][2][0] is not None:
            payload, fp, cell = pending.popleft()
            yield payload, fp, cell[0]

    for payload, sql, dialect in items:
        if isinstance(sql, Sql2NLError):  # the caller already knows why this item has no statement
            pending.append((payload, None, [error_result(sql)]))
        elif not isinstance(sql, str):
            pending.append((payload, None, [_not_text(sql)]))
        else:
            fp = fingerprint(sql)
            key = (fp, dialect)
            cell = cells.get(key)
            if cell is None:
                known = done.get(key)
                if known is not None:
                    done.move_to_end(key)
                    cell = [known]
                else:
                    cell = cells[key] = [None]
                    chunk.append((sql, dialect))
                    chunk_keys.append(key)
                    if len(chunk) >= chunk_size:
                        submit()
            pending.append((payload, fp, cell))
        while inflight and (len(inflight) > max_inflight or inflight[0][0].done()):
            collect()
        if len(pending) > max_pending:  # e.g. a long run of repeats of statements still out
            if chunk:
                submit()
            if inflight:
                collect()
        yield from ready()
    if chunk:
        submit()
    while inflight:
        collect()
        yield from ready()
    yield from ready()


def _not_text(sql: Any) -> Result:
    from .parsing import check_text

    try:
        check_text(sql)
    except Sql2NLError as e:
        return error_result(e)
    return error_result(InvalidInputError(f"Expected the SQL as a string, got {type(sql).__name__}."))


class PooledDescription(Description):
    """A :class:`~sql2nl.Description` made in a worker process: only its text crossed over, so its
    ``facts`` are extracted here, on first read (one parse), instead of being pickled for every
    statement whether anyone reads them or not."""

    _dialect: str | None = None

    @property
    def facts(self) -> list:
        facts = self.__dict__.get("_facts")
        if facts is None:
            facts = self.__dict__["_facts"] = _extract(self.sql, self._dialect)
        return facts

    @facts.setter
    def facts(self, value: list | None) -> None:
        self.__dict__["_facts"] = value


def _extract(sql: str, dialect: str | None) -> list:
    from .facts import extract
    from .parsing import run_deep

    try:
        return extract(sql, dialect)
    except RecursionError:  # as describe() does for deeply nested input
        return run_deep(extract, sql, dialect)


def describe_many_in_workers(
    sqls: list[Any],
    job: Job,
    *,
    dialect: str | None,
    on_error: str,
    workers: int | None,
    progress: bool,
    start_method: str | None = None,
    min_parallel: int | None = None,
) -> list[Description]:
    """:func:`sql2nl.describe_many` with ``workers=``: same results, same order, same errors."""
    from .progress import progress_bar

    language = job.options.get("language", "en")
    out: list[Description] = []
    items = ((i, sql, dialect) for i, sql in enumerate(sqls))
    with progress_bar(len(sqls), progress, f"describing with {_worker_count(job, workers)} processes") as bar:
        for i, _, r in describe_items(
            items, job, workers=workers, start_method=start_method, min_parallel=min_parallel
        ):
            sql = sqls[i]
            if r.error is not None:
                if on_error == "raise":
                    raise r.exception()  # type: ignore[misc]
                out.append(
                    Description(
                        text="",
                        backend=_backend_name(job),
                        language=language,
                        sql=sql if isinstance(sql, str) else repr(sql),
                        facts=[],
                        warnings=[r.error_message],  # type: ignore[list-item]  # (set: the record failed)
                    )
                )
            else:
                d = PooledDescription(
                    text=r.text or "",
                    backend=r.backend or _backend_name(job),
                    language=language,
                    sql=sql,
                    facts=None,  # type: ignore[arg-type]  # (read lazily: PooledDescription.facts)
                    warnings=list(r.warnings),
                    faithfulness=r.faithfulness,
                    guard=r.guard,
                )
                d._dialect = dialect
                out.append(d)
            bar.update(1)
    return out


def _backend_name(job: Job) -> str:
    return str(getattr(job.backend, "name", job.backend))
