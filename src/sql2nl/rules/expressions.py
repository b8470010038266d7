"""Values and expressions: one ``<node>_text`` method per expression type.

Function calls (and casts, intervals and function-like operators) are worded by one method,
:meth:`ExpressionsMixin.func_text`, which asks :mod:`sql2nl.rules.functions`: the one table of
function phrases, per language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from ..facts import AGGREGATES, is_count_star, is_parameter_node, is_value, unparen
from ..facts import literal_text as literal_value
from ..words import humanize, is_key_name, key_role, singular
from .functions import phrase as function_phrase
from .functions import type_words

if TYPE_CHECKING:
    from .base import Describer

ARITHMETIC_KEYS = {exp.Add: "add", exp.Sub: "sub", exp.Mul: "mul", exp.Div: "div", exp.Mod: "mod", exp.IntDiv: "intdiv"}
# Operators whose chains read left to right without help: "a minus b plus c" is (a - b) + c.
_FAMILY = {exp.Add: "additive", exp.Sub: "additive", exp.Mul: "multiplicative"}
# Window functions that look at positions (rank, previous row), not at a running set of rows.
_POSITIONAL = tuple(
    getattr(exp, n)
    for n in (
        "RowNumber",
        "Rank",
        "DenseRank",
        "NTile",
        "PercentRank",
        "CumeDist",
        "Lag",
        "Lead",
        "FirstValue",
        "LastValue",
        "NthValue",
    )
    if hasattr(exp, n)
)
_FRAME_BOUNDS = {
    ("UNBOUNDED", "PRECEDING"): "first",
    ("CURRENT ROW", None): "current",
    ("UNBOUNDED", "FOLLOWING"): "last",
}


class ExpressionsMixin:
    """Columns, values, arithmetic, CASE, casts, windows and function calls."""

    # -- columns and names -------------------------------------------------------------------------

    def column_text(self: "Describer", col: exp.Column) -> str:
        """A column's words, with its table's (or role's) name when it is not the rows being talked about."""
        if isinstance(col.this, exp.Star):
            return self.star_text(col.this, col)
        upsert = self.upsert_column_words(col)
        if upsert is not None:
            return upsert
        table, scope, source = self.scopes.locate(col)
        words = self.name(col.name, table)
        sel = self.scopes.enclosing(col)
        here = self._viewpoints.get(id(col)) or (self.subject_source(sel) if sel is not None else None)
        if source is None or here is None or source == here:
            return self.own_column_words(words, table) if source is not None and source == here else words
        if isinstance(sel, exp.Select):
            src = self.graph(sel).sources.get(source)
            if src is not None and (src.table is None or src.table.lower() in self.cte_names(sel)):
                return words  # a derived table's or CTE's column is its own name ("spent", not "spend spent")
        role = self.roles(sel).get(source) if isinstance(sel, exp.Select) else None
        if role:
            owner = role
        elif table and table.lower() != (self.subject_table(sel) or "").lower():
            owner = singular(self.table_name(table))
        elif table:  # another copy of the same table, with no role to tell it apart: its alias does
            return self.PHRASES["labelled"].format(
                table=singular(self.table_name(table)), alias=col.table, column=words
            )
        else:
            owner = self.source_words(sel, source)
        if not owner or owner.lower() in words.lower():
            return words
        head, _, last = owner.rpartition(" ")
        if head and words.split()[0] == last:  # "apartment booking" + "booking start date"
            return self.PHRASES["qualified"].format(table=head, column=words)
        return self.PHRASES["qualified"].format(table=owner, column=words)

    def own_column_words(self: "Describer", words: str, table: str | None) -> str:
        """A column said on its own table's rows, without the table's name in front: the customers'
        ``customer_name`` is their "name" (languages without this habit keep the words)."""
        return words

    def is_key_column(self: "Describer", table: str | None, column: str) -> bool:
        if not table:
            return False
        known = self.schema.is_key(table, column) if self.schema is not None else None
        return known if known is not None else is_key_name(table, column)

    def identifier_text(self: "Describer", node: exp.Identifier) -> str:
        return self.name(node.name)

    def var_text(self: "Describer", node: exp.Var) -> str:
        return node.name.lower()

    def table_text(self: "Describer", node: exp.Table) -> str:
        return self.noun(node.name)

    def star_text(self: "Describer", node: exp.Star, col: exp.Column | None = None) -> str:
        """``*`` ("all details"); what EXCEPT/REPLACE/RENAME change is said by :meth:`star_changes`."""
        table = self.scopes.table_of(col) if col is not None else None
        return self.PHRASES["star_of"].format(self.noun(table, many=False)) if table else self.PHRASES["star"]

    def star_changes(self: "Describer", node: exp.Expression) -> list[str]:
        """``* EXCEPT (ssn)`` → "leaving out ssn"; ``* REPLACE (UPPER(name) AS name)`` → "with name
        replaced by name in upper case"; ``* RENAME (a AS b)`` → "with a renamed to b"."""
        star = node.this if isinstance(node, exp.Column) else node
        if not isinstance(star, exp.Star):
            return []
        out = []
        left_out = star.args.get("except_") or star.args.get("except")
        if left_out:
            out.append(self.PHRASES["star_except"].format(self.join_list([self.text(c) for c in left_out])))
        for key in ("replace", "rename"):
            items = star.args.get(key)
            if items:
                changes = [
                    self.PHRASES[f"star_{key}_item"].format(self.name(a.alias), self.text(a.this))
                    for a in items
                    if isinstance(a, exp.Alias)
                ]
                out.append(self.PHRASES[f"star_{key}"].format(self.join_list(changes)))
        return out

    # -- values ------------------------------------------------------------------------------------

    def value_words(self: "Describer", node: exp.Expression) -> str:
        """A value as written: strings quoted, bound parameters as "a given value"."""
        text = literal_value(node)
        if isinstance(node, exp.Literal) and node.is_string:
            return self.PHRASES["string"].format(text)
        if is_parameter_node(node):
            # A bound parameter (`?`, `:name`, `$1`, `@name`): its value is not in the SQL, so say so.
            name = node.name if node.name and node.name != "?" and not node.name.isdigit() else ""
            return self.PHRASES["param_named"].format(humanize(name)) if name else self.PHRASES["param"]
        if isinstance(node, exp.Null):
            return self.PHRASES["null"]
        return text

    literal_text = boolean_text = placeholder_text = parameter_text = null_text = value_words

    def neg_text(self: "Describer", node: exp.Neg) -> str:
        if isinstance(node.this, exp.Literal):
            return "-" + node.this.this
        return self.PHRASES["negative"].format(self.text(node.this))

    def paren_text(self: "Describer", node: exp.Paren) -> str:
        return self.text(node.this)

    def alias_text(self: "Describer", node: exp.Alias) -> str:
        return self.text(node.this)

    def ordered_text(self: "Describer", node: exp.Ordered) -> str:
        return self.text(node.this) + (self.PHRASES["desc_suffix"] if node.args.get("desc") else "")

    def tuple_text(self: "Describer", node: exp.Tuple) -> str:
        return self.PHRASES["tuple"].format(self.PHRASES["tuple_sep"].join(self.operand(e) for e in node.expressions))

    def datatype_text(self: "Describer", node: exp.DataType) -> str:
        """A type in words ("a whole number", "text"), from the function-phrase tables."""
        return type_words(node, self.language)

    def distinct_text(self: "Describer", node: exp.Distinct) -> str:
        return self.PHRASES["distinct"].format(self.join_list([self.text(e) for e in node.expressions]))

    # -- aggregates --------------------------------------------------------------------------------

    def count_text(self: "Describer", node: exp.Count) -> str:
        noun, distinct = self.count_noun(node)
        if is_count_star(node):
            return self.PHRASES["count_star"].format(noun)
        return self.PHRASES["count_distinct" if distinct else "count"].format(noun)

    def count_noun(self: "Describer", node: exp.Count) -> tuple[str, bool]:
        """What a COUNT counts, as a plural noun, and whether only different values count:
        ``COUNT(*)`` the rows of the join's grain, ``COUNT(o.id)`` orders, ``COUNT(t.track_id)``
        tracks (a key of another table), ``COUNT(email)`` emails."""
        arg = node.this
        distinct = isinstance(arg, exp.Distinct)
        if distinct:
            arg = arg.expressions[0] if arg.expressions else None
        if is_count_star(node) or arg is None:
            return self.counted_noun(node), False
        sel = self.scopes.enclosing(node)
        joined = isinstance(sel, exp.Select) and len(self.graph(sel).sources) > 1
        if isinstance(arg, exp.Column) and not isinstance(arg.this, exp.Star) and (joined or not distinct):
            # COUNT(DISTINCT c.id) over a join counts customers; on one table DISTINCT says the column
            # is not its key after all (or nobody would have asked), so the column is said.
            table = self.scopes.table_of(arg)
            if table and self.is_key_column(table, arg.name):
                return self.noun(table), distinct
            pointed = key_role(arg.name) if humanize(arg.name) != key_role(arg.name) else ""
            if len(pointed) > 2 and self.schema is None:
                return self.many(self.identifier_words(pointed)), distinct
        return self.many(self.text(arg)), distinct

    def sum_text(self: "Describer", node: exp.Expression) -> str:
        func = AGGREGATES[type(node)]
        arg = node.this
        distinct = isinstance(arg, exp.Distinct)
        if distinct:
            arg = arg.expressions[0] if arg.expressions else None
        what = self.text(arg)
        template = self.PHRASES[func + ("_distinct" if distinct else "")]
        if not distinct and self.PHRASES.get(func + "_of") and not isinstance(unparen(arg), exp.Column):
            template = self.PHRASES[func + "_of"]  # "the total of price times quantity", not "the total price times..."
        elif self.says_aggregate(func, what):
            template = self.PHRASES[func + "_again"]  # SUM(total): "the sum of total", not "the total total"
        return template.format(what)

    #: Words that, starting a column's name, already say an aggregate ("total amount", "max speed").
    AGGREGATE_WORDS: dict[str, frozenset[str]] = {}

    def says_aggregate(self: "Describer", func: str, words: str) -> bool:
        """Whether a column's own words already start with the aggregate's word ("the total total")."""
        first = words.split()[:1]
        return bool(first) and first[0] in self.AGGREGATE_WORDS.get(func, ())

    avg_text = min_text = max_text = sum_text

    # -- arithmetic ----------------------------------------------------------------------------------

    def add_text(self: "Describer", node: exp.Binary) -> str:
        special = self.ratio_words(node)
        if special:
            return special
        if isinstance(node, exp.Mul):  # x * 1.0 only makes the division after it a decimal one
            for one, other in ((node.left, node.right), (node.right, node.left)):
                if is_value(one) and literal_value(one) in ("1.0", "1.00"):
                    return self.operand(other)
        key = ARITHMETIC_KEYS[type(node)]
        return self.PHRASES[key].format(
            self.arith_operand(node, node.left, left=True), self.arith_operand(node, node.right, left=False)
        )

    sub_text = mul_text = div_text = mod_text = intdiv_text = add_text

    def arith_operand(self: "Describer", parent: exp.Binary, child: exp.Expression, left: bool) -> str:
        """An operand of ``parent``; a nested calculation is named as a whole ("the difference of b
        and c") unless it reads correctly left to right (the left side of ``a - b - c``)."""
        inner = unparen(child)
        if isinstance(inner, exp.Mul) and any(
            is_value(x) and literal_value(x) in ("1.0", "1.00") for x in (inner.left, inner.right)
        ):
            return self.text(inner)
        if type(inner) in ARITHMETIC_KEYS:
            family = _FAMILY.get(type(inner))
            if not (left and family is not None and family == _FAMILY.get(type(parent))):
                return self.PHRASES[ARITHMETIC_KEYS[type(inner)] + "_whole"].format(
                    self.arith_operand(inner, inner.left, True), self.arith_operand(inner, inner.right, False)
                )
        return self.operand(child)

    def ratio_words(self: "Describer", node: exp.Binary) -> str | None:
        """Ratios people name: ``(price - cost) / price`` ("the share of price left after cost"),
        ``x * 100 / y`` ("x as a percentage of y")."""
        if not isinstance(node, exp.Div):
            return None
        top, bottom = unparen(node.left), unparen(node.right)
        if isinstance(top, exp.Sub) and unparen(top.left) == bottom and "share_left" in self.PHRASES:
            return self.PHRASES["share_left"].format(self.operand(bottom), self.operand(top.right))
        if isinstance(top, exp.Mul) and "percentage" in self.PHRASES:
            factor, value = unparen(top.right), unparen(top.left)
            if not (is_value(factor) and literal_value(factor) in ("100", "100.0")):
                factor, value = value, factor
            if is_value(factor) and literal_value(factor) in ("100", "100.0"):
                return self.PHRASES["percentage"].format(self.operand(value), self.operand(bottom))
        return None

    def dpipe_text(self: "Describer", node: exp.DPipe) -> str:
        """``first || ' ' || last``: the pieces joined into one text."""
        parts, stack = [], [node]
        while stack:
            n = unparen(stack.pop())
            if isinstance(n, exp.DPipe):
                stack.extend((n.right, n.left))
            else:
                parts.append(self.operand(n))
        return self.PHRASES["concat"].format(self.join_list(parts))

    def binary_text(self: "Describer", node: exp.Binary) -> str:
        self.warnings.append(f"no wording for the {type(node).__name__} operator; quoted as SQL")
        return self.PHRASES["sql"].format(node.sql(dialect=self.dialect))

    # -- conditional values ------------------------------------------------------------------------

    def case_text(self: "Describer", node: exp.Case) -> str:
        subject = node.this
        parts = []
        for when in node.args.get("ifs") or ():
            if subject is not None:
                cond_words = self.CLAUSES["eq"].format(self.text(subject), self.operand(when.this))
            else:
                cond_words = self.clause_words(self.cond(when.this))
            parts.append(self.PHRASES["case_when"].format(then=self.case_value(when.args.get("true")), cond=cond_words))
        default = node.args.get("default")
        text = self.PHRASES["case_sep"].join(parts)
        if default is not None:
            text += self.PHRASES["case_else"].format(self.case_value(default))
        elif parts:
            text += self.PHRASES["case_else"].format(self.PHRASES["null"])
        return self.PHRASES["case"].format(text)

    def case_value(self: "Describer", node: exp.Expression | None) -> str:
        if isinstance(unparen(node), (exp.Case, exp.If)):  # a CASE inside a CASE: keep it together
            return self.PHRASES["paren"].format(self.text(node))
        return self.operand(node) if node is not None else self.PHRASES["null"]

    def if_text(self: "Describer", node: exp.If) -> str:
        text = self.PHRASES["case_when"].format(
            then=self.case_value(node.args.get("true")), cond=self.clause_words(self.cond(node.this))
        )
        false = node.args.get("false")
        text += self.PHRASES["case_else"].format(self.case_value(false) if false is not None else self.PHRASES["null"])
        return self.PHRASES["case"].format(text)

    # -- windows -------------------------------------------------------------------------------------

    def window_text(self: "Describer", node: exp.Window) -> str:
        func = self.text(node.this)
        parts = []
        part = node.args.get("partition_by")
        if part:
            parts.append(self.PHRASES["window_partition"].format(self.join_list([self.text(p) for p in part])))
        order = node.args.get("order")
        if order is not None:
            parts.append(self.order_words([self.order_key(o) for o in order.expressions]))
        spec = node.args.get("spec")
        if spec is not None:
            parts.append(self.frame_words(spec))
        elif (
            order is not None
            and isinstance(unparen(node.this), exp.AggFunc)
            and not isinstance(unparen(node.this), _POSITIONAL)
        ):
            # An aggregate with ORDER BY and no frame runs from the first row to the current one.
            func = self.PHRASES["running"].format(func.removeprefix(self.PHRASES["the"].format("")))
        over = self.PHRASES["window_sep"].join(parts) if parts else self.PHRASES["window_all"]
        key = "window_bare" if self.bare_windows else "window"
        return self.PHRASES[key].format(func=func, over=over)

    def frame_words(self: "Describer", spec: exp.WindowSpec) -> str:
        """``ROWS BETWEEN 2 PRECEDING AND CURRENT ROW`` as "over the rows from 2 before to the current one"."""
        kind = (spec.args.get("kind") or "ROWS").lower()
        bounds = []
        for which in ("start", "end"):
            value, side = spec.args.get(which), spec.args.get(f"{which}_side")
            value_text = value if isinstance(value, str) else self.text(value) if value is not None else "CURRENT ROW"
            named = _FRAME_BOUNDS.get((value_text.upper(), side.upper() if side else None))
            if named:
                bounds.append(self.PHRASES[f"frame_{named}"])
            else:
                bounds.append(self.PHRASES[f"frame_{(side or 'preceding').lower()}"].format(value_text.lower()))
        return self.PHRASES["frame"].format(
            kind=self.PHRASES.get(f"frame_{kind}", kind), start=bounds[0], end=bounds[1]
        )

    # -- functions -------------------------------------------------------------------------------------

    def func_text(self: "Describer", node: exp.Expression) -> str:
        """A function call, cast or operator like ``->>``: worded by :mod:`~sql2nl.rules.functions`
        (one phrase table for every language), or "the result of NAME(...)" with a warning."""
        if isinstance(node, exp.Anonymous):
            values = self.values_in_upsert(node)
            if values is not None:
                return values
        p = function_phrase(node, self.operand, self.language, dialect=self.dialect)
        if p is None:
            return self.expression_text(node)
        if p.warning:
            self.warnings.append(p.warning)
        return p.text

    def any_text(self: "Describer", node: exp.Expression) -> str:
        key = "any" if isinstance(node, exp.Any) else "all"
        inner = node.this
        if isinstance(unparen(inner), (exp.Array, exp.Tuple)):
            values = unparen(inner).expressions
            return self.PHRASES[key + "_values"].format(self.join_list([self.operand(v) for v in values]))
        return self.PHRASES[key].format(self.noun_phrase(inner))

    all_text = any_text

    def filter_text(self: "Describer", node: exp.Filter) -> str:
        cond = self.cond(node.expression.this if isinstance(node.expression, exp.Where) else node.expression)
        if is_count_star(
            unparen(node.this)
        ):  # COUNT(*) FILTER (WHERE salary > 100000): "the number of employees with ..."
            return self.PHRASES["count_filtered"].format(self.rows_with(self.counted_noun(node), cond))
        return self.PHRASES["filter"].format(self.text(node.this), self.clause_words(cond))

    def key_of(self: "Describer", node: exp.Expression) -> object:
        """What makes two expressions the same, cheaply: (table, name) for columns, else the tree."""
        if isinstance(node, exp.Column):
            return (self.scopes.table_of(node), node.name.lower())
        return node
