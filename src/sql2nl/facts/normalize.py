"""The statement as the describers read it — made without ever changing the caller's tree.

Spider's SQL (and SQLite, which accepts it) writes strings in double quotes:
``gender = "Male"``. Standard SQL, PostgreSQL, Snowflake, Oracle and DuckDB read ``"Male"`` as a
column. The two readings are told apart by position and by what else the query names:

* only without a dialect or with ``dialect="sqlite"`` (SQLite's own rule: a double-quoted name
  that matches no column is a string); never for a dialect in which ``"x"`` is an identifier;
* only in a value position: the right side of a comparison or LIKE, an IN list, BETWEEN bounds;
* never when both sides are quoted names (``"updatedAt" = "createdAt"`` compares two columns);
* never for a name the query (or the schema) uses as a column, alias or table.

When a name qualifies, a copy of the tree is made with a string literal in its place; the caller's
tree is never touched.
"""

from __future__ import annotations

from typing import Iterable

from sqlglot import exp

#: Dialects in which a double-quoted name in a value position may be a string.
SPIDER_VALUE_DIALECTS = frozenset({None, "", "sqlite"})
_COMPARES = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Like,
             exp.ILike)


def is_quoted_name(node: exp.Expression | None) -> bool:
    """An unqualified column written in quotes (``"Male"``)."""
    return (isinstance(node, exp.Column) and not node.args.get("table") and isinstance(node.this, exp.Identifier)
            and bool(node.this.args.get("quoted")))


def in_value_position(col: exp.Column) -> bool:
    """Whether ``col`` stands where a value would (right of a comparison, in an IN list, a BETWEEN bound)."""
    parent = col.parent
    if isinstance(parent, _COMPARES):
        return parent.args.get("expression") is col and not is_quoted_name(parent.this)
    if isinstance(parent, exp.In):
        return parent.args.get("this") is not col
    if isinstance(parent, exp.Between):
        return parent.args.get("this") is not col
    return False


def value_names(candidates: Iterable[exp.Column], known: set[str]) -> list[exp.Column]:
    """The quoted names among ``candidates`` that are values: in a value position and not a known name
    (``known`` plus the candidates that stand where a column does, e.g. ``SELECT "createdAt"``)."""
    placed = [(c, in_value_position(c)) for c in candidates]
    known = known | {c.name.lower() for c, value in placed if not value}
    return [c for c, value in placed if value and c.name.lower() not in known]


def with_string_values(tree: exp.Expression, names: list[exp.Column]) -> exp.Expression:
    """A copy of ``tree`` in which each of ``names`` (nodes of ``tree``) is a string literal."""
    wanted = {id(n) for n in names}
    copy = tree.copy()
    # The copy has the same shape, so walking both in step pairs each node with its copy.
    targets = [b for a, b in zip(tree.walk(), copy.walk()) if id(a) in wanted]
    for node in targets:
        node.replace(exp.Literal.string(node.name))
    return copy
