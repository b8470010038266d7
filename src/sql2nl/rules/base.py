"""The walk over a statement, shared by every language; subclasses supply the wording.

The base class decides *what* to say: it dispatches on the expression type (one method per SQL
construct, a table of one-line templates for the simple ones, and an explicit fallback that
still says something and records a warning), resolves aliases to tables and humanizes names.
A language subclass decides *how* to say it: the ``W`` template table and a few ``compose_*``
methods that put the pieces of a sentence in that language's order. Adding a language is one
new module with one subclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from sqlglot import exp

from ..facts import AGGREGATES, Scopes, StatementFacts, is_redaction_placeholder, is_value, literal_text
from ..schema import Schema
from ..words import humanize, plural, singular
from .changes import ChangesMixin
from .functions import OPERATORS
from .functions import phrase as function_phrase

#: IN lists longer than this are summarised ("one of 200,000 values such as ...").
MAX_LISTED_VALUES = 8

COMPARISON_KEYS = {exp.EQ: "eq", exp.NEQ: "neq", exp.GT: "gt", exp.GTE: "gte", exp.LT: "lt", exp.LTE: "lte",
                   exp.NullSafeEQ: "eq", exp.NullSafeNEQ: "neq"}
ARITHMETIC_KEYS = {exp.Add: "add", exp.Sub: "sub", exp.Mul: "mul", exp.Div: "div", exp.Mod: "mod",
                   exp.DPipe: "concat", exp.IntDiv: "div"}


@dataclass
class SelectPlan:
    """The pieces of one SELECT, already phrased; a language's ``compose_select`` orders them."""

    subject: str                      # the rows the query is about, e.g. "students"
    subject_one: str                  # the same, singular
    columns: list[str] = field(default_factory=list)
    count_only: bool = False          # SELECT COUNT(*) and nothing else
    aggregates_only: bool = False     # every selected expression is an aggregate
    distinct: bool = False
    where: str | None = None
    group: list[str] = field(default_factory=list)
    having: str | None = None
    order: list[tuple[str, bool, str]] = field(default_factory=list)  # (phrase, descending, kind)
    limit: str | None = None
    offset: str | None = None
    extra_tables: list[str] = field(default_factory=list)            # joined but not otherwise named
    join_notes: list[str] = field(default_factory=list)              # outer joins, join conditions
    counted: str = ""                 # what COUNT(*) counts, e.g. "albums"
    is_aggregate: list[bool] = field(default_factory=list)  # per column
    keys_selected: bool = False       # every non-aggregate column is a GROUP BY key
    subject_is_counted: bool = False
    no_from: bool = False             # SELECT 1 + 1


class Describer(ChangesMixin):
    """Describes one statement. Subclasses (one per language) override the wording."""

    language = "en"
    #: One-line templates, per language. Keys are looked up by the walk.
    W: dict[str, str] = {}

    def __init__(self, facts: StatementFacts, *, schema: Schema | None = None, dialect: str | None = None):
        self.facts = facts
        self.schema = schema
        self.dialect = dialect
        self.warnings: list[str] = []
        self.scopes: Scopes = facts.scopes if facts.scopes is not None else Scopes()
        self.subjects: list[str | None] = []  # the table each enclosing SELECT is about

    # -- names --------------------------------------------------------------------------------

    def name(self, identifier: str, table: str | None = None) -> str:
        """A column's words: the schema's description if given, else the identifier's own words."""
        if self.schema is not None:
            words = self.schema.column_words(table, identifier)
            if words:
                return words
        return self.identifier_words(identifier, kind="column", table=table)

    def table_name(self, table: str) -> str:
        """A table's words: the schema's description if given, else the identifier's own words."""
        if self.schema is not None:
            words = self.schema.table_words(table)
            if words:
                return words
        return self.identifier_words(table, kind="table")

    def identifier_words(self, identifier: str, *, kind: str = "column", table: str | None = None) -> str:
        """An identifier (``kind``: column, table or cte) as words when no schema names it: humanized
        here; a language may translate it (zh)."""
        return humanize(identifier)

    def noun(self, table: str | None, many: bool = True) -> str:
        """The rows of ``table`` as a noun ("students"); languages without plurals override."""
        if not table:
            return self.W["rows"]
        words = self.table_name(table)
        return plural(words) if many else singular(words)

    def column(self, col: exp.Column) -> str:
        """A column's words, with its table's name when it is not the table being talked about."""
        if isinstance(col.this, exp.Star):
            return self.W["star"]
        table, scope = self.scopes.resolve(col)
        words = self.name(col.name, table)
        subject = self.subjects[-1] if self.subjects else None
        if scope is not None and col.table and sum(1 for t in scope.values() if t == table) > 2:
            # A self-join: "employee e" and "employee m" are different rows of one table.
            return self.W["self_qualified"].format(table=singular(self.table_name(table)), alias=col.table,
                                                   column=words)
        if table and subject and table != subject:
            tword = singular(self.table_name(table))
            if tword.lower() not in words.lower():
                words = self.W["qualified"].format(table=tword, column=words)
        return words

    def value(self, node: exp.Expression) -> str:
        text = literal_text(node)
        if isinstance(node, exp.Literal) and node.is_string:
            return self.W["string"].format(text)
        if isinstance(node, exp.Placeholder) and not is_redaction_placeholder(text):
            # A bound parameter (`?`, `:name`, `%(name)s`): its value is not in the SQL, so say so.
            name = node.name if node.name and node.name != "?" else ""
            return self.W["param_named"].format(humanize(name)) if name else self.W["param"]
        return text

    # -- dispatch over statements ---------------------------------------------------------------

    STATEMENTS: dict[type, str] = {
        exp.Select: "select_text", exp.Union: "set_text", exp.Intersect: "set_text", exp.Except: "set_text",
        exp.Insert: "insert_text", exp.Update: "update_text", exp.Delete: "delete_text",
        exp.Merge: "merge_text", exp.Create: "create_text", exp.Alter: "alter_text", exp.Drop: "drop_text",
        exp.TruncateTable: "truncate_text", exp.Subquery: "subquery_statement_text",
    }

    def describe(self) -> str:
        """The description of the whole statement."""
        tree = self.facts.tree
        if tree is None:
            return self.fallback_text()
        method = self.STATEMENTS.get(type(tree))
        if method is None:
            self.warnings.append(f"no wording for {type(tree).__name__} statements yet; described generically")
            return self.fallback_text()
        text = getattr(self, method)(tree)
        if not isinstance(tree, (exp.Select, exp.Union, exp.Intersect, exp.Except)):
            ctes = self.cte_prefix(tree)  # WITH ... INSERT/UPDATE/DELETE
            if ctes:
                text = ctes + self.continue_sentence(text)
        return self.finish(text)

    def finish(self, text: str) -> str:
        """Capitalise and end the sentence (languages may override)."""
        text = text.strip()
        if not text:
            return text
        text = text[0].upper() + text[1:]
        return text if text[-1] in ".?!。？！" else text + "."

    def fallback_text(self) -> str:
        """A best-effort sentence for a statement the walk has no wording for."""
        tables = [self.table_name(t) for t in self.facts.tables]
        sql = self.facts.sql
        return self.W["fallback"].format(kind=self.facts.kind.upper() if self.facts.kind != "other" else
                                         (sql.split()[0].upper() if sql.split() else "SQL"),
                                         tables=self.join_list(tables) if tables else self.W["database"],
                                         sql=sql if len(sql) < 200 else sql[:200] + "...")

    # -- SELECT ---------------------------------------------------------------------------------

    def select_text(self, sel: exp.Select) -> str:
        ctes = self.cte_prefix(sel)
        text = self.compose_select(self.plan(sel))
        return ctes + self.continue_sentence(text) if ctes else text

    def continue_sentence(self, text: str) -> str:
        """A sentence that now follows a lead-in ("Using ..., what are ..."); languages may override."""
        return text

    def subquery_statement_text(self, node: exp.Subquery) -> str:
        return self.describe_query(node.this)

    def describe_query(self, node: exp.Expression) -> str:
        method = self.STATEMENTS.get(type(node))
        if method is None or method in ("insert_text",):
            return self.expr(node)
        return getattr(self, method)(node)

    def cte_prefix(self, node: exp.Expression) -> str:
        w = node.args.get("with_") or node.args.get("with")
        if w is None:
            return ""
        parts = []
        for cte in w.expressions:
            parts.append(self.W["cte"].format(name=self.identifier_words(cte.alias_or_name, kind="cte"),
                                              query=self.noun_phrase(cte.this)))
        key = "with_recursive" if w.args.get("recursive") else "with"
        return self.W[key].format(self.join_list(parts))

    def subject_of(self, sel: exp.Select) -> str | None:
        """The table a SELECT is about: that of its first plain column, else its FROM table."""
        for e in sel.expressions:
            inner = e.this if isinstance(e, exp.Alias) else e
            if isinstance(inner, exp.Column) and not isinstance(inner.this, exp.Star):
                t = self.scopes.table_of(inner)
                if t:
                    return t
        frm = sel.args.get("from_") or sel.args.get("from")
        if frm is not None:
            src = frm.this
            if isinstance(src, exp.Table):
                return src.name or None
            return src.alias_or_name or None
        return None

    def sources(self, sel: exp.Select) -> list[exp.Expression]:
        frm = sel.args.get("from_") or sel.args.get("from")
        out = [frm.this] if frm is not None else []
        out += [j.this for j in sel.args.get("joins") or ()]
        return out

    def plan(self, sel: exp.Select) -> SelectPlan:
        subject = self.subject_of(sel)
        self.subjects.append(subject)
        counted = getattr(self, "counted", None)
        try:
            return self._plan(sel, subject)
        finally:
            self.subjects.pop()
            self.counted = counted

    def _plan(self, sel: exp.Select, subject: str | None) -> SelectPlan:
        W = self.W
        sources = self.sources(sel)
        # A FROM that is not a table (a subquery, VALUES, UNNEST, a table function) is described itself.
        from_sub = sources[0] if sources and not (isinstance(sources[0], exp.Table)
                                                  and isinstance(sources[0].this, exp.Identifier)) else None
        group = sel.args.get("group")
        group_nodes = list(group.expressions) if group is not None else []
        counted_table = self.counted_table(sel, subject, group_nodes)
        if from_sub is not None and (subject is None or subject == from_sub.alias_or_name):
            inner = from_sub.this if isinstance(from_sub, (exp.Subquery, exp.Table)) else from_sub
            subj_many = subj_one = W["rows_of"].format(self.noun_phrase(inner))
        else:
            subj_many, subj_one = self.noun(subject), self.noun(subject, many=False)
        p = SelectPlan(subject=subj_many, subject_one=subj_one, no_from=not sources,
                       counted=self.noun(counted_table) if counted_table else subj_many)
        self.counted = p.counted
        p.distinct = bool(sel.args.get("distinct"))
        exprs = sel.expressions
        group_keys = {self.key(g) for g in group_nodes} if group_nodes else set()
        lim = sel.args.get("limit")
        one_row = lim is not None and isinstance(lim.expression, exp.Literal) and lim.expression.this == "1"
        for e in exprs:
            inner = e.this if isinstance(e, exp.Alias) else e
            phrase = self.projection(inner, many=not one_row)
            if isinstance(e, exp.Alias) and not isinstance(inner, (exp.Column, exp.Star)) and W.get("alias"):
                phrase = W["alias"].format(phrase, self.identifier_words(e.alias))
            p.columns.append(phrase)
        aggs = [type(e.this if isinstance(e, exp.Alias) else e) in AGGREGATES for e in exprs]
        p.is_aggregate = aggs
        if group_nodes:
            plain = [self.key(e.this if isinstance(e, exp.Alias) else e) for e, a in zip(exprs, aggs) if not a]
            p.keys_selected = bool(plain) and set(plain) == group_keys
        p.subject_is_counted = counted_table == subject
        p.aggregates_only = bool(exprs) and all(aggs) and not group_nodes
        first = exprs[0].this if exprs and isinstance(exprs[0], exp.Alias) else (exprs[0] if exprs else None)
        p.count_only = (len(exprs) == 1 and isinstance(first, exp.Count) and not group_nodes
                        and (isinstance(first.this, exp.Star) or first.this is None))
        where = sel.args.get("where")
        if where is not None:
            p.where = self.condition(where.this, clause=True)
        if group_nodes:
            p.group = [self.expr(g) for g in group_nodes]
        having = sel.args.get("having")
        if having is not None:
            p.having = self.condition(having.this, clause=True)
        order = sel.args.get("order")
        if order is not None:
            p.order = [self.order_key(o) for o in order.expressions]
        self.limit_offset(sel, p)
        self.joins(sel, p, subject, group_keys)
        qualify = sel.args.get("qualify")
        if qualify is not None:
            p.join_notes.append(self.W["qualify"].format(self.condition(qualify.this)))
        for key, value in sel.args.items():
            # Whatever the walk does not know still gets said (as SQL), with a warning: never dropped.
            if key not in _SELECT_PARTS and isinstance(value, (exp.Expression, list)) and value:
                parts = value if isinstance(value, list) else [value]
                sql = ", ".join(v.sql() for v in parts if isinstance(v, exp.Expression))
                if sql:
                    self.warnings.append(f"no wording for the {key} clause; quoted as SQL")
                    p.join_notes.append(self.W["sql"].format(sql))
        return p

    def key(self, node: exp.Expression) -> object:
        """What makes two expressions the same, cheaply: (table, name) for columns, else the tree."""
        if isinstance(node, exp.Column):
            return (self.scopes.table_of(node), node.name.lower())
        return node

    def counted_table(self, sel: exp.Select, subject: str | None, group_nodes: list) -> str | None:
        # With GROUP BY over a join, COUNT(*) counts the rows of the table that is not grouped on.
        if not group_nodes:
            return subject if subject else None
        keys = {self.scopes.table_of(c) for g in group_nodes for c in ([g] if isinstance(g, exp.Column) else [])}
        tables = [s.name for s in self.sources(sel) if isinstance(s, exp.Table)]
        others = [t for t in tables if t not in keys]
        return others[0] if others else (tables[0] if tables else subject)

    def limit_offset(self, node: exp.Expression, p: SelectPlan) -> None:
        lim = node.args.get("limit")
        if lim is not None:
            v = lim.args.get("count") if isinstance(lim, exp.Fetch) else lim.expression
            p.limit = literal_text(v) if v is not None and is_value(v) else (self.expr(v) if v is not None else None)
        fetch = node.args.get("fetch") if hasattr(node, "args") else None
        if fetch is not None and p.limit is None and fetch.args.get("count") is not None:
            p.limit = literal_text(fetch.args["count"])
        off = node.args.get("offset")
        if off is not None and off.expression is not None:
            p.offset = literal_text(off.expression) if is_value(off.expression) else self.expr(off.expression)

    def joins(self, sel: exp.Select, p: SelectPlan, subject: str | None, group_keys: set) -> None:
        joins = sel.args.get("joins") or ()
        if not joins:
            return
        mentioned = {subject}
        if any(n.this is None or isinstance(n.this, exp.Star) for n in sel.find_all(exp.Count)):
            mentioned.add(self.counted_table(sel, subject, list(sel.args["group"].expressions)
                                             if sel.args.get("group") is not None else []))
        for key in ("expressions", "where", "having", "order"):
            part = sel.args.get(key)
            for root in (part if isinstance(part, list) else [part] if part is not None else []):
                for node in root.walk():
                    if isinstance(node, exp.Column):
                        mentioned.add(self.scopes.table_of(node))
        names = [s for s in self.sources(sel)]
        seen_tables: dict[str, int] = {}
        for s in names:
            if isinstance(s, exp.Table):
                seen_tables[s.name] = seen_tables.get(s.name, 0) + 1
        for s in names:
            if isinstance(s, exp.Table) and s.name not in mentioned and s.name != subject:
                word = self.noun(s.name)
                if word not in p.extra_tables:
                    p.extra_tables.append(word)
        if any(v > 1 for v in seen_tables.values()):
            p.join_notes.append(self.W["self_join"].format(
                self.join_list([self.noun(t) for t, v in seen_tables.items() if v > 1])))
        for j in joins:
            side = (j.args.get("side") or "").lower()
            kind = (j.args.get("kind") or "").lower()
            tb = j.this
            if isinstance(tb, exp.Lateral):
                p.join_notes.append(self.W["join_lateral"].format(self.noun_phrase(tb.this)))
                continue
            tname = self.noun(tb.name) if isinstance(tb, exp.Table) else self.noun_phrase(tb)
            if not isinstance(tb, exp.Table) and not side and kind not in ("cross", "semi", "anti"):
                p.join_notes.append(self.W["join_cross"].format(table=tname))
            if side in ("left", "right", "full"):
                p.join_notes.append(self.W[f"join_{side}"].format(table=tname, subject=p.subject))
            elif kind == "cross":
                p.join_notes.append(self.W["join_cross"].format(table=tname))
            elif kind in ("semi", "anti"):
                p.join_notes.append(self.W[f"join_{kind}"].format(table=tname))
            on = j.args.get("on")
            if on is not None and not _key_equalities(on):
                p.join_notes.append(self.W["join_on"].format(table=tname, cond=self.condition(on)))
            elif j.args.get("using"):
                p.join_notes.append(self.W["join_using"].format(
                    table=tname, cols=self.join_list([self.name(u.name) for u in j.args["using"]])))

    def order_key(self, o: exp.Expression) -> tuple[str, bool, str]:
        inner = o.this if isinstance(o, exp.Ordered) else o
        desc = bool(o.args.get("desc")) if isinstance(o, exp.Ordered) else False
        if isinstance(inner, exp.Count) and (inner.this is None or isinstance(inner.this, exp.Star)):
            return self.counted, desc, "count"
        if isinstance(inner, exp.Literal) and inner.is_int:
            return self.W["position"].format(inner.this), desc, "position"
        return self.expr(inner), desc, "agg" if type(inner) in AGGREGATES else "value"

    # -- set operations -------------------------------------------------------------------------

    def set_text(self, node: exp.Expression) -> str:
        ctes = self.cte_prefix(node)
        if ctes:
            return ctes + self.continue_sentence(self.set_text_body(node))
        return self.set_text_body(node)

    def set_text_body(self, node: exp.Expression) -> str:
        left, right = node.left, node.right
        key = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}[type(node)]
        if key == "union" and not node.args.get("distinct", True):
            key = "union_all"
        if isinstance(left, (exp.Union, exp.Intersect, exp.Except)):
            first = self.set_text_body(left)
        else:
            first = self.describe_query(left)
        question = first.endswith(("?", "？"))
        first = first.rstrip(".?？。")
        text = self.W[key].format(first=first, second=self.noun_phrase(right))
        p = SelectPlan(subject="", subject_one="")
        self.limit_offset(node, p)
        order = node.args.get("order")
        tail = ""
        if order is not None:
            keys = [self.order_key(o) for o in order.expressions]
            tail += self.W["set_order"].format(self.compose_order(keys))
        if p.limit:
            tail += self.W["set_limit"].format(p.limit)
        if p.offset:
            tail += self.W["offset"].format(p.offset)
        return text + tail + (self.W["question"] if question else "")

    # -- noun phrases: a query used as a value -------------------------------------------------

    def noun_phrase(self, node: exp.Expression) -> str:
        """A query as a noun phrase ("the names of students whose age is over 18")."""
        while isinstance(node, exp.Subquery):
            node = node.this
        if isinstance(node, exp.Select):
            return self.compose_noun(self.plan(node))
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            key = {exp.Union: "union_np", exp.Intersect: "intersect_np", exp.Except: "except_np"}[type(node)]
            return self.W[key].format(first=self.noun_phrase(node.left), second=self.noun_phrase(node.right))
        if isinstance(node, exp.Values):
            return self.W["values_rows"].format(self.join_list([self.expr(r) for r in node.expressions]))
        return self.expr(node)

    # -- expressions ----------------------------------------------------------------------------

    EXPRESSIONS: dict[type, str] = {
        exp.Column: "column_expr", exp.Literal: "value", exp.Boolean: "value", exp.Null: "null_expr",
        exp.Placeholder: "value", exp.Neg: "neg_expr", exp.Paren: "paren_expr", exp.Alias: "alias_expr",
        exp.And: "connective", exp.Or: "connective", exp.Xor: "connective", exp.Not: "not_expr",
        exp.EQ: "comparison", exp.NEQ: "comparison", exp.GT: "comparison", exp.GTE: "comparison",
        exp.LT: "comparison", exp.LTE: "comparison", exp.NullSafeEQ: "comparison",
        exp.NullSafeNEQ: "comparison", exp.In: "in_expr", exp.Between: "between_expr",
        exp.Like: "like_expr", exp.ILike: "like_expr", exp.Is: "is_expr", exp.Exists: "exists_expr",
        exp.Subquery: "subquery_expr", exp.Select: "subquery_expr", exp.Union: "subquery_expr",
        exp.Intersect: "subquery_expr", exp.Except: "subquery_expr",
        exp.Count: "aggregate", exp.Sum: "aggregate", exp.Avg: "aggregate", exp.Min: "aggregate",
        exp.Max: "aggregate", exp.Case: "case_expr", exp.If: "if_expr", exp.Cast: "cast_expr",
        exp.TryCast: "cast_expr", exp.Window: "window_expr", exp.Distinct: "distinct_expr",
        exp.Star: "star_expr", exp.Tuple: "tuple_expr", exp.Add: "arithmetic", exp.Sub: "arithmetic",
        exp.Mul: "arithmetic", exp.Div: "arithmetic", exp.Mod: "arithmetic", exp.DPipe: "arithmetic",
        exp.IntDiv: "arithmetic", exp.Identifier: "identifier_expr", exp.Table: "table_expr",
        exp.DataType: "datatype_expr", exp.Interval: "interval_expr", exp.Anonymous: "function",
        exp.Ordered: "ordered_expr", exp.Values: "noun_phrase", exp.Var: "var_expr",
        exp.CurrentDate: "function", exp.CurrentTimestamp: "function", exp.Any: "quantified",
        exp.All: "quantified", exp.Filter: "filter_expr",
    }

    def expr(self, node: exp.Expression | None) -> str:
        """Words for any expression: its construct's method, a generic function phrase, or a fallback."""
        if node is None:
            return ""
        method = self.EXPRESSIONS.get(type(node))
        if method is not None:
            return getattr(self, method)(node)
        if isinstance(node, exp.Func) or type(node) in OPERATORS:
            return self.function(node)
        if isinstance(node, exp.Binary):
            return self.W["binary"].format(self.expr(node.left), node.key.lower(), self.expr(node.right))
        return self.unknown(node)

    def unknown(self, node: exp.Expression) -> str:
        self.warnings.append(f"no wording for {type(node).__name__}; quoted as SQL")
        return self.W["sql"].format(node.sql())

    #: Whether comparisons are being phrased as a filter on rows ("students with age over 18"),
    #: where a language may use its shorter "clause" templates (``W["c:gt"]``...).
    in_clause = False

    def condition(self, node: exp.Expression, clause: bool = False) -> str:
        """A predicate; ``clause=True`` for WHERE/HAVING filters, which may use shorter wording."""
        if not clause:
            return self.expr(node)
        prev, self.in_clause = self.in_clause, True
        try:
            return self.expr(node)
        finally:
            self.in_clause = prev

    def w(self, key: str) -> str:
        """The template for ``key``, in its clause form when phrasing a filter."""
        if self.in_clause:
            t = self.W.get("c:" + key)
            if t is not None:
                return t
        return self.W[key]

    def column_expr(self, node: exp.Column) -> str:
        return self.column(node)

    def identifier_expr(self, node: exp.Identifier) -> str:
        return self.name(node.name)

    def var_expr(self, node: exp.Var) -> str:
        return node.name.lower()

    def table_expr(self, node: exp.Table) -> str:
        return self.noun(node.name)

    def star_expr(self, node: exp.Star) -> str:
        return self.W["star"]

    def null_expr(self, node: exp.Null) -> str:
        return self.W["null"]

    def neg_expr(self, node: exp.Neg) -> str:
        if isinstance(node.this, exp.Literal):
            return "-" + node.this.this
        return self.W["negative"].format(self.expr(node.this))

    def paren_expr(self, node: exp.Paren) -> str:
        inner = self.expr(node.this)
        return self.W["paren"].format(inner) if isinstance(node.this, (exp.Or, exp.And)) else inner

    def alias_expr(self, node: exp.Alias) -> str:
        return self.expr(node.this)

    def ordered_expr(self, node: exp.Ordered) -> str:
        return self.expr(node.this) + (self.W["desc_suffix"] if node.args.get("desc") else "")

    def tuple_expr(self, node: exp.Tuple) -> str:
        return self.W["tuple"].format(self.join_list([self.expr(e) for e in node.expressions]))

    def datatype_expr(self, node: exp.DataType) -> str:
        return node.sql().lower()

    def interval_expr(self, node: exp.Interval) -> str:
        return self.function(node)

    def connective(self, node: exp.Expression) -> str:
        key = {exp.And: "and", exp.Or: "or", exp.Xor: "xor"}[type(node)]
        # Flatten left-deep chains without recursion (a 10,000-term OR should not blow the stack).
        terms, stack = [], [node]
        while stack:
            n = stack.pop()
            if type(n) is type(node):
                stack.append(n.right)
                stack.append(n.left)
            else:
                terms.append(n)
        # "a = 1 OR a = 2" reads as "a is 1 or 2".
        if (key == "or" and len(terms) > 1 and all(isinstance(t, exp.EQ) and is_value(t.expression) for t in terms)
                and len({self.key(t.this) for t in terms}) == 1):
            values = [self.operand(t.expression) for t in terms]
            return self.w("eq").format(self.expr(terms[0].this), self.W["or"].join(values))
        return self.W[key].join(self.expr(t) for t in terms)

    def not_expr(self, node: exp.Not) -> str:
        inner = node.this
        while isinstance(inner, exp.Paren) and not isinstance(inner.this, (exp.And, exp.Or)):
            inner = inner.this
        if isinstance(inner, exp.In):
            return self.in_expr(inner, negated=True)
        if isinstance(inner, exp.Between):
            return self.between_expr(inner, negated=True)
        if isinstance(inner, (exp.Like, exp.ILike)):
            return self.like_expr(inner, negated=True)
        if isinstance(inner, exp.Is):
            return self.is_expr(inner, negated=True)
        if isinstance(inner, exp.Exists):
            return self.exists_expr(inner, negated=True)
        if type(inner) in COMPARISON_KEYS:
            return self.comparison(inner, negated=True)
        return self.w("not").format(self.expr(inner))

    def operand(self, node: exp.Expression) -> str:
        """The right side of a comparison: a value, a column, or a subquery as a noun phrase."""
        if is_value(node):
            return self.value(node)
        return self.expr(node)

    def comparison(self, node: exp.Expression, negated: bool = False) -> str:
        key = COMPARISON_KEYS[type(node)]
        left, right = node.this, node.expression
        if is_value(left) and not is_value(right):
            left, right = right, left
            key = {"gt": "lt", "lt": "gt", "gte": "lte", "lte": "gte"}.get(key, key)
        if negated:
            key = {"eq": "neq", "neq": "eq"}.get(key, key) if key in ("eq", "neq") else "not_" + key
        if (isinstance(left, exp.Count) and (left.this is None or isinstance(left.this, exp.Star))
                and is_value(right) and "count_" + key in self.W):
            return self.W["count_" + key].format(n=self.operand(right), noun=self.counted_noun())
        if key == "eq" and isinstance(right, exp.Column) and self.in_clause and "c:eq_column" in self.W:
            return self.W["c:eq_column"].format(self.expr(left), self.expr(right))
        return self.w(key).format(self.expr(left), self.operand(right))

    def in_expr(self, node: exp.In, negated: bool = False) -> str:
        if node.args.get("negate"):
            negated = not negated
        left = self.expr(node.this)
        query = node.args.get("query")
        if query is not None:
            sub = query.this if isinstance(query, exp.Subquery) else query
            if (self.in_clause and isinstance(node.this, exp.Column) and isinstance(sub, exp.Select)
                    and len(sub.expressions) == 1 and isinstance(sub.expressions[0], exp.Column)
                    and sub.expressions[0].name.lower() == node.this.name.lower() and "c:appear" in self.W
                    and self.subjects and self.scopes.table_of(node.this) == self.subjects[-1]):
                # "StuID NOT IN (SELECT StuID FROM enrolled)": the rows that (do not) appear in the other set.
                rows = self.compose_many(self.plan(sub))
                return self.W["c:not_appear" if negated else "c:appear"].format(rows)
            return self.w("not_in_query" if negated else "in_query").format(left, self.noun_phrase(query))
        items = node.expressions
        if len(items) > MAX_LISTED_VALUES:
            sample = self.join_list([self.operand(v) for v in items[:3]])
            listed = self.W["many_values"].format(n=f"{len(items):,}", sample=sample)
        else:
            listed = self.join_list([self.operand(v) for v in items], self.W["or"])
        return self.w("not_in" if negated else "in").format(left, listed)

    def between_expr(self, node: exp.Between, negated: bool = False) -> str:
        if node.args.get("negate"):
            negated = not negated
        return self.w("not_between" if negated else "between").format(
            self.expr(node.this), self.operand(node.args["low"]), self.operand(node.args["high"]))

    def like_expr(self, node: exp.Expression, negated: bool = False) -> str:
        if node.args.get("negate"):
            negated = not negated
        left, pat = self.expr(node.this), node.expression
        key = "like"
        text = literal_text(pat) if isinstance(pat, exp.Literal) else None
        if text is not None:
            core = text.strip("%")
            if core and "%" not in core and "_" not in core:
                starts, ends = text.startswith("%"), text.endswith("%")
                key = {(False, True): "starts", (True, False): "ends", (True, True): "contains"}.get((starts, ends), "eq")
                return self.w(("not_" if negated else "") + key).format(left, self.W["string"].format(core))
        return self.w(("not_" if negated else "") + key).format(left, self.operand(pat))

    def is_expr(self, node: exp.Is, negated: bool = False) -> str:
        right = node.expression
        if isinstance(right, exp.Null):
            return self.w("not_null" if negated else "is_null").format(self.expr(node.this))
        return self.w("neq" if negated else "eq").format(self.expr(node.this), self.operand(right))

    def exists_expr(self, node: exp.Exists, negated: bool = False) -> str:
        sel = node.this
        while isinstance(sel, exp.Subquery):
            sel = sel.this
        if isinstance(sel, exp.Select) and all(isinstance(e, (exp.Literal, exp.Star)) or
                                               (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
                                               for e in sel.expressions):
            # EXISTS (SELECT 1 FROM orders WHERE ...): only the rows matter, not what they select.
            return self.W["not_exists" if negated else "exists"].format(self.compose_rows(self.plan(sel), negated))
        return self.W["not_exists" if negated else "exists"].format(self.noun_phrase(node.this))

    def subquery_expr(self, node: exp.Expression) -> str:
        return self.noun_phrase(node)

    def aggregate(self, node: exp.Expression) -> str:
        func = AGGREGATES[type(node)]
        arg = node.this
        distinct = isinstance(arg, exp.Distinct)
        if distinct:
            arg = arg.expressions[0] if arg.expressions else None
        if func == "count" and (arg is None or isinstance(arg, exp.Star)):
            return self.W["count_star"].format(self.counted_noun())
        what = self.expr(arg)
        if func == "count":
            return self.W["count_distinct" if distinct else "count"].format(what if not distinct else self.many(what))
        return self.W[func + ("_distinct" if distinct else "")].format(what)

    def counted_noun(self) -> str:
        return getattr(self, "counted", None) or self.W["rows"]

    def many(self, words: str) -> str:
        return plural(words)

    def distinct_expr(self, node: exp.Distinct) -> str:
        return self.W["distinct"].format(self.join_list([self.expr(e) for e in node.expressions]))

    def projection(self, node: exp.Expression, many: bool = True) -> str:
        """A selected expression; plain columns get the language's "the <names>" form."""
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star):
                t = self.scopes.table_of(node)
                return self.W["star_of"].format(self.noun(t, many=False)) if t else self.W["star"]
            words = self.column(node)
            return self.W["the"].format(self.many(words) if many else words)
        return self.expr(node)

    def quantified(self, node: exp.Expression) -> str:
        key = "any" if isinstance(node, exp.Any) else "all"
        return self.W[key].format(self.noun_phrase(node.this))

    def filter_expr(self, node: exp.Filter) -> str:
        cond = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
        return self.W["filter"].format(self.expr(node.this), self.condition(cond))

    def case_expr(self, node: exp.Case) -> str:
        subject = node.this
        parts = []
        for when in node.args.get("ifs") or ():
            cond = when.this
            cond_words = (self.W["eq"].format(self.expr(subject), self.operand(cond)) if subject is not None
                          else self.condition(cond))
            parts.append(self.W["case_when"].format(then=self.operand(when.args.get("true")), cond=cond_words))
        default = node.args.get("default")
        text = self.join_list(parts, self.W["case_sep"])
        if default is not None:
            text += self.W["case_else"].format(self.operand(default))
        return self.W["case"].format(text)

    def if_expr(self, node: exp.If) -> str:
        text = self.W["case_when"].format(then=self.operand(node.args.get("true")), cond=self.condition(node.this))
        if node.args.get("false") is not None:
            text += self.W["case_else"].format(self.operand(node.args["false"]))
        return self.W["case"].format(text)

    def cast_expr(self, node: exp.Cast) -> str:
        return self.function(node)

    def arithmetic(self, node: exp.Binary) -> str:
        return self.W[ARITHMETIC_KEYS[type(node)]].format(self.operand(node.left), self.operand(node.right))

    def window_expr(self, node: exp.Window) -> str:
        func = self.expr(node.this)
        parts = []
        part = node.args.get("partition_by")
        if part:
            parts.append(self.W["window_partition"].format(self.join_list([self.expr(p) for p in part])))
        order = node.args.get("order")
        if order is not None:
            parts.append(self.compose_order([self.order_key(o) for o in order.expressions]).lstrip(", ，"))
        spec = node.args.get("spec")
        if spec is not None:
            parts.append(self.W["window_frame"].format(spec.sql().lower()))
        return self.W["window"].format(func=func, over=self.W["window_sep"].join(parts) if parts else self.W["window_all"])

    def function(self, node: exp.Expression) -> str:
        """A function call or operator, in the words of ``rules/functions.py`` (generic, with a warning, if none)."""
        p = function_phrase(node, self.operand, self.language, self.dialect)
        if p is None:
            return self.unknown(node)
        if p.warning:
            self.warnings.append(p.warning)
        return p.text

    # -- wording hooks every language provides -------------------------------------------------

    def join_list(self, items: list[str], last: str | None = None) -> str:
        raise NotImplementedError

    def compose_select(self, p: SelectPlan) -> str:
        raise NotImplementedError

    def compose_noun(self, p: SelectPlan) -> str:
        raise NotImplementedError

    def compose_many(self, p: SelectPlan) -> str:
        """The rows of a SELECT as a set ("orders with total over 100"), for "appear in"."""
        return self.compose_rows(p, negated=True)

    def compose_rows(self, p: SelectPlan, negated: bool = False) -> str:
        """The rows of a SELECT whose columns do not matter (inside EXISTS): "an order with total over 100"."""
        raise NotImplementedError

    def compose_order(self, keys: list[tuple[str, bool, str]]) -> str:
        raise NotImplementedError


_SELECT_PARTS = {"expressions", "from_", "from", "joins", "where", "group", "having", "order", "limit", "offset",
                 "distinct", "with_", "with", "kind", "qualify", "hint", "operation_modifiers"}


def _key_equalities(on: exp.Expression) -> bool:
    """Whether a join condition is only column = column equalities (the usual key join)."""
    stack = [on]
    while stack:
        n = stack.pop()
        if isinstance(n, exp.Paren):
            stack.append(n.this)
        elif isinstance(n, exp.And):
            stack.extend((n.left, n.right))
        elif not (isinstance(n, exp.EQ) and isinstance(n.this, exp.Column) and isinstance(n.expression, exp.Column)):
            return False
    return True

