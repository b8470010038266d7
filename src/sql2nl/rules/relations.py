"""What a SELECT is about and how its joins are said: its subject, what its ``COUNT(*)`` counts,
and the relations its joins add ("customers that have orders", "students that have pets with pet
type "cat"", "including customers with no orders"). The analysis behind it, which knows no
language, is :mod:`~sql2nl.rules.joins`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from ..facts import columns_in, structure, unparen
from .conditions import Cond, Junction
from .joins import JoinGraph, Source, anti_join_term, join_graph, outer_join_matters

_SET_OPS = (exp.Union, exp.Intersect, exp.Except)
_MISSING = object()  # (a SELECT's subject may be None)

if TYPE_CHECKING:
    from .base import Describer
    from .queries import SelectPlan


class RelationsMixin:
    """Subjects, counted rows and join relations of SELECTs (and the shared ``rows_with``)."""

    # -- what a SELECT is about ----------------------------------------------------------------

    def graph(self: "Describer", sel: exp.Select) -> JoinGraph:
        """The join graph of a SELECT (built once per node)."""
        g = self._graphs.get(id(sel))
        if g is None:
            g = self._graphs[id(sel)] = join_graph(sel, self.scopes, self.schema)
        return g

    def roles(self: "Describer", sel: exp.Select) -> dict[str, str]:
        """The roles of a SELECT's sources (a table joined twice: "manager"), once per node."""
        r = self._role_maps.get(id(sel))
        if r is None:
            r = self._role_maps[id(sel)] = self.graph(sel).roles()
        return r

    def subject_source(self: "Describer", node: exp.Expression | None) -> str | None:
        """The source (alias, lower case) whose rows a SELECT is about: that of its first plain
        column, else its FROM; for UPDATE/DELETE/MERGE, the target."""
        if node is None:
            return None
        found = self._subjects.get(id(node), _MISSING)
        if found is _MISSING:
            found = self._subjects[id(node)] = self._subject_source(node)
        return found  # type: ignore[return-value]  # (the sentinel is replaced above)

    def _subject_source(self: "Describer", node: exp.Expression) -> str | None:
        if isinstance(node, (exp.Update, exp.Delete, exp.Merge)):
            target = node.this
            return (target.alias_or_name or "").lower() if isinstance(target, exp.Table) else None
        if not isinstance(node, exp.Select):
            return None
        graph = self.graph(node)
        for e in node.expressions:
            inner = unparen(e.this if isinstance(e, exp.Alias) else e)
            if isinstance(inner, exp.Column) and not isinstance(inner.this, exp.Star):
                source = self.scopes.source_of(inner)
                if source in graph.sources:
                    return source
        # Only aggregates and expressions: the rows being counted or summed are the join's grain.
        return graph.grain or next(iter(graph.sources), None)

    def subject_table(self: "Describer", node: exp.Expression | None) -> str | None:
        source = self.subject_source(node)
        if source is None or node is None:
            return None
        if isinstance(node, exp.Select):
            src = self.graph(node).sources.get(source)
            return src.table if src is not None else None
        return node.this.name if isinstance(node.this, exp.Table) else None

    def source_words(self: "Describer", sel: exp.Expression | None, alias: str, many: bool = False) -> str:
        """A source as a noun: its role ("manager"), its table ("order"), or a CTE/derived table's name."""
        if isinstance(sel, exp.Select):
            role = self.roles(sel).get(alias)
            src = self.graph(sel).sources.get(alias)
            if role:
                return self.many(role) if many else role
            if src is not None and src.table:
                if src.table.lower() in self.cte_names(sel):
                    return self.identifier_words(src.table, kind="cte")
                return self.noun(src.table, many)
            if src is not None:
                return self.derived_source_words(src)
        return self.identifier_words(alias, kind="cte")

    def derived_source_words(self: "Describer", src: Source) -> str:
        """A FROM item that is not a table: a subquery, VALUES, UNNEST or a table function."""
        node = src.node
        inner = node.this if isinstance(node, (exp.Subquery, exp.Lateral)) else node
        if isinstance(node, exp.Unnest):
            return self.PHRASES["unnest"].format(self.join_list([self.text(e) for e in node.expressions]))
        if node.alias and self.options.inline and isinstance(unparen(inner), (exp.Select, *_SET_OPS, exp.Values)):
            return self.PHRASES["named_rows"].format(
                self.identifier_words(node.alias, kind="cte"), self.noun_phrase(inner)
            )
        if node.alias:
            return self.identifier_words(node.alias, kind="cte")
        return self.PHRASES["rows_of"].format(self.noun_phrase(inner))

    def cte_names(self: "Describer", node: exp.Expression) -> set[str]:
        """Names of the CTEs visible from ``node`` (lower case)."""
        names: set[str] = set()
        cur: exp.Expression | None = node
        while cur is not None:
            w = cur.args.get("with_") or cur.args.get("with")
            if w is not None:
                names.update(c.alias_or_name.lower() for c in w.expressions)
            cur = cur.parent
        return names

    def counted_noun(self: "Describer", node: exp.Expression) -> str:
        """What ``COUNT(*)`` counts in the SELECT around ``node``."""
        return self.counted_rows(self.scopes.enclosing(node))

    def counted_rows(self: "Describer", sel: exp.Expression | None) -> str:
        """What ``COUNT(*)`` counts in ``sel``: the rows of its join's grain."""
        if not isinstance(sel, exp.Select):
            return self.PHRASES["rows"]
        found = self._counts.get(id(sel))
        if found is None:
            found = self._counts[id(sel)] = self._counted(sel)
        return found

    def _counted(self: "Describer", sel: exp.Select) -> str:
        graph = self.graph(sel)
        if not graph.sources:
            return self.PHRASES["rows"]
        grain = graph.grain
        if grain is None and len(graph.sources) == 2:
            # Grouped by one side's columns and nothing else to go by: the other side's rows are counted.
            group = sel.args.get("group")
            keys = {self.scopes.source_of(c) for g in (group.expressions if group else ()) for c in columns_in(g)}
            others = [a for a in graph.sources if a not in keys]
            if group is not None and len(others) == 1 and keys:
                grain = others[0]
        if grain is None:
            names = [self.source_words(sel, a, many=True) for a in graph.sources]
            return self.PHRASES["joined_rows"].format(self.join_list(names))
        src = graph.sources[grain]
        if src.table and grain not in self.roles(sel) and src.table.lower() not in self.cte_names(sel):
            return self.grain_noun(src.table)
        return self.source_words(sel, grain, many=True)

    def grain_noun(self: "Describer", table: str) -> str:
        """The rows of a table as counted things (languages may word link tables: "has_pet" → "pets")."""
        return self.noun(table)

    # -- joins ---------------------------------------------------------------------------------------

    def join_pieces(self: "Describer", sel: exp.Select, p: SelectPlan, subject: str | None, skip: set[int]) -> None:
        """What the joins add to the sentence: relations ("that have orders", "that have pets with
        pet type "cat""), outer-join notes and non-key join conditions. WHERE terms said here (the
        ones that only join, ``a.id = b.a_id``, and filters on a related table) go to ``skip``."""
        graph = self.graph(sel)
        if len(graph.sources) < 2:
            return
        where_terms = self.where_terms(sel)
        skip.update(id(t) for t in where_terms if self.joins_two_sources(t, graph))
        used, used_elsewhere = self.used_columns(sel, skip)
        sources_used = {source for source, _ in used}
        links = {
            link: ends
            for link, ends in graph.links(
                sources_used - {a for a in graph.sources if self.only_filtered(a, used, used_elsewhere)}
            ).items()
            if link != subject
        }
        roles = self.roles(sel)
        link_ends = {end for near_far in links.values() for end in near_far}
        tables = [s.table for s in graph.sources.values() if s.table]
        if any(tables.count(t) > 1 for t in tables) and not roles:
            p.notes.append(
                self.PHRASES["self_join"].format(
                    self.join_list([self.noun(t) for t in dict.fromkeys(tables) if tables.count(t) > 1])
                )
            )
        said: set[str] = set()  # sources already said as part of another's relation
        for alias, src in graph.sources.items():
            if alias == subject or alias in said:
                continue
            special = self.special_join_piece(sel, p, alias, src)
            if src.side in ("left", "right", "full"):
                self.outer_join_piece(sel, p, src, skip)
            if special:
                continue
            if src.table is None:  # a derived table: say what it is
                p.notes.append(self.PHRASES["joined_with"].format(self.derived_source_words(src)))
                continue
            if alias in links:
                near, far = links[alias]
                if subject in (near, far):
                    other = far if subject == near else near
                    far, rows = self.related_rows(sel, other, where_terms, used_elsewhere, skip)
                    p.relations.append(self.link_words(src.table or alias, far, rows))
                continue
            if alias in link_ends or src.side in ("left", "right", "full"):
                continue
            if any(e.many == alias and e.one == subject for e in graph.edges):
                if alias in {a for a, _ in used_elsewhere} or (alias == graph.grain and sel.args.get("group")):
                    continue  # said by its columns, or by counting its rows per group
                if any(
                    self.scopes.source_of(c) == alias
                    for t in where_terms
                    if id(t) not in skip and not self.tests_only(t, alias)
                    for c in columns_in(t)
                ):
                    continue  # a WHERE term mixes it with other things: its qualified columns say it
                words = self.related_rows(sel, alias, where_terms, used_elsewhere, skip)[1]
                for child in [e.many for e in graph.edges if e.one == alias and e.many not in sources_used]:
                    said.add(child)  # authors that have books with reviews
                    words = self.PHRASES["with_rows"].format(
                        words, self.related_rows(sel, child, where_terms, used_elsewhere, skip)[1]
                    )
                p.relations.append(self.PHRASES["has_rows"].format(words))
            elif alias in sources_used:
                continue
            elif any(e.one == alias and e.many == subject for e in graph.edges):
                fks = {e.fk.lower() for e in graph.edges if e.one == alias and e.many == subject}
                if not any((subject, fk) in used for fk in fks):  # "the country" already names the countries
                    p.relations.append(self.PHRASES["has_match"].format(self.source_words(sel, alias)))
            else:
                p.notes.append(self.PHRASES["joined_with"].format(self.source_words(sel, alias, many=True)))

    def special_join_piece(self: "Describer", sel: exp.Select, p: SelectPlan, alias: str, src: Source) -> bool:
        """LATERAL, SEMI/ANTI and CROSS joins, and the extra (non-key) conditions of an ON; True when
        the join needs nothing more said."""
        graph = self.graph(sel)
        join = src.join
        kind = (join.args.get("kind") or "").lower() if join is not None else ""
        if isinstance(src.node, exp.Unnest):
            p.notes.append(
                self.PHRASES["unnest_join"].format(self.join_list([self.text(e) for e in src.node.expressions]))
            )
            return True
        if isinstance(src.node, exp.Lateral):
            p.notes.append(self.PHRASES["join_lateral"].format(self.noun_phrase(src.node.this)))
            return True
        if kind in ("semi", "anti"):
            p.relations.append(self.PHRASES[f"join_{kind}"].format(self.source_words(sel, alias, many=True)))
            return True
        if kind == "cross" or (
            join is not None
            and join.args.get("on") is None
            and not join.args.get("using")
            and not any(alias in (e.many, e.one) for e in graph.edges)
            and not any(alias in pair for pair in graph.undirected + graph.one_to_one)
        ):
            if not (p.count_only and graph.grain is None):  # "the number of combinations of ..." says it already
                p.notes.append(self.PHRASES["join_cross"].format(self.source_words(sel, alias, many=True)))
            return True
        on = join.args.get("on") if join is not None else None
        if on is not None:
            rest = [t for t in self.and_terms(on) if not self.joins_two_sources(t, graph)]
            if rest:
                cond = self.cond(rest[0]) if len(rest) == 1 else Junction("and", tuple(self.cond(t) for t in rest))
                p.notes.append(
                    self.PHRASES["join_on"].format(
                        table=self.source_words(sel, alias, many=True), cond=self.clause_words(cond)
                    )
                )
        return False

    def only_filtered(self: "Describer", alias: str, used: set, used_elsewhere: set) -> bool:
        return any(a == alias for a, _ in used) and not any(a == alias for a, _ in used_elsewhere)

    def related_rows(
        self: "Describer",
        sel: exp.Select,
        alias: str,
        where_terms: list[exp.Expression],
        used_elsewhere: set,
        skip: set[int],
    ) -> tuple[str, str]:
        """A related table's rows, alone and with the WHERE terms that only test that table said on
        them (``("pets", "pets with pet type "cat"")``); those terms are then skipped in the main WHERE."""
        words = self.source_words(sel, alias, many=True)
        if any(a == alias for a, _ in used_elsewhere):
            return words, words
        mine = [t for t in where_terms if id(t) not in skip and self.tests_only(t, alias)]
        if not mine:
            return words, words
        skip.update(id(t) for t in mine)
        for term in mine:  # said on that table's rows, its columns need no "<table>" in front
            for col in columns_in(term):
                self.said_on(col, alias)
        cond = self.cond(mine[0]) if len(mine) == 1 else Junction("and", tuple(self.cond(t) for t in mine))
        return words, self.rows_with(words, cond)

    def said_on(self: "Describer", col: exp.Column, source: str) -> None:
        """Record that ``col`` is worded on ``source``'s own rows (so it is not qualified with its table)."""
        self._viewpoints[id(col)] = source

    def tests_only(self: "Describer", term: exp.Expression, alias: str) -> bool:
        """Whether every column of ``term`` reads ``alias`` (and it holds no subquery)."""
        cols = columns_in(term)
        return bool(cols) and term.find(exp.Select) is None and all(self.scopes.source_of(c) == alias for c in cols)

    def outer_join_piece(self: "Describer", sel: exp.Select, p: SelectPlan, src: Source, skip: set[int]) -> None:
        effect = outer_join_matters(sel, src, self.scopes)
        table = self.source_words(sel, src.alias, many=True)
        if effect == "anti":
            term = anti_join_term(sel, src, self.scopes)
            if term is not None:
                skip.add(id(term))
            p.relations.append(self.PHRASES["has_no_rows"].format(table))
        elif effect == "keeps":
            left = self.source_words(sel, next(iter(self.graph(sel).sources)), many=True)
            key = {"left": "join_left", "right": "join_right", "full": "join_full"}[src.side]
            p.notes.append(self.PHRASES[key].format(table=table, subject=left))

    def joins_two_sources(self: "Describer", term: exp.Expression, graph: JoinGraph) -> bool:
        """``a.x = b.y`` between two sources of this SELECT: a join condition, not a filter."""
        if not (
            isinstance(term, exp.EQ) and isinstance(term.this, exp.Column) and isinstance(term.expression, exp.Column)
        ):
            return False
        a, b = self.scopes.source_of(term.this), self.scopes.source_of(term.expression)
        if a is None or b is None or a == b or a not in graph.sources or b not in graph.sources:
            return False
        if graph.sources[a].table and graph.sources[a].table == graph.sources[b].table:
            # Two copies of one table: only a key (e.manager_id = m.id) joins them; a.city = b.city is a condition.
            return any({e.many, e.one} == {a, b} for e in graph.edges)
        return True

    def used_columns(
        self: "Describer", sel: exp.Select, skip: set[int]
    ) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """``(source, column)`` pairs a SELECT uses outside its join conditions (and ``skip``): in
        all its clauses, and in those other than WHERE (one walk for both)."""
        used: set[tuple[str, str]] = set()
        elsewhere: set[tuple[str, str]] = set()
        scopes = self.scopes
        for key in ("expressions", "where", "group", "having", "order", "qualify"):
            part = sel.args.get(key)
            for root in part if isinstance(part, list) else [part] if part is not None else []:
                for node in structure(root):
                    if isinstance(node, exp.Column) and scopes.enclosing(node) is sel:
                        source = scopes.source_of(node)
                        if source is not None and not self.skipped(node, skip):
                            used.add((source, node.name.lower()))
                            if key != "where":
                                elsewhere.add((source, node.name.lower()))
        return used, elsewhere

    def skipped(self: "Describer", node: exp.Expression, skip: set[int]) -> bool:
        if not skip:  # the usual case; the walk up is as deep as a WHERE's chain of ANDs
            return False
        cur = node.parent
        while cur is not None:
            if id(cur) in skip:
                return True
            if isinstance(cur, (exp.Where, exp.Select)):
                return False
            cur = cur.parent
        return False

    def link_words(self: "Describer", link_table: str, far: str, rows: str) -> str:
        """Rows related through a link table: languages word it ("that have pets with ..."); ``far``
        is the other table's noun, ``rows`` the same with its filters."""
        return self.PHRASES["linked"].format(far=rows, link=self.noun(link_table))

    def rows_with(self: "Describer", noun: str, cond: Cond) -> str:
        """Rows and a filter on them: "orders with total over 100" (languages order them)."""
        lead, words = self.filter_words(cond)
        return f"{noun}{self.lead_words(lead, words)}"
