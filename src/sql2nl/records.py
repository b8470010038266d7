"""Reading and writing files of records (JSON lines, CSV, Parquet), streaming and resumable.

Readers yield ``(position, record)`` one at a time, where a record is a dict or, for a line that
cannot be read, the :class:`~sql2nl.errors.InvalidInputError` saying why; the position is the line
(JSON lines), the data row (CSV) or the row (Parquet), counted from 1.

Writers never leave a half-written output under the final name. They write ``OUT.partial`` (for
Parquet a folder of finished parts) and, every few thousand records, make it durable (``fsync``)
and record a checkpoint next to it (``OUT.partial.ckpt``: how many records, how many bytes, a
digest of the input records they came from). An interrupted run resumes from the last checkpoint
(whatever was written after it is cut off and done again); the finished file is renamed to
``OUT`` in one step. CSV uses the standard library (values stay the exact strings of the file);
Parquet needs ``pyarrow`` (``pip install 'sql2nl[parquet]'``).
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InvalidInputError, install_extra

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_UTF8_BOM = b"\xef\xbb\xbf"


def format_of(path: str | os.PathLike) -> str:
    """The format a file name implies (``.jsonl``/``.ndjson``/``.json``, ``.csv``, ``.parquet``/``.pq``)."""
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise InvalidInputError(
            f"Cannot tell the format of {str(path)!r} from its name; use a name ending in .jsonl, .csv or .parquet."
        )
    return fmt


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise InvalidInputError(
            "Parquet files need pyarrow, which is not installed. Install it with: " + install_extra("parquet")
        ) from None
    return pyarrow


# -- reading ---------------------------------------------------------------------------------------


def read_records(path: str | os.PathLike, fmt: str) -> Iterator[tuple[int, dict[str, Any] | InvalidInputError]]:
    """The records of ``path`` in order, as ``(position, record or the reason it cannot be read)``."""
    try:
        if fmt == "jsonl":
            yield from _read_jsonl(path)
        elif fmt == "csv":
            yield from _read_csv(path)
        elif fmt == "parquet":
            yield from _read_parquet(path)
        else:
            raise InvalidInputError(f"Unknown input format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    except OSError as e:
        raise InvalidInputError(f"Cannot read {path}: {e.strerror or e}.") from None


def _read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any] | InvalidInputError]]:
    with open(path, "rb") as f:  # bytes: one undecodable line is one bad record, not a failed file
        for n, raw in enumerate(f, 1):
            if n == 1 and raw.startswith(_UTF8_BOM):
                raw = raw[len(_UTF8_BOM) :]
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except UnicodeDecodeError:
                yield n, InvalidInputError(f"line {n} is not UTF-8 text")
                continue
            except ValueError as e:
                yield n, InvalidInputError(f"line {n} is not valid JSON ({e})")
                continue
            if not isinstance(rec, dict):
                yield n, InvalidInputError(f"line {n} is a JSON {type(rec).__name__}, not an object with fields")
                continue
            yield n, rec


def _read_csv(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any] | InvalidInputError]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        n = 0
        try:
            for n, row in enumerate(reader, 1):
                if None in row:  # more cells than the header names
                    yield n, InvalidInputError(f"row {n} (line {reader.line_num}) has more fields than the header")
                    continue
                yield n, row
        except UnicodeDecodeError:
            raise InvalidInputError(f"{path} is not UTF-8 text (after row {n}); convert it first.") from None
        except csv.Error as e:
            raise InvalidInputError(f"{path} is not readable CSV at line {reader.line_num}: {e}.") from None


def _read_parquet(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any] | InvalidInputError]]:
    pa = _pyarrow()
    try:
        pf = pa.parquet.ParquetFile(path)
    except pa.ArrowException as e:
        raise InvalidInputError(f"{path} is not a readable Parquet file: {e}.") from None
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for rec in batch.to_pylist():
            n += 1
            yield n, rec


def count_records(path: str | os.PathLike, fmt: str) -> int | None:
    """How many records ``path`` holds, when that is cheap to know (for the progress bar)."""
    try:
        if fmt == "jsonl":
            with open(path, "rb") as f:
                lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))
                f.seek(max(0, f.tell() - 1))
                return lines + (f.read(1) not in (b"\n", b""))
        if fmt == "parquet":
            return _pyarrow().parquet.ParquetFile(path).metadata.num_rows
    except (OSError, InvalidInputError, ValueError):
        return None
    return None  # CSV: a row may span lines


# -- writing ---------------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """``json.dumps``' fallback for what Parquet and CSV hand over: dates, decimals, bytes..."""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


class Checkpoint:
    """``OUT.partial.ckpt``: what the partial output durably holds, replaced atomically."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise InvalidInputError(
                f"The checkpoint {self.path} cannot be read ({e}); delete it and the partial output to start over."
            ) from None

    def save(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class Sink:
    """Where output records go. ``resume()`` returns the checkpoint state it continues from."""

    partial: Path
    records = 0  # written since the start of the run (including those before a resume)

    def write(self, rec: dict[str, Any]) -> None:
        raise NotImplementedError

    def checkpoint(self, state: dict[str, Any]) -> None:
        """Make everything written so far durable and record ``state`` (plus the sink's own) with it."""

    def finish(self) -> None:
        """Flush, and put the output under its final name."""

    def close(self) -> None:
        """Release files without finishing (after an error or an interruption)."""


class StdoutSink(Sink):
    """JSON lines on standard output (no partial file, no resume)."""

    def __init__(self, stream: Any):
        self.stream = stream

    def write(self, rec: dict[str, Any]) -> None:
        self.stream.write(json.dumps(rec, ensure_ascii=False, default=to_json) + "\n")
        self.records += 1

    def finish(self) -> None:
        self.stream.flush()


class FileSink(Sink):
    """A sink that builds ``OUT.partial`` (with its checkpoint ``OUT.partial.ckpt``) and renames it."""

    def __init__(self, out: Path):
        self.out = out
        self.partial = out.with_name(out.name + ".partial")
        self.ckpt = Checkpoint(out.with_name(out.name + ".partial.ckpt"))
        self.dropped: set[str] = set()  # fields that had no column (CSV)

    def existing(self) -> dict[str, Any] | None:
        """The checkpoint of an interrupted run, ``{}`` for one interrupted before its first, else None."""
        if not self.partial.exists():
            return None
        return self.ckpt.load() or {}

    def start(self, resume_from: dict[str, Any] | None) -> None:
        """Start fresh, or continue from the checkpoint ``resume_from``."""
        raise NotImplementedError


class TextSink(FileSink):
    """JSON lines or CSV into ``OUT.partial``, renamed to ``OUT`` when done."""

    def __init__(self, out: Path, fmt: str, columns: list[str]):
        super().__init__(out)
        self.fmt = fmt
        self.columns = columns  # CSV header; for JSON lines only the added fields matter
        self.file: Any = None
        self.writer: Any = None

    def start(self, resume_from: dict[str, Any] | None) -> None:
        """Open the partial file: fresh, or cut back to the checkpoint ``resume_from``."""
        if resume_from:
            size = self.partial.stat().st_size
            if size < resume_from["bytes"]:
                raise InvalidInputError(
                    f"{self.partial} is shorter than its checkpoint says; delete it and {self.ckpt.path} to start over."
                )
            self.file = open(self.partial, "r+", encoding="utf-8", newline="")
            self.file.truncate(resume_from["bytes"])  # what came after the checkpoint is done again
            self.file.seek(resume_from["bytes"])
            self.columns = resume_from.get("columns", self.columns)
            self.records = resume_from["records"]
        else:
            self.file = open(self.partial, "w", encoding="utf-8", newline="")
            self.ckpt.remove()
        if self.fmt == "csv":
            self.writer = csv.DictWriter(self.file, fieldnames=self.columns, extrasaction="ignore")
            if not resume_from:
                self.writer.writeheader()

    def write(self, rec: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            self.file.write(json.dumps(rec, ensure_ascii=False, default=to_json) + "\n")
        else:
            extra = rec.keys() - set(self.columns)
            if extra - self.dropped:
                self.dropped |= extra
            self.writer.writerow({k: _cell(v) for k, v in rec.items()})
        self.records += 1

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.ckpt.save({**state, "records": self.records, "bytes": self.file.tell(), "columns": self.columns})

    def finish(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.partial, self.out)
        self.ckpt.remove()

    def close(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, ensure_ascii=False, default=to_json)  # lists (warnings), dicts, dates...


class ParquetSink(FileSink):
    """Parquet through ``OUT.partial/part-NNNNNN.parquet`` (one per checkpoint), joined at the end."""

    def __init__(self, out: Path, typed: dict[str, str] | None = None):
        super().__init__(out)
        self.pa = _pyarrow()
        self.typed = {k: _arrow_type(self.pa, t) for k, t in (typed or {}).items()}
        self.rows: list[dict[str, Any]] = []
        self.parts = 0

    def start(self, resume_from: dict[str, Any] | None) -> None:
        if resume_from:
            self.parts, self.records = resume_from["parts"], resume_from["records"]
            for p in self.partial.glob("part-*.parquet"):  # parts written after the checkpoint
                if int(p.stem.split("-")[1]) >= self.parts:
                    p.unlink()
        else:
            shutil.rmtree(self.partial, ignore_errors=True)
            self.ckpt.remove()
            self.partial.mkdir(parents=True)

    def write(self, rec: dict[str, Any]) -> None:
        self.rows.append(rec)
        self.records += 1

    def _table(self) -> Any:
        try:
            table = self.pa.Table.from_pylist(self.rows)
        except (self.pa.ArrowInvalid, self.pa.ArrowTypeError):
            # A field with values of several types (JSON lines allow that): write those as JSON text.
            mixed = {
                k
                for k in {k for r in self.rows for k in r}
                if len({type(r[k]) for r in self.rows if r.get(k) is not None}) > 1
            }
            table = self.pa.Table.from_pylist(
                [{k: (_cell(v) if k in mixed and v is not None else v) for k, v in r.items()} for r in self.rows]
            )
        # The added fields have one type in every part, even one where all are null or empty.
        for name, typ in self.typed.items():
            if name in table.column_names:
                table = table.set_column(table.column_names.index(name), name, table.column(name).cast(typ))
        return table

    def checkpoint(self, state: dict[str, Any]) -> None:
        if self.rows:
            table = self._table()
            part = self.partial / f"part-{self.parts:06d}.parquet"
            tmp = part.with_suffix(".tmp")
            self.pa.parquet.write_table(table, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, part)
            self.parts += 1
            self.rows = []
        self.ckpt.save({**state, "records": self.records, "parts": self.parts})

    def finish(self) -> None:
        self.checkpoint({})
        pq = self.pa.parquet
        files = [self.partial / f"part-{i:06d}.parquet" for i in range(self.parts)]
        # Parts were typed from their own rows (a column all null in one part, text in the next).
        try:
            schema = (
                self.pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
                if files
                else self.pa.schema([])
            )
        except (self.pa.ArrowInvalid, self.pa.ArrowTypeError) as e:
            raise InvalidInputError(
                f"The records' fields change type between parts of the file ({e}); write "
                f"JSON lines or CSV instead (the parts are kept in {self.partial})."
            ) from None
        tmp = self.out.with_name(self.out.name + ".tmp")
        with pq.ParquetWriter(tmp, schema) as writer:
            for f in files:
                for batch in pq.ParquetFile(f).iter_batches():
                    writer.write_table(self._conform(self.pa.Table.from_batches([batch]), schema))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.out)
        shutil.rmtree(self.partial, ignore_errors=True)
        self.ckpt.remove()

    def _conform(self, table: Any, schema: Any) -> Any:
        """``table`` with ``schema``'s columns in its order (missing ones all null), cast to its types."""
        if table.schema == schema:
            return table
        cols = [
            table.column(f.name) if f.name in table.column_names else self.pa.nulls(len(table), f.type) for f in schema
        ]
        return self.pa.Table.from_arrays(cols, names=schema.names).cast(schema)


def _arrow_type(pa: Any, name: str) -> Any:
    return {"string": pa.string(), "float": pa.float64(), "strings": pa.list_(pa.string())}[name]
