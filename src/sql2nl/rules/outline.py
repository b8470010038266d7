"""How much to say: ``detail="summary"`` (one short paragraph) or ``detail="steps"`` (an outline).

A summary is the statement's sentence, made more compact until it fits the language's limit
(about 60 words): first CTEs and derived tables are named instead of spelled out, then long
lists are cut short ("and 9 more columns"); a statement that still does not fit is summed up
from its facts (what comes out, from which tables, under how many conditions).

Steps are a numbered outline in execution order: one step per CTE and per derived table (what
each builds, from what), then the final result, which refers to the earlier steps by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from sqlglot import exp

if TYPE_CHECKING:
    from .base import Describer

_T = TypeVar("_T")

#: Lists longer than this are cut short in a compact summary.
COMPACT_ITEMS = 3


class OutlineMixin:
    """``summary_text`` and ``steps_text``, and the list-shortening they rely on."""

    def statement_text(self: "Describer") -> str:
        """The whole statement as one finished sentence."""
        if self.facts.tree is None:
            return self.finish(self.fallback_text())
        return self.finish(self.sentence(self.facts.tree))

    def summary_text(self: "Describer") -> str:
        text, chosen = "", self
        for compact in range(self.options.compact, 3):
            if compact == 1 and self.options.compact == 0 and not self.names_parts():
                continue  # level 1 only names CTEs and derived tables: without any, it says what level 0 said
            chosen = self if compact == self.options.compact else self.with_options(compact=compact)
            text = chosen.statement_text()
            if self.size(text) <= self.SUMMARY_LIMIT:
                break
        else:
            text = self.finish(chosen.overview_text())
        self.warnings.extend(w for w in chosen.warnings if w not in self.warnings)
        return text

    def names_parts(self: "Describer") -> bool:
        """Whether the statement has parts a compact summary names instead of spelling out: CTEs,
        subqueries (derived tables among them) or a VALUES list."""
        f = self.facts
        return bool(f.ctes or f.subqueries or (f.tree is not None and f.tree.find(exp.Values) is not None))

    def steps_text(self: "Describer") -> str:
        tree = self.facts.tree
        if tree is None:
            return self.finish(self.fallback_text())
        steps = [(label, self.finish(self.PHRASES["step_builds"].format(body))) for label, body in self.stages(tree)]
        steps.append((self.PHRASES["result"], self.statement_text()))
        return "\n".join(
            self.PHRASES["step"].format(n=i, label=label, text=text) for i, (label, text) in enumerate(steps, 1)
        )

    def stages(self: "Describer", tree: exp.Expression) -> list[tuple[str, str]]:
        """``(name, what it builds)`` for each CTE and derived table, innermost first."""
        out: list[tuple[str, str]] = []
        seen: set[int] = set()

        def visit(node: exp.Expression) -> None:
            for child in node.iter_expressions():
                visit(child)
            if isinstance(node, exp.CTE) and id(node) not in seen:
                seen.add(id(node))
                out.append((self.identifier_words(node.alias_or_name, kind="cte"), self.noun_phrase(node.this)))
            elif (
                isinstance(node, exp.Subquery)
                and isinstance(node.parent, (exp.From, exp.Join))
                and id(node) not in seen
            ):
                seen.add(id(node))
                label = (
                    self.identifier_words(node.alias, kind="cte")
                    if node.alias
                    else self.PHRASES["subquery_label"].format(len(out) + 1)
                )
                out.append((label, self.noun_phrase(node.this)))

        visit(tree)
        return out

    def overview_text(self: "Describer") -> str:
        """A statement too long for one sentence, summed up from its facts."""
        f = self.facts
        # Every selected item is named: an unnamed expression is "a computed value", never dropped (a
        # SELECT of expressions only must not read as "all details").
        names = [
            self.name(s.column, s.table)
            if s.column
            else s.alias or self.PHRASES["star" if s.star else "computed_value"]
            for s in f.selected
        ]
        shown = self.clip_list(names, "columns", force=True)
        tables = self.clip_list([self.noun(t) for t in f.tables], "tables", force=True)
        n = len(f.filters) + len(f.having)
        conditions = self.PHRASES["overview_conditions"].format(f"{n:,}") if n else ""
        if f.kind == "select":
            key = "overview_select" if tables else "overview_compute"
        else:
            key = "overview"
        return self.PHRASES[key].format(
            kind=f.kind.upper(),
            columns=self.join_list(shown) or self.PHRASES["star"],
            tables=self.join_list(tables) or self.PHRASES["database"],
            conditions=conditions,
        )

    def clip_list(self: "Describer", items: list[_T], kind: str, force: bool = False) -> list[_T | str]:
        """``items``, cut to the first few plus "and N more <kind>" in a compact summary."""
        if (self.options.compact < 2 and not force) or len(items) <= COMPACT_ITEMS + 1:
            return list(items)
        rest = len(items) - COMPACT_ITEMS
        return [*items[:COMPACT_ITEMS], self.PHRASES[f"more_{kind}"].format(f"{rest:,}")]
