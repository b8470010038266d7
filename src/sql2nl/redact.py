"""Redaction: literal values replaced with placeholders before any backend sees the SQL.

LIMIT/OFFSET counts are kept (they are not data); every other literal becomes ``:v1``, ``:v2``...
(the same value gets the same placeholder), and :meth:`Redaction.restore` puts the values back
into a description locally, after the backend answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from .facts import literal_text


@dataclass
class Redaction:
    trees: list[exp.Expression]
    values: dict[str, str] = field(default_factory=dict)  # placeholder name -> original value

    def sql(self, dialect: str | None = None) -> str:
        return ";\n".join(t.sql(dialect=dialect) for t in self.trees)

    def restore(self, text: str) -> str:
        # Longest names first so ":v12" is not mangled by ":v1".
        for name in sorted(self.values, key=len, reverse=True):
            text = text.replace(f":{name}", self.values[name])
        return text


def redact(trees: list[exp.Expression]) -> Redaction:
    """Copies of ``trees`` with literal values replaced by placeholders."""
    out = Redaction([])
    by_value: dict[str, str] = {}
    for tree in trees:
        tree = tree.copy()
        for lit in list(tree.find_all(exp.Literal)):
            if lit.find_ancestor(exp.Limit, exp.Offset, exp.Fetch) is not None:
                continue
            value = literal_text(lit)
            name = by_value.get(value)
            if name is None:
                name = by_value[value] = f"v{len(by_value) + 1}"
                out.values[name] = value
            lit.replace(exp.Placeholder(this=name))
        out.trees.append(tree)
    return out
