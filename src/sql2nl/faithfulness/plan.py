"""The SQL side of the checker: what a statement says that a faithful text must say too.

Read once per statement from its facts (and, where the facts do not keep it, from the parsed
tree): the comparisons with their direction, LIKE patterns with the side they fix, negated
conditions, aggregates and where they stand, ordering keys, which tables carry meaning (a link
table that only joins two others does not), and what kind each column is (an age, a point in
time, something else) so direction words can be judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from ..facts import AGGREGATES, StatementFacts, is_parameter, is_value, literal_text, selected_at
from ..words import humanize
from .structure import Structure
from .structure import build as structure_of

_TIME_WORDS = frozenset(
    """date time year yr day month week born birth birthday dob founded established created
updated modified opened launched released started hired joined registered timestamp datetime when built
introduced issued published completed finished ended closed expired deadline""".split()
)
_RANK_WORDS = frozenset("rank ranking position place standing seed seeding".split())
_DATE_VALUE = re.compile(r"\d{4}-\d{1,2}(-\d{1,2})?([ t].*)?|\d{1,2}/\d{1,2}/\d{2,4}")
_FLIP = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "=": "!=", "!=": "="}
_MIRROR = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "=", "!=": "!="}
_NEGATIVE_VALUES = frozenset({"0", "false", "n", "no", "none", "", "f"})


def column_kind(name: str | None, values: list[str] | tuple[str, ...] = ()) -> str:
    """How direction words apply to a column: ``"age"``, ``"time"``, ``"rank"`` (1 is the highest,
    so "highest" says nothing about min or max), ``"count"`` (an aggregate count) or ``"other"``."""
    if name is None or name.endswith("(*)"):
        return "count"
    words = humanize(name).split()
    if "age" in words or "aged" in words:
        return "age"
    if any(w in _RANK_WORDS for w in words):
        return "rank"
    if any(w in _TIME_WORDS for w in words) or (words and words[-1] == "at") or name.lower().endswith("_at"):
        return "time"
    if any(_DATE_VALUE.fullmatch(v) for v in values):
        return "time"
    return "other"


@dataclass
class Comparison:
    """``column op value(s)`` with ``op`` one of > >= < <= = between; ``values`` empty for a subquery."""

    column: str | None
    kind: str
    op: str
    values: list[str]
    label: str
    negative_context: bool = False


@dataclass
class Pattern:
    """A LIKE: the side its pattern fixes (starts/ends/contains/exact/pattern) and its literal core."""

    column: str | None
    side: str
    core: str
    negated: bool
    label: str


@dataclass
class Condition:
    """A condition with values, for the negation checks: is it negated, and inside a negated part?"""

    values: list[str]
    negated: bool
    negative_context: bool
    label: str
    grouped: bool = False  # negated as part of NOT (a AND b): the "not" goes with the group


@dataclass
class AggregateUse:
    """An aggregate the text must name: its function, column and whether it is compared with."""

    func: str
    column: str | None
    kind: str
    distinct: bool
    compared: bool  # a scalar subquery compared with: "more than any ..." may stand for max
    label: str


@dataclass
class OrderKey:
    column: str | None
    kind: str
    descending: bool
    aggregate: str | None
    label: str


@dataclass
class Plan:
    """Everything the checks need from one statement."""

    facts: StatementFacts
    kind: str
    comparisons: list[Comparison] = field(default_factory=list)
    patterns: list[Pattern] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    aggregates: list[AggregateUse] = field(default_factory=list)
    agg_kinds: set[str] = field(default_factory=set)  # every aggregate anywhere (HAVING, ORDER, subqueries)
    order: list[OrderKey] = field(default_factory=list)
    required_tables: list[str] = field(default_factory=list)
    subjects: set[str] = field(default_factory=set)  # the tables rows come from (FROM, DML target), lower case
    # (column, its table, the tables whose rows it identifies: its own and those joined on it)
    group_keys: list[tuple[str, str | None, tuple[str, ...]]] = field(default_factory=list)
    all_columns: set[str] = field(default_factory=set)
    filter_values: set[str] = field(default_factory=set)
    negates: bool = False  # the SQL says "not" somewhere (a text may negate)
    needs_negation: bool = False  # ... in a way a text must say with a negation word
    has_or: bool = False
    limits: set[str] = field(default_factory=set)  # every LIMIT value, subqueries' too
    like_cores: dict[int, str] = field(default_factory=dict)  # id(filter) -> the pattern's literal part
    name_spans: dict[str, list] = field(default_factory=dict)  # language -> mentions.name_spans, computed once
    structure: Structure = field(default_factory=Structure)


def _values_of(flt: Any) -> list[str]:
    return [v for v in flt.values if v.lower() != "null" and not is_parameter(v)]


def _negative_context(node: exp.Expression | None) -> bool:
    """Whether ``node`` sits inside a NOT, a NOT IN / NOT EXISTS subquery or the right side of EXCEPT."""
    child = node
    cur = node.parent if node is not None else None
    while cur is not None:
        if isinstance(cur, exp.Not) or (cur.args.get("negate") and isinstance(cur, (exp.In, exp.Like, exp.ILike))):
            return True
        if isinstance(cur, exp.Except) and cur.args.get("expression") is child:
            return True
        child, cur = cur, cur.parent
    return False


def _pattern(text: str, escape: str | None) -> tuple[str, str]:
    """(side, core) of a LIKE pattern: 'A%' starts, '%A' ends, '%A%' contains, 'A' exact."""
    parts: list[str] = []
    buf = ""
    i = 0
    wild_inside = False
    while i < len(text):
        ch = text[i]
        if escape and ch == escape and i + 1 < len(text):
            buf += text[i + 1]
            i += 2
            continue
        if ch in "%_":
            parts.append(buf)
            parts.append(ch)
            buf = ""
        else:
            buf += ch
        i += 1
    parts.append(buf)
    chunks = [p for p in parts if p not in ("%", "_")]
    literal = [c for c in chunks if c]
    if not literal:
        return "pattern", ""
    lead = parts[0] == "" and len(parts) > 1
    trail = parts[-1] == "" and len(parts) > 1
    wild_inside = len(literal) > 1 or "_" in parts
    core = max(literal, key=len)
    if wild_inside:
        return "pattern", core
    if lead and trail:
        return "contains", core
    if lead:
        return "ends", core
    if trail:
        return "starts", core
    return "exact", core


def build(f: StatementFacts) -> Plan:
    """The plan of one statement's facts."""
    p = Plan(facts=f, kind=f.kind)
    tree = f.tree
    for flt in list(f.filters) + list(f.having):
        _add_filter(p, flt)
    if tree is not None:
        nodes = _walk(tree)  # one pass; the checks below pick the node types they need
        _aggregates(p, nodes)
        _negation(p, nodes)
        p.required_tables = _required_tables(f, tree, p.subjects)
        p.all_columns = {n.name for n in nodes if type(n) is exp.Column and n.name}
        p.group_keys = _group_keys(f, tree, nodes)
        p.structure = structure_of(f, nodes)
    else:
        p.required_tables = list(f.tables)
        p.negates = p.needs_negation = bool(f.negations)
    for o in f.order_by:
        kind = "count" if o.aggregate == "count" else column_kind(o.column)
        p.order.append(
            OrderKey(
                o.column, kind, o.descending, o.aggregate, f"ordering {'descending' if o.descending else 'ascending'}"
            )
        )
    if "except" in f.set_operations:
        p.negates = True  # said by the "except" item
    return p


def _under_compound_not(node: exp.Expression | None) -> bool:
    cur = node.parent if node is not None else None
    while cur is not None and not isinstance(cur, (exp.Where, exp.Having, exp.Select)):
        if isinstance(cur, exp.Not) and isinstance(_unparen(cur.this), (exp.And, exp.Or)):
            return True
        cur = cur.parent
    return False


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _add_filter(p: Plan, flt: Any) -> None:
    n_before = len(p.conditions)
    grouped = _under_compound_not(flt.node)
    # Under NOT (a > 1 OR b = 2) the text says "not (a greater than 1 or ...)": each comparison is
    # read with its own words, and the structure check wants the "not" on the group.
    _add_filter_items(p, flt, flt.negated != grouped)
    if grouped:
        for c in p.conditions[n_before:]:
            c.grouped = True


def _add_filter_items(p: Plan, flt: Any, negated: bool) -> None:
    node = flt.node
    values = _values_of(flt)
    p.filter_values.update(v.lower() for v in values)
    col = flt.column
    ctx = _negative_context(node)
    like = node
    escape = None
    if isinstance(node, exp.Escape):
        like, escape = node.this, literal_text(node.expression) if is_value(node.expression) else None
    if isinstance(like, (exp.Like, exp.ILike)) and is_value(like.expression):
        raw = literal_text(like.expression)
        side, core = _pattern(raw, escape)
        p.like_cores[id(flt)] = core
        negated = negated or bool(like.args.get("negate"))
        if core:
            no = "not " if negated else ""
            p.patterns.append(Pattern(col, side, core, negated, f"pattern {col} {no}{side} {core!r}"))
            p.conditions.append(Condition([core], negated, ctx, f"negation {col} {no}like {core!r}"))
        return
    op = flt.op
    if op in (">", ">=", "<", "<=", "=", "!="):
        if isinstance(node, exp.Binary) and is_value(node.this) and not is_value(node.expression):
            op = _MIRROR[op]  # 18 < age: age > 18
        if negated:
            op = _FLIP[op]
        if op == "!=" or (op == "=" and negated):
            p.conditions.append(Condition(values, True, ctx, f"negation {col} != {', '.join(values) or '(subquery)'}"))
            return
        kind = "count" if flt.aggregate == "count" else column_kind(col, values)
        if isinstance(node, exp.Binary) and not (is_value(node.this) or is_value(node.expression)):
            values = []  # "created > CURRENT_DATE - 7": compared with an expression, not with "7"
        other = "(subquery)" if flt.subquery else "(expression)"
        label = f"comparison {col or 'expression'} {op} {values[0] if values else other}"
        if op != "=" or values:
            p.comparisons.append(Comparison(col, kind, op, values, label, ctx))
        if op == "=" and values:
            p.conditions.append(Condition(values, False, ctx, f"negation {col} = {values[0]}"))
        return
    if op == "between":
        kind = column_kind(col, values)
        if len(values) == 2:
            p.comparisons.append(
                Comparison(
                    col,
                    kind,
                    "not between" if negated else "between",
                    values,
                    f"comparison {col} {'not ' if negated else ''}between {values[0]} and {values[1]}",
                    ctx,
                )
            )
        p.conditions.append(Condition(values, negated, ctx, f"negation {col} between"))
        return
    if op == "in" and values:
        p.conditions.append(
            Condition(values, negated, ctx, f"negation {col} {'not ' if negated else ''}in {', '.join(values[:3])}")
        )


def _walk(root: exp.Expression) -> list[exp.Expression]:
    """Every node under ``root`` (itself included)."""
    out, stack, Expression = [], [root], exp.Expression
    while stack:
        node = stack.pop()
        out.append(node)
        for v in node.args.values():
            if isinstance(v, Expression):
                stack.append(v)
            elif type(v) is list:
                stack.extend(x for x in v if isinstance(x, Expression))
    return out


def _aggregates(p: Plan, nodes: list[exp.Expression]) -> None:
    seen = set()
    for node in nodes:
        func = AGGREGATES.get(type(node))
        if func is None:
            continue
        p.agg_kinds.add(func)
        if node.find_ancestor(exp.Window) is not None:
            continue
        sel = node.find_ancestor(exp.Select)
        # Only aggregates in a SELECT list must be named; HAVING and ORDER BY ones are said by
        # their comparison ("more than 5 orders") or ordering ("the most common").
        proj: exp.Expression | None = node
        while proj is not None and proj.parent is not sel:
            proj = proj.parent
        if sel is None or proj is None or proj.arg_key != "expressions":
            continue
        arg = node.this
        distinct = isinstance(arg, exp.Distinct)
        if distinct:
            arg = arg.expressions[0] if arg.expressions else None
        col = arg.name if isinstance(arg, exp.Column) and not isinstance(arg.this, exp.Star) else None
        if col is None and arg is not None and not isinstance(arg, exp.Star):
            c = arg.find(exp.Column)
            col = c.name if c is not None else None
        compared = (
            sel.parent is not None
            and isinstance(sel.parent, exp.Subquery)
            and isinstance(sel.parent.parent, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ))
        )
        key = (func, col, distinct, compared)
        if key in seen:
            continue
        seen.add(key)
        kind = "count" if func == "count" else column_kind(col)
        p.aggregates.append(AggregateUse(func, col, kind, distinct, compared, f"aggregate {func}"))


# Functions a description says with a "no" / "not" / "otherwise": null handling, conditionals, offsets.
_NULL_HANDLING = (exp.Coalesce, exp.Nvl2, exp.Nullif, exp.If, exp.Case, exp.Lag, exp.Lead)
_NEGATION_NODES = (
    exp.Not,
    exp.NEQ,
    exp.Except,
    exp.Is,
    exp.Join,
    exp.EQ,
    exp.LT,
    exp.Like,
    exp.In,
    exp.Star,
    exp.NotNullColumnConstraint,
    exp.When,
)


def _negation(p: Plan, nodes: list[exp.Expression]) -> None:
    for node in nodes:
        if isinstance(node, _NULL_HANDLING):
            p.negates = True  # "when email is set, otherwise ...", "or 0 if there is none"
        if isinstance(node, exp.Or):
            p.has_or = True
        elif isinstance(node, exp.Limit) and isinstance(node.expression, exp.Literal):
            p.limits.add(node.expression.this)
        if not isinstance(node, _NEGATION_NODES):
            continue
        if isinstance(node, exp.Not):
            inner = node.this
            p.negates = True
            if not (
                isinstance(inner, (exp.GT, exp.GTE, exp.LT, exp.LTE))
                or (isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null))
            ):
                p.needs_negation = True
        elif isinstance(node, exp.NEQ) and all(isinstance(x, exp.Column) for x in (node.this, node.expression)):
            p.negates = True  # a self-join's "T1.title != T2.title": "another", "more than one"
        elif isinstance(node, (exp.NEQ, exp.Except)):
            p.negates = True
            p.needs_negation = p.needs_negation or isinstance(node, exp.NEQ)
        elif isinstance(node, (exp.Like, exp.In)) and node.args.get("negate"):
            p.negates = p.needs_negation = True
        elif isinstance(node, exp.Is):
            p.negates = True  # "x IS NULL": "with no x"
        elif isinstance(node, exp.Star):
            p.negates = p.negates or bool(node.args.get("except_"))  # SELECT * EXCEPT (ssn): "all but ssn"
        elif isinstance(node, (exp.NotNullColumnConstraint, exp.When)):
            p.negates = p.negates or isinstance(node, exp.NotNullColumnConstraint) or node.args.get("matched") is False
        elif isinstance(node, exp.Join):
            if (node.args.get("side") or "").lower() in ("left", "right", "full") or (
                node.args.get("kind") or ""
            ).lower() == "anti":
                p.negates = True  # "including those without ..."
        elif (
            isinstance(node, (exp.EQ, exp.LT))
            and is_value(node.expression)
            and literal_text(node.expression).lower() in (_NEGATIVE_VALUES if isinstance(node, exp.EQ) else {"0", "1"})
        ):
            p.negates = True  # "= 0", "= 'N'", "< 1": "no ...", "not ..."


def _required_tables(f: StatementFacts, tree: exp.Expression, subjects: set[str]) -> list[str]:
    """Tables a text must name: those whose columns it returns (or, for ``*`` and ``count(*)``, the
    table it reads from) and a DML target. A table that only links others on their keys or only
    carries a condition ("players from Indonesia" through ``country``) is said by that condition."""
    for sel in _top_selects(tree):
        frm = sel.args.get("from_") or sel.args.get("from")
        if frm is not None and isinstance(frm.this, exp.Table):
            subjects.add(frm.this.name.lower())
    if f.target:
        subjects.add(f.target.lower())
    if len(f.tables) <= 1:
        subjects.update(t.lower() for t in f.tables)
        return list(f.tables)
    scopes = f.scopes
    needed: set[str] = set()
    for sel in _top_selects(tree):
        has_column = False
        for e in sel.expressions:
            for col in e.find_all(exp.Column):
                if col.find_ancestor(exp.Select) is not sel or isinstance(col.this, exp.Star):
                    continue
                has_column = True
                t = scopes.table_of(col) if scopes is not None else None
                if t:
                    needed.add(t.lower())
        if not has_column or any(
            isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
            for e in sel.expressions
        ):
            frm = sel.args.get("from_") or sel.args.get("from")
            if frm is not None and isinstance(frm.this, exp.Table):
                needed.add(frm.this.name.lower())
    if f.target:
        needed.add(f.target.lower())
    return [t for t in f.tables if t.lower() in needed]


def _top_selects(tree: exp.Expression) -> list[exp.Select]:
    """The SELECTs whose rows come out: the statement's, or each branch of a set operation."""
    out: list[exp.Select] = []
    stack = [tree.expression if isinstance(tree, (exp.Insert, exp.Create)) else tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            stack += [node.this, node.expression]
        elif isinstance(node, exp.Subquery):
            stack.append(node.this)
        elif isinstance(node, exp.Select):
            out.append(node)
    return out


def _group_keys(
    f: StatementFacts, tree: exp.Expression, nodes: list[exp.Expression]
) -> list[tuple[str, str | None, tuple[str, ...]]]:
    main = _top_selects(tree)
    group = main[0].args.get("group") if main else None
    if group is None:
        return [(k, None, ()) for k in f.group_by if k]
    scopes = f.scopes
    table_of = (lambda c: scopes.table_of(c)) if scopes is not None else (lambda c: None)
    out = []
    for e in group.expressions:
        e = selected_at(e, main[0])  # GROUP BY 1: the key is the first selected expression, not "1"
        col = e if isinstance(e, exp.Column) else e.find(exp.Column)
        name = col.name if col is not None else e.sql()
        own = table_of(col) if col is not None else None
        tables = [own] if own else []
        if col is not None:
            # GROUP BY T1.mid over "rating JOIN movie ON T1.mid = T2.mid": it identifies movies too
            for eq in (n for n in nodes if type(n) is exp.EQ):
                a, b = eq.this, eq.expression
                if isinstance(a, exp.Column) and isinstance(b, exp.Column):
                    for x, y in ((a, b), (b, a)):
                        if x.name.lower() == name.lower() and table_of(x) == own and table_of(y):
                            tables.append(table_of(y))
        out.append((name, own, tuple(dict.fromkeys(t for t in tables if t))))
    return out
