"""What a statement says, extracted once with sqlglot.

The rules describer, the faithfulness checker, redaction, prompts and the integrations all read
these facts; nothing else walks the tree to find out what a query does.

>>> from sql2nl.facts import extract
>>> f = extract("SELECT name FROM users AS u WHERE u.age > 18")[0]
>>> f.kind, f.tables, [x.values for x in f.filters]
('select', ['users'], [['18']])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from sqlglot import exp

from .parsing import parse

AGGREGATES = {
    exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max",
}
COMPARISONS = {
    exp.EQ: "=", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
    exp.Like: "like", exp.ILike: "ilike", exp.In: "in", exp.Between: "between", exp.Is: "is",
    exp.Exists: "exists",
}
KINDS = {
    exp.Select: "select", exp.Union: "select", exp.Intersect: "select", exp.Except: "select",
    exp.Insert: "insert", exp.Update: "update", exp.Delete: "delete", exp.Merge: "merge",
    exp.Create: "create", exp.Alter: "alter", exp.Drop: "drop", exp.TruncateTable: "truncate",
}


@dataclass
class Selected:
    """One selected expression: its SQL, the column it reads (if one), an aggregate around it."""

    sql: str
    column: str | None = None
    table: str | None = None
    aggregate: str | None = None
    distinct: bool = False
    alias: str | None = None
    star: bool = False


@dataclass
class Join:
    kind: str  # "inner", "left", "right", "full", "cross", "natural", ...
    table: str
    alias: str | None
    on: str | None = None
    columns: list[str] = field(default_factory=list)


@dataclass
class Filter:
    """A predicate: ``column op values``; ``clause`` is where (where/having/join/on)."""

    column: str | None
    op: str
    values: list[str] = field(default_factory=list)
    negated: bool = False
    clause: str = "where"
    table: str | None = None
    subquery: bool = False
    sql: str = ""


@dataclass
class Aggregate:
    func: str
    column: str | None  # None for COUNT(*)
    distinct: bool = False
    table: str | None = None


@dataclass
class Order:
    sql: str
    column: str | None
    descending: bool
    aggregate: str | None = None
    table: str | None = None


@dataclass
class Window:
    func: str
    partition_by: list[str] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)


@dataclass
class StatementFacts:
    """Everything the describers and checkers need to know about one statement."""

    kind: str
    sql: str
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
    #: The parsed statement itself, for describers that phrase expressions; not serialized.
    tree: exp.Expression | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-serializable), without the tree."""
        tree, self.tree = self.tree, None
        try:
            d = asdict(self)
        finally:
            self.tree = tree
        d.pop("tree", None)
        return d

    @property
    def columns(self) -> list[str]:
        """Selected column names (without aggregates' ``*``)."""
        return [s.column for s in self.selected if s.column]


# ---------------------------------------------------------------------------------------------


def extract(sql: str | exp.Expression | Iterable[exp.Expression], dialect: str | None = None) -> list[StatementFacts]:
    """Facts for each statement in ``sql`` (a string, a parsed tree, or a list of trees)."""
    if isinstance(sql, str):
        trees = parse(sql, dialect)
    elif isinstance(sql, exp.Expression):
        trees = [sql]
    else:
        trees = list(sql)
    return [statement_facts(t, dialect) for t in trees]


def literal_text(node: exp.Expression) -> str:
    """A literal's value as the user wrote it (strings without quotes)."""
    if isinstance(node, exp.Literal):
        return node.this
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return "-" + node.this.this
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    if isinstance(node, exp.Null):
        return "null"
    return node.sql()


def _column_name(node: exp.Expression | None) -> str | None:
    if isinstance(node, exp.Column):
        return node.name if not isinstance(node.this, exp.Star) else None
    if isinstance(node, exp.Alias):
        return _column_name(node.this)
    return None


class _Extractor:
    def __init__(self, tree: exp.Expression, dialect: str | None):
        self.tree = tree
        self.dialect = dialect
        self.aliases: dict[str, str] = {}
        self.cte_names = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        for t in tree.find_all(exp.Table):
            if t.name:
                self.aliases[t.alias_or_name] = t.name
                self.aliases.setdefault(t.name, t.name)

    def table_of(self, col: exp.Expression) -> str | None:
        if isinstance(col, exp.Column) and col.table:
            return self.aliases.get(col.table, col.table)
        # An unqualified column: if exactly one table is in its SELECT, that is its table.
        sel = col.find_ancestor(exp.Select)
        if sel is not None:
            froms = [t for t in sel.find_all(exp.Table) if t.find_ancestor(exp.Select) is sel]
            names = {t.name for t in froms}
            if len(names) == 1:
                return names.pop()
        return None

    def run(self) -> StatementFacts:
        t = self.tree
        kind = next((v for k, v in KINDS.items() if isinstance(t, k)), "other")
        f = StatementFacts(kind=kind, sql=t.sql(dialect=self.dialect), tree=t)
        f.aliases = {a: n for a, n in self.aliases.items() if a != n}
        seen: list[str] = []
        for tb in t.find_all(exp.Table):
            if tb.name and tb.name not in seen and tb.name not in self.cte_names:
                seen.append(tb.name)
        f.tables = seen
        self.selects(f)
        self.predicates(f)
        self.dml_ddl(f)
        f.literals = [literal_text(lit) for lit in t.find_all(exp.Literal)]
        f.negations = sum(1 for _ in t.find_all(exp.Not)) + sum(1 for _ in t.find_all(exp.NEQ))
        f.subqueries = sum(1 for s in t.find_all(exp.Subquery)) + sum(
            1 for s in t.find_all(exp.Select) if s.parent is not None
            and isinstance(s.parent, (exp.In, exp.Exists)))
        for c in t.find_all(exp.CTE):
            f.ctes.append(c.alias_or_name)
        w = t.find(exp.With)
        f.recursive = bool(w and w.args.get("recursive"))
        for so in t.find_all(exp.Union, exp.Intersect, exp.Except):
            name = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}[type(so)]
            if isinstance(so, exp.Union) and not so.args.get("distinct", True):
                name = "union all"
            f.set_operations.append(name)
        return f

    def selects(self, f: StatementFacts) -> None:
        top = self.tree
        while isinstance(top, (exp.Union, exp.Intersect, exp.Except)):
            top = top.left
        main = top if isinstance(top, exp.Select) else top.find(exp.Select)
        for sel in self.tree.find_all(exp.Select):
            is_main = sel is main
            if is_main:
                f.distinct = bool(sel.args.get("distinct"))
                for e in sel.expressions:
                    f.selected.append(self.selected(e))
            for j in sel.args.get("joins") or []:
                tb = j.this
                kind = (j.args.get("side") or j.args.get("kind") or "inner").lower()
                if j.args.get("kind") and j.args.get("kind").upper() == "CROSS":
                    kind = "cross"
                on = j.args.get("on")
                f.joins.append(Join(kind=kind, table=tb.name if isinstance(tb, exp.Table) else tb.alias_or_name,
                                    alias=tb.alias or None, on=on.sql() if on is not None else None,
                                    columns=[c.name for c in on.find_all(exp.Column)] if on is not None else []))
            g = sel.args.get("group")
            if g is not None:
                for e in g.expressions:
                    f.group_by.append(_column_name(e) or e.sql())
            o = sel.args.get("order")
            if o is not None and (is_main or not f.order_by):
                for e in o.expressions:
                    self.order(f, e)
            lim = sel.args.get("limit")
            if lim is not None and f.limit is None and (is_main or sel.parent is None):
                f.limit = self.number(lim.expression)
            off = sel.args.get("offset")
            if off is not None and f.offset is None:
                f.offset = self.number(off.expression)
        # LIMIT/ORDER on a set operation live on the union node.
        for key in ("order", "limit", "offset"):
            node = self.tree.args.get(key)
            if node is None or self.tree is main:
                continue
            if key == "order" and not f.order_by:
                for e in node.expressions:
                    self.order(f, e)
            elif key == "limit" and f.limit is None:
                f.limit = self.number(node.expression)
            elif key == "offset" and f.offset is None:
                f.offset = self.number(node.expression)
        for agg in self.tree.find_all(*AGGREGATES):
            arg = agg.this
            distinct = isinstance(arg, exp.Distinct)
            if distinct:
                arg = arg.expressions[0] if arg.expressions else None
            col = arg if isinstance(arg, exp.Column) else (arg.find(exp.Column) if arg is not None else None)
            f.aggregates.append(Aggregate(AGGREGATES[type(agg)], _column_name(col) if col is not None else None,
                                          distinct, self.table_of(col) if col is not None else None))
        for win in self.tree.find_all(exp.Window):
            func = win.this.key if win.this is not None else "window"
            f.windows.append(Window(func=func,
                                    partition_by=[e.sql() for e in win.args.get("partition_by") or []],
                                    order_by=[e.sql() for e in (win.args.get("order").expressions
                                                                if win.args.get("order") else [])]))

    def number(self, node: exp.Expression | None) -> int | str | None:
        if node is None:
            return None
        if isinstance(node, exp.Literal) and node.is_int:
            return int(node.this)
        return node.sql()

    def selected(self, e: exp.Expression) -> Selected:
        alias = e.alias if isinstance(e, exp.Alias) else None
        inner = e.this if isinstance(e, exp.Alias) else e
        if isinstance(inner, exp.Star) or (isinstance(inner, exp.Column) and isinstance(inner.this, exp.Star)):
            tb = self.aliases.get(inner.table) if isinstance(inner, exp.Column) and inner.table else None
            return Selected(sql=inner.sql(), star=True, table=tb)
        agg = None
        distinct = False
        target = inner
        if type(inner) in AGGREGATES:
            agg = AGGREGATES[type(inner)]
            target = inner.this
            if isinstance(target, exp.Distinct):
                distinct = True
                target = target.expressions[0] if target.expressions else None
        col = target if isinstance(target, exp.Column) else (target.find(exp.Column) if target is not None else None)
        return Selected(sql=inner.sql(), column=_column_name(col) if col is not None else None,
                        table=self.table_of(col) if col is not None else None, aggregate=agg,
                        distinct=distinct, alias=alias)

    def order(self, f: StatementFacts, e: exp.Expression) -> None:
        inner = e.this if isinstance(e, exp.Ordered) else e
        desc = bool(e.args.get("desc")) if isinstance(e, exp.Ordered) else False
        agg = AGGREGATES.get(type(inner))
        col = inner if isinstance(inner, exp.Column) else inner.find(exp.Column)
        f.order_by.append(Order(sql=inner.sql(), column=_column_name(col) if col is not None else None,
                                descending=desc, aggregate=agg,
                                table=self.table_of(col) if col is not None else None))

    def predicates(self, f: StatementFacts) -> None:
        for clause_node, clause in ((exp.Where, "where"), (exp.Having, "having")):
            for node in self.tree.find_all(clause_node):
                for flt in self.flatten(node.this, clause):
                    (f.having if clause == "having" else f.filters).append(flt)
        for j in self.tree.find_all(exp.Join):
            on = j.args.get("on")
            if on is None:
                continue
            for flt in self.flatten(on, "join"):
                # Plain key equalities (a.id = b.a_id) are the join itself, not a filter.
                if flt.op == "=" and not flt.values:
                    continue
                f.filters.append(flt)

    def flatten(self, node: exp.Expression, clause: str, negated: bool = False) -> list[Filter]:
        if isinstance(node, exp.Paren):
            return self.flatten(node.this, clause, negated)
        if isinstance(node, (exp.And, exp.Or)):
            return self.flatten(node.left, clause, negated) + self.flatten(node.right, clause, negated)
        if isinstance(node, exp.Not):
            return self.flatten(node.this, clause, not negated)
        op = next((v for k, v in COMPARISONS.items() if isinstance(node, k)), None)
        if op is None:
            return [Filter(column=None, op=node.key, negated=negated, clause=clause, sql=node.sql())]
        if op == "exists":
            return [Filter(column=None, op="exists", negated=negated, clause=clause, subquery=True, sql=node.sql())]
        left = node.this
        col = left if isinstance(left, exp.Column) else (left.find(exp.Column) if left is not None else None)
        values: list[str] = []
        subquery = False
        if op == "in":
            if node.args.get("query") is not None:
                subquery = True
            values = [literal_text(v) for v in node.expressions if _is_value(v)]
        elif op == "between":
            values = [literal_text(node.args["low"]), literal_text(node.args["high"])]
        elif op == "is":
            values = [literal_text(node.expression)]
        else:
            right = node.expression
            if isinstance(right, (exp.Subquery, exp.Select)) or (right is not None and right.find(exp.Select)):
                subquery = True
            elif right is not None and _is_value(right):
                values = [literal_text(right)]
            elif isinstance(left, exp.Literal) and isinstance(right, exp.Column):
                col, values = right, [literal_text(left)]
        agg = AGGREGATES.get(type(left))
        name = _column_name(col) if col is not None else None
        if agg and name is None:
            name = f"{agg}(*)"
        return [Filter(column=name, op=op, values=values, negated=negated, clause=clause,
                       table=self.table_of(col) if col is not None else None, subquery=subquery,
                       sql=node.sql())]

    def dml_ddl(self, f: StatementFacts) -> None:
        t = self.tree
        if isinstance(t, (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Alter,
                          exp.Drop, exp.TruncateTable)):
            target = t.this
            if isinstance(target, exp.Schema):
                f.target_columns = [c.name for c in target.expressions if isinstance(c, (exp.Identifier, exp.ColumnDef, exp.Column))]
                target = target.this
            if isinstance(t, exp.TruncateTable):
                target = t.expressions[0] if t.expressions else None
            if target is not None:
                f.target = target.name if isinstance(target, exp.Table) else target.sql()
            kind = t.args.get("kind")
            f.object_kind = kind.upper() if isinstance(kind, str) else None
        if isinstance(t, exp.Update):
            for e in t.expressions:
                if isinstance(e, exp.EQ):
                    f.target_columns.append(_column_name(e.this) or e.this.sql())
                    if _is_value(e.expression):
                        f.values.append(literal_text(e.expression))
        if isinstance(t, exp.Insert):
            vals = t.expression
            if isinstance(vals, exp.Values):
                for row in vals.expressions:
                    f.values.extend(literal_text(v) for v in row.expressions if _is_value(v))


def _is_value(node: exp.Expression) -> bool:
    return isinstance(node, (exp.Literal, exp.Boolean, exp.Null)) or (
        isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal))


def statement_facts(tree: exp.Expression, dialect: str | None = None) -> StatementFacts:
    """Facts for one parsed statement."""
    return _Extractor(tree, dialect).run()
