"""Describing query logs: a file of records in, the same records with their descriptions out.

::

    sql2nl describe --jsonl queries.jsonl --out described.jsonl            # all CPUs
    sql2nl describe --csv history.csv --field query_text --out out.parquet --workers 4
    sql2nl describe --jsonl queries.jsonl --out described.jsonl --resume   # after an interruption

Each output record is the input record with five fields added: ``description``, ``warnings``,
``faithfulness``, ``fingerprint`` (:func:`sql2nl.cache.fingerprint`) and ``error`` (``None``, or
why this record has no description). Records keep their order; repeated statements are described
once; bad records are reported with their position and never stop the run. Reading and writing
are in :mod:`sql2nl.records`, the worker processes in :mod:`sql2nl.pool`.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, Sql2NLError

#: The fields each output record gets (replacing input fields of the same name), with their types.
ADDED_TYPES = {
    "description": "string",
    "warnings": "strings",
    "faithfulness": "float",
    "fingerprint": "string",
    "error": "string",
}
ADDED_FIELDS = tuple(ADDED_TYPES)
#: Make the output durable and record a checkpoint this often (records, seconds).
CHECKPOINT_RECORDS = 10_000
CHECKPOINT_SECONDS = 10.0


@dataclass
class Summary:
    """What a run did; ``bad`` lists ``(position, reason)`` for the first bad records."""

    records: int = 0
    resumed_from: int = 0
    errors: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    left_out_fields: list[str] = field(default_factory=list)


def describe_file(
    src: str | Path,
    fmt: str,
    out: str | Path | None,
    *,
    field_name: str = "sql",
    dialect: str | None = None,
    dialect_field: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    progress: bool = False,
    on_error: str = "keep",
    backend: Any = None,
    backend_options: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    start_method: str | None = None,
    stdout: Any = None,
    max_bad: int = 20,
    checkpoint_records: int = CHECKPOINT_RECORDS,
) -> Summary:
    """Describe every record of ``src`` (format ``fmt``) into ``out`` (``None``: JSON lines on stdout).

    ``options`` are :func:`~sql2nl.describe`'s keyword arguments (language, schema, redact...).
    With ``resume=True`` a run that was interrupted continues after its last checkpoint, once the
    records it already wrote are verified against the input (positions and fingerprints); without
    it, an interrupted run's files make this raise instead of being overwritten.
    """
    from .api import resolve_backend, worker_job
    from .parsing import check_dialect
    from .pool import describe_items
    from .records import ParquetSink, StdoutSink, TextSink, count_records, format_of, read_records

    if on_error not in ("keep", "raise"):
        raise InvalidInputError(f"on_error must be 'keep' or 'raise', got {on_error!r}.")
    check_dialect(dialect)
    src = Path(src)
    if not src.is_file():
        raise InvalidInputError(f"{src} does not exist or is not a file.")
    options = dict(options or {})
    backend_options = dict(backend_options or {})
    be = resolve_backend(backend, backend_options)
    job = worker_job(backend, be, backend_options, options)

    records = read_records(src, fmt)
    first = _peek(records)
    if out is None:
        if resume:
            raise InvalidInputError("--resume needs --out FILE (a run on standard output cannot be resumed).")
        sink: Any = StdoutSink(stdout or sys.stdout)
        state = None
    else:
        out = Path(out)
        if out.resolve() == src.resolve():
            raise InvalidInputError("The output file is the input file; write to another one.")
        out_fmt = format_of(out)
        columns = _columns(first[1] if first and isinstance(first[1], dict) else {})
        sink = ParquetSink(out, ADDED_TYPES) if out_fmt == "parquet" else TextSink(out, out_fmt, columns)
        state = sink.existing()
        if state is not None and not resume:
            done = state.get("records", 0)
            raise InvalidInputError(
                f"{sink.partial} is left from an interrupted run ({done:,} records saved): "
                "pass --resume to continue it, or delete it to start over."
            )
        try:
            sink.start(state or None)
        except OSError as e:
            raise InvalidInputError(f"Cannot write {sink.partial}: {e.strerror or e}.") from None
    if first is not None:
        records = _chained(first, records)

    summary = Summary()
    digest = hashlib.sha256()
    done_before = state.get("records", 0) if state else 0
    if done_before:
        records = _skip_verified(records, done_before, state["digest"], digest, field_name, src)  # type: ignore[index]
    summary.resumed_from = done_before
    total = count_records(src, fmt)
    started = last_checkpoint = time.monotonic()
    items = _items(records, field_name, dialect, dialect_field)
    from .progress import progress_bar

    bar = progress_bar(total, progress, f"describing {src.name}")  # (total None: CSV, unknown)
    try:
        with bar:
            if done_before:
                bar.update(done_before)
            for (pos, rec), fp, result in describe_items(items, job, workers=workers, start_method=start_method):
                message = result.error_message
                if message is not None and on_error == "raise":  # saved up to the record before: fix it, resume
                    sink.checkpoint({"digest": digest.hexdigest()})
                    raise result.exception(where=_where(fmt, pos))  # type: ignore[misc]
                out_rec = dict(rec) if isinstance(rec, dict) else {}
                out_rec.update(
                    description=result.text,
                    warnings=result.warnings,
                    faithfulness=result.faithfulness,
                    fingerprint=fp,
                    error=message,
                )
                sink.write(out_rec)
                digest.update(f"{pos}\t{fp or ''}\n".encode())
                summary.records += 1
                bar.update(1)
                if message is not None:
                    summary.errors += 1
                    if len(summary.bad) < max_bad:
                        summary.bad.append((_where(fmt, pos), message))
                if summary.records % checkpoint_records == 0 or time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS:
                    sink.checkpoint({"digest": digest.hexdigest()})
                    last_checkpoint = time.monotonic()
    except (KeyboardInterrupt, Sql2NLError):  # (not from writing:) every record written so far is whole
        sink.checkpoint({"digest": digest.hexdigest()})
        sink.close()
        raise
    except OSError as e:  # a full disk, say: what the last checkpoint holds is safe
        sink.close()
        raise InvalidInputError(
            f"Cannot write {getattr(sink, 'partial', 'the output')}: {e.strerror or e}. What "
            "was saved at the last checkpoint is kept: rerun with --resume."
        ) from None
    except BaseException:
        sink.close()
        raise
    sink.finish()
    summary.seconds = time.monotonic() - started
    summary.left_out_fields = sorted(getattr(sink, "dropped", ()))
    return summary


def _peek(records: Iterator[Any]) -> tuple[int, Any] | None:
    return next(records, None)


def _chained(first: tuple[int, Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _columns(first: dict[str, Any]) -> list[str]:
    return [k for k in first if k not in ADDED_FIELDS] + list(ADDED_FIELDS)


def _where(fmt: str, pos: int) -> str:
    return f"line {pos}" if fmt == "jsonl" else f"row {pos}"


def _sql_of(rec: Any, field_name: str) -> Any:
    """The statement of one record, or the :class:`InvalidInputError` saying why there is none."""
    if isinstance(rec, Sql2NLError):
        return rec
    if field_name not in rec:
        return InvalidInputError(f"the record has no {field_name!r} field (choose the field with --field)")
    sql = rec[field_name]
    if sql is None:
        return InvalidInputError(f"the {field_name!r} field is empty (null)")
    return sql


def _items(
    records: Iterator[tuple[int, Any]], field_name: str, dialect: str | None, dialect_field: str | None
) -> Iterator[tuple[tuple[int, Any], Any, str | None]]:
    for pos, rec in records:
        d = dialect
        if dialect_field and isinstance(rec, dict):
            d = rec.get(dialect_field) or dialect  # a record without one uses -d (or the permissive default)
        yield (pos, rec), _sql_of(rec, field_name), d


def _skip_verified(
    records: Iterator[tuple[int, Any]], n: int, expected: str, digest: Any, field_name: str, src: Path
) -> Iterator[tuple[int, Any]]:
    """``records`` after the first ``n``, which must be those the interrupted run wrote."""
    from .cache import fingerprint

    skipped = 0
    for pos, rec in records:
        sql = _sql_of(rec, field_name)
        fp = fingerprint(sql) if isinstance(sql, str) else None
        digest.update(f"{pos}\t{fp or ''}\n".encode())
        skipped += 1
        if skipped == n:
            break
    if skipped < n or digest.hexdigest() != expected:
        raise InvalidInputError(
            f"{src} is not the input the interrupted run read (its first {n:,} records differ "
            "from those saved); delete the partial output to start over."
        )
    yield from records


def report(summary: Summary, out: str | None, echo: Callable[[str], None]) -> None:
    """Print what a run did (bad records with their positions, totals) through ``echo``."""
    for where, why in summary.bad:
        # (an unreadable line's reason already starts with its position)
        echo(why if why.split(": ", 1)[-1].startswith(where + " ") else f"{where}: {why}")
    if summary.errors > len(summary.bad):
        echo(f"... and {summary.errors - len(summary.bad):,} more bad records (see their 'error' field).")
    if summary.left_out_fields:
        echo(f"fields not in the first record were left out of the CSV: {', '.join(summary.left_out_fields)}")
    rate = summary.records / summary.seconds if summary.seconds > 0 else 0.0
    resumed = f" (after {summary.resumed_from:,} from the interrupted run)" if summary.resumed_from else ""
    echo(
        f"{summary.records:,} records described{resumed} in {summary.seconds:.1f} s ({rate:,.0f}/s), "
        f"{summary.errors:,} bad" + (f"; written to {out}" if out else "")
    )
