"""The walk: one pass over a statement's tree that fills a :class:`StatementFacts`.

Speed matters (describing must cost less than parsing), so the walk visits each node once and
SQL text for parts is generated lazily. Spider-style double-quoted values are found first (a
quick pass, :func:`sql2nl.facts.normalize.spider_values`) and made string literals in a copy, so
the caller's tree is never changed (in place only for a tree the caller says is its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from ..parsing import parse
from .model import Aggregate, Filter, Join, Order, Selected, StatementFacts, Window
from .nodes import (
    AGGREGATES,
    COMPARISONS,
    KINDS,
    SET_OPERATIONS,
    children,
    column_name,
    count_value,
    first_column,
    is_value,
    literal_text,
    main_select,
    selected_at,
    structure,
)
from .normalize import SPIDER_VALUE_DIALECTS, spider_values, with_string_values
from .scopes import Scopes

if TYPE_CHECKING:
    from ..schema import Schema

_SET_NODES = (exp.Union, exp.Intersect, exp.Except)
#: The node types the walk acts on; every other node (columns, comparisons, clauses: most of a
#: tree) is passed over with one set lookup instead of the whole chain of type tests.
_WATCHED = frozenset(
    {
        exp.Table,
        exp.Literal,
        exp.Not,
        exp.NEQ,
        exp.NullSafeNEQ,
        exp.Like,
        exp.ILike,
        exp.In,
        exp.Between,
        *AGGREGATES,
        exp.Window,
        exp.Subquery,
        exp.Select,
        *SET_OPERATIONS,
        exp.CTE,
        exp.Lateral,
        exp.Unnest,
        exp.Update,
        exp.Delete,
        exp.Merge,
        exp.With,
        exp.Join,
        exp.Returning,
    }
)


def extract(
    sql: str | exp.Expression | Iterable[exp.Expression], dialect: str | None = None, *, schema: "Schema | None" = None
) -> list[StatementFacts]:
    """Facts for each statement in ``sql`` (a string, a parsed tree, or a list of trees).

    >>> f = extract("SELECT name FROM users AS u WHERE u.age > 18")[0]
    >>> f.kind, f.tables, [x.values for x in f.filters]
    ('select', ['users'], [['18']])
    """
    if isinstance(sql, str):  # trees parsed here belong to nobody else: normalised in place
        return [statement_facts(t, dialect, schema=schema, owned=True, text=sql) for t in parse(sql, dialect)]
    trees = [sql] if isinstance(sql, exp.Expression) else list(sql)
    return [statement_facts(t, dialect, schema=schema) for t in trees]


def statement_facts(
    tree: exp.Expression,
    dialect: str | None = None,
    *,
    schema: "Schema | None" = None,
    owned: bool = False,
    text: str | None = None,
) -> StatementFacts:
    """Facts for one parsed statement. ``tree`` is never changed (``facts.tree`` may be a normalised
    copy) unless ``owned`` says the caller has just parsed it and holds it nowhere else: then the
    normalisation happens in place, sparing a copy. ``text``, the SQL the tree was parsed from when
    the caller has it, spares the search for Spider-style "values" when it has no double quote."""
    if dialect in SPIDER_VALUE_DIALECTS and (text is None or '"' in text):
        values = spider_values(tree, schema)
        if values:
            tree = with_string_values(tree, values, in_place=owned)
    return _Extractor(tree, dialect, schema).run()


class _Extractor:
    def __init__(self, tree: exp.Expression, dialect: str | None, schema: "Schema | None"):
        self.tree = tree
        self.dialect = dialect
        self.scopes = Scopes(tree, schema)
        self.selects = 0  # SELECTs seen, and whether anything nests queries
        self.nested = False

    def table_of(self, col: exp.Expression | None) -> Any:
        """The table ``col`` reads, resolved once the walk is over (it tells the resolver how
        simple the statement is, which saves it most of its work).

        Typed ``Any``: the placeholder stands where a ``str | None`` goes, and
        :meth:`resolve_tables` replaces every one before the facts leave the extractor."""
        return _Later(col)

    # -- the walk ------------------------------------------------------------------------------

    def run(self) -> StatementFacts:
        t = self.tree
        kind = KINDS.get(type(t))
        if kind is None:
            kind = next((v for k, v in KINDS.items() if isinstance(t, k)), "other")
        f = StatementFacts(kind=kind, tree=t, dialect=self.dialect, scopes=self.scopes)
        tables: dict[str, None] = {}
        ctes: set[str] = set()
        main = main_select(t)
        queries: list[exp.Expression] = []  # every SELECT/UPDATE/DELETE/MERGE: the resolver's scopes
        for node in structure(t):  # identifiers say nothing here: their parents are read
            typ = type(node)
            if typ not in _WATCHED:
                continue
            if typ is exp.Table:
                if not isinstance(node.this, exp.Identifier):
                    self.nested = True  # a table function: not a plain source
                name = node.name
                if name:
                    tables[name] = None
                    alias = node.alias
                    if alias:
                        f.aliases.setdefault(alias, name)
            elif typ is exp.Literal:
                # Not values: the 2 of $2 (a parameter's number), ORDER BY 2 / GROUP BY 1 (column positions).
                if not isinstance(node.parent, (exp.Parameter, exp.Ordered, exp.Group)):
                    f.literals.append(node.this)
            elif typ is exp.Not or typ is exp.NEQ or typ is exp.NullSafeNEQ:
                f.negations += 1
            elif (typ is exp.Like or typ is exp.ILike or typ is exp.In or typ is exp.Between) and node.args.get(
                "negate"
            ):
                f.negations += 1
            elif typ in AGGREGATES:
                self.aggregate(f, node)
            elif typ is exp.Window:
                self.window(f, node)
            elif typ is exp.Subquery:
                f.subqueries += 1
                if isinstance(node.parent, (exp.From, exp.Join)):  # a derived table
                    self.nested = True
            elif typ is exp.Select:
                queries.append(node)
                self.selects += 1
                if node is not main and not isinstance(node.parent, (exp.Subquery, *_SET_NODES, exp.CTE)):
                    f.subqueries += 1  # IN (SELECT ...), EXISTS (SELECT ...)
                self.select(f, node, node is main)
            elif typ in SET_OPERATIONS:
                # Not nesting for the resolver: each branch is a query of its own, and a branch's
                # columns read its own FROM (or, correlated, the queries around it) as anywhere else.
                name = SET_OPERATIONS[typ]
                if typ is exp.Union and not node.args.get("distinct", True):
                    name = "union all"
                f.set_operations.append(name)
                if node is t or node is _top_set(t):
                    self.set_clauses(f, node)
                if typ is exp.Except:
                    f.negations += 1
            elif typ is exp.CTE or typ is exp.Lateral or typ is exp.Unnest:
                self.nested = True
            elif typ is exp.Update or typ is exp.Delete or typ is exp.Merge:
                queries.append(node)
            if typ is exp.CTE:
                ctes.add(node.alias_or_name)
                f.ctes.append(node.alias_or_name)
            elif typ is exp.With:
                f.recursive = f.recursive or bool(node.args.get("recursive"))
            elif typ is exp.Join:
                self.join(f, node)
            elif typ is exp.Returning:
                f.returning = [column_name(e) or e.sql() for e in node.expressions]
        if isinstance(t, (exp.Update, exp.Delete)) and t.args.get("where") is not None:
            self.flatten(t.args["where"].this, "where", False, f.filters)
        if not self.nested:
            self.scopes.simple_queries = queries
        self.resolve_tables(f)
        f.tables = [n for n in tables if n not in ctes]
        f.aliases = {a: n for a, n in f.aliases.items() if a != n}
        self.dml_ddl(f)
        return f

    def resolve_tables(self, f: StatementFacts) -> None:
        """Fill in the tables the walk left for later (see :meth:`table_of`)."""
        items: list[Selected | Filter | Aggregate | Order] = [
            *f.selected,
            *f.filters,
            *f.having,
            *f.aggregates,
            *f.order_by,
        ]
        for item in items:
            if isinstance(item.table, _Later):
                item.table = self.scopes.table_of(item.table.col)

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
            keys = [selected_at(e, sel) for e in g.expressions]  # GROUP BY 1: the first selected expression
            f.group_by = [column_name(e) or e.sql() for e in keys]
        o = sel.args.get("order")
        if o is not None:
            f.order_by = [self.order(e) for e in o.expressions]
        lim = sel.args.get("limit")
        if lim is not None:
            f.limit = count_value(lim.args.get("count") if isinstance(lim, exp.Fetch) else lim.expression)
        off = sel.args.get("offset")
        if off is not None:
            f.offset = count_value(off.expression)

    def set_clauses(self, f: StatementFacts, node: exp.Expression) -> None:
        o = node.args.get("order")
        if o is not None and not f.order_by:
            f.order_by = [self.order(e) for e in o.expressions]
        lim = node.args.get("limit")
        if lim is not None and f.limit is None:
            f.limit = count_value(lim.expression)
        off = node.args.get("offset")
        if off is not None and f.offset is None:
            f.offset = count_value(off.expression)

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
        f.windows.append(
            Window(
                func=func,
                partition_by=[column_name(e) or e.sql() for e in win.args.get("partition_by") or ()],
                order_by=[column_name(e.this) or e.sql() for e in (order.expressions if order else ())],
            )
        )

    def selected(self, e: exp.Expression) -> Selected:
        alias = e.alias if isinstance(e, exp.Alias) else None
        inner = e.this if isinstance(e, exp.Alias) else e
        star = inner if isinstance(inner, exp.Star) else inner.this if isinstance(inner, exp.Column) else None
        if isinstance(star, exp.Star):
            tb = self.table_of(inner) if isinstance(inner, exp.Column) and inner.table else None
            return Selected(
                star=True,
                table=tb,
                node=inner,
                except_columns=[column_name(c) or c.sql() for c in star.args.get("except_") or ()],
                replaced_columns=[c.alias or c.sql() for c in star.args.get("replace") or ()],
            )
        agg = AGGREGATES.get(type(inner))
        distinct = False
        target = inner
        if agg:
            target = inner.this
            if isinstance(target, exp.Distinct):
                distinct = True
                target = target.expressions[0] if target.expressions else None
        col = first_column(target)
        return Selected(
            column=column_name(col), table=self.table_of(col), aggregate=agg, distinct=distinct, alias=alias, node=inner
        )

    def order(self, e: exp.Expression) -> Order:
        inner = e.this if isinstance(e, exp.Ordered) else e
        desc = bool(e.args.get("desc")) if isinstance(e, exp.Ordered) else False
        col = first_column(inner)
        return Order(
            column=column_name(col),
            descending=desc,
            aggregate=AGGREGATES.get(type(inner)),
            table=self.table_of(col),
            node=inner,
        )

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
        whole = node
        if isinstance(node, exp.Escape):  # x LIKE '50\%' ESCAPE '\': the LIKE is the predicate
            node = node.this
        op = COMPARISONS.get(type(node))
        if node.args.get("negate"):
            negated = not negated
        if op is None:
            col = first_column(node)
            return Filter(
                column=column_name(col),
                op=node.key,
                negated=negated,
                clause=clause,
                table=self.table_of(col),
                node=whole,
                values=[literal_text(v) for v in children(node) if is_value(v)],
            )
        if op == "exists":
            return Filter(column=None, op="exists", negated=negated, clause=clause, subquery=True, node=whole)
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
        return Filter(
            column=name or (f"{agg}(*)" if agg else None),
            op=op,
            values=values,
            negated=negated,
            clause=clause,
            table=self.table_of(col),
            subquery=subquery,
            aggregate=agg,
            node=whole,
        )

    def dml_ddl(self, f: StatementFacts) -> None:
        t = self.tree
        if isinstance(
            t, (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Alter, exp.Drop, exp.TruncateTable)
        ):
            target = t.this if isinstance(t.this, exp.Expression) else None  # "DELETE t FROM ..." sets this=False
            if isinstance(target, exp.Schema):
                f.target_columns = [
                    c.name for c in target.expressions if isinstance(c, (exp.Identifier, exp.ColumnDef, exp.Column))
                ]
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


class _Later:
    """A column whose table is looked up after the walk."""

    __slots__ = ("col",)

    def __init__(self, col: exp.Expression | None):
        self.col = col


def _top_set(t: exp.Expression) -> exp.Expression | None:
    if isinstance(t, (exp.Insert, exp.Create)):
        return t.expression
    return None
