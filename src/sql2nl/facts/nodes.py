"""Small, pure helpers over sqlglot nodes, shared by the facts, the describers, the checker and
redaction: what a literal says, whether a node is a value, which column an expression reads."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

AGGREGATES = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
}
COMPARISONS = {
    exp.EQ: "=",
    exp.NEQ: "!=",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.Like: "like",
    exp.ILike: "ilike",
    exp.In: "in",
    exp.Between: "between",
    exp.Is: "is",
    exp.Exists: "exists",
    exp.NullSafeEQ: "=",
    exp.NullSafeNEQ: "!=",
}
KINDS = {
    exp.Select: "select",
    exp.Union: "select",
    exp.Intersect: "select",
    exp.Except: "select",
    exp.Insert: "insert",
    exp.Update: "update",
    exp.Delete: "delete",
    exp.Merge: "merge",
    exp.Create: "create",
    exp.Alter: "alter",
    exp.Drop: "drop",
    exp.TruncateTable: "truncate",
    exp.Values: "values",
}
SET_OPERATIONS = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}
#: Nodes that carry a value the user wrote (or a bound parameter standing for one).
VALUE_NODES = (exp.Literal, exp.Boolean, exp.Null, exp.Placeholder, exp.Parameter)


def literal_text(node: exp.Expression) -> str:
    """A literal's value as the user wrote it (strings without quotes; parameters as ``?``/``:name``/``@name``)."""
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
    if isinstance(node, exp.Parameter):  # $1 (PostgreSQL), @name (T-SQL, BigQuery)
        return f"@{node.name}"
    return node.sql()


def is_parameter(text: str) -> bool:
    """Whether a fact value is a bound parameter written by the user (``?``, ``:name``, ``@name``), not a constant."""
    return text == "?" or text.startswith((":", "@"))


def is_parameter_node(node: exp.Expression | None) -> bool:
    """Whether ``node`` is a bound parameter the user wrote (not a placeholder redaction put in)."""
    return isinstance(node, (exp.Placeholder, exp.Parameter)) and is_parameter(literal_text(node))


def is_value(node: exp.Expression | None) -> bool:
    """Whether ``node`` is a constant the user wrote (a literal, boolean, NULL, negative number, parameter)."""
    return isinstance(node, VALUE_NODES) or (isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal))


def column_name(node: exp.Expression | None) -> str | None:
    """The column a plain column reference (or an alias of one) reads."""
    if isinstance(node, exp.Column):
        return node.name if not isinstance(node.this, exp.Star) else None
    if isinstance(node, exp.Alias):
        return column_name(node.this)
    return None


def first_column(node: exp.Expression | None) -> exp.Column | None:
    """The first column under ``node`` (itself if it is one)."""
    if node is None:
        return None
    if isinstance(node, exp.Column):
        return node
    for n in children(node):
        c = first_column(n)
        if c is not None:
            return c
    return None


def children(node: exp.Expression) -> list[exp.Expression]:
    """A node's child expressions in order: ``Expression.iter_expressions()`` as a list, without
    the generator and the ``typing.cast`` it calls per child (this runs for most nodes, often)."""
    out: list[exp.Expression] = []
    expression = exp.Expression
    for v in node.args.values():
        if type(v) is list:
            out.extend(x for x in v if isinstance(x, expression))
        elif isinstance(v, expression):
            out.append(v)
    return out


def unparen(node: exp.Expression) -> exp.Expression:
    """``node`` without the parentheses around it."""
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def and_terms(cond: exp.Expression) -> list[exp.Expression]:
    """The terms of an AND chain, in order, parentheses removed (iterative: long chains are fine)."""
    out, stack = [], [cond]
    while stack:
        n = unparen(stack.pop())
        if isinstance(n, exp.And):
            stack.extend((n.right, n.left))
        else:
            out.append(n)
    return out


def is_count_star(node: exp.Expression | None) -> bool:
    """``COUNT(*)`` (or ``COUNT()``): counts rows, not values."""
    return isinstance(node, exp.Count) and (node.this is None or isinstance(node.this, exp.Star))


def preorder(root: exp.Expression) -> Iterator[exp.Expression]:
    """Every node under ``root``, parents first, in source order (leaner than ``Expression.walk``)."""
    return _walk(root, None)


def structure(root: exp.Expression) -> Iterator[exp.Expression]:
    """Every node under ``root`` but identifiers, parents first, in source order. Identifiers are
    the leaves that hold names (a third of a typical tree); whoever needs a name reads it through
    the node that has it (a column, table or alias), so the facts' walks skip them."""
    return _walk(root, exp.Identifier)


def columns_in(node: exp.Expression) -> list[exp.Column]:
    """The columns under ``node`` (itself included), as ``node.find_all(exp.Column)`` finds them
    but depth first: for callers to whom their order does not matter (a lighter walk than sqlglot's)."""
    return [n for n in _walk(node, exp.Identifier) if isinstance(n, exp.Column)]


def _walk(root: exp.Expression, skip: type | None) -> Iterator[exp.Expression]:
    # Children are pushed last-first straight onto the stack, so they pop in source order.
    stack = [root]
    pop, push, expression = stack.pop, stack.append, exp.Expression
    while stack:
        node = pop()
        yield node
        for v in reversed(node.args.values()):
            if type(v) is list:
                for x in reversed(v):
                    if isinstance(x, expression) and type(x) is not skip:
                        push(x)
            elif isinstance(v, expression) and type(v) is not skip:
                push(v)


def main_select(t: exp.Expression) -> exp.Expression | None:
    """The SELECT whose columns a statement returns (the first branch of a set operation)."""
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
        return main_select(top.expression)
    return None


def count_value(node: exp.Expression | None) -> int | str | None:
    """A LIMIT/OFFSET count: a number, a parameter as written (``?``, ``:n``), or the SQL of an expression."""
    if node is None:
        return None
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.this)
    if isinstance(node, (exp.Placeholder, exp.Parameter)):
        return literal_text(node)
    if isinstance(node, exp.Paren):
        return count_value(node.this)
    return node.sql()


def selected_at(key: exp.Expression, sel: exp.Expression) -> exp.Expression:
    """``GROUP BY 2`` / ``ORDER BY 2``: the second selected expression (its alias dropped); any
    other key as it is."""
    exprs = sel.expressions if isinstance(sel, exp.Select) else []
    if isinstance(key, exp.Literal) and key.is_int and 1 <= int(key.this) <= len(exprs):
        chosen = exprs[int(key.this) - 1]
        return chosen.this if isinstance(chosen, exp.Alias) else chosen
    return key
