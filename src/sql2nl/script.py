"""Scripts of several statements: split them with their positions, describe each on its own.

:func:`~sql2nl.describe` reads a script as one input, so one bad statement fails the whole call.
Here each statement is described separately: a bad one costs only its own description and its
error names its line and column *in the script*.

>>> from sql2nl.script import split_script
>>> [(s.number, s.line, s.text) for s in split_script("SELECT a FROM t;\\nSELECT b FROM u")]
[(1, 1, 'SELECT a FROM t'), (2, 2, 'SELECT b FROM u')]

Statements end at ``;`` outside strings, quoted names and comments (sqlglot's tokenizer for the
dialect decides what those are) and, for T-SQL and the permissive default, at ``GO`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from .description import Description
from .errors import InvalidInputError, Sql2NLError, SQLParseError
from .lexical import go_to_semicolons
from .parsing import _LEADING_JUNK, BOM, MAX_CHARS, check_dialect, check_text, dialect_order, line_col


@dataclass(frozen=True)
class Statement:
    """One statement of a script: its text, its 1-based ``number`` and where it starts."""

    text: str  # from its first token (comments before it are left out) to before its ';'
    number: int
    start: int  # offset of ``text`` in the script
    line: int
    column: int


@dataclass
class Outcome:
    """What describing one statement of a script gave: a description, or the error (never both)."""

    statement: Statement
    description: Description | None = None
    error: Sql2NLError | None = None

    def to_dict(self) -> dict[str, Any]:
        """The description's fields (or ``sql`` and ``error``) with the statement's number and position."""
        where = {"statement": self.statement.number, "line": self.statement.line, "column": self.statement.column}
        if self.description is not None:
            return {**where, **self.description.to_dict()}
        return {**where, "sql": self.statement.text, "error": f"{type(self.error).__name__}: {self.error}"}


def split_script(text: str, dialect: str | None = None) -> list[Statement]:
    """The statements of ``text`` in order (empty ones between ``;;`` and lone comments are skipped)."""
    if text[:1] == BOM:
        text = text[1:]
    cut = go_to_semicolons(text, dialect)
    ends = _semicolons(cut, dialect)
    out: list[Statement] = []
    begin = 0
    for end in ends + [len(cut)]:
        piece = cut[begin:end]
        lead = len(piece) - len(piece.lstrip())
        body = piece.strip()
        code = _LEADING_JUNK.match(body).end()  # type: ignore[union-attr]  # (matches any text, maybe empty); a statement starts at its code, after comments
        if code < len(body):  # (comments after the last ';' are no statement of their own)
            start = begin + lead + code
            line, col = line_col(text, start)
            out.append(Statement(text[start : begin + lead + len(body)], len(out) + 1, start, line, col))
        begin = end + 1
    return out


def _semicolons(text: str, dialect: str | None) -> list[int]:
    """Offsets of the ``;`` that end statements, by the tokenizer of the first dialect that reads
    the whole text; if none does, those before the place where the likeliest one stopped (the
    statement with the unclosed quote then reports it)."""
    partial: list[Any] | None = None
    for d in dialect_order(text, dialect):
        tokenizer = sqlglot.Dialect.get_or_raise(d).tokenizer()
        try:
            tokens = tokenizer.tokenize(text)
        except TokenError:
            if partial is None:
                partial = list(tokenizer.tokens)
            continue
        return [t.start for t in tokens if t.token_type == TokenType.SEMICOLON]
    return [t.start for t in partial or [] if t.token_type == TokenType.SEMICOLON]


def describe_script(
    text: str,
    *,
    dialect: str | None = None,
    max_chars: int = MAX_CHARS,
    on_error: str = "keep",
    statements: list[Statement] | None = None,
    **options: Any,
) -> Iterator[Outcome]:
    """Describe each statement of ``text`` on its own, in order, as :class:`Outcome` objects.

    ``on_error="keep"`` (default) yields an outcome with the error for a bad statement and goes on;
    ``"raise"`` raises it (with its position in the script). Other keyword arguments go to
    :func:`~sql2nl.describe`. Whole-input problems (empty, only comments, too long) raise at once.
    ``statements`` is :func:`split_script`'s answer for ``text`` when the caller already has it.
    """
    from .api import describe

    if on_error not in ("raise", "keep"):
        raise InvalidInputError(f"on_error must be 'raise' or 'keep', got {on_error!r}.")
    text = check_text(text, max_chars=max_chars)
    check_dialect(dialect)
    if statements is None:
        statements = split_script(text, dialect)
    if not statements:  # e.g. only ';' and GO lines: let describe() say what is wrong
        describe(text, dialect=dialect, max_chars=max_chars, **options)
    for st in statements:
        try:
            yield Outcome(st, description=describe(st.text, dialect=dialect, max_chars=max_chars, **options))
        except Sql2NLError as e:
            err = in_script(e, text, st)
            if on_error == "raise":
                raise err from None
            yield Outcome(st, error=err)


def in_script(error: Sql2NLError, script: str, statement: Statement) -> Sql2NLError:
    """``error`` (raised for ``statement`` alone) with every line and column in it moved to the script."""
    lines = statement.text.split("\n")

    def move(line: int, col: int) -> tuple[int, int]:
        if not 1 <= line <= len(lines):
            return line, col
        return line_col(script, statement.start + sum(len(x) + 1 for x in lines[: line - 1]) + col - 1)

    message = _POSITION.sub(lambda m: "line {}, column {}".format(*move(int(m[1]), int(m[2]))), str(error))
    if message == str(error):
        return error
    moved = type(error).__new__(type(error))  # same class and fields, positions in the script
    moved.__dict__.update(error.__dict__)
    moved.args = (message,)
    if isinstance(error, SQLParseError) and error.line is not None and error.column is not None:
        moved.line, moved.column = move(error.line, error.column)  # type: ignore[attr-defined]
    return moved


_POSITION = re.compile(r"line (\d+), column (\d+)")
