"""Predicates: from the tree to a small language-neutral form, and from that form to words.

A WHERE/HAVING/ON condition becomes a :class:`Test` (one predicate: a template key and its
already-worded operands), a :class:`Junction` (AND/OR of parts) or a :class:`Negation`. Wording
happens last, in one of two forms: a *clause* ("age is greater than 18") or a *filter* on rows
("users with age greater than 18"). Keeping the structure until then is what lets the text show
grouping unambiguously: ``a OR b AND c`` is "a, or both b and c"; ``NOT (a OR b)`` is
"neither a nor b".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlglot import exp

from ..facts import and_terms, is_value, pattern_of, unparen
from ..words import humanize, is_key_name, key_role, singular
from .dispatch import method_for

if TYPE_CHECKING:
    from .base import Describer

#: IN lists longer than this are summarised ("one of 200,000 values such as ...").
MAX_LISTED_VALUES = 8
#: Tests that read as a relative clause on rows ("students that appear in ...") rather than "with ...".
_THAT_TESTS = frozenset({"appear", "has"})
#: Tests that only read as whole clauses ("where there is ...").
_WHERE_TESTS = frozenset({"exists", "true", "compare_null", "raw"})
COMPARISON_KEYS = {
    exp.EQ: "eq",
    exp.NEQ: "neq",
    exp.GT: "gt",
    exp.GTE: "gte",
    exp.LT: "lt",
    exp.LTE: "lte",
    exp.NullSafeEQ: "same",
    exp.NullSafeNEQ: "differs",
}
_FLIPPED = {"gt": "lt", "lt": "gt", "gte": "lte", "lte": "gte"}


@dataclass(frozen=True)
class Test:
    """One predicate: ``key`` names its template, ``args`` are its worded operands."""

    key: str
    args: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class Junction:
    """``kind`` ("and"/"or") over two or more parts."""

    kind: str
    parts: tuple["Cond", ...]


@dataclass(frozen=True)
class Negation:
    """NOT over a junction (a NOT over one predicate is folded into the :class:`Test`)."""

    inner: "Cond"


Cond = Test | Junction | Negation


class ConditionsMixin:
    """The predicate methods of the walk (``<node>_cond``) and the wording of conditions."""

    # -- wording ---------------------------------------------------------------------------------

    def clause_words(self: "Describer", cond: Cond) -> str:
        """``cond`` as a clause: "age is greater than 18 and city is "Paris""."""
        return self.condition_words(cond, filter_form=False, depth=0)

    def filter_words(self: "Describer", cond: Cond) -> tuple[str, str]:
        """``(lead, words)`` for ``cond`` as a filter on rows: ``("with", "age greater than 18")``;
        a condition that reads only as a clause comes back as ``("where", clause)``."""
        lead = self.filter_lead(cond)
        return lead, self.condition_words(cond, filter_form=lead != "where", depth=0)

    def filter_lead(self: "Describer", cond: Cond) -> str:
        """How a filter on rows introduces ``cond``: "with" (a column test), "that" (a relation to
        other rows) or "where" (anything that only reads as a clause, and any mix)."""
        if isinstance(cond, Test):
            if cond.key.removeprefix("not_") in _THAT_TESTS:
                return "that"
            key = ("not_" if cond.negated else "") + cond.key
            if cond.key in _WHERE_TESTS or key not in self.FILTERS or self.reads_as_clause(cond):
                return "where"
            return "with"
        if isinstance(cond, Negation):
            return "where"
        leads = {self.filter_lead(p) for p in cond.parts}
        return leads.pop() if len(leads) == 1 else "where"

    def reads_as_clause(self: "Describer", test: Test) -> bool:
        """Whether a test must be said as a whole clause even among filters (a language's call)."""
        return False

    def condition_words(self: "Describer", cond: Cond, filter_form: bool, depth: int) -> str:
        if isinstance(cond, Test):
            return self.test_words(cond, filter_form)
        if isinstance(cond, Negation):
            inner = cond.inner
            parts = (
                [self.condition_words(p, False, depth + 1) for p in inner.parts]
                if isinstance(inner, Junction)
                else [self.condition_words(inner, False, depth + 1)]
            )
            key = "neither" if isinstance(inner, Junction) and inner.kind == "or" else "not_all"
            return self.junction_phrase(key, parts)
        parts = [self.condition_words(p, filter_form, depth + 1) for p in cond.parts]
        if depth == 0:
            # With a grouped part inside, serial commas keep "either a or b, and c" from reading as "either a or (b and c)".
            nested = any(not isinstance(p, Test) for p in cond.parts)
            return self.junction_phrase(cond.kind + "_nested" if nested else cond.kind, parts)
        if depth == 1:  # inside another AND/OR: say the grouping ("either ... or ...", "both ... and ...")
            return self.junction_phrase("either" if cond.kind == "or" else "both", parts)
        return self.PHRASES["paren"].format(self.junction_phrase(cond.kind, parts))

    def test_words(self: "Describer", test: Test, filter_form: bool) -> str:
        key = ("not_" if test.negated else "") + test.key
        template = (self.FILTERS.get(key) if filter_form else None) or self.CLAUSES.get(key)
        if template is None:  # no negated wording of its own: negate the whole clause
            return self.PHRASES["not"].format(self.test_words(replace(test, negated=False), False))
        return template.format(*test.args)

    def junction_phrase(self: "Describer", key: str, parts: list[str]) -> str:
        """Parts joined as "a and b", "a or b", "either a or b", "both a and b", "neither a nor b",
        "not both a and b" (a language's ``PHRASES[key]`` gives the separator and frame)."""
        sep = self.PHRASES[f"{key}_sep"]
        last = self.PHRASES.get(f"{key}_last", sep)
        body = sep.join(parts[:-1]) + last + parts[-1] if len(parts) > 1 else parts[0]
        return self.PHRASES.get(f"{key}_frame", "{0}").format(body)

    # -- dispatch ----------------------------------------------------------------------------------

    def cond(self: "Describer", node: exp.Expression) -> Cond:
        """The predicate ``node`` says (anything that is not a predicate: "<it> is true")."""
        name = method_for(type(self), type(node), "cond")
        if name is None:
            if isinstance(node, exp.Predicate):  # a boolean operator worded as a clause ("tags contain "vip"")
                return Test("raw", (self.text(node),))
            return Test("true", (self.text(node),))
        return getattr(self, name)(node)

    def paren_cond(self: "Describer", node: exp.Paren) -> Cond:
        return self.cond(node.this)

    def and_cond(self: "Describer", node: exp.Connector) -> Cond:
        # Long AND/OR chains nest to the left; flatten them without deep recursion.
        kind = type(node)
        terms, stack = [], [node]
        while stack:
            n = stack.pop()
            if type(n) is kind:
                stack.append(n.right)
                stack.append(n.left)
            elif isinstance(n, exp.Paren) and type(unparen(n)) is kind:
                stack.append(unparen(n))
            else:
                terms.append(n)
        if kind is exp.Or:
            same = self.one_column_equalities(terms)
            if same is not None:
                return same
        return Junction("or" if kind is exp.Or else "and", tuple(self.cond(t) for t in terms))

    or_cond = xor_cond = and_cond

    def one_column_equalities(self: "Describer", terms: list[exp.Expression]) -> Test | None:
        """``a = 1 OR a = 2`` reads as "a is 1 or 2"."""
        terms = [unparen(t) for t in terms]
        if len(terms) < 2 or not all(isinstance(t, exp.EQ) and is_value(t.expression) for t in terms):
            return None
        if len({self.key_of(t.this) for t in terms}) != 1:
            return None
        values = [self.operand(t.expression) for t in terms]
        return Test("in", (self.text(terms[0].this), self.join_list(values, self.PHRASES["or_last"])))

    def not_cond(self: "Describer", node: exp.Not) -> Cond:
        inner = self.cond(node.this)
        if isinstance(inner, Test):
            return replace(inner, negated=not inner.negated)
        if isinstance(inner, Negation):
            return inner.inner
        return Negation(inner)

    # -- comparisons ---------------------------------------------------------------------------------

    def eq_cond(self: "Describer", node: exp.Binary) -> Cond:
        key = COMPARISON_KEYS[type(node)]
        left, right = node.this, node.expression
        if is_value(left) and not is_value(right):
            left, right = right, left
            key = _FLIPPED.get(key, key)
        if isinstance(right, exp.Null) and key in ("eq", "neq", "gt", "gte", "lt", "lte"):
            # `x = NULL` is never true in SQL (IS NULL was probably meant): say what it does.
            self.warnings.append("a comparison with NULL is never true; IS NULL tests for a missing value")
            return Test("compare_null", (self.text(left),))
        if isinstance(unparen(left), exp.Count) and is_value(right) and key in ("eq", "neq", "gt", "gte", "lt", "lte"):
            # HAVING COUNT(*) > 2: "more than 2 airports"; COUNT(DISTINCT city) >= 3: "at least 3 different cities"
            noun, distinct = self.count_noun(unparen(left))
            return Test(
                "count_" + key, (self.operand(right), self.PHRASES["different"].format(noun) if distinct else noun)
            )
        if (
            isinstance(right, exp.Any)
            and key in ("eq", "neq")
            and isinstance(unparen(right.this), (exp.Array, exp.Tuple))
        ):
            values = [self.operand(v) for v in unparen(right.this).expressions]
            return Test("in", (self.text(left), self.join_list(values, self.PHRASES["or_last"])), key == "neq")
        outer = self.outer_equality(node, left, right) if key == "eq" else None
        if outer is not None:
            return outer
        if key == "eq" and not is_value(right) and not isinstance(right, (exp.Any, exp.All)):
            key = "eq_column"
        return Test(key, (self.text(left), self.compared_value(left, right)))

    def compared_value(self: "Describer", left: exp.Expression, right: exp.Expression) -> str:
        """The value ``left`` is compared with (a language may add a unit: 年龄大于18岁)."""
        return self.operand(right)

    neq_cond = gt_cond = gte_cond = lt_cond = lte_cond = nullsafeeq_cond = nullsafeneq_cond = eq_cond

    def outer_equality(
        self: "Describer", node: exp.Expression, left: exp.Expression, right: exp.Expression
    ) -> Test | None:
        """A correlated subquery's tie to the outer row: ``p2.category = p.category`` is "the same
        category"; ``o.customer_id = c.id`` is "customer id equal to the customer's id"."""
        if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
            return None
        inner, outer = (
            (left, right)
            if self.scopes.is_outer(right)
            else (right, left)
            if self.scopes.is_outer(left)
            else (None, None)
        )
        if inner is None or outer is None or self.scopes.is_outer(inner):
            return None
        table_in, table_out = self.scopes.table_of(inner), self.scopes.table_of(outer)
        if table_in and table_in == table_out and inner.name.lower() == outer.name.lower():
            return Test("same_as_outer", (self.name(inner.name, table_in),))
        owner = self.singular_noun(table_out) if table_out else self.PHRASES["outer_row"]
        return Test("eq_outer", (self.text(inner), owner, self.name(outer.name, table_out)))

    def operand(self: "Describer", node: exp.Expression) -> str:
        """The right side of a comparison: a value, a column, or a subquery as a noun phrase."""
        if is_value(node):
            return self.value_words(node)
        return self.text(node)

    def in_cond(self: "Describer", node: exp.In) -> Cond:
        negated = bool(node.args.get("negate"))
        query = node.args.get("query")
        if query is not None:
            return replace(self.in_query_cond(node, query), negated=negated)
        items = node.expressions
        left = self.text(node.this)
        if len(items) == 1 and is_value(items[0]):
            return Test("eq", (left, self.operand(items[0])), negated)
        if len(items) > MAX_LISTED_VALUES:
            sample = self.join_list([self.operand(v) for v in items[:3]])
            listed = self.PHRASES["many_values"].format(n=f"{len(items):,}", sample=sample)
        else:
            listed = self.join_list([self.operand(v) for v in items], self.PHRASES["or_last"])
        return Test("in", (left, listed), negated)

    def in_query_cond(self: "Describer", node: exp.In, query: exp.Expression) -> Test:
        sub = unparen(query.this if isinstance(query, exp.Subquery) else query)
        col = node.this
        if (
            isinstance(col, exp.Column)
            and isinstance(sub, exp.Select)
            and len(sub.expressions) == 1
            and isinstance(sub.expressions[0], exp.Column)
            and self.scopes.source_of(col) == self.subject_source(self.scopes.enclosing(col))
        ):
            inner = sub.expressions[0]
            table, inner_table = self.scopes.table_of(col), self.scopes.table_of(inner)
            real = bool(
                inner_table
                and inner_table.lower() not in self.cte_names(sub)
                and not self.is_key_column(inner_table, inner.name)
            )  # a key pointing at the outer row, in a table
            if (
                real
                and table
                and self.is_key_column(table, col.name)
                and (inner.name.lower() == col.name.lower() or key_role(inner.name) == singular(humanize(table)))
            ):
                # "id NOT IN (SELECT enzyme_id FROM interactions)": enzymes that have no interactions.
                return Test("has", self.rows_forms(sub))
            if inner.name.lower() == col.name.lower():
                # "city NOT IN (SELECT city FROM offices)": the rows whose value (does not) appear there.
                rows = self.rows_words(sub)
                return Test("appear", (rows, rows))
        return Test("in_query", (self.text(col), self.noun_phrase(query)))

    def between_cond(self: "Describer", node: exp.Between) -> Cond:
        key = "between_symmetric" if node.args.get("symmetric") else "between"
        return Test(
            key,
            (self.text(node.this), self.operand(node.args["low"]), self.compared_value(node.this, node.args["high"])),
            bool(node.args.get("negate")),
        )

    def is_cond(self: "Describer", node: exp.Is) -> Cond:
        right = node.expression
        if isinstance(right, exp.Null):
            return Test("is_null", (self.text(node.this),))
        if isinstance(right, exp.Boolean):
            return Test("is_true" if right.this else "is_false", (self.text(node.this),))
        return Test("same", (self.text(node.this), self.operand(right)))

    def boolean_cond(self: "Describer", node: exp.Boolean) -> Cond:
        return Test("always" if node.this else "never", ())

    # -- patterns --------------------------------------------------------------------------------------

    def like_cond(self: "Describer", node: exp.Expression) -> Cond:
        whole = node
        if isinstance(node, exp.Escape):
            node = node.this
        negated = bool(node.args.get("negate"))
        left = self.text(node.this)
        any_case = isinstance(node, exp.ILike)
        pat = node.expression
        if isinstance(pat, (exp.Any, exp.All)):
            key = "like_any" if isinstance(pat, exp.Any) else "like_all"
            return Test(key, (left, self.text(pat.this)), negated)
        decoded = pattern_of(whole, self.dialect)
        suffix = self.PHRASES["any_case"] if any_case else ""
        if decoded is None:
            return Test("glob" if isinstance(node, exp.Glob) else "like", (left, self.operand(pat) + suffix), negated)
        shape = decoded.shape
        string = self.PHRASES["string"]
        if shape in ("exact", "starts", "ends", "contains"):
            key = "eq" if shape == "exact" else shape
            return Test(key, (left, string.format(decoded.text) + suffix), negated)
        if shape == "starts_ends":
            first, last = decoded.texts
            return Test("starts_ends", (left, string.format(first), string.format(last) + suffix), negated)
        if shape == "anything":
            return Test("not_null" if not negated else "is_null", (left,))
        note = self.PHRASES["wildcards_" + "".join(sorted(decoded.wildcards))]
        key = "glob" if isinstance(node, exp.Glob) else "like"
        return Test(key, (left, string.format(decoded.raw) + suffix + note), negated)

    ilike_cond = escape_cond = glob_cond = like_cond

    def regexplike_cond(self: "Describer", node: exp.Expression) -> Cond:
        return Test("regex", (self.text(node.this), self.operand(node.expression)), bool(node.args.get("negate")))

    similarto_cond = regexplike_cond

    # -- subqueries ------------------------------------------------------------------------------------

    def exists_cond(self: "Describer", node: exp.Exists) -> Cond:
        sel = unparen(node.this)
        while isinstance(sel, exp.Subquery):
            sel = unparen(sel.this)
        if isinstance(sel, exp.Select):
            related = self.correlated_rows(sel)
            if related is not None:
                # EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND ...): customers that have such an order.
                return Test("has", related)
            return Test("exists", self.rows_forms(sel))
        phrase = self.noun_phrase(node.this)
        return Test("exists", (phrase, phrase))

    def correlated_rows(self: "Describer", sel: exp.Select) -> tuple[str, str] | None:
        """``("an order with total over 100", "order with total over 100")`` for a subquery tied to
        the outer row by a key (``o.customer_id = c.id``), or None when it is not tied that way."""
        where = sel.args.get("where")
        frm = sel.args.get("from_") or sel.args.get("from")
        if where is None or frm is None or sel.args.get("joins") or not isinstance(frm.this, exp.Table):
            return None
        inner = (frm.this.alias_or_name or "").lower()
        ties, rest = [], []
        for term in self.and_terms(where.this):
            if isinstance(term, exp.EQ) and all(isinstance(c, exp.Column) for c in (term.this, term.expression)):
                sides = [self.scopes.source_of(c) for c in (term.this, term.expression)]
                if sides.count(inner) == 1 and None not in sides:
                    outer_col = term.expression if sides[0] == inner else term.this
                    inner_col = term.this if sides[0] == inner else term.expression
                    if is_key_name(frm.this.name, inner_col.name) or is_key_name(
                        self.scopes.table_of(outer_col) or "", outer_col.name
                    ):
                        ties.append(term)
                        continue
            rest.append(term)
        if not ties:
            return None
        return self.rows_forms(sel, skip=set(map(id, ties)))

    def and_terms(self: "Describer", cond: exp.Expression) -> list[exp.Expression]:
        """The terms of an AND chain, in order."""
        return and_terms(cond)
