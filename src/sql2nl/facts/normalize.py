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
tree is never touched, unless the caller says it owns the tree (``statement_facts(..., owned=True)``:
describe() and extract() parse the text themselves), and then the copy is spared.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlglot import exp

from .nodes import structure

if TYPE_CHECKING:
    from ..schema import Schema

#: Dialects in which a double-quoted name in a value position may be a string.
SPIDER_VALUE_DIALECTS = frozenset({None, "", "sqlite"})
_COMPARES = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ, exp.Like, exp.ILike)


def is_quoted_name(node: exp.Expression | None) -> bool:
    """An unqualified column written in quotes (``"Male"``)."""
    return (
        isinstance(node, exp.Column)
        and not node.args.get("table")
        and isinstance(node.this, exp.Identifier)
        and bool(node.this.args.get("quoted"))
    )


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


def spider_values(tree: exp.Expression, schema: "Schema | None" = None) -> list[exp.Column]:
    """The double-quoted names in ``tree`` that are Spider-style strings (see the module docstring):
    one quick pass over the tree, before the facts are read."""
    quoted: list[exp.Column] = []
    known: set[str] = set()  # column names, aliases (lower case)
    for node in structure(tree):
        typ = type(node)
        if typ is exp.Column:
            if is_quoted_name(node):
                quoted.append(node)
            else:
                known.add(node.name.lower())
        elif typ is exp.TableAlias:
            known.add(node.name.lower())
        elif typ is exp.Alias:
            known.add(node.alias.lower())
    if not quoted:
        return []
    if schema is not None:
        known |= {c.name.lower() for t in schema.tables for c in t.columns}
    return value_names(quoted, known)


def with_string_values(tree: exp.Expression, names: list[exp.Column], *, in_place: bool = False) -> exp.Expression:
    """A copy of ``tree`` in which each of ``names`` (nodes of ``tree``) is a string literal; with
    ``in_place``, ``tree`` itself changed (only for a tree nobody else holds: one just parsed)."""
    if in_place:
        targets = list(names)
        copy = tree
    else:
        # The copy has the same shape: each node's path from the root finds its copy.
        paths = [_path(n, tree) for n in names]
        copy = tree.copy()
        targets = [_follow(copy, path) for path in paths]
    for node in targets:
        node.replace(exp.Literal.string(node.name))
    return copy


def _path(node: exp.Expression, root: exp.Expression) -> list[tuple[str, int | None]]:
    """The (argument, list position) steps from ``root`` down to ``node``."""
    steps = []
    while node is not root and node.parent is not None:
        steps.append((node.arg_key, node.index))
        node = node.parent
    return steps[::-1]


def _follow(node: exp.Expression, path: list[tuple[str, int | None]]) -> exp.Expression:
    for key, index in path:
        child = node.args[key]
        node = child if index is None else child[index]
    return node
