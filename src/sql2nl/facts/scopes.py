"""Which table an alias or a column means, per scope.

A column is looked up in the sources (FROM and JOINs) of the query around it, then in the queries
around that one (a correlated reference), as SQL scoping does. Statements with CTEs, derived
tables or LATERAL are handed to :mod:`sqlglot.optimizer.scope`, which knows which names each
scope can see; the rest (one SELECT, joins, IN/EXISTS subqueries, set operations of such
queries: most statements) read their sources directly, because sqlglot's scope walk costs about
a quarter of a parse and would tell them nothing more (a set operation's branches see only their
own sources and the queries around them, which the walk up the tree finds). The statements around a query (UPDATE, DELETE, MERGE targets) are
not queries to sqlglot, so their sources are read here too. With a schema, an unqualified column
in a join is placed in the one table that has it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

if TYPE_CHECKING:
    from ..schema import Schema

#: Nodes that open a scope of their own.
SCOPE_NODES = (exp.Select, exp.Update, exp.Delete, exp.Merge, exp.Union, exp.Intersect, exp.Except)
_QUERIES = (exp.Select, exp.Union, exp.Intersect, exp.Except)


class Scopes:
    """Alias and column resolution for one statement (built on first use, memoised per node).

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("SELECT u.name FROM users AS u JOIN orders AS o ON o.uid = u.id")
    >>> Scopes(tree).table_of(tree.find(exp.Column))
    'users'
    """

    def __init__(self, tree: exp.Expression | None = None, schema: "Schema | None" = None) -> None:
        self.tree = tree
        self.schema = schema
        self._sources: dict[int, dict[str, str]] | None = None  # id(scope node) -> {alias: table}
        self._parents: dict[int, exp.Expression | None] = {}
        self._resolved: dict[int, tuple[str | None, dict[str, str] | None, str | None]] = {}
        self._enclosing: dict[int, exp.Expression | None] = {}
        self._distinct: dict[int, dict[str, str]] = {}  # id(scope) -> its sources, each once
        #: Set by whoever knows (the facts' walk, which has just visited them): every SELECT, UPDATE,
        #: DELETE and MERGE of a statement with no CTE, derived table or LATERAL, so
        #: each query's own FROM and JOINs say all there is to know. None: not known.
        self.simple_queries: list[exp.Expression] | None = None

    # -- building ---------------------------------------------------------------------------

    def _build(self) -> dict[int, dict[str, str]]:
        sources: dict[int, dict[str, str]] = {}
        tree = self.tree
        if tree is None:
            self._sources = sources
            return sources
        queries = self.simple_queries
        if queries is None and isinstance(tree, exp.Select) and _one_scope(tree):
            queries = [tree]
        if queries is not None:
            for node in queries:
                sources.setdefault(id(node), _own_sources(node))
            self._sources = sources
            return sources
        for root in _query_roots(tree):
            try:
                scopes = traverse_scope(root)
            except Exception:  # sqlglot refuses some inputs (e.g. duplicate aliases): resolve those by hand
                scopes = []
                for sel in root.find_all(exp.Select):
                    sources.setdefault(id(sel), _own_sources(sel))
            for scope in scopes:
                sources[id(scope.expression)] = _scope_sources(scope)
                if scope.parent is not None:
                    self._parents[id(scope.expression)] = scope.parent.expression
        for node in (tree, *tree.find_all(exp.Update, exp.Delete, exp.Merge)):
            if isinstance(node, (exp.Update, exp.Delete, exp.Merge)) and id(node) not in sources:
                sources[id(node)] = _own_sources(node)
        self._sources = sources
        return sources

    def scope(self, node: exp.Expression) -> dict[str, str]:
        """``{alias or name (lower case): table name}`` for the sources of one SELECT/UPDATE/DELETE/MERGE."""
        sources = self._sources if self._sources is not None else self._build()
        found = sources.get(id(node))
        if found is None:  # a node outside the tree the resolver was built for
            found = sources[id(node)] = _own_sources(node)
        return found

    # -- resolving --------------------------------------------------------------------------

    def resolve(self, col: exp.Expression | None) -> tuple[str | None, dict[str, str] | None]:
        """The table a column reads and the scope that said so (``(None, None)`` when unknown)."""
        table, scope, _ = self.locate(col)
        return table, scope

    def locate(self, col: exp.Expression | None) -> tuple[str | None, dict[str, str] | None, str | None]:
        """``(table, scope, source name)``: the source name is the alias (lower case) the column
        reads through, which tells apart the two sides of a self-join."""
        if not isinstance(col, exp.Column):
            return None, None, None
        hit = self._resolved.get(id(col))
        if hit is None:
            hit = self._resolved[id(col)] = self._resolve(col)
        return hit

    def table_of(self, col: exp.Expression | None) -> str | None:
        """The table a column reads: through its qualifier's alias, or the only table in its scope."""
        return self.locate(col)[0]

    def source_of(self, col: exp.Expression | None) -> str | None:
        """The alias (or table name), lower case, that a column reads through."""
        return self.locate(col)[2]

    def is_outer(self, col: exp.Expression) -> bool:
        """Whether a column reads a source of an enclosing query (a correlated reference)."""
        if not isinstance(col, exp.Column):
            return False
        table, scope, source = self.locate(col)
        node = self.enclosing(col)
        return scope is not None and node is not None and scope is not self.scope(node)

    def enclosing(self, node: exp.Expression) -> exp.Expression | None:
        """The nearest SELECT/UPDATE/DELETE/MERGE above ``node`` (memoised for every node on the way,
        so long AND/OR chains cost linear time, not quadratic)."""
        path: list[int] = []
        cur = node.parent
        found: exp.Expression | None = None
        while cur is not None:
            # (MERGE's WHEN ... THEN UPDATE/DELETE has no table of its own: the MERGE is the scope.)
            if isinstance(cur, (exp.Select, exp.Merge)) or (
                isinstance(cur, (exp.Update, exp.Delete)) and isinstance(cur.this, exp.Table)
            ):
                found = cur
                break
            memo = self._enclosing.get(id(cur), False)
            if memo is not False:
                found = memo
                break
            path.append(id(cur))
            cur = cur.parent
        for i in path:
            self._enclosing[i] = found
        return found

    def _outer(self, node: exp.Expression) -> exp.Expression | None:
        if self._sources is None:
            self._build()
        parent = self._parents.get(id(node))
        return parent if parent is not None else self.enclosing(node)

    def _resolve(self, col: exp.Column) -> tuple[str | None, dict[str, str] | None, str | None]:
        qual = col.table
        only = self.simple_queries
        # The statement is one query with nothing nested: every column is its (no walk up the tree).
        node = self.tree if only is not None and len(only) == 1 and only[0] is self.tree else self.enclosing(col)
        while node is not None:
            s = self.scope(node)
            if qual:
                hit = s.get(qual.lower())
                if hit is not None:
                    return hit, s, qual.lower()
            elif s:
                names = self._distinct.get(id(s))  # (the scopes live as long as self: ids stay theirs)
                if names is None:
                    names = self._distinct[id(s)] = _distinct_sources(s)
                if len(names) == 1:
                    name = next(iter(names))
                    return names[name], s, name
                owner = self._owner(col.name, list(dict.fromkeys(names.values())))
                if owner is None:
                    return None, None, None
                aliases = [a for a, t in names.items() if t == owner]
                return owner, s, aliases[0] if len(aliases) == 1 else None
            node = self._outer(node)
        return qual or None, None, qual.lower() if qual else None

    def _owner(self, column: str, tables: list[str]) -> str | None:
        # Several tables and an unqualified column: only a schema can say whose it is.
        if self.schema is None:
            return None
        owners = [t for t in tables if (st := self.schema.table(t)) is not None and st.column(column) is not None]
        return owners[0] if len(owners) == 1 else None


def _distinct_sources(scope: dict[str, str]) -> dict[str, str]:
    """``{alias: table}`` with each source once (a scope also lists an aliased table under its own name)."""
    out: dict[str, str] = {}
    tables_with_alias = {t for a, t in scope.items() if a != t.lower()}
    for alias, table in scope.items():
        if alias == table.lower() and table in tables_with_alias:
            continue
        out[alias] = table
    return out


_NESTING = (
    exp.Subquery,
    exp.With,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Lateral,
    exp.Unnest,
    exp.Exists,
    exp.Table,
)


def _one_scope(sel: exp.Select) -> bool:
    """Whether ``sel`` holds no other query (no subquery, CTE, set operation, LATERAL...) and reads
    plain tables only."""
    for node in sel.iter_expressions():
        for inner in node.walk():
            if isinstance(inner, exp.Select):
                return False
            if isinstance(inner, _NESTING) and not (
                isinstance(inner, exp.Table) and isinstance(inner.this, exp.Identifier)
            ):
                return False
    return True


def _query_roots(tree: exp.Expression) -> list[exp.Expression]:
    """The outermost queries in ``tree`` (the tree itself when it is one)."""
    if isinstance(tree, _QUERIES):
        return [tree]
    roots = []
    stack = list(tree.iter_expressions())
    while stack:
        node = stack.pop()
        if isinstance(node, _QUERIES):
            roots.append(node)
        else:
            stack.extend(node.iter_expressions())
    return roots


def _scope_sources(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, source in scope.sources.items():
        if isinstance(source, exp.Table):
            if source.name:
                out[name.lower()] = source.name
                out.setdefault(source.name.lower(), source.name)
        else:  # a CTE (known by its name, whatever the alias) or a derived table (by its alias)
            parent = getattr(source, "expression", None)
            parent = parent.parent if parent is not None else None
            out[name.lower()] = parent.alias_or_name if isinstance(parent, exp.CTE) else name
    return out


def _own_sources(node: exp.Expression) -> dict[str, str]:
    """The sources of one SELECT/UPDATE/DELETE/MERGE, read off its FROM, JOINs and target."""
    args = node.args
    frm = args.get("from_") or args.get("from")
    sources = [frm.this] if frm is not None else []
    sources += [j.this for j in args.get("joins") or ()]
    if not isinstance(node, exp.Select):
        target = args.get("this")
        sources.append(target)
        if isinstance(target, exp.Table):  # DELETE t FROM t JOIN u (MySQL): the joins hang off the target
            sources += [j.this for j in target.args.get("joins") or ()]
        if isinstance(node, exp.Merge):
            sources.append(args.get("using"))
        elif isinstance(node, exp.Delete):
            sources += list(args.get("using") or ())
    out: dict[str, str] = {}
    for src in sources:
        if isinstance(src, exp.Table) and src.name:
            out[src.alias_or_name.lower()] = src.name
            out.setdefault(src.name.lower(), src.name)
        elif isinstance(src, exp.Expression) and src.alias:
            out[src.alias.lower()] = src.alias
    return out
