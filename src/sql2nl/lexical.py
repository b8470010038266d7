"""SQL text read without parsing it: where quotes, quoted names and comments start and end,
unbalanced parentheses, and T-SQL ``GO`` batch lines. The parser's error messages and the chat
finder use these to point at the problem when sqlglot cannot say where it is."""

from __future__ import annotations

import re
from collections.abc import Iterator

import sqlglot
from sqlglot.errors import TokenError

_SCAN = re.compile(r"['\"`()]|--|/\*")


def _code_tokens(text: str) -> Iterator[tuple[str, int, str]]:
    """Parentheses outside strings, quoted names and comments, as ``(token, position, "")``; if a
    quote or block comment never ends, a last ``("unclosed", its start, what it is)``."""
    i = 0
    while True:
        m = _SCAN.search(text, i)
        if m is None:
            return
        tok, start = m.group(0), m.start()
        if tok in "()":
            yield tok, start, ""
            i = start + 1
        elif tok == "--":
            nl = text.find("\n", start)
            if nl < 0:
                return
            i = nl + 1
        elif tok == "/*":
            end = text.find("*/", start + 2)
            if end < 0:
                yield "unclosed", start, "a /* comment"
                return
            i = end + 2
        else:
            j = start + 1
            while True:
                k = text.find(tok, j)
                if k < 0:
                    yield "unclosed", start, f"the {tok} quote opened here"
                    return
                if text.startswith(tok, k + 1):  # a doubled quote is an escaped quote
                    j = k + 2
                    continue
                if tok == "'" and _escaped(text, k):
                    j = k + 1
                    continue
                i = k + 1
                break


def unbalanced_parenthesis(text: str) -> tuple[int, bool] | None:
    """Where the first ``)`` without a ``(`` (``True``) or the last ``(`` never closed (``False``)
    is, outside strings and comments; ``None`` when they balance (or a quote never closes)."""
    opened: list[int] = []
    for tok, pos, what in _code_tokens(text):
        if tok == "(":
            opened.append(pos)
        elif tok == ")":
            if not opened:
                return pos, True
            opened.pop()
        elif what.startswith("the "):  # an unclosed quote: that, not the parentheses, is the problem
            return None
    if opened:
        return opened[-1], False
    return None


def unclosed_quote(text: str) -> tuple[int, str] | None:
    """Where an unterminated string, quoted name or block comment starts, and what it is."""
    for tok, pos, what in _code_tokens(text):
        if tok == "unclosed":
            return pos, what
    return None


def _escaped(text: str, pos: int) -> bool:
    n = 0
    while pos - n - 1 >= 0 and text[pos - n - 1] == "\\":
        n += 1
    return n % 2 == 1


# -- T-SQL batches ---------------------------------------------------------------------------------

#: Dialects whose scripts separate batches with ``GO`` lines (a client command, not SQL).
GO_DIALECTS = frozenset({"tsql", "fabric"})
_GO_LINE = re.compile(r"^[ \t]*(GO)(?:[ \t]+\d+)?[ \t]*;?[ \t]*$", re.I | re.M)


def go_to_semicolons(text: str, dialect: str | None = None) -> str:
    """``text`` with T-SQL ``GO`` batch separator lines turned into ``;`` (padded to the same length, so
    every line and column stays where it was).

    Only for T-SQL-like dialects and the permissive default (``dialect=None``), where a line that is
    just ``GO`` (or ``GO 5``) cannot be anything else; a ``GO`` inside a string or comment stays.
    """
    if (dialect is not None and dialect not in GO_DIALECTS) or not (
        "GO" in text or "go" in text or "Go" in text or "gO" in text
    ):
        return text
    found = list(_GO_LINE.finditer(text))
    if not found:
        return text
    tokenizer = sqlglot.Dialect.get_or_raise("tsql").tokenizer()
    try:
        tokens = tokenizer.tokenize(text)
    except TokenError:
        tokens = tokenizer.tokens  # the ones before the problem; the parser reports the problem itself
    starts = {t.start for t in tokens if t.text.upper() == "GO"}  # a GO that is code, not a string or comment
    out = list(text)
    for m in found:
        if m.start(1) in starts:
            out[m.start(1) : m.end()] = ";" + " " * (m.end() - m.start(1) - 1)
    return "".join(out)
