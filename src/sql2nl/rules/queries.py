"""Queries: SELECT, set operations, CTEs and subqueries used as values.

A SELECT is first gathered into a :class:`SelectPlan` — its pieces already worded, in no
language's order — which the language's ``compose_*`` methods put into a sentence, a noun phrase
("the names of students older than 18") or a description of rows ("an order with total over 100").
What a SELECT is about (its subject) and what its ``COUNT(*)`` counts come from its joins
(:mod:`~sql2nl.rules.joins`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from ..facts import AGGREGATES, children, columns_in, is_count_star, is_parameter_node, is_value, selected_at, unparen
from ..facts import literal_text as literal_value
from .conditions import Cond, Junction

if TYPE_CHECKING:
    from .base import Describer

_SET_OPS = (exp.Union, exp.Intersect, exp.Except)
_SELECT_PARTS = {
    "expressions",
    "from_",
    "from",
    "joins",
    "where",
    "group",
    "having",
    "order",
    "limit",
    "offset",
    "distinct",
    "with_",
    "with",
    "kind",
    "qualify",
    "hint",
    "operation_modifiers",
    "prewhere",
    "locks",
}


@dataclass(frozen=True)
class OrderKey:
    """One ORDER BY key, worded: ``kind`` is "count" (``COUNT(*)``), "agg" or "value"."""

    phrase: str
    descending: bool
    kind: str = "value"


@dataclass
class SelectPlan:
    """The pieces of one SELECT, already worded; a language's ``compose_*`` methods order them."""

    subject: str  # the rows the query is about, e.g. "students"
    subject_one: str  # the same, singular
    columns: list[str] = field(default_factory=list)
    is_aggregate: list[bool] = field(default_factory=list)  # per column
    distinct: bool = False
    where: Cond | None = None
    group: list[str] = field(default_factory=list)
    grouping: str = ""  # ROLLUP / CUBE / GROUPING SETS, worded
    having: Cond | None = None
    order: list[OrderKey] = field(default_factory=list)
    limit: str | None = None  # "5", or "a given number" for a bound parameter
    offset: str | None = None
    limit_given: bool = False  # LIMIT ? : the number is a bound parameter
    offset_given: bool = False
    notes: list[str] = field(default_factory=list)  # outer joins, join conditions, QUALIFY...
    relations: list[str] = field(default_factory=list)  # "that have orders", "who have pets"
    counted: str = ""  # what COUNT(*) counts, e.g. "albums"
    count_only: bool = False  # SELECT COUNT(*) and nothing else
    aggregates_only: bool = False  # every selected expression is an aggregate
    keys_selected: bool = False  # every non-aggregate column is a GROUP BY key
    subject_is_counted: bool = False
    no_from: bool = False  # SELECT 1 + 1
    constants_only: bool = False  # SELECT 1 FROM t: one constant row per row of t
    per_subject: bool = False  # grouped by the subject's own key: one row per subject

    @property
    def limit_one(self) -> bool:
        return self.limit == "1"

    def but(self, **changes: Any) -> "SelectPlan":
        """A shallow copy with ``changes``, as ``dataclasses.replace`` makes, without its per-field
        checks (a plan has two dozen fields and one sentence may ask for several copies)."""
        copy = object.__new__(SelectPlan)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy


class QueriesMixin:
    """SELECT, set operations, CTEs, derived tables and subqueries."""

    # -- SELECT ------------------------------------------------------------------------------------

    def select_sentence(self: "Describer", sel: exp.Select) -> str:
        return self.with_ctes(sel, self.compose_select(self.select_plan(sel)))

    def select_text(self: "Describer", sel: exp.Select) -> str:
        return self.compose_noun(self.select_plan(sel))

    def rows_words(self: "Describer", sel: exp.Select, skip: set[int] | None = None) -> str:
        """The rows of a SELECT whose columns do not matter: "orders with total over 100"."""
        return self.compose_rows(self.select_plan(sel, skip or set()))

    def rows_forms(self: "Describer", sel: exp.Select, skip: set[int] | None = None) -> tuple[str, str]:
        """One of a SELECT's rows, with and without its article: ("an order with total over 100",
        "order with total over 100"), for "there is ..." and "there is no ..."."""
        return self.compose_row(self.select_plan(sel, skip or set()))

    def select_plan(self: "Describer", sel: exp.Select, skip: set[int] | None = None) -> SelectPlan:
        """Gather one SELECT's pieces; ``skip`` holds WHERE terms already said elsewhere (by id)."""
        graph = self.graph(sel)
        subject = self.subject_source(sel)
        many, one = self.subject_nouns(sel, subject)
        p = SelectPlan(subject=many, subject_one=one, no_from=not graph.sources)
        p.counted = self.counted_rows(sel)
        exprs = sel.expressions
        limit = sel.args.get("limit")
        p.distinct = bool(sel.args.get("distinct")) and not sel.args["distinct"].args.get("on")
        plural = not (limit is not None and _is_one(limit))
        for e in exprs:
            inner = e.this if isinstance(e, exp.Alias) else e
            phrase = self.projection(inner, many=plural)
            if (
                isinstance(e, exp.Alias)
                and not isinstance(inner, (exp.Column, exp.Star))
                and self.identifier_words(e.alias, kind="alias") not in phrase
            ):
                if "window_bare" in self.PHRASES and inner.find(exp.Window):
                    # "avg sal (the average salary within each department)", not "(… (within …))"
                    said, self.bare_windows = len(self.warnings), True
                    try:
                        phrase = self.projection(inner, many=plural)
                    finally:
                        self.bare_windows = False
                        del self.warnings[said:]  # the first wording said them already
                phrase = self.PHRASES["alias"].format(phrase, self.identifier_words(e.alias, kind="alias"))
            p.columns.append(phrase)
            p.is_aggregate.append(is_aggregate(inner))
            p.notes.extend(self.star_changes(inner))
            if isinstance(inner, exp.Star) and len([s for s in graph.sources.values() if s.table]) > 1:
                # SELECT * over a join: every side's columns
                others = [
                    self.source_words(sel, a, many=True) for a, s in graph.sources.items() if a != subject and s.table
                ]
                p.notes.append(self.PHRASES["star_joined"].format(self.join_list(others)))
        p.constants_only = (
            bool(exprs)
            and all(is_value(unparen(e.this if isinstance(e, exp.Alias) else e)) for e in exprs)
            and bool(graph.sources)
        )
        group = sel.args.get("group")
        group_nodes = self.group_keys(group) if group is not None else []
        if group_nodes and self.groups_by_subject(sel, group_nodes, subject, p.is_aggregate):
            group_nodes = []  # GROUP BY the subject's own key: one row per subject ("of each student")
            p.per_subject = True
        if group_nodes:
            keys = {self.key_of(g) for g in group_nodes}
            plain = [
                self.key_of(unparen(e.this if isinstance(e, exp.Alias) else e))
                for e, a in zip(exprs, p.is_aggregate)
                if not a
            ]
            p.keys_selected = bool(plain) and set(plain) <= keys
            p.group = [self.text(g) for g in group_nodes]
            p.grouping = self.grouping_words(group)
        p.aggregates_only = bool(exprs) and all(p.is_aggregate) and not group_nodes
        first = unparen(exprs[0].this if exprs and isinstance(exprs[0], exp.Alias) else exprs[0]) if exprs else None
        p.count_only = len(exprs) == 1 and is_count_star(first) and not group_nodes
        skip = set(skip or ())
        self.join_pieces(sel, p, subject, skip)
        terms = [t for t in self.where_terms(sel) if id(t) not in skip]
        if terms:
            if terms:
                p.where = (
                    self.cond(terms[0]) if len(terms) == 1 else Junction("and", tuple(self.cond(t) for t in terms))
                )
        having = sel.args.get("having")
        if having is not None:
            p.having = self.cond(having.this)
        order = sel.args.get("order")
        if order is not None:
            p.order = [self.order_key(o, sel) for o in order.expressions]
        p.limit, p.offset = self.limit_words(sel)
        p.limit_given = p.limit == self.PHRASES["given_number"]
        p.offset_given = p.offset == self.PHRASES["given_number"]
        self.extra_pieces(sel, p)
        subject_table = self.subject_table(sel)
        p.subject_is_counted = bool(subject_table) and p.counted == self.noun(subject_table)
        return p

    def groups_by_subject(
        self: "Describer", sel: exp.Select, keys: list[exp.Expression], subject: str | None, aggregate: list[bool]
    ) -> bool:
        """Whether ``GROUP BY`` only makes one group per row of the subject: every key is the subject's
        own key (``p.id``) or a key pointing at it (``t.playlist_id`` joined on it), and every other
        selected column is the subject's (``SELECT p.name ... GROUP BY t.playlist_id``)."""
        graph = self.graph(sel)
        src = graph.sources.get(subject or "")
        if (
            src is None
            or not src.table
            or len(graph.sources) < 2
            or sel.args["group"].find(exp.Rollup, exp.Cube, exp.GroupingSets) is not None
        ):
            return False
        identifies = False  # at least one key names the subject row; the others are its own columns
        for key in keys:
            if not isinstance(key, exp.Column):
                return False
            source = self.scopes.source_of(key)
            own = source == subject and self.is_key_column(src.table, key.name)
            points = any(
                e.many == source and e.one == subject and e.fk.lower() == key.name.lower() for e in graph.edges
            )
            if not (own or points or source == subject):
                return False
            identifies = identifies or own or points
        if not identifies:
            return False
        for e, agg in zip(sel.expressions, aggregate):
            if not agg and any(self.scopes.source_of(c) != subject for c in columns_in(e)):
                return False
        return True

    def where_terms(self: "Describer", sel: exp.Select) -> list[exp.Expression]:
        """The AND terms of WHERE (and of ClickHouse's PREWHERE, which filters the same way, earlier)."""
        terms = []
        for key in ("prewhere", "where"):
            clause = sel.args.get(key)
            if clause is not None:
                terms += self.and_terms(clause.this)
        return terms

    def subject_nouns(self: "Describer", sel: exp.Select, subject: str | None) -> tuple[str, str]:
        if subject is None:
            return self.PHRASES["rows"], self.PHRASES["row"]
        src = self.graph(sel).sources.get(subject)
        if src is not None and src.table is None and subject not in self.roles(sel):
            words = self.derived_source_words(src)
            return words, words
        return self.source_words(sel, subject, many=True), self.source_words(sel, subject, many=False)

    def projection(self: "Describer", node: exp.Expression, many: bool = True) -> str:
        """A selected expression; plain columns get the language's "the <names>" form."""
        inner = unparen(node)
        if isinstance(inner, exp.Column) and not isinstance(inner.this, exp.Star):
            words = self.text(inner)
            return self.PHRASES["the"].format(self.many(words) if many else words)
        if is_value(inner) and not isinstance(inner, exp.Null):
            return self.PHRASES["constant"].format(self.value_words(inner))
        return self.text(node)

    def group_keys(self: "Describer", group: exp.Group) -> list[exp.Expression]:
        """The GROUP BY keys, with ROLLUP/CUBE/GROUPING SETS opened up and ``GROUP BY 1`` resolved."""
        out: list[exp.Expression] = []
        sel = group.parent

        def add(k: exp.Expression) -> None:
            k = unparen(k)
            if isinstance(k, (exp.Rollup, exp.Cube, exp.GroupingSets, exp.Tuple)):
                for x in k.expressions:
                    add(x)
            else:
                if isinstance(sel, exp.Select):
                    k = self.selected_by(k, sel)
                if all(k != u for u in out):
                    out.append(k)

        for k in [
            *group.expressions,
            *(group.args.get("rollup") or ()),
            *(group.args.get("cube") or ()),
            *(group.args.get("grouping_sets") or ()),
        ]:
            add(k)
        return out

    def grouping_words(self: "Describer", group: exp.Group) -> str:
        """Subtotals: ROLLUP (a, b) → "with subtotals for each a and a grand total"."""
        for node in group.find_all(exp.Rollup, exp.Cube, exp.GroupingSets):
            items = [unparen(i) for i in node.expressions]
            if isinstance(node, exp.Rollup):
                levels = [self.join_list([self.text(x) for x in items[:i]]) for i in range(len(items) - 1, 0, -1)]
                return self.PHRASES["rollup"].format(self.join_list(levels) if levels else "")
            if isinstance(node, exp.Cube):
                return self.PHRASES["cube"]
            sets = []
            for item in items:
                keys = item.expressions if isinstance(item, exp.Tuple) else [item]
                sets.append(
                    self.PHRASES["grouping_set"].format(self.join_list([self.text(k) for k in keys]))
                    if keys
                    else self.PHRASES["overall"]
                )
            return self.PHRASES["grouping_sets"].format(self.join_list(sets))
        return ""

    def order_key(self: "Describer", o: exp.Expression, sel: exp.Expression | None = None) -> OrderKey:
        inner = unparen(o.this if isinstance(o, exp.Ordered) else o)
        desc = bool(o.args.get("desc")) if isinstance(o, exp.Ordered) else False
        if isinstance(sel, exp.Select):
            chosen = self.selected_by(inner, sel)
            shown = self.shown_alias(inner, chosen, sel)
            if shown:  # "spent (the sum of total)" was said: "in descending order of spent"
                return OrderKey(shown, desc, "agg" if type(chosen) in AGGREGATES else "value")
            inner = chosen
        if is_count_star(inner):
            return OrderKey(self.counted_noun(inner), desc, "count")
        return OrderKey(self.text(inner), desc, "agg" if type(inner) in AGGREGATES else "value")

    def selected_by(self: "Describer", key: exp.Expression, sel: exp.Select) -> exp.Expression:
        """``ORDER BY 2`` or ``ORDER BY total`` (a select alias): the selected expression meant."""
        chosen = selected_at(key, sel)
        if chosen is not key:
            return unparen(chosen)
        if isinstance(key, exp.Column) and not key.table:
            for e in sel.expressions:
                if (
                    isinstance(e, exp.Alias)
                    and e.alias.lower() == key.name.lower()
                    and not isinstance(unparen(e.this), exp.Column)
                ):
                    return unparen(e.this)
        return key

    def shown_alias(self: "Describer", key: exp.Expression, chosen: exp.Expression, sel: exp.Select) -> str | None:
        """The alias's words when ``key`` names a selected expression whose alias the sentence says
        (see :meth:`select_plan`), else None."""
        if chosen is key or not isinstance(key, exp.Column) or is_count_star(chosen):
            return None
        words = self.identifier_words(key.name, kind="alias")
        return None if words in self.projection(chosen, many=True) else words

    def limit_words(self: "Describer", node: exp.Expression) -> tuple[str | None, str | None]:
        """``(limit, offset)`` as words: numbers as written, bound parameters as "a given number"."""
        lim = node.args.get("limit")
        limit = offset = None
        if lim is not None:
            v = lim.args.get("count") if isinstance(lim, exp.Fetch) else lim.expression
            limit = self.count_words(v)
            opts = lim.args.get("limit_options")
            if limit and opts is not None and opts.args.get("percent"):
                limit = self.PHRASES["percent"].format(limit)
        off = node.args.get("offset")
        if off is not None and off.expression is not None:
            offset = self.count_words(off.expression)
        return limit, offset

    def count_words(self: "Describer", node: exp.Expression | None) -> str | None:
        if node is None:
            return None
        node = unparen(node)
        if is_parameter_node(node):
            return self.PHRASES["given_number"]
        if is_value(node):
            return literal_value(node)
        return self.text(node)

    def extra_pieces(self: "Describer", sel: exp.Select, p: SelectPlan) -> None:
        """DISTINCT ON, QUALIFY, WITH TIES, and anything the walk does not know (said as SQL, with a warning)."""
        distinct = sel.args.get("distinct")
        on = distinct.args.get("on") if distinct is not None else None
        if on is not None:
            keys = on.expressions if isinstance(on, exp.Tuple) else [on]
            p.notes.append(self.PHRASES["distinct_on"].format(self.join_list([self.text(k) for k in keys])))
        qualify = sel.args.get("qualify")
        if qualify is not None:
            p.notes.append(self.PHRASES["qualify"].format(self.clause_words(self.cond(qualify.this))))
        if sel.args.get("locks"):
            p.notes.append(self.PHRASES["locks"])
        lim = sel.args.get("limit")
        opts = lim.args.get("limit_options") if lim is not None else None
        if opts is not None and opts.args.get("with_ties"):
            p.notes.append(self.PHRASES["with_ties"])
        for key, value in sel.args.items():
            # Whatever the walk does not know still gets said (as SQL), with a warning: never dropped.
            if key not in _SELECT_PARTS and isinstance(value, (exp.Expression, list)) and value:
                parts = value if isinstance(value, list) else [value]
                sql = ", ".join(v.sql(dialect=self.dialect) for v in parts if isinstance(v, exp.Expression))
                if sql:
                    self.warnings.append(f"no wording for the {key} clause; quoted as SQL")
                    p.notes.append(self.PHRASES["sql"].format(sql))

    # -- CTEs, set operations, subqueries --------------------------------------------------------

    def with_ctes(self: "Describer", node: exp.Expression, text: str) -> str:
        """``text`` led by its CTEs ("Using big (...), ...") when they are spelled out inline."""
        w = node.args.get("with_") or node.args.get("with")
        if w is None:
            return text
        if self.options.detail == "steps":  # the steps before this one define them
            return text
        if not self.options.inline:  # named, not spelled out: say where the names come from
            names = self.join_list([self.identifier_words(cte.alias_or_name, kind="cte") for cte in w.expressions])
            return text + self.PHRASES["cte_names"].format(names)
        parts = [
            self.PHRASES["cte"].format(
                name=self.identifier_words(cte.alias_or_name, kind="cte"), query=self.noun_phrase(cte.this)
            )
            for cte in w.expressions
        ]
        key = "with_recursive" if w.args.get("recursive") else "with"
        return self.PHRASES[key].format(self.join_list(parts)) + self.continue_sentence(text)

    def continue_sentence(self: "Describer", text: str) -> str:
        """A sentence that now follows a lead-in ("Using ..., list ..."); languages may override."""
        return text

    def union_sentence(self: "Describer", node: exp.Expression) -> str:
        return self.with_ctes(node, self.compose_set(node, self.set_body(node)))

    intersect_sentence = except_sentence = union_sentence

    def set_body(self: "Describer", node: exp.Expression) -> str:
        left, right = node.left, node.right
        key = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}[type(node)]
        if key == "union" and not node.args.get("distinct", True):
            key = "union_all"
        first = self.set_body(left) if isinstance(left, _SET_OPS) else self.noun_phrase(left)
        text = self.PHRASES[key].format(first=first, second=self.noun_phrase(right))
        limit, offset = self.limit_words(node)
        order = node.args.get("order")
        if order is not None:
            text += self.PHRASES["set_order"].format(self.order_words([self.order_key(o) for o in order.expressions]))
        if limit:
            text += self.PHRASES["set_limit"].format(limit)
        if offset:
            text += self.PHRASES["offset"].format(offset)
        return text

    def union_text(self: "Describer", node: exp.Expression) -> str:
        key = {exp.Union: "union_np", exp.Intersect: "intersect_np", exp.Except: "except_np"}[type(node)]
        return self.PHRASES[key].format(first=self.noun_phrase(node.left), second=self.noun_phrase(node.right))

    intersect_text = except_text = union_text

    def noun_phrase(self: "Describer", node: exp.Expression) -> str:
        """A query as a noun phrase ("the names of students with age over 18")."""
        node = unparen(node)
        while isinstance(node, exp.Subquery):
            node = unparen(node.this)
        return self.text(node)

    def subquery_text(self: "Describer", node: exp.Subquery) -> str:
        return self.noun_phrase(node.this)

    def values_text(self: "Describer", node: exp.Values) -> str:
        return self.PHRASES["values_rows"].format(self.join_list([self.text(r) for r in node.expressions]))

    def values_sentence(self: "Describer", node: exp.Values) -> str:
        return self.PHRASES["values_sentence"].format(self.values_text(node))

    def cte_text(self: "Describer", node: exp.CTE) -> str:
        return self.identifier_words(node.alias_or_name, kind="cte")


def is_aggregate(node: exp.Expression) -> bool:
    """A value computed over a group: an aggregate call or an expression of them (``SUM(a) - SUM(b)``,
    ``COUNT(*) FILTER (...)``); a window function or a subquery's aggregate is not one."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, exp.AggFunc):
            return True
        if not isinstance(n, (exp.Window, exp.Select, exp.Subquery)):
            stack.extend(children(n))
    return False


def _is_one(limit: exp.Expression) -> bool:
    v = limit.args.get("count") if isinstance(limit, exp.Fetch) else limit.expression
    return isinstance(v, exp.Literal) and v.this == "1"
