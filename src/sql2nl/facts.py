"""What a statement says, extracted once with sqlglot, in one walk over the tree.

The rules describer, the faithfulness checker, redaction, prompts and the integrations all read
these facts; nothing else walks the tree to find out what a query does.

>>> from sql2nl.facts import extract
>>> f = extract("SELECT name FROM users AS u WHERE u.age > 18")[0]
>>> f.kind, f.tables, [x.values for x in f.filters]
('select', ['users'], [['18']])

Speed matters (describing must cost less than parsing), so the walk visits each node once, and
SQL text for parts (``.sql`` of a filter, a selected expression...) is generated lazily, only
when someone reads it.

Spider-style SQL writes strings in double quotes (``gender = "Male"``), which most dialects read
as identifiers. Where such a quoted name stands in a value position (the right side of a
comparison, an IN list, LIKE, BETWEEN) and cannot be a column of the query, it is turned into a
string literal *in the tree*, so the describer, the checker and redaction all treat it as a value.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Iterable

from sqlglot import exp

from .parsing import parse

AGGREGATES = {
    exp.Count: "count", exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max",
}
COMPARISONS = {
    exp.EQ: "=", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
    exp.Like: "like", exp.ILike: "ilike", exp.In: "in", exp.Between: "between", exp.Is: "is",
    exp.Exists: "exists", exp.NullSafeEQ: "=", exp.NullSafeNEQ: "!=",
}
KINDS = {
    exp.Select: "select", exp.Union: "select", exp.Intersect: "select", exp.Except: "select",
    exp.Insert: "insert", exp.Update: "update", exp.Delete: "delete", exp.Merge: "merge",
    exp.Create: "create", exp.Alter: "alter", exp.Drop: "drop", exp.TruncateTable: "truncate",
    exp.Values: "values",
}
SET_OPERATIONS = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}
# Dialects in which "..." is an identifier; there the Spider value heuristic applies.
_DOUBLE_QUOTE_IDENTIFIER_DIALECTS = {None, "", "postgres", "tsql", "sqlite", "snowflake", "duckdb", "oracle"}


class _Lazy:
    """Mixin: ``sql`` is the node's SQL, generated on first read."""

    def _sql_of(self) -> str:
        cached = self.__dict__.get("_sql")
        if cached is None:
            node = self.__dict__.get("node")
            cached = node.sql() if node is not None else ""
            self.__dict__["_sql"] = cached
        return cached


@dataclass
class Selected(_Lazy):
    """One selected expression: the column it reads (if one), an aggregate around it."""

    column: str | None = None
    table: str | None = None
    aggregate: str | None = None
    distinct: bool = False
    alias: str | None = None
    star: bool = False
    node: exp.Expression | None = field(default=None, repr=False, compare=False)

    @property
    def sql(self) -> str:
        return self._sql_of()


@dataclass
class Join(_Lazy):
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
class Filter(_Lazy):
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
class Order(_Lazy):
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
    """Everything the describers and checkers need to know about one statement."""

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
    dialect: str | None = field(default=None, repr=False)
    #: The parsed statement itself, for describers that phrase expressions; not serialized.
    tree: exp.Expression | None = field(default=None, repr=False, compare=False)
    #: Alias resolution for the tree (a :class:`Scopes`); not serialized.
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
    if isinstance(node, exp.Placeholder):
        return f":{node.name}" if node.name and node.name != "?" else "?"
    return node.sql()


_REDACTION_NAME = re.compile(r":v\d+")


def is_redaction_placeholder(text: str) -> bool:
    """Whether ``text`` is a placeholder that :mod:`sql2nl.redact` put in (``:v1``...), not a user's parameter."""
    return _REDACTION_NAME.fullmatch(text) is not None


def is_parameter(text: str) -> bool:
    """Whether a fact value is a bound parameter written by the user (``?``, ``:name``), not a constant."""
    return (text == "?" or text.startswith(":")) and not is_redaction_placeholder(text)


def is_value(node: exp.Expression | None) -> bool:
    """Whether ``node`` is a constant the user wrote (a literal, boolean, NULL, negative number)."""
    return isinstance(node, (exp.Literal, exp.Boolean, exp.Null, exp.Placeholder)) or (
        isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal))


_is_value = is_value  # the old private name


def column_name(node: exp.Expression | None) -> str | None:
    """The column a plain column reference (or an alias of one) reads."""
    if isinstance(node, exp.Column):
        return node.name if not isinstance(node.this, exp.Star) else None
    if isinstance(node, exp.Alias):
        return column_name(node.this)
    return None


_column_name = column_name


def first_column(node: exp.Expression | None) -> exp.Column | None:
    """The first column under ``node`` (itself if it is one)."""
    if node is None:
        return None
    if isinstance(node, exp.Column):
        return node
    for n in node.iter_expressions():
        c = first_column(n)
        if c is not None:
            return c
    return None


def _value_like_identifier(node: exp.Expression, known: set[str]) -> bool:
    # "Male" in `gender = "Male"`: a quoted, unqualified name that is not a column of the query.
    if not isinstance(node, exp.Column) or node.args.get("table") is not None:
        return False
    ident = node.this
    return isinstance(ident, exp.Identifier) and bool(ident.args.get("quoted")) and ident.this.lower() not in known


class Scopes:
    """Which table an alias or an unqualified column means, per SELECT (cached per SELECT node)."""

    def __init__(self) -> None:
        self.scopes: dict[int, dict[str, str]] = {}
        self.resolved: dict[int, tuple[str | None, dict[str, str] | None]] = {}
        self.enclosing: dict[int, exp.Expression | None] = {}

    def scope(self, sel: exp.Expression) -> dict[str, str]:
        """``{alias or name (lower case): table name}`` for the sources of one SELECT/UPDATE/DELETE/MERGE."""
        s = self.scopes.get(id(sel))
        if s is None:
            s = {}
            args = sel.args
            frm = args.get("from_") or args.get("from")
            sources = [frm.this] if frm is not None else []
            sources += [j.this for j in args.get("joins") or ()]
            if not isinstance(sel, exp.Select):
                sources += [args.get("this"), args.get("using")] if isinstance(sel, exp.Merge) else [args.get("this")]
                sources += list(args.get("using") or ()) if isinstance(sel, exp.Delete) else []
            for src in sources:
                if isinstance(src, exp.Table) and src.name:
                    s[src.alias_or_name.lower()] = src.name
                    s.setdefault(src.name.lower(), src.name)
                elif src is not None and getattr(src, "alias", None):
                    s[src.alias.lower()] = src.alias
            self.scopes[id(sel)] = s
        return s

    def resolve(self, col: exp.Expression | None) -> tuple[str | None, dict[str, str] | None]:
        """The table a column reads and the scope that said so (``(None, None)`` when unknown)."""
        if not isinstance(col, exp.Column):
            return None, None
        hit = self.resolved.get(id(col))
        if hit is None:
            hit = self.resolved[id(col)] = self._resolve(col)
        return hit

    def _next_scope(self, node: exp.Expression) -> exp.Expression | None:
        # The nearest enclosing SELECT/UPDATE/DELETE/MERGE, memoized for every node passed on the
        # way up, so long AND/OR chains cost linear time rather than quadratic.
        path: list[int] = []
        cur = node.parent
        found: exp.Expression | None = None
        while cur is not None:
            if isinstance(cur, _SCOPES):
                found = cur
                break
            memo = self.enclosing.get(id(cur), False)
            if memo is not False:
                found = memo
                break
            path.append(id(cur))
            cur = cur.parent
        for i in path:
            self.enclosing[i] = found
        return found

    def _resolve(self, col: exp.Column) -> tuple[str | None, dict[str, str] | None]:
        qual = col.table
        node: exp.Expression | None = col
        while node is not None:
            node = self._next_scope(node)
            if node is not None:
                s = self.scope(node)
                if qual:
                    hit = s.get(qual.lower())
                    if hit is not None:
                        return hit, s
                elif s:
                    names = set(s.values())
                    return (next(iter(names)), s) if len(names) == 1 else (None, None)
        return qual or None, None

    def table_of(self, col: exp.Expression | None) -> str | None:
        """The table a column reads: through its qualifier's alias, or the only table in its SELECT."""
        return self.resolve(col)[0]


_SCOPES = (exp.Select, exp.Update, exp.Delete, exp.Merge)


class _Extractor(Scopes):
    def __init__(self, tree: exp.Expression, dialect: str | None):
        super().__init__()
        self.tree = tree
        self.dialect = dialect

    # -- the walk ------------------------------------------------------------------------------

    def run(self) -> StatementFacts:
        t = self.tree
        kind = KINDS.get(type(t))
        if kind is None:
            kind = next((v for k, v in KINDS.items() if isinstance(t, k)), "other")
        f = StatementFacts(kind=kind, tree=t, dialect=self.dialect, scopes=self)
        spider_values = self.dialect in _DOUBLE_QUOTE_IDENTIFIER_DIALECTS
        tables: dict[str, None] = {}
        ctes: set[str] = set()
        quoted: list[exp.Column] = []
        columns: set[str] = set()
        main = _main_select(t)
        for node in _preorder(t):
            typ = type(node)
            if typ is exp.Column:
                ident = node.this
                if spider_values and isinstance(ident, exp.Identifier) and ident.args.get("quoted"):
                    quoted.append(node)
                else:
                    columns.add(node.name.lower())
            elif typ is exp.Table:
                if node.name:
                    tables[node.name] = None
                    if node.alias:
                        f.aliases.setdefault(node.alias, node.name)
            elif typ is exp.Literal:
                f.literals.append(node.this)
            elif typ is exp.Not or typ is exp.NEQ or typ is exp.NullSafeNEQ:
                f.negations += 1
            elif (typ is exp.Like or typ is exp.ILike or typ is exp.In or typ is exp.Between) and node.args.get("negate"):
                f.negations += 1
            elif typ in AGGREGATES:
                self.aggregate(f, node)
            elif typ is exp.Window:
                self.window(f, node)
            elif typ is exp.Subquery:
                f.subqueries += 1
            elif typ is exp.Select:
                if node is not main and not isinstance(node.parent, (exp.Subquery, exp.Union, exp.Intersect,
                                                                     exp.Except, exp.CTE)):
                    f.subqueries += 1  # IN (SELECT ...), EXISTS (SELECT ...)
                self.select(f, node, node is main)
            elif typ in SET_OPERATIONS:
                name = SET_OPERATIONS[typ]
                if typ is exp.Union and not node.args.get("distinct", True):
                    name = "union all"
                f.set_operations.append(name)
                if node is t or node is _top_set(t):
                    self.set_clauses(f, node)
                if typ is exp.Except:
                    f.negations += 1
            elif typ is exp.CTE:
                ctes.add(node.alias_or_name)
                f.ctes.append(node.alias_or_name)
            elif typ is exp.With:
                f.recursive = f.recursive or bool(node.args.get("recursive"))
            elif typ is exp.Join:
                self.join(f, node)
        if isinstance(t, (exp.Update, exp.Delete)) and t.args.get("where") is not None:
            self.flatten(t.args["where"].this, "where", False, f.filters)
        f.tables = [n for n in tables if n not in ctes]
        f.aliases = {a: n for a, n in f.aliases.items() if a != n}
        if quoted:
            self.spider_values(f, quoted, columns)
        self.dml_ddl(f)
        return f

    def spider_values(self, f: StatementFacts, quoted: list[exp.Column], columns: set[str]) -> None:
        known = columns | {a.lower() for s in self.scopes.values() for a in s}
        for col in quoted:
            parent = col.parent
            value_position = (
                (isinstance(parent, (exp.In, exp.Between)) and parent.args.get("this") is not col)
                or (isinstance(parent, (exp.Binary, exp.Like, exp.ILike)) and parent.args.get("expression") is col)
            )
            if value_position and _value_like_identifier(col, known):
                col.replace(exp.Literal.string(col.name))
                f.literals.append(col.name)
        # Filters were built before the replacement; rebuild the values that came from these names.
        for flt in f.filters + f.having:
            if flt.node is not None:
                self.refresh(flt)

    def refresh(self, flt: Filter) -> None:
        new = self.predicate(flt.node, flt.clause, flt.negated)
        flt.column, flt.values, flt.table = new.column, new.values, new.table

    def select(self, f: StatementFacts, sel: exp.Select, is_main: bool) -> None:
        where = sel.args.get("where")
        if where is not None:
            self.flatten(where.this, "where", False, f.filters)
        having = sel.args.get("having")
        if having is not None:
            self.flatten(having.this, "having", False, f.having)
        if not is_main:
            return
        f.distinct = bool(sel.args.get("distinct"))
        f.selected = [self.selected(e) for e in sel.expressions]
        g = sel.args.get("group")
        if g is not None:
            f.group_by = [column_name(e) or e.sql() for e in g.expressions]
        o = sel.args.get("order")
        if o is not None:
            f.order_by = [self.order(e) for e in o.expressions]
        lim = sel.args.get("limit")
        if lim is not None:
            f.limit = _number(lim.args.get("count") if isinstance(lim, exp.Fetch) else lim.expression)
        off = sel.args.get("offset")
        if off is not None:
            f.offset = _number(off.expression)

    def set_clauses(self, f: StatementFacts, node: exp.Expression) -> None:
        o = node.args.get("order")
        if o is not None and not f.order_by:
            f.order_by = [self.order(e) for e in o.expressions]
        lim = node.args.get("limit")
        if lim is not None and f.limit is None:
            f.limit = _number(lim.expression)
        off = node.args.get("offset")
        if off is not None and f.offset is None:
            f.offset = _number(off.expression)

    def join(self, f: StatementFacts, j: exp.Join) -> None:
        tb = j.this
        side = (j.args.get("side") or "").lower()
        jkind = (j.args.get("kind") or "").lower()
        kind = "cross" if jkind == "cross" else side or jkind or "inner"
        if j.args.get("method"):
            kind = f"{j.args['method'].lower()} {kind}".strip()
        on = j.args.get("on")
        name = tb.name if isinstance(tb, exp.Table) else tb.alias_or_name
        cols = []
        if on is not None:
            cols = [c.name for c in on.find_all(exp.Column)]
            flts: list[Filter] = []
            self.flatten(on, "join", False, flts)
            # Plain key equalities (a.id = b.a_id) are the join itself, not a filter.
            f.filters.extend(x for x in flts if not (x.op == "=" and not x.values and not x.subquery))
        using = j.args.get("using")
        if using:
            cols = [u.name for u in using]
        f.joins.append(Join(kind=kind, table=name, alias=tb.alias or None, columns=cols, node=on))

    def aggregate(self, f: StatementFacts, agg: exp.Expression) -> None:
        arg = agg.this
        distinct = isinstance(arg, exp.Distinct)
        if distinct:
            arg = arg.expressions[0] if arg.expressions else None
        col = first_column(arg)
        f.aggregates.append(Aggregate(AGGREGATES[type(agg)], column_name(col), distinct, self.table_of(col)))

    def window(self, f: StatementFacts, win: exp.Window) -> None:
        func = win.this.key if win.this is not None else "window"
        order = win.args.get("order")
        f.windows.append(Window(func=func,
                                partition_by=[column_name(e) or e.sql() for e in win.args.get("partition_by") or ()],
                                order_by=[column_name(e.this) or e.sql() for e in (order.expressions if order else ())]))

    def selected(self, e: exp.Expression) -> Selected:
        alias = e.alias if isinstance(e, exp.Alias) else None
        inner = e.this if isinstance(e, exp.Alias) else e
        if isinstance(inner, exp.Star) or (isinstance(inner, exp.Column) and isinstance(inner.this, exp.Star)):
            tb = self.table_of(inner) if isinstance(inner, exp.Column) and inner.table else None
            return Selected(star=True, table=tb, node=inner)
        agg = AGGREGATES.get(type(inner))
        distinct = False
        target = inner
        if agg:
            target = inner.this
            if isinstance(target, exp.Distinct):
                distinct = True
                target = target.expressions[0] if target.expressions else None
        col = first_column(target)
        return Selected(column=column_name(col), table=self.table_of(col), aggregate=agg,
                        distinct=distinct, alias=alias, node=inner)

    def order(self, e: exp.Expression) -> Order:
        inner = e.this if isinstance(e, exp.Ordered) else e
        desc = bool(e.args.get("desc")) if isinstance(e, exp.Ordered) else False
        col = first_column(inner)
        return Order(column=column_name(col), descending=desc, aggregate=AGGREGATES.get(type(inner)),
                     table=self.table_of(col), node=inner)

    def flatten(self, node: exp.Expression, clause: str, negated: bool, out: list[Filter]) -> None:
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, (exp.And, exp.Or)):
            # Long AND/OR chains nest to the left; walk them without deep recursion.
            stack = [node]
            parts = []
            while stack:
                n = stack.pop()
                while isinstance(n, exp.Paren):
                    n = n.this
                if isinstance(n, (exp.And, exp.Or)):
                    stack.append(n.right)
                    stack.append(n.left)
                else:
                    parts.append(n)
            for p in parts:
                self.flatten(p, clause, negated, out)
            return
        if isinstance(node, exp.Not):
            self.flatten(node.this, clause, not negated, out)
            return
        out.append(self.predicate(node, clause, negated))

    def predicate(self, node: exp.Expression, clause: str, negated: bool) -> Filter:
        op = COMPARISONS.get(type(node))
        if node.args.get("negate"):
            negated = not negated
        if op is None:
            col = first_column(node)
            return Filter(column=column_name(col), op=node.key, negated=negated, clause=clause,
                          table=self.table_of(col), node=node,
                          values=[literal_text(v) for v in node.iter_expressions() if is_value(v)])
        if op == "exists":
            return Filter(column=None, op="exists", negated=negated, clause=clause, subquery=True, node=node)
        left = node.this
        values: list[str] = []
        subquery = False
        col = left if isinstance(left, exp.Column) else first_column(left)
        if op == "in":
            if node.args.get("query") is not None:
                subquery = True
            values = [literal_text(v) for v in node.expressions if is_value(v)]
        elif op == "between":
            values = [literal_text(v) for v in (node.args.get("low"), node.args.get("high")) if is_value(v)]
        elif op == "is":
            values = [literal_text(node.expression)]
        else:
            right = node.expression
            if isinstance(right, (exp.Subquery, exp.Select)):
                subquery = True
            elif is_value(right):
                values = [literal_text(right)]
            elif is_value(left) and isinstance(right, exp.Column):
                col, values = right, [literal_text(left)]
            elif right is not None and not isinstance(right, exp.Column):
                values = [literal_text(v) for v in right.walk() if is_value(v)]
                subquery = right.find(exp.Select) is not None
        agg = AGGREGATES.get(type(left))
        name = column_name(col)
        return Filter(column=name or (f"{agg}(*)" if agg else None), op=op, values=values, negated=negated,
                      clause=clause, table=self.table_of(col), subquery=subquery, aggregate=agg, node=node)

    def dml_ddl(self, f: StatementFacts) -> None:
        t = self.tree
        if isinstance(t, (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Alter,
                          exp.Drop, exp.TruncateTable)):
            target = t.this if isinstance(t.this, exp.Expression) else None  # "DELETE t FROM ..." sets this=False
            if isinstance(target, exp.Schema):
                f.target_columns = [c.name for c in target.expressions
                                    if isinstance(c, (exp.Identifier, exp.ColumnDef, exp.Column))]
                target = target.this
            if isinstance(t, exp.TruncateTable):
                target = t.expressions[0] if t.expressions else None
            if isinstance(t, (exp.Drop, exp.Delete)) and target is None and t.args.get("tables"):
                target = t.args["tables"][0]
            if isinstance(target, exp.Index):
                target = target.args.get("table") or target
            if target is not None:
                f.target = target.name if isinstance(target, exp.Table) else target.sql()
            kind = t.args.get("kind")
            f.object_kind = kind.upper() if isinstance(kind, str) else None
            if f.target and f.target not in f.tables and isinstance(target, exp.Table):
                f.tables.insert(0, f.target)
        if isinstance(t, exp.Update):
            for e in t.expressions:
                if isinstance(e, exp.EQ):
                    f.target_columns.append(column_name(e.this) or e.this.sql())
                    if is_value(e.expression):
                        f.values.append(literal_text(e.expression))
        if isinstance(t, exp.Insert):
            vals = t.expression
            if isinstance(vals, exp.Values):
                for row in vals.expressions:
                    items = row.expressions if isinstance(row, exp.Tuple) else [row]
                    f.values.extend(literal_text(v) for v in items if is_value(v))


def _preorder(root: exp.Expression):
    """Every node under ``root``, parents first, in source order (leaner than ``Expression.walk``)."""
    stack = [root]
    pop, Expression = stack.pop, exp.Expression
    while stack:
        node = pop()
        yield node
        children = []
        for v in node.args.values():
            if isinstance(v, Expression):
                children.append(v)
            elif type(v) is list:
                children.extend(x for x in v if isinstance(x, Expression))
        if children:
            stack.extend(reversed(children))


def _main_select(t: exp.Expression) -> exp.Expression | None:
    top = t
    while True:
        if isinstance(top, (exp.Union, exp.Intersect, exp.Except)):
            top = top.left
        elif isinstance(top, exp.Subquery):
            top = top.this
        else:
            break
    if isinstance(top, exp.Select):
        return top
    if isinstance(top, (exp.Insert, exp.Create)) and top.expression is not None:
        return _main_select(top.expression)
    return None


def _top_set(t: exp.Expression) -> exp.Expression | None:
    if isinstance(t, (exp.Insert, exp.Create)):
        return t.expression
    return None


def _number(node: exp.Expression | None) -> int | str | None:
    if node is None:
        return None
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.this)
    return node.sql()


def statement_facts(tree: exp.Expression, dialect: str | None = None) -> StatementFacts:
    """Facts for one parsed statement (may turn Spider's double-quoted values into literals in ``tree``)."""
    return _Extractor(tree, dialect).run()
