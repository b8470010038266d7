"""Redaction: literal values replaced with placeholders before any backend sees the SQL.

LIMIT/OFFSET/FETCH counts are kept (they are not data); every other literal (strings, numbers,
hex/bit/byte strings, N'...') becomes ``:v1``, ``:v2``... (the same value gets the same
placeholder), comments are dropped (they can hold anything), and :meth:`Redaction.restore` puts
the values back into a description locally, after the backend answered.

Spider/SQLite-style ``"strings"`` are values too: :mod:`sql2nl.facts` reads them as string
literals in its (copied) tree, so redaction runs on ``facts.tree``, after the facts are extracted.

>>> import sqlglot
>>> r = redact([sqlglot.parse_one("SELECT name FROM users WHERE city = 'Oslo' LIMIT 5")])
>>> r.sql()
'SELECT name FROM users WHERE city = :v1 LIMIT 5'
>>> r.restore("Names of users in :v1.")
'Names of users in Oslo.'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp

from .facts import literal_text

#: Node types that carry a user's value.
VALUE_TYPES = (exp.Literal, exp.HexString, exp.BitString, exp.ByteString, exp.RawString, exp.National,
               exp.UnicodeString)
_KEEP_UNDER = (exp.Limit, exp.Offset, exp.Fetch)


@dataclass
class Redaction:
    """Redacted copies of the statements and the values they hid (placeholder name -> value)."""

    trees: list[exp.Expression]
    values: dict[str, str] = field(default_factory=dict)
    prefix: str = "v"

    def sql(self, dialect: str | None = None) -> str:
        """The redacted statements as SQL (what a backend sees)."""
        return ";\n".join(t.sql(dialect=dialect, comments=False) for t in self.trees)

    def restore(self, text: str) -> str:
        """``text`` with every placeholder this redaction made replaced by its value (in one pass,
        so a value that itself looks like a placeholder is left alone)."""
        if not self.values or ":" not in text:
            return text
        pattern = re.compile(rf":({re.escape(self.prefix)}\d+)(?!\d)")
        return pattern.sub(lambda m: self.values.get(m.group(1), m.group(0)), text)


def _prefix(trees: list[exp.Expression]) -> str:
    # The SQL may already use :v1-style parameters; pick a prefix none of them has.
    taken = {p.name for t in trees for p in t.find_all(exp.Placeholder) if p.name}
    prefix = "v"
    while any(re.fullmatch(rf"{prefix}\d+", n) for n in taken):
        prefix = "x" + prefix
    return prefix


def redact(trees: list[exp.Expression]) -> Redaction:
    """Copies of ``trees`` with literal values replaced by placeholders and comments removed."""
    prefix = _prefix(trees)
    out = Redaction([], prefix=prefix)
    by_value: dict[str, str] = {}
    for tree in trees:
        tree = tree.copy()
        values: list[exp.Expression] = []
        for node in tree.walk(bfs=False):  # depth-first: placeholders numbered in reading order
            if node.comments:
                node.comments = None
            if isinstance(node, VALUE_TYPES):
                values.append(node)
        for lit in values:
            if lit.find_ancestor(*_KEEP_UNDER) is not None:
                continue
            value = literal_text(lit) if isinstance(lit, exp.Literal) else str(lit.this)
            name = by_value.get(value)
            if name is None:
                name = by_value[value] = f"{prefix}{len(by_value) + 1}"
                out.values[name] = value
            lit.replace(exp.Placeholder(this=name))
        out.trees.append(tree)
    return out
