"""Turning user input into sqlglot trees, with every way input can be bad mapped to a clear error."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from .errors import InvalidInputError, SQLParseError

#: Inputs longer than this are refused before parsing (parsing is roughly linear, but describing a
#: multi-megabyte generated statement helps nobody). Override with ``max_chars=``.
MAX_CHARS = 2_000_000
#: sqlglot parses recursively; deeper nesting than this is refused instead of exhausting the stack.
MAX_DEPTH = 400

# Tried in order when no dialect is given: the default, then the common dialects' own syntax.
FALLBACK_DIALECTS = (None, "mysql", "postgres", "tsql", "sqlite")

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/|#[^\n]*", re.S)


def check_text(sql: object, *, max_chars: int = MAX_CHARS) -> str:
    """Validate raw input and return it as a string, or raise :class:`InvalidInputError`."""
    if isinstance(sql, bytes):
        try:
            sql = sql.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError("The SQL is bytes that are not UTF-8 text; decode it first.") from None
    if not isinstance(sql, str):
        raise InvalidInputError(f"Expected the SQL as a string, got {type(sql).__name__}.")
    if "\x00" in sql:
        pos = sql.index("\x00")
        raise InvalidInputError(
            f"The SQL contains a NUL byte at character {pos + 1}; it looks like binary data, not SQL text.")
    if len(sql) > max_chars:
        raise InvalidInputError(
            f"The SQL is {len(sql):,} characters long, over the limit of {max_chars:,}; "
            "describe a shorter statement or pass max_chars= to raise the limit.")
    stripped = sql.strip().strip(";").strip()
    if not stripped:
        raise InvalidInputError("The SQL is empty; pass a statement such as 'SELECT name FROM users'.")
    if not _COMMENTS.sub("", stripped).strip(" \t\r\n;"):
        raise InvalidInputError("The SQL contains only comments; there is no statement to describe.")
    _check_depth(sql)
    return sql


def _check_depth(sql: str) -> None:
    # Cheap pre-check so that pathological nesting fails fast and clearly instead of deep in the parser.
    if sql.count("(") < MAX_DEPTH:
        return
    depth = deepest = 0
    for ch in sql:
        if ch == "(":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch == ")":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise InvalidInputError(
            f"The SQL nests parentheses {deepest} levels deep, more than the {MAX_DEPTH} sql2nl handles; "
            "simplify the statement.")


def _position(sql: str, err: Exception) -> tuple[int | None, int | None, str]:
    errors = getattr(err, "errors", None) or []
    if errors:
        e = errors[0]
        line, col = e.get("line"), e.get("col")
        snippet = (e.get("highlight") or "").strip() or (e.get("start_context", "")[-15:] + e.get("highlight", ""))
        return line, col, snippet[:60]
    return None, None, sql.strip()[:40]


def _parse_with(sql: str, dialect: str | None) -> list[exp.Expression]:
    trees = sqlglot.parse(sql, read=dialect)
    return [t for t in trees if t is not None]


def parse(sql: object, dialect: str | None = None, *, max_chars: int = MAX_CHARS) -> list[exp.Expression]:
    """Parse ``sql`` into one sqlglot tree per statement.

    With ``dialect=None`` a permissive chain is tried (sqlglot's default, then MySQL, PostgreSQL,
    T-SQL and SQLite syntax) and the first that parses the whole input wins.

    Raises :class:`InvalidInputError` for input that is not SQL text and :class:`SQLParseError`
    (with line, column and snippet) for text that does not parse.
    """
    text = check_text(sql, max_chars=max_chars)
    dialects = (dialect,) if dialect else FALLBACK_DIALECTS
    first_error: Exception | None = None
    for d in dialects:
        try:
            trees = _parse_with(text, d)
        except (ParseError, TokenError) as e:
            first_error = first_error or e
            continue
        except RecursionError:
            raise InvalidInputError("The SQL is nested too deeply to parse; simplify the statement.") from None
        except ValueError as e:  # sqlglot raises ValueError for an unknown dialect name
            if "dialect" in str(e).lower():
                raise InvalidInputError(f"Unknown SQL dialect {dialect!r}: {e}") from None
            first_error = first_error or e
            continue
        if not trees:
            raise InvalidInputError("The SQL contains no statement to describe.")
        bad = [t for t in trees if _looks_like_prose(t)]
        if bad and d is dialects[-1]:
            raise SQLParseError("this does not look like a SQL statement",
                                line=1, column=1, snippet=text.strip()[:40], dialect=dialect)
        if bad:
            first_error = first_error or ParseError("not a SQL statement")
            continue
        return trees
    line, col, snippet = _position(text, first_error) if first_error else (None, None, "")
    reason = str(first_error).split("\n")[0] if first_error else "unrecognised input"
    if isinstance(first_error, TokenError):
        reason = f"{reason} (an unclosed quote or comment?)"
    if first_error is not None and not getattr(first_error, "errors", None) and "not a SQL statement" in reason:
        reason = "this does not look like a SQL statement"
    raise SQLParseError(reason, line=line, column=col, snippet=snippet, dialect=dialect)


def _looks_like_prose(tree: exp.Expression) -> bool:
    # sqlglot falls back to exp.Command for unknown leading words ("please list users"), and a
    # lone identifier or column parses as an expression; neither is a statement worth describing.
    if isinstance(tree, exp.Command):
        return tree.name.upper() not in _KNOWN_COMMANDS
    return isinstance(tree, (exp.Column, exp.Identifier, exp.Alias, exp.Literal, exp.Paren, exp.Tuple))


_KNOWN_COMMANDS = {
    "SHOW", "EXPLAIN", "GRANT", "REVOKE", "CALL", "EXEC", "EXECUTE", "VACUUM", "ANALYZE", "COMMENT",
    "BEGIN", "COMMIT", "ROLLBACK", "SET", "USE", "DECLARE", "LOCK", "REFRESH", "COPY", "OPTIMIZE",
    "RENAME", "REINDEX", "CLUSTER", "DESCRIBE", "DESC", "PRAGMA", "ATTACH", "DETACH", "WITH",
}
