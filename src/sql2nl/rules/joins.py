"""What the joins of one SELECT say, independent of any language: which side has many rows,
what ``COUNT(*)`` therefore counts, which tables only link two others, what role each copy of
a self-joined table plays, and whether an outer join keeps anything an inner join would not.

Which side of ``a.x = b.y`` is the "one" side comes from keys: a schema's primary keys when
given, else names (``id``, or the table's own name + ``id``: ``students.stuid``,
``countries.CountryId``). A table that is the "many" side of every join is the grain: the rows
of the join are its rows, so ``COUNT(*)`` counts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp

from ..facts import AGGREGATES, and_terms, columns_in, unparen
from ..words import humanize, is_key_name, key_role, singular

if TYPE_CHECKING:
    from ..facts import Scopes
    from ..schema import Schema


@dataclass(frozen=True)
class Source:
    """One FROM/JOIN item: its name in the query (alias, lower case), its table, and its join."""

    alias: str
    table: str | None  # None for a subquery, VALUES, UNNEST, a table function
    node: exp.Expression
    join: exp.Join | None = None

    @property
    def side(self) -> str:
        return (self.join.args.get("side") or "").lower() if self.join is not None else ""


@dataclass(frozen=True)
class KeyJoin:
    """``many.fk = one.key``: each row of ``many`` matches at most one row of ``one``."""

    many: str
    one: str
    fk: str


@dataclass(frozen=True)
class Equality:
    """``a.col_a = b.col_b`` between two sources (an ON/WHERE term or a USING column)."""

    a: str
    col_a: str
    b: str
    col_b: str


@dataclass
class JoinGraph:
    """The sources of one SELECT and the key joins between them."""

    sources: dict[str, Source] = field(default_factory=dict)
    edges: list[KeyJoin] = field(default_factory=list)
    one_to_one: list[tuple[str, str]] = field(default_factory=list)
    undirected: list[tuple[str, str]] = field(default_factory=list)
    equalities: list[Equality] = field(default_factory=list)

    @property
    def grain(self) -> str | None:
        """The source whose rows the joined rows are (alias), or None when that is unclear."""
        names = list(self.sources)
        if len(names) == 1:
            return names[0]
        if self.undirected:
            return None
        ones = {e.one for e in self.edges}
        manys = {e.many for e in self.edges} | {a for pair in self.one_to_one for a in pair}
        candidates = [n for n in names if n not in ones and n in manys]
        if len(candidates) == 1 and self._connected():
            return candidates[0]
        return None

    def _connected(self) -> bool:
        names = list(self.sources)
        links: dict[str, set[str]] = {n: set() for n in names}
        for e in self.edges:
            links[e.many].add(e.one)
            links[e.one].add(e.many)
        for a, b in self.one_to_one:
            links[a].add(b)
            links[b].add(a)
        seen, todo = set(), [names[0]]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(links.get(n, ()))
        return len(seen) == len(names)

    def links(self, used: set[str]) -> dict[str, tuple[str, str]]:
        """Link tables: ``{link: (near, far)}`` for sources that only join two others (none of their
        columns is used outside the join conditions) and hold the many side of both joins."""
        out = {}
        for alias in self.sources:
            if alias in used:
                continue
            ones = [e.one for e in self.edges if e.many == alias]
            if len(ones) == 2 and ones[0] != ones[1] and not any(e.one == alias for e in self.edges):
                out[alias] = (ones[0], ones[1])
        return out

    def roles(self) -> dict[str, str]:
        """Words for each copy of a table that appears more than once (``manager`` for ``m`` in
        ``employee e JOIN employee m ON e.manager_id = m.id``); copies without a clear role are left out."""
        by_table: dict[str, list[str]] = {}
        for alias, src in self.sources.items():
            if src.table:
                by_table.setdefault(src.table.lower(), []).append(alias)
        roles: dict[str, str] = {}
        for table, aliases in by_table.items():
            if len(aliases) < 2:
                continue
            noun = singular(humanize(table))
            for alias in aliases:
                role = self._joined_role(alias, table) or _alias_role(alias, noun)
                if role and role != noun:
                    roles[alias] = role
        return roles

    def _joined_role(self, alias: str, table: str) -> str:
        """What the other side of a join calls this source: ``e.manager_id = m.id`` makes ``m`` the
        manager, ``f.source_airport = src.code`` makes ``src`` the source airport."""
        names = set()
        for q in self.equalities:
            if alias not in (q.a, q.b):
                continue
            mine, other, other_col = (q.col_a, q.b, q.col_b) if q.a == alias else (q.col_b, q.a, q.col_a)
            if (self.sources[other].table or "").lower() == table and other_col.lower() == mine.lower():
                continue  # a.city = b.city names no role
            names.add(key_role(other_col))
        names.discard("")
        return names.pop() if len(names) == 1 else ""


def _alias_role(alias: str, noun: str) -> str:
    """An alias that is a word of its own (``boss``, ``manager``, ``parent``), not a short label (``e``, ``T2``)."""
    if len(alias) < 3 or re.fullmatch(r"t\d+", alias, re.I) or alias.lower() in ("src", "tgt", "tmp", "sub"):
        return ""
    words = humanize(alias)
    if singular(words) == noun or noun.replace(" ", "").startswith(alias.lower()):  # "emp" for employee
        return ""
    return words


def join_graph(sel: exp.Select, scopes: "Scopes", schema: "Schema | None") -> JoinGraph:
    """The join graph of one SELECT (FROM, JOINs, and ``a.x = b.y`` in ON or a comma join's WHERE)."""
    graph = JoinGraph()
    frm = sel.args.get("from_") or sel.args.get("from")
    items: list[tuple[exp.Expression, exp.Join | None]] = [(frm.this, None)] if frm is not None else []
    items += [(j.this, j) for j in sel.args.get("joins") or ()]
    for node, join in items:
        table = node.name if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier) else None
        alias = (node.alias_or_name or "").lower() or f"#{len(graph.sources)}"
        graph.sources[alias] = Source(alias, table, node, join)
    if len(graph.sources) < 2:
        return graph
    conditions = [j.args.get("on") for _, j in items if j is not None and j.args.get("on") is not None]
    where = sel.args.get("where")
    if where is not None:
        conditions.append(where.this)
    for cond in conditions:
        for eq in _equalities(cond):
            _add_edge(graph, eq, scopes, schema)
    names = list(graph.sources)
    for i, (_node, j) in enumerate(items):  # JOIN ... USING (k): k of this source and of an earlier one
        if j is not None and j.args.get("using") and i > 0:
            for col in j.args["using"]:
                _add_pair(graph, names[i - 1], col.name, names[i], col.name, schema)
    return graph


def _equalities(cond: exp.Expression) -> list[exp.EQ]:
    """The ``col = col`` terms of an AND chain."""
    out, stack = [], [cond]
    while stack:
        n = unparen(stack.pop())
        if isinstance(n, exp.And):
            stack.extend((n.left, n.right))
        elif isinstance(n, exp.EQ) and isinstance(n.this, exp.Column) and isinstance(n.expression, exp.Column):
            out.append(n)
    return out


def _add_edge(graph: JoinGraph, eq: exp.EQ, scopes: "Scopes", schema: "Schema | None") -> None:
    a, b = eq.this, eq.expression
    sa, sb = scopes.source_of(a), scopes.source_of(b)
    if sa is None or sb is None or sa == sb or sa not in graph.sources or sb not in graph.sources:
        return
    _add_pair(graph, sa, a.name, sb, b.name, schema)


def _add_pair(graph: JoinGraph, sa: str, ca: str, sb: str, cb: str, schema: "Schema | None") -> None:
    graph.equalities.append(Equality(sa, ca, sb, cb))
    ka, kb = _is_key(graph.sources[sa].table, ca, schema), _is_key(graph.sources[sb].table, cb, schema)
    if ka and not kb:
        graph.edges.append(KeyJoin(many=sb, one=sa, fk=cb))
    elif kb and not ka:
        graph.edges.append(KeyJoin(many=sa, one=sb, fk=ca))
    elif ka and kb:
        graph.one_to_one.append((sa, sb))
    else:
        graph.undirected.append((sa, sb))


def _is_key(table: str | None, column: str, schema: "Schema | None") -> bool:
    if table is None:
        return False
    if schema is not None:
        known = schema.is_key(table, column)
        if known is not None:
            return known
    return is_key_name(table, column)


# -- outer joins ---------------------------------------------------------------------------------


def outer_join_matters(sel: exp.Select, src: Source, scopes: "Scopes") -> str:
    """What a LEFT/RIGHT JOIN of ``src`` keeps that an inner join would not.

    ``"keeps"`` when unmatched rows survive (and should be mentioned), ``"anti"`` when the WHERE
    keeps only the unmatched ones (``o.id IS NULL``), ``""`` when a WHERE or HAVING condition on
    the joined side rejects them anyway (``HAVING COUNT(o.id) > 5``): then it reads as an inner join.
    """
    where = sel.args.get("where")
    for term in and_terms(where.this) if where is not None else ():
        cols = [c for c in columns_in(term) if scopes.source_of(c) == src.alias]
        if not cols:
            continue
        if isinstance(term, exp.Is) and isinstance(term.expression, exp.Null) and isinstance(term.this, exp.Column):
            return "anti"
        if _null_rejecting(term):
            return ""
    having = sel.args.get("having")
    for term in and_terms(having.this) if having is not None else ():
        if _rejects_unmatched_groups(term, src.alias, scopes):
            return ""
    return "keeps"


def anti_join_term(sel: exp.Select, src: Source, scopes: "Scopes") -> exp.Expression | None:
    """The ``o.id IS NULL`` term that turns a LEFT JOIN into "without any matching ...", if any."""
    where = sel.args.get("where")
    for term in and_terms(where.this) if where is not None else ():
        if (
            isinstance(term, exp.Is)
            and isinstance(term.expression, exp.Null)
            and isinstance(term.this, exp.Column)
            and scopes.source_of(term.this) == src.alias
        ):
            return term
    return None


def _null_rejecting(term: exp.Expression) -> bool:
    # A comparison, IN, BETWEEN or LIKE on a column is unknown for NULL, so it drops unmatched rows;
    # IS [NOT] NULL, COALESCE, OR and CASE may keep them.
    if term.find(exp.Coalesce, exp.Case, exp.Or, exp.If) is not None:
        return False
    if isinstance(term, exp.Not):
        return _null_rejecting(term.this)
    return isinstance(
        term, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between, exp.Like, exp.ILike)
    )


def _rejects_unmatched_groups(term: exp.Expression, alias: str, scopes: "Scopes") -> bool:
    """``COUNT(o.x) > n`` (n >= 0), ``>= n``/``= n`` (n >= 1), or SUM/AVG/MIN/MAX(o.x) compared with anything:
    false for a group without matches, whose count is 0 and whose other aggregates are NULL."""
    if not isinstance(term, (exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
        return False
    agg, value = unparen(term.this), term.expression
    if type(agg) not in AGGREGATES:
        agg, value = unparen(term.expression), term.this
        term = {exp.GT: exp.LT, exp.LT: exp.GT, exp.GTE: exp.LTE, exp.LTE: exp.GTE}.get(type(term), type(term))(
            this=agg, expression=value
        )
    if type(agg) not in AGGREGATES:
        return False
    cols = columns_in(agg)
    if not cols or any(scopes.source_of(c) != alias for c in cols):
        return False
    if not isinstance(agg, exp.Count):
        return True
    if not (isinstance(value, exp.Literal) and value.is_number):
        return False
    n = float(value.this)
    return (isinstance(term, exp.GT) and n >= 0) or (isinstance(term, (exp.GTE, exp.EQ)) and n >= 1)
