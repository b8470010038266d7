"""The :class:`Description` every call returns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .display import description_html, description_markdown
from .facts import StatementFacts


@dataclass
class Description:
    """A description of some SQL. ``str(d)`` is the text.

    ``facts`` holds one :class:`~sql2nl.facts.StatementFacts` per statement; ``faithfulness`` is
    the checker's score when it was computed (LLM backends always compute it). In notebooks it
    renders as the text plus a table of the facts (``_repr_markdown_``, ``_repr_html_``).

    Repeated calls return the cached object itself, so treat a Description as read-only.
    """

    text: str
    backend: str
    language: str
    sql: str
    facts: list[StatementFacts] = field(default_factory=list, repr=False)
    warnings: list[str] = field(default_factory=list)
    faithfulness: float | None = None
    #: What the faithfulness guard did for an LLM backend (``None`` otherwise): how many candidates
    #: were generated, retries, whether it fell back to the rules describer... (see :mod:`sql2nl.guard`).
    guard: dict[str, Any] | None = None

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "backend": self.backend,
            "language": self.language,
            "sql": self.sql,
            "warnings": list(self.warnings),
            "faithfulness": self.faithfulness,
            "guard": self.guard,
            "facts": [f.to_dict() for f in self.facts],
        }

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)

    # Rich display in notebooks (IPython calls these).
    def _repr_markdown_(self) -> str:
        return description_markdown(self)

    def _repr_html_(self) -> str:
        return description_html(self)
