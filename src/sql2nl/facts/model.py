"""The facts' data model: plain dataclasses, JSON-serialisable through :meth:`StatementFacts.to_dict`.

Parts that have SQL text (a filter, a selected expression, an ORDER BY key) keep their node and
generate that text only when someone reads ``.sql``: most callers never do, and generating SQL
costs as much as extracting the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from sqlglot import exp


class _LazySQL:
    """Mixin: ``sql`` is the node's SQL, generated on first read."""

    def _sql_of(self) -> str:
        cached = self.__dict__.get("_sql")
        if cached is None:
            node = self.__dict__.get("node")
            cached = node.sql() if node is not None else ""
            self.__dict__["_sql"] = cached
        return cached


@dataclass
class Selected(_LazySQL):
    """One selected expression: the column it reads (if one), an aggregate around it.

    For ``SELECT * EXCEPT (a, b)`` / ``REPLACE (...)`` (BigQuery, DuckDB, Snowflake) ``star`` is true
    and ``except_columns`` / ``replaced_columns`` name what the star leaves out or rewrites.
    """

    column: str | None = None
    table: str | None = None
    aggregate: str | None = None
    distinct: bool = False
    alias: str | None = None
    star: bool = False
    node: exp.Expression | None = field(default=None, repr=False, compare=False)
    except_columns: list[str] = field(default_factory=list)
    replaced_columns: list[str] = field(default_factory=list)

    @property
    def sql(self) -> str:
        return self._sql_of()


@dataclass
class Join(_LazySQL):
    """A join: its kind ("inner", "left", "cross"...), the joined table and its ON condition."""

    kind: str
    table: str
    alias: str | None
    columns: list[str] = field(default_factory=list)
    node: exp.Expression | None = field(default=None, repr=False, compare=False)  # the ON condition

    @property
    def on(self) -> str | None:
        return self._sql_of() if self.node is not None else None


@dataclass
class Filter(_LazySQL):
    """A predicate: ``column op values``; ``clause`` is where it stands (where/having/join)."""

    column: str | None
    op: str
    values: list[str] = field(default_factory=list)
    negated: bool = False
    clause: str = "where"
    table: str | None = None
    subquery: bool = False
    aggregate: str | None = None
    node: exp.Expression | None = field(default=None, repr=False, compare=False)

    @property
    def sql(self) -> str:
        return self._sql_of()


@dataclass
class Aggregate:
    """An aggregate call; ``column`` is None for ``COUNT(*)``."""

    func: str
    column: str | None
    distinct: bool = False
    table: str | None = None


@dataclass
class Order(_LazySQL):
    """One ORDER BY key."""

    column: str | None
    descending: bool
    aggregate: str | None = None
    table: str | None = None
    node: exp.Expression | None = field(default=None, repr=False, compare=False)

    @property
    def sql(self) -> str:
        return self._sql_of()


@dataclass
class Window:
    """A window function call: the function and its PARTITION BY / ORDER BY keys."""

    func: str
    partition_by: list[str] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)


@dataclass
class StatementFacts:
    """Everything the describers and checkers need to know about one statement.

    ``limit``/``offset`` are a number, the SQL of an expression, or a bound parameter as written
    (``"?"``, ``":n"``): see :func:`sql2nl.facts.is_parameter`.
    """

    kind: str
    tables: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    selected: list[Selected] = field(default_factory=list)
    distinct: bool = False
    joins: list[Join] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    having: list[Filter] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    order_by: list[Order] = field(default_factory=list)
    limit: int | str | None = None
    offset: int | str | None = None
    set_operations: list[str] = field(default_factory=list)
    ctes: list[str] = field(default_factory=list)
    recursive: bool = False
    subqueries: int = 0
    windows: list[Window] = field(default_factory=list)
    target: str | None = None
    target_columns: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    literals: list[str] = field(default_factory=list)
    negations: int = 0
    object_kind: str | None = None  # for DDL: TABLE, VIEW, INDEX...
    #: Columns an INSERT/UPDATE/DELETE ... RETURNING gives back.
    returning: list[str] = field(default_factory=list)
    dialect: str | None = field(default=None, repr=False)
    #: The statement as the describers read it: the caller's tree, or a normalised copy of it
    #: (see :mod:`sql2nl.facts.normalize`); never the caller's tree changed. Not serialised.
    tree: exp.Expression | None = field(default=None, repr=False, compare=False)
    #: Alias resolution for the tree (a :class:`~sql2nl.facts.scopes.Scopes`); not serialised.
    scopes: Any = field(default=None, repr=False, compare=False)

    @property
    def sql(self) -> str:
        """The statement as SQL (generated on first read)."""
        cached = self.__dict__.get("_sql")
        if cached is None:
            cached = self.tree.sql(dialect=self.dialect) if self.tree is not None else ""
            self.__dict__["_sql"] = cached
        return cached

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-serializable), without the tree."""
        d = _plain(self)
        d["sql"] = self.sql
        return d

    @property
    def columns(self) -> list[str]:
        """Selected column names (without aggregates' ``*``)."""
        return [s.column for s in self.selected if s.column]


def _plain(obj: Any) -> Any:
    if is_dataclass(obj):
        out = {}
        for f in fields(obj):
            if f.name in ("tree", "node", "dialect", "scopes"):
                continue
            out[f.name] = _plain(getattr(obj, f.name))
        if isinstance(obj, (Selected, Filter, Order)):
            out["sql"] = obj.sql
        elif isinstance(obj, Join):
            out["on"] = obj.on
        return out
    if isinstance(obj, list):
        return [_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj
