"""Where the statements are in a document: pure functions, no editor protocol involved.

A :class:`Span` is a statement's character range in the document and the SQL it holds. In ``.sql``
files statements are split at ``;`` by sqlglot's tokenizer (so a ``;`` inside a string or a
comment does not split); in Python files every string constant that parses as a SQL statement
is one (found with :mod:`ast`, so strings in comments or f-strings are left alone).

>>> [s.sql for s in sql_spans("SELECT a FROM t;\\nDELETE FROM t WHERE a = ';'")]
['SELECT a FROM t', "DELETE FROM t WHERE a = ';'"]
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..server.messages import is_statement


@dataclass(frozen=True)
class Span:
    """One statement: ``start``/``end`` are character offsets (end exclusive) of its text in the document."""

    start: int
    end: int
    sql: str

    def contains(self, offset: int) -> bool:
        return self.start <= offset <= self.end


def sql_spans(text: str) -> list[Span]:
    """The statements of a SQL script, split at top-level semicolons."""
    from sqlglot.errors import TokenError
    from sqlglot.tokens import Tokenizer, TokenType

    try:
        tokens = Tokenizer().tokenize(text)
    except TokenError:  # an unclosed quote while typing: fall back to a plain split
        return _plain_split(text)
    spans: list[Span] = []
    first: int | None = None
    last = 0  # the end of the statement's last token (meaningful while first is not None)
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            if first is not None:
                spans.append(Span(first, last + 1, text[first : last + 1]))
            first = None
            continue
        if first is None:
            first = tok.start
        last = tok.end
    if first is not None:
        spans.append(Span(first, last + 1, text[first : last + 1]))
    return spans


def _plain_split(text: str) -> list[Span]:
    spans, pos = [], 0
    for part in text.split(";"):
        stripped = part.strip()
        if stripped:
            start = pos + part.index(stripped)
            spans.append(Span(start, start + len(stripped), stripped))
        pos += len(part) + 1
    return spans


def _line_offsets(text: str) -> list[int]:
    offsets, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        offsets.append(pos)
    return offsets


def python_spans(text: str) -> list[Span]:
    """The string constants of a Python module that hold a SQL statement (none if it does not parse)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    lines = text.splitlines(keepends=True)
    starts = _line_offsets(text)

    def offset(lineno: int, col_bytes: int) -> int:
        # ast columns are UTF-8 byte offsets; the editor speaks characters.
        line = lines[lineno - 1] if lineno - 1 < len(lines) else ""
        return starts[lineno - 1] + len(line.encode("utf-8")[:col_bytes].decode("utf-8", "ignore"))

    spans: list[Span] = []
    for node in ast.walk(tree):
        if (
            not (isinstance(node, ast.Constant) and isinstance(node.value, str))
            or node.end_lineno is None
            or node.end_col_offset is None
        ):
            continue
        if not is_statement(node.value):
            continue
        spans.append(
            Span(offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset), node.value.strip())
        )
    return sorted(spans, key=lambda s: s.start)


def spans_for(text: str, kind: str) -> list[Span]:
    """Statements of a document whose kind is ``"sql"`` or ``"python"`` (anything else has none)."""
    if kind == "sql":
        return sql_spans(text)
    if kind == "python":
        return python_spans(text)
    return []


def document_kind(uri: str, language_id: str | None = None) -> str | None:
    """``"sql"``, ``"python"`` or ``None`` from the editor's language id, else the file's suffix."""
    lid = (language_id or "").lower()
    if lid in ("sql", "mysql", "postgres", "postgresql", "plsql", "tsql", "sqlite"):
        return "sql"
    if lid == "python":
        return "python"
    path = uri.lower().split("?", 1)[0]
    if path.endswith((".sql", ".ddl", ".dml")):
        return "sql"
    if path.endswith((".py", ".pyi")):
        return "python"
    return None


def comment_for(description: str, kind: str, indent: str = "", width: int = 100) -> str:
    """``description`` as comment lines (``-- `` for SQL, ``# `` for Python) ending with a newline."""
    import textwrap

    mark = "-- " if kind == "sql" else "# "
    lines = []
    for para in description.splitlines() or [""]:
        lines.extend(textwrap.wrap(para, width=max(20, width - len(indent) - len(mark))) or [""])
    return "".join(f"{indent}{mark}{line}".rstrip() + "\n" for line in lines)
