"""Schema hints: the words a team uses for its tables and columns.

Accepted forms (``schema=`` everywhere):

* ``{"users": ["id", "name"]}`` — tables and their columns;
* ``{"users": {"name": "full name", "dob": "date of birth"}}`` — columns with descriptions;
* ``{"users": {"description": "customers", "columns": {"dob": "date of birth"}}}``;
* a SQLAlchemy ``MetaData`` (column ``comment`` or ``info["description"]`` give the words).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import InvalidInputError


@dataclass(frozen=True)
class Column:
    name: str
    description: str | None = None


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
        data = [[t.name, t.description, [[c.name, c.description] for c in t.columns]] for t in self.tables]
        return hashlib.sha1(json.dumps(data).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {t.name: {"description": t.description,
                         "columns": {c.name: c.description for c in t.columns}} for t in self.tables}

    @classmethod
    def from_any(cls, obj: Any) -> "Schema | None":
        """Build a :class:`Schema` from any accepted form (``None`` stays ``None``)."""
        if obj is None or isinstance(obj, Schema):
            return obj
        if hasattr(obj, "tables") and hasattr(obj, "sorted_tables"):  # SQLAlchemy MetaData
            return cls(tuple(_from_sqlalchemy_table(t) for t in obj.sorted_tables))
        if not isinstance(obj, Mapping):
            raise InvalidInputError(
                f"schema= must be a dict of table -> columns or a SQLAlchemy MetaData, got {type(obj).__name__}.")
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
                    f"schema[{tname!r}] must list columns (a list or a dict of column -> description).")
            tables.append(Table(str(tname), desc, columns))
        return cls(tuple(tables))


def _words(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v or None
    if isinstance(v, Mapping):
        return v.get("description") or v.get("comment")
    return str(v)


def _from_sqlalchemy_table(t: Any) -> Table:
    cols = tuple(Column(c.name, c.comment or (c.info or {}).get("description")) for c in t.columns)
    return Table(t.name, t.comment or (t.info or {}).get("description"), cols)
