"""The walk over a statement, shared by every language; subclasses supply the wording."""

from __future__ import annotations

from ..facts import StatementFacts
from ..schema import Schema
from ..words import humanize


class Describer:
    """Describes one statement. Subclasses (one per language) override the wording methods."""

    language = "en"

    def __init__(self, facts: StatementFacts, *, schema: Schema | None = None, dialect: str | None = None):
        self.facts = facts
        self.schema = schema
        self.dialect = dialect
        self.warnings: list[str] = []

    def name(self, identifier: str, table: str | None = None) -> str:
        if self.schema is not None:
            words = self.schema.column_words(table, identifier)
            if words:
                return words
        return humanize(identifier)

    def table_name(self, table: str) -> str:
        if self.schema is not None:
            words = self.schema.table_words(table)
            if words:
                return words
        return humanize(table)

    def describe(self) -> str:
        method = getattr(self, f"{self.facts.kind}_text", None)
        if method is None:
            self.warnings.append(f"no wording for {self.facts.kind} statements yet; described generically")
            return self.fallback_text()
        return method()

    def fallback_text(self) -> str:
        raise NotImplementedError
