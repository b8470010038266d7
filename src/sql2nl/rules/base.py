"""The walk over a statement, shared by every language; subclasses supply the wording.

Like sqlglot's ``Generator`` (one ``<node>_sql`` method per expression type), the describer has
one method per node type, named after it and looked up by type along the class hierarchy:

* ``<node>_sentence`` — a whole statement (``select_sentence``, ``insert_sentence``...);
* ``<node>_text`` — a noun phrase or value (``column_text``, ``window_text``, ``select_text`` for
  a query used as a value...);
* ``<node>_cond`` — a predicate, as a :mod:`~sql2nl.rules.conditions` value that is worded later
  as a clause ("age is over 18") or as a filter on rows ("users with age over 18").

``expression_text``/``expression_sentence`` are the explicit fallbacks: they still say something
(the SQL, quoted) and record a warning — a node is never silently dropped.

A language subclass decides *how* things are said: its ``PHRASES`` (noun phrases and pieces),
``CLAUSES``/``FILTERS`` (predicates) and the ``compose_*`` methods that order a sentence. The
describer holds no state that changes while it walks: what a SELECT is about (its subject, what
its ``COUNT(*)`` counts) is derived from the tree and memoised per SELECT node.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

from sqlglot import exp

from ..facts import Scopes, StatementFacts
from ..schema import Schema
from ..words import humanize, plural, table_plural, table_singular
from .changes import ChangesMixin
from .conditions import ConditionsMixin
from .dispatch import method_for, text_method
from .expressions import ExpressionsMixin
from .outline import OutlineMixin
from .queries import OrderKey, QueriesMixin, SelectPlan
from .relations import RelationsMixin


@dataclass(frozen=True)
class Options:
    """How to describe: ``style`` (statement or question), ``detail`` (summary or steps), and how
    compact a summary must be (``compact`` 0: everything inline; 1: CTEs and derived tables named,
    not spelled out; 2: long lists cut short; set by the summary's word limit, not by callers)."""

    style: str = "statement"
    detail: str = "summary"
    compact: int = 0

    @property
    def inline(self) -> bool:
        """Whether CTE and derived-table bodies are spelled out where they are used."""
        return self.detail == "summary" and self.compact == 0


@functools.lru_cache(maxsize=16)
def _options(style: str, detail: str) -> Options:
    # One shared (frozen) Options per style and detail: building a frozen dataclass per statement
    # costs about as much as a small describer step.
    return Options(style=style, detail=detail)


#: The memos of facts derived from the tree (what a SELECT joins, its sources' roles, its subject,
#: what its COUNT(*) counts), per node id; none depends on the options, so a describer for another
#: compact level shares them (see :meth:`Describer.with_options`).
DERIVED = ("_graphs", "_role_maps", "_subjects", "_counts")


class Describer(QueriesMixin, RelationsMixin, ConditionsMixin, ExpressionsMixin, ChangesMixin, OutlineMixin):
    """Describes one statement. Subclasses (one per language) override the wording."""

    language = "en"
    #: Noun phrases, values and sentence pieces ("the number of {0}"...).
    PHRASES: dict[str, str] = {}
    #: Predicates as clauses: "{0} is greater than {1}".
    CLAUSES: dict[str, str] = {}
    #: Predicates as filters on rows, where they differ from the clause: "{0} greater than {1}".
    FILTERS: dict[str, str] = {}
    #: Summaries longer than this (in :meth:`size` units) are made more compact.
    SUMMARY_LIMIT = 60

    def __init__(
        self,
        facts: StatementFacts,
        *,
        schema: Schema | None = None,
        dialect: str | None = None,
        style: str = "statement",
        detail: str = "summary",
        options: Options | None = None,
    ):
        self.facts = facts
        self.schema = schema
        self.dialect = dialect if dialect is not None else facts.dialect
        self.options = options or _options(style, detail)
        self.warnings: list[str] = []
        self.bare_windows = False  # a window phrase inside a parenthetical drops its own parentheses
        self.scopes: Scopes = facts.scopes if facts.scopes is not None else Scopes(facts.tree, schema)
        # Derived facts per node id (see DERIVED): plain dicts, because they are read dozens of
        # times per statement (a generic memo keyed by (kind, id) cost a tenth of the wording).
        self._graphs: dict[int, Any] = {}
        self._role_maps: dict[int, dict[str, str]] = {}
        self._subjects: dict[int, str | None] = {}
        self._counts: dict[int, str] = {}
        #: The source each column is worded on (:meth:`said_on`); this depends on the wording.
        self._viewpoints: dict[int, str] = {}

    def with_options(self, **changes: Any) -> "Describer":
        """A describer of the same statement with other options; it shares the facts and what was
        derived from the tree (join graphs, subjects: they do not depend on the options)."""
        other = type(self)(
            self.facts, schema=self.schema, dialect=self.dialect, options=replace(self.options, **changes)
        )
        for memo in DERIVED:
            getattr(other, memo).update(getattr(self, memo))
        return other

    # -- wording each language provides (en.py, zh.py) ------------------------------------------

    def compose_select(self, p: SelectPlan) -> str:
        """A SELECT as a sentence."""
        raise NotImplementedError

    def compose_noun(self, p: SelectPlan) -> str:
        """A SELECT as a noun phrase (a query used as a value)."""
        raise NotImplementedError

    def compose_rows(self, p: SelectPlan) -> str:
        """The rows a SELECT returns, as a noun phrase."""
        raise NotImplementedError

    def compose_row(self, p: SelectPlan) -> tuple[str, str]:
        """What one row of a SELECT holds: (the values, the rows they come from)."""
        raise NotImplementedError

    def compose_set(self, node: exp.Expression, body: str) -> str:
        """A set operation (UNION/INTERSECT/EXCEPT) around its worded branches."""
        raise NotImplementedError

    def order_words(self, keys: list[OrderKey]) -> str:
        """An ORDER BY's keys, worded."""
        raise NotImplementedError

    def lead_words(self, lead: str, words: str) -> str:
        """A leading verb or phrase joined to what follows it."""
        raise NotImplementedError

    def relation_words(self, relation: str) -> str:
        """A link table's relation ("have pets") worded."""
        raise NotImplementedError

    # -- entry points ---------------------------------------------------------------------------

    def describe(self) -> str:
        """The description of the whole statement, in the requested detail."""
        if self.options.detail == "steps":
            return self.steps_text()
        return self.summary_text()

    def sentence(self, node: exp.Expression) -> str:
        """A whole statement as a sentence (without its final capital and stop)."""
        name = method_for(type(self), type(node), "sentence")
        text = getattr(self, name or "expression_sentence")(node)
        if not isinstance(node, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)):
            text = self.with_ctes(node, text)  # WITH ... INSERT/UPDATE/DELETE
        return text

    def expression_sentence(self, node: exp.Expression) -> str:
        self.warnings.append(f"no wording for {type(node).__name__} statements yet; described generically")
        return self.fallback_text()

    def subquery_sentence(self, node: exp.Subquery) -> str:
        return self.sentence(node.this)

    def finish(self, text: str) -> str:
        """Capitalise and end the sentence (languages may override)."""
        text = text.strip()
        if not text:
            return text
        text = text[0].upper() + text[1:]
        return text if text[-1] in ".?!。？！" else text + "."

    def fallback_text(self) -> str:
        """A best-effort sentence for a statement the walk has no wording for."""
        tables = [self.table_name(t) for t in self.facts.tables]
        sql = self.facts.sql
        words = sql.split()
        kind = self.facts.kind.upper() if self.facts.kind != "other" else (words[0].upper() if words else "SQL")
        return self.PHRASES["fallback"].format(
            kind=kind,
            tables=self.join_list(tables) if tables else self.PHRASES["database"],
            sql=sql if len(sql) < 200 else sql[:200] + "...",
        )

    # -- dispatch over expressions ---------------------------------------------------------------

    def text(self, node: exp.Expression | None) -> str:
        """Words for any expression: its type's ``_text`` method, a predicate worded as a clause, or the fallback."""
        if node is None:
            return ""
        name, predicate = text_method(type(self), type(node))
        if predicate:
            return self.clause_words(getattr(self, name)(node))
        return getattr(self, name)(node)

    def expression_text(self, node: exp.Expression) -> str:
        self.warnings.append(f"no wording for {type(node).__name__}; quoted as SQL")
        return self.PHRASES["sql"].format(node.sql(dialect=self.dialect))

    # -- names ------------------------------------------------------------------------------------

    def name(self, identifier: str, table: str | None = None) -> str:
        """A column's words: the schema's description if given, else the identifier in words."""
        if self.schema is not None:
            words = self.schema.column_words(table, identifier)
            if words:
                return words
        return self.identifier_words(identifier, kind="column", table=table)

    def table_name(self, table: str) -> str:
        """A table's words: the schema's description if given, else the identifier in words."""
        if self.schema is not None:
            words = self.schema.table_words(table)
            if words:
                return words
        return self.identifier_words(table, kind="table")

    def identifier_words(self, identifier: str, *, kind: str = "column", table: str | None = None) -> str:
        """An identifier (``kind``: column, table, cte or alias) in words when no schema names it:
        humanized here (``born_state`` → "born state"); a language may translate it."""
        return humanize(identifier)

    def noun(self, table: str | None, many: bool = True) -> str:
        """The rows of ``table`` as a noun ("students"); languages without plurals override."""
        if not table:
            return self.PHRASES["rows"]
        words = self.table_name(table)
        return table_plural(words) if many else table_singular(words)

    def singular_noun(self, table: str | None) -> str:
        """One row of ``table`` ("customer")."""
        return self.noun(table, many=False)

    def many(self, words: str) -> str:
        """The plural of a noun phrase (languages without plurals return it as is)."""
        return plural(words)

    # -- wording hooks every language provides ----------------------------------------------------

    def join_list(self, items: list[str], last: str | None = None) -> str:
        raise NotImplementedError

    def size(self, text: str) -> int:
        """How long a text reads, in the unit of :attr:`SUMMARY_LIMIT` (words)."""
        return len(text.split())
