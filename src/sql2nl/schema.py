"""Schema hints: the words a team uses for its tables and columns.

Accepted forms (``schema=`` everywhere):

* ``{"users": ["id", "name"]}`` — tables and their columns;
* ``{"users": {"name": "full name", "dob": "date of birth"}}`` — columns with descriptions;
* ``{"users": {"description": "customers", "columns": {"dob": "date of birth"}}}``;
* a SQLAlchemy ``MetaData`` (column ``comment`` or ``info["description"]`` give the words);
* one database of a Spider-style ``tables.json`` (``table_names_original``, ``column_names_original``,
  the natural ``table_names``/``column_names``, ``primary_keys``, ``foreign_keys``); for a whole
  file use :meth:`Schema.from_spider_tables`.

Primary and foreign keys, where a form gives them, tell the describer which side of a join has
many rows (what ``COUNT(*)`` over a join counts).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInputError


@dataclass(frozen=True)
class Column:
    name: str
    description: str | None = None
    primary_key: bool = False
    #: ``(table, column)`` this column refers to, for a foreign key.
    references: tuple[str, str] | None = None


@dataclass(frozen=True)
class Table:
    name: str
    description: str | None = None
    columns: tuple[Column, ...] = ()

    def column(self, name: str) -> Column | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...] = field(default_factory=tuple)

    def table(self, name: str | None) -> Table | None:
        if not name:
            return None
        low = name.lower().split(".")[-1]
        return next((t for t in self.tables if t.name.lower() == low), None)

    def is_key(self, table: str | None, column: str) -> bool | None:
        """Whether ``column`` is ``table``'s primary key (``None`` when the schema does not say)."""
        t = self.table(table)
        keys = [c for c in t.columns if c.primary_key] if t is not None else []
        if not keys:
            return None
        # One column of a composite key does not name a row on its own.
        return len(keys) == 1 and keys[0].name.lower() == column.lower()

    def table_words(self, name: str) -> str | None:
        """The description a user gave for table ``name``, if any."""
        t = self.table(name)
        return t.description if t else None

    def column_words(self, table: str | None, column: str) -> str | None:
        """The description a user gave for ``column`` (looked up in ``table``, else in any table)."""
        t = self.table(table)
        if t is not None:
            c = t.column(column)
            if c is not None:
                return c.description
        for t in self.tables:
            c = t.column(column)
            if c is not None and c.description:
                return c.description
        return None

    @functools.cached_property  # a frozen dataclass: computed once per Schema
    def fingerprint(self) -> str:
        """A short hash of the tables, columns and words (part of the cache key)."""
        data = [
            [t.name, t.description, [[c.name, c.description, c.primary_key, c.references] for c in t.columns]]
            for t in self.tables
        ]
        return hashlib.sha1(json.dumps(data).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            t.name: {"description": t.description, "columns": {c.name: c.description for c in t.columns}}
            for t in self.tables
        }

    @classmethod
    def from_any(cls, obj: Any) -> "Schema | None":
        """Build a :class:`Schema` from any accepted form (``None`` stays ``None``)."""
        if obj is None or isinstance(obj, Schema):
            return obj
        if hasattr(obj, "tables") and hasattr(obj, "sorted_tables"):  # SQLAlchemy MetaData
            return cls(tuple(_from_sqlalchemy_table(t) for t in obj.sorted_tables))
        if isinstance(obj, Mapping) and "table_names_original" in obj and "column_names_original" in obj:
            return _from_spider(obj)
        if not isinstance(obj, Mapping):
            raise InvalidInputError(
                f"schema= must be a dict of table -> columns or a SQLAlchemy MetaData, got {type(obj).__name__}."
            )
        tables = []
        for tname, spec in obj.items():
            desc, cols = None, spec
            if isinstance(spec, Mapping) and ("columns" in spec or "description" in spec):
                desc, cols = spec.get("description"), spec.get("columns", {})
            if isinstance(cols, Mapping):
                columns = tuple(Column(str(k), _words(v)) for k, v in cols.items())
            elif isinstance(cols, (list, tuple)):
                columns = tuple(Column(str(c)) for c in cols)
            else:
                raise InvalidInputError(
                    f"schema[{tname!r}] must list columns (a list or a dict of column -> description)."
                )
            tables.append(Table(str(tname), desc, columns))
        return cls(tuple(tables))

    @classmethod
    def from_spider_tables(cls, tables: Any, db_id: str) -> "Schema":
        """The schema of database ``db_id`` in a Spider ``tables.json`` (a path or the loaded list)."""
        if not isinstance(tables, list):
            with open(tables, encoding="utf-8") as fh:
                tables = json.load(fh)
        for entry in tables:
            if isinstance(entry, Mapping) and entry.get("db_id") == db_id:
                return _from_spider(entry)
        raise InvalidInputError(
            f"No database {db_id!r} in the tables file; it has "
            f"{', '.join(sorted(str(e.get('db_id')) for e in tables if isinstance(e, Mapping))[:10])}..."
        )


def _from_spider(entry: Mapping) -> Schema:
    """One database of Spider's tables.json: original names, natural names as words, keys."""
    try:
        tnames = list(entry["table_names_original"])
        natural_tables = list(entry.get("table_names") or tnames)
        cols = [(int(t), str(c)) for t, c in entry["column_names_original"]]
        natural = [str(c) for _, c in entry.get("column_names") or cols]
        primary = set()
        for k in entry.get("primary_keys") or ():
            primary.update(k if isinstance(k, list) else [k])
        refs = {int(a): int(b) for a, b in entry.get("foreign_keys") or ()}
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidInputError(f"The Spider-style schema is malformed ({type(e).__name__}: {e}).") from None
    # Spider lists one column of a composite key (Vocals(SongId, Bandmate) has "SongId"): a listed
    # key that points at another table, in a table with two or more such columns, is part of a
    # composite key, not a key of its own (else every vocal would be one song's only vocal).
    fks_per_table: dict[int, int] = {}
    for a in refs:
        if 0 <= a < len(cols):
            fks_per_table[cols[a][0]] = fks_per_table.get(cols[a][0], 0) + 1
    primary = {k for k in primary if not (k in refs and 0 <= k < len(cols) and fks_per_table.get(cols[k][0], 0) >= 2)}
    tables = []
    for ti, tname in enumerate(tnames):
        columns = []
        for ci, (owner, cname) in enumerate(cols):
            if owner != ti:
                continue
            ref = refs.get(ci)
            target = (tnames[cols[ref][0]], cols[ref][1]) if ref is not None and 0 <= ref < len(cols) else None
            words = natural[ci] if ci < len(natural) else None
            columns.append(Column(cname, _natural(words, cname), ci in primary, target))
        words = natural_tables[ti] if ti < len(natural_tables) else None
        tables.append(Table(tname, _natural(words, tname), tuple(columns)))
    return Schema(tuple(tables))


def _natural(words: str | None, name: str) -> str | None:
    # A natural name that only restates the identifier adds nothing; keep the ones that say more.
    if not words:
        return None
    from .words import humanize

    return None if humanize(words) == humanize(name) else words


def _words(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v or None
    if isinstance(v, Mapping):
        return v.get("description") or v.get("comment")
    return str(v)


def _from_sqlalchemy_table(t: Any) -> Table:
    def ref(c: Any) -> tuple[str, str] | None:
        fk = next(iter(c.foreign_keys), None)
        return (fk.column.table.name, fk.column.name) if fk is not None else None

    cols = tuple(
        Column(c.name, c.comment or (c.info or {}).get("description"), bool(c.primary_key), ref(c)) for c in t.columns
    )
    return Table(t.name, t.comment or (t.info or {}).get("description"), cols)
