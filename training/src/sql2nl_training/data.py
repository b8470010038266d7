"""Reading (SQL, description) pairs from every supported format, checking each, splitting by database.

>>> from sql2nl_training.data import Pair, dedupe
>>> kept, dropped = dedupe([Pair("SELECT 1", "One."), Pair("select 1", "One.")])
>>> len(kept), dropped
(1, 1)

Every row's SQL goes through the core parser; a row that does not parse, or lacks a field, is
counted in :class:`Dataset.bad` (with where it came from and why) and never used silently.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError, Sql2NLError
from sql2nl.parsing import parse
from sql2nl.prompt import DETAILS, STYLES

SQL_KEYS = ("sql", "query", "SQL")
TEXT_KEYS = ("description", "question", "text", "nl", "utterance")
SHOW_BAD = 5


@dataclass
class Pair:
    """One training or evaluation example."""

    sql: str
    description: str
    db_id: str | None = None
    language: str = "en"
    source: str = ""
    #: How the description reads: "summary" (one short paragraph) or "steps" (a numbered outline).
    detail: str = "summary"
    #: "question" or "statement"; by default read off the description (a question ends with "?").
    style: str = ""

    def __post_init__(self) -> None:
        if not self.style:
            self.style = "question" if self.description.rstrip().endswith(("?", "？")) else "statement"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "description": self.description,
            "db_id": self.db_id,
            "language": self.language,
            "detail": self.detail,
            "style": self.style,
        }


@dataclass
class Dataset:
    """Pairs read from one source, with what was refused and why."""

    pairs: list[Pair]
    bad: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    duplicates: int = 0
    source: str = ""

    def summary(self) -> str:
        lines = [
            f"{self.source}: {len(self.pairs)} pairs, {len(self.bad)} bad rows, {self.duplicates} duplicates removed"
        ]
        for where, why in self.bad[:SHOW_BAD]:
            lines.append(f"  bad row {where}: {why}")
        if len(self.bad) > SHOW_BAD:
            lines.append(f"  ... and {len(self.bad) - SHOW_BAD} more bad rows")
        return "\n".join(lines)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def dedupe(pairs: Iterable[Pair]) -> tuple[list[Pair], int]:
    """Drop exact repeats of (SQL, description, language), ignoring case and whitespace."""
    seen: set[tuple[str, str, str]] = set()
    out, dropped = [], 0
    for p in pairs:
        key = (_norm(p.sql), _norm(p.description), p.language)
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        out.append(p)
    return out, dropped


def _check(rows: Iterable[tuple[str, dict[str, Any]]], source: str, language: str) -> Dataset:
    pairs: list[Pair] = []
    bad: list[tuple[str, str]] = []
    for where, row in rows:
        if not isinstance(row, dict):
            bad.append((where, f"expected an object with sql and description, got {type(row).__name__}"))
            continue
        sql = next((row[k] for k in SQL_KEYS if isinstance(row.get(k), str)), None)
        text = next((row[k] for k in TEXT_KEYS if isinstance(row.get(k), str)), None)
        if not sql or not sql.strip():
            bad.append((where, "no SQL (expected a 'sql' field)"))
            continue
        if not text or not text.strip():
            bad.append((where, "no description (expected a 'description' field)"))
            continue
        try:
            parse(sql)
        except Sql2NLError as e:
            bad.append((where, str(e).split(" Check the statement")[0]))
            continue
        db = row.get("db_id") or row.get("table_id")
        detail, style = row.get("detail") or "summary", row.get("style") or ""
        if detail not in DETAILS or (style and style not in STYLES):
            bad.append((where, f"detail must be one of {DETAILS} and style one of {STYLES}"))
            continue
        pairs.append(
            Pair(
                sql.strip(),
                text.strip(),
                str(db) if db else None,
                row.get("language") or language,
                where,
                detail,
                style,
            )
        )
    kept, dropped = dedupe(pairs)
    return Dataset(kept, bad, dropped, source)


def _json_rows(path: Path) -> Iterator[tuple[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InvalidInputError(
            f'{path} is not valid JSON ({e}); expected a list of {{"sql": ..., "description": ...}} objects.'
        ) from None
    if isinstance(data, dict):
        data = data.get("data") or data.get("pairs") or [data]
    if not isinstance(data, list):
        raise InvalidInputError(f"{path} must hold a JSON list of pairs.")
    for i, row in enumerate(data):
        yield f"{path.name}[{i}]", row


def _jsonl_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield f"{path.name}:{n}", json.loads(line)
            except json.JSONDecodeError as e:
                yield f"{path.name}:{n}", f"not JSON: {e}"


def _csv_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), 2):
            yield f"{path.name}:{n}", dict(row)


# --- WikiSQL: structured queries over one table, turned into SQL text --------------------------
_AGG = ["", "MAX", "MIN", "COUNT", "SUM", "AVG"]
_OPS = ["=", ">", "<", "OP"]


def wikisql_table_name(table_id: str) -> str:
    return "table_" + re.sub(r"\W", "_", table_id.removeprefix("table_"))


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def wikisql_to_sql(q: dict[str, Any], header: list[str]) -> str:
    """A WikiSQL ``{"sel", "agg", "conds"}`` query as SQL text over its table."""
    col = _q(header[q["sel"]])
    sel = f"{_AGG[q['agg']]}({col})" if q["agg"] else col
    sql = f"SELECT {sel} FROM {{table}}"
    conds = []
    for c, op, val in q.get("conds", []):
        v = val if isinstance(val, (int, float)) else "'" + str(val).replace("'", "''") + "'"
        conds.append(f"{_q(header[c])} {_OPS[op]} {v}")
    return sql + (" WHERE " + " AND ".join(conds) if conds else "")


def _wikisql_rows(path: Path, tables: Path) -> Iterator[tuple[str, Any]]:
    headers = {}
    for _, t in _jsonl_rows(tables):
        if isinstance(t, dict) and "id" in t:
            headers[t["id"]] = t["header"]
    for where, row in _jsonl_rows(path):
        if not isinstance(row, dict):
            yield where, row
            continue
        header = headers.get(row.get("table_id"))
        if header is None:
            yield where, {"description": row.get("question"), "sql": None}
            continue
        try:
            sql = wikisql_to_sql(row["sql"], header).format(table=wikisql_table_name(row["table_id"]))
        except (KeyError, IndexError, TypeError) as e:
            yield where, {"description": row.get("question"), "sql": None, "_why": str(e)}
            continue
        yield where, {"sql": sql, "description": row.get("question"), "db_id": row["table_id"]}


def _hf_rows(name: str) -> Iterator[tuple[str, Any]]:
    spec, _, split = name.removeprefix("hf:").partition("@")
    try:
        import datasets

        ds = datasets.load_dataset(spec, split=split or "train")
    except Exception as e:  # offline, unknown name, gated...
        raise InvalidInputError(
            f"Could not load the Hugging Face dataset {spec!r}: {e}. Download it when online, or pass a local file."
        ) from None
    for i, row in enumerate(ds):
        yield f"{spec}[{i}]", dict(row)


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".jsonl"):
        with path.open(encoding="utf-8") as f:
            first = next((ln for ln in f if ln.strip()), "{}")
        try:
            row = json.loads(first)
        except json.JSONDecodeError:
            return "jsonl"
        return "wikisql" if isinstance(row, dict) and isinstance(row.get("sql"), dict) else "jsonl"
    return "json"  # seed list or Spider (train_spider.json / dev.json use query/question, also read here)


def load_pairs(
    source: str | Path, *, tables: str | Path | None = None, language: str = "en", fmt: str = "auto"
) -> Dataset:
    """Read pairs from a file (seed JSON list, JSONL, CSV, Spider, WikiSQL) or ``hf:<name>[@split]``.

    Spider's ``train_spider.json``/``dev.json`` (``query``/``question``/``db_id``) read as JSON lists;
    WikiSQL needs its tables file (``tables=``, or ``<name>.tables.jsonl`` beside it).
    """
    s = str(source)
    if s.startswith("hf:"):
        return _check(_hf_rows(s), s, language)
    path = Path(s)
    if not path.is_file():
        raise InvalidInputError(f"Data file {path} does not exist.")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "csv":
        rows = _csv_rows(path)
    elif fmt == "jsonl":
        rows = _jsonl_rows(path)
    elif fmt == "wikisql":
        tpath = Path(tables) if tables else path.with_name(path.name.replace(".jsonl", ".tables.jsonl"))
        if not tpath.is_file():
            raise InvalidInputError(f"{path} is WikiSQL; pass its tables file (--tables), e.g. {tpath.name}.")
        rows = _wikisql_rows(path, tpath)
    elif fmt == "json":
        rows = _json_rows(path)
    else:
        raise InvalidInputError(f"Unknown data format {fmt!r}; use auto, json, jsonl, csv or wikisql.")
    ds = _check(rows, str(path), language)
    if not ds.pairs:
        raise InvalidInputError(f"{path} holds no usable pairs.\n{ds.summary()}")
    return ds


def group_of(p: Pair) -> str:
    """The database a pair belongs to (its ``db_id``; else the tables it reads)."""
    if p.db_id:
        return p.db_id
    from sql2nl.facts import extract

    tables = sorted({t.lower() for f in extract(p.sql) for t in f.tables})
    return "tables:" + ",".join(tables)


def split_by_database(
    pairs: list[Pair], valid_fraction: float = 0.1, seed: int = 0, *, by: str = "pairs"
) -> tuple[list[Pair], list[Pair]]:
    """Split so that no database (schema) appears in both halves; deterministic for a ``seed``.

    ``by="pairs"`` holds out whole databases until about ``valid_fraction`` of the *pairs* are held
    out; ``by="databases"`` holds out ``round(valid_fraction * number of databases)`` databases
    (at least one), whatever their size — the usual "unseen databases" evaluation split:

    >>> ps = [Pair(f"SELECT {i}", "x", db) for i, db in enumerate("aabbbcdddd")]
    >>> train, valid = split_by_database(ps, 0.25, seed=0, by="databases")
    >>> sorted(databases(valid)), len(databases(train))
    (['c'], 3)
    """
    if by not in ("pairs", "databases"):
        raise InvalidInputError(f"split_by_database: by must be 'pairs' or 'databases', not {by!r}.")
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(group_of(p), []).append(p)
    if len(groups) < 2:
        raise InvalidInputError(
            "All pairs come from one database, so a split by database is impossible; "
            "pass a separate validation file (--valid)."
        )
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    if by == "databases":
        valid_names = set(names[: min(len(names) - 1, max(1, round(valid_fraction * len(names))))])
    else:
        target = max(1, round(valid_fraction * len(pairs)))
        valid_names = set()
        n = 0
        for name in names:
            if n >= target or len(valid_names) == len(names) - 1:
                break
            valid_names.add(name)
            n += len(groups[name])
    train = [p for p in pairs if group_of(p) not in valid_names]
    valid = [p for p in pairs if group_of(p) in valid_names]
    return train, valid


def databases(pairs: Iterable[Pair]) -> list[str]:
    """The databases (see :func:`group_of`) the pairs come from, sorted."""
    return sorted({group_of(p) for p in pairs})


def write_jsonl(pairs: Iterable[Pair], path: str | Path) -> Path:
    from sql2nl.rundir import atomic_write_text

    return atomic_write_text(path, "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in pairs))


def write_split(
    sources: list[str | Path],
    out: str | Path,
    *,
    holdout: float = 0.15,
    seed: int = 0,
    tables: str | Path | None = None,
) -> dict[str, Any]:
    """Pool ``sources``, split them by database (:func:`split_by_database`, ``by="databases"``) and write
    ``OUT/train.jsonl``, ``OUT/valid.jsonl`` and ``OUT/split.json``; returns the split.json record.

    The record says which databases went where, the pair counts, and how many databases the
    source files already shared (a split by file is not one by database when they share any).
    """
    if not 0 < holdout < 1:
        raise InvalidInputError(f"holdout must be between 0 and 1 (a share of the databases), not {holdout!r}.")
    sets = [load_pairs(s, tables=tables) for s in sources]
    pooled, dropped = dedupe([p for ds in sets for p in ds.pairs])
    train, valid = split_by_database(pooled, holdout, seed, by="databases")
    per_source = [set(databases(ds.pairs)) for ds in sets]
    shared = set.intersection(*per_source) if len(per_source) > 1 else set()
    record = {
        "sources": [
            {"file": str(s), "pairs": len(ds.pairs), "bad_rows": len(ds.bad), "duplicates": ds.duplicates}
            for s, ds in zip(sources, sets)
        ],
        "holdout": holdout,
        "seed": seed,
        "pairs": {"train": len(train), "valid": len(valid), "duplicates_removed": dropped},
        "statements": {"train": len({p.sql for p in train}), "valid": len({p.sql for p in valid})},
        "databases": {"train": databases(train), "valid": databases(valid)},
        "sources_shared_databases": len(shared),
    }
    from sql2nl.rundir import atomic_write_json

    write_jsonl(train, Path(out) / "train.jsonl")
    write_jsonl(valid, Path(out) / "valid.jsonl")
    atomic_write_json(Path(out) / "split.json", record)
    return record
