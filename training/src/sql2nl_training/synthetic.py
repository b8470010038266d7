"""Synthetic pairs from a schema, with the rules describer as teacher, and renaming augmentation.

A schema comes from Spider's ``tables.json``, a SQLAlchemy ``MetaData`` or a live database reflected
through SQLAlchemy. :func:`generate` writes varied queries over it (filters, aggregates, grouping,
ordering/limits, joins along foreign keys, nested ``IN`` subqueries, set operations) and describes
each with ``sql2nl.describe`` (rules backend, ``language="en"`` or ``"zh"``).

>>> s = SchemaSpec("shop", {"orders": [("id", "number"), ("city", "text")]})
>>> pairs = generate(s, 5, seed=1)
>>> len(pairs), all(p.db_id == "shop" for p in pairs)
(5, True)
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from sql2nl.errors import InvalidInputError
from sql2nl.parsing import parse
from sql2nl.words import humanize, plural

from .data import Pair

_WORDS = [
    "alpha",
    "delta",
    "north",
    "blue",
    "river",
    "stone",
    "metro",
    "cedar",
    "orbit",
    "pixel",
    "harbor",
    "summit",
    "lotus",
    "ember",
    "falcon",
    "meadow",
    "quartz",
    "tundra",
    "velvet",
    "willow",
]
_NUMERIC = ("number", "int", "integer", "real", "float", "double", "decimal", "numeric", "bigint", "smallint")


@dataclass
class SchemaSpec:
    """Tables → ``[(column, type)]`` and foreign keys ``(table, column, ref_table, ref_column)``."""

    name: str
    tables: dict[str, list[tuple[str, str]]]
    foreign_keys: list[tuple[str, str, str, str]] = field(default_factory=list)


def from_spider_tables(path: str | Path) -> list[SchemaSpec]:
    """Every database in a Spider ``tables.json``."""
    try:
        dbs = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InvalidInputError(f"Cannot read Spider tables file {path}: {e}") from None
    out = []
    for db in dbs:
        names = db["table_names_original"]
        tables: dict[str, list[tuple[str, str]]] = {t: [] for t in names}
        cols = db["column_names_original"]
        for (ti, cname), ctype in zip(cols, db["column_types"]):
            if ti >= 0:
                tables[names[ti]].append((cname, ctype))
        fks = [(names[cols[a][0]], cols[a][1], names[cols[b][0]], cols[b][1]) for a, b in db.get("foreign_keys", [])]
        out.append(SchemaSpec(db["db_id"], tables, fks))
    return out


def from_metadata(metadata: Any, name: str = "db") -> SchemaSpec:
    """A SQLAlchemy ``MetaData`` (declared or reflected)."""
    tables, fks = {}, []
    for t in metadata.sorted_tables:
        cols = []
        for c in t.columns:
            try:
                py = c.type.python_type
            except NotImplementedError:
                py = str
            cols.append((c.name, "number" if py in (int, float) else "text"))
            for fk in c.foreign_keys:
                fks.append((t.name, c.name, fk.column.table.name, fk.column.name))
        tables[t.name] = cols
    return SchemaSpec(name, tables, fks)


def from_database(url: str, name: str | None = None) -> SchemaSpec:
    """Reflect a live database (any SQLAlchemy URL). Only the schema is read; no query is run."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        md = sa.MetaData()
        md.reflect(bind=engine)
    finally:
        engine.dispose()
    return from_metadata(md, name or engine.url.database or "db")


@lru_cache(maxsize=4096)
def _ident(name: str) -> str:
    """``name`` as SQL: quoted unless it is a plain word that reads as a name where a column or table
    stands (a column named ``From`` or ``order`` must be quoted, or the statement does not parse)."""
    quoted = '"' + name.replace('"', '""') + '"'
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return quoted
    try:
        tree = sqlglot.parse_one(f"SELECT {name} FROM {name}")
    except sqlglot.errors.ParseError:
        return quoted
    cols, tables = list(tree.find_all(exp.Column)), list(tree.find_all(exp.Table))
    plain = [c.name for c in cols] == [name] and [t.name for t in tables] == [name]
    return name if plain else quoted


class _Writer:
    def __init__(self, spec: SchemaSpec, rng: random.Random):
        self.s, self.r = spec, rng
        self.names = [t for t, cols in spec.tables.items() if cols]

    def value(self, ctype: str) -> str:
        if ctype.lower() in _NUMERIC:
            return str(self.r.choice([1, 2, 3, 5, 10, 18, 20, 50, 100, 1990, 2000]))
        return "'" + self.r.choice(_WORDS).title() + "'"

    def col(self, t: str) -> tuple[str, str]:
        """A random ``(name, type)`` column of ``t`` (only tables with columns are ever picked)."""
        return self.r.choice(self.s.tables[t])

    def numeric_col(self, t: str) -> tuple[str, str] | None:
        """A random numeric column of ``t``, if it has one."""
        cols = [c for c in self.s.tables[t] if c[1].lower() in _NUMERIC]
        return self.r.choice(cols) if cols else None

    def where(self, t: str, prefix: str = "") -> str:
        c, ty = self.col(t)
        op = self.r.choice([">", "<", "=", ">="]) if ty.lower() in _NUMERIC else self.r.choice(["=", "!=", "LIKE"])
        v = self.value(ty)
        if op == "LIKE":
            v = "'%" + v.strip("'") + "%'"
        return f"{prefix}{_ident(c)} {op} {v}"

    def query(self) -> str:
        t = self.r.choice(self.names)
        T = _ident(t)
        kind = self.r.choice(["select", "filter", "count", "agg", "group", "order", "join", "nested", "setop"])
        c1, _ = self.col(t)
        if kind == "select":
            cols = self.r.sample(self.s.tables[t], k=min(len(self.s.tables[t]), self.r.randint(1, 3)))
            return f"SELECT {', '.join(_ident(c) for c, _ in cols)} FROM {T}"
        if kind == "filter":
            return f"SELECT {_ident(c1)} FROM {T} WHERE {self.where(t)}"
        if kind == "count":
            return f"SELECT count(*) FROM {T}" + (f" WHERE {self.where(t)}" if self.r.random() < 0.6 else "")
        num = self.numeric_col(t)
        if kind == "agg" and num:
            f = self.r.choice(["avg", "max", "min", "sum"])
            return f"SELECT {f}({_ident(num[0])}) FROM {T}"
        if kind == "group":
            g, _ = self.col(t)
            having = f" HAVING count(*) > {self.r.choice([1, 2, 5])}" if self.r.random() < 0.4 else ""
            return f"SELECT {_ident(g)}, count(*) FROM {T} GROUP BY {_ident(g)}{having}"
        if kind == "order":
            o = num[0] if num else c1
            d = self.r.choice(["ASC", "DESC"])
            return f"SELECT {_ident(c1)} FROM {T} ORDER BY {_ident(o)} {d} LIMIT {self.r.choice([1, 3, 5, 10])}"
        fks = [
            fk for fk in self.s.foreign_keys if self.s.tables.get(fk[0]) and self.s.tables.get(fk[2]) and fk[0] != fk[2]
        ]  # both with columns
        if kind == "join" and fks:
            a, ac, b, bc = self.r.choice(fks)
            ca, _ = self.col(a)
            cb, _ = self.col(b)
            return (
                f"SELECT T1.{_ident(ca)}, T2.{_ident(cb)} FROM {_ident(a)} AS T1 JOIN {_ident(b)} AS T2 "
                f"ON T1.{_ident(ac)} = T2.{_ident(bc)} WHERE {self.where(b, 'T2.')}"
            )
        if kind == "nested" and fks:
            a, ac, b, bc = self.r.choice(fks)
            ca, _ = self.col(a)
            return (
                f"SELECT {_ident(ca)} FROM {_ident(a)} WHERE {_ident(ac)} IN "
                f"(SELECT {_ident(bc)} FROM {_ident(b)} WHERE {self.where(b)})"
            )
        if kind == "setop":
            op = self.r.choice(["UNION", "INTERSECT", "EXCEPT"])
            return f"SELECT {_ident(c1)} FROM {T} WHERE {self.where(t)} {op} SELECT {_ident(c1)} FROM {T} WHERE {self.where(t)}"
        return f"SELECT {_ident(c1)} FROM {T} WHERE {self.where(t)}"


def queries(spec: SchemaSpec, n: int, *, seed: int = 0) -> list[str]:
    """Up to ``n`` distinct queries over ``spec``, without descriptions (fewer if the schema is too
    small to vary that much); the same seed gives the same queries."""
    if not any(spec.tables.values()):
        raise InvalidInputError(f"Schema {spec.name!r} has no columns to write queries about.")
    w = _Writer(spec, random.Random(seed))
    seen: dict[str, None] = {}
    for _ in range(n * 20):
        if len(seen) >= n:
            break
        seen.setdefault(w.query(), None)
    return list(seen)


def generate(spec: SchemaSpec, n: int, *, seed: int = 0, language: str = "en") -> list[Pair]:
    """``n`` distinct queries over ``spec``, each described by the rules describer (the teacher)."""
    from sql2nl import describe

    return [
        Pair(
            sql,
            describe(sql, backend="rules", language=language, cache=False).text,
            spec.name,
            language,
            f"synthetic:{spec.name}",
        )
        for sql in queries(spec, n, seed=seed)
    ]


def generate_many(specs: list[SchemaSpec], n: int, *, seed: int = 0, languages=("en",)) -> list[Pair]:
    """``n`` pairs spread over ``specs`` and ``languages``."""
    if not specs:
        raise InvalidInputError("No schemas to generate synthetic data from.")
    per = max(1, n // (len(specs) * len(languages)))
    out: list[Pair] = []
    for i, spec in enumerate(specs):
        for lang in languages:
            out.extend(generate(spec, per, seed=seed + i, language=lang))
    return out[:n]


def _names(sql: str) -> tuple[set[str], set[str]]:
    tables, cols = set(), set()
    for tree in parse(sql):
        for t in tree.find_all(exp.Table):
            tables.add(t.name)
        for c in tree.find_all(exp.Column):
            if c.name and c.name != "*":
                cols.add(c.name)
    return tables, cols


def _text_forms(name: str) -> list[str]:
    h = humanize(name)
    return sorted({name, name.replace("_", " "), h, plural(h)}, key=len, reverse=True)


def rename(pair: Pair, *, seed: int = 0) -> Pair | None:
    """The pair with its tables and columns renamed consistently in the SQL and the description.

    Only names the description actually mentions are renamed in it; returns ``None`` when nothing
    in the description could be renamed (the text would then disagree with the SQL).
    """
    rng = random.Random(seed)
    tables, cols = _names(pair.sql)
    mapping = {}
    for name in sorted(tables | cols):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        mapping[name] = f"{rng.choice(_WORDS)}_{humanize(name).split(' ')[-1]}".lower()
    if not mapping:
        return None
    text = pair.description
    changed = False
    for old, new in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
        for form in _text_forms(old):
            pat = re.compile(rf"(?<![\w]){re.escape(form)}(?![\w])", re.I)
            if pat.search(text):
                is_plural = form == plural(humanize(old)) and form != humanize(old)
                new_form = plural(humanize(new)) if is_plural else humanize(new)
                text = pat.sub(new_form, text)
                changed = True
                break
    if not changed:
        return None

    def swap(node):
        if isinstance(node, (exp.Table, exp.Column)) and node.name in mapping:
            node = node.copy()
            node.set("this", exp.to_identifier(mapping[node.name]))
        return node

    sql = "; ".join(t.transform(swap).sql() for t in parse(pair.sql))
    return Pair(sql, text, pair.db_id, pair.language, pair.source + ":renamed")


def augment(pairs: list[Pair], share: float, *, seed: int = 0) -> list[Pair]:
    """Renamed copies of about ``share`` of ``pairs`` (those whose text names a renamed thing)."""
    rng = random.Random(seed)
    chosen = [p for p in pairs if rng.random() < share]
    out = []
    for i, p in enumerate(chosen):
        r = rename(p, seed=seed * 100003 + i)
        if r is not None:
            out.append(r)
    return out
