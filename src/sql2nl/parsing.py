"""Turning user input into sqlglot trees, with every way input can be bad mapped to a clear error.

With ``dialect=None`` the input is read permissively: sqlglot's default dialect (which already
takes ``LIMIT x, y``, ``::`` casts, ``ILIKE``, ``"quoted"`` names...) unless cheap look-ups in the
text point at one database's syntax first (backticks: MySQL; ``[bracketed]`` names or ``TOP n``:
T-SQL). Other dialects are tried only when the first one fails, so input that parses costs one
parse. Spider/SQLite-style ``"strings"`` are recognised later, by :mod:`sql2nl.facts`.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from .errors import InvalidInputError, SQLParseError
from .lexical import go_to_semicolons, unbalanced_parenthesis, unclosed_quote

#: Inputs longer than this are refused before parsing. Parsing costs about 2 s per MB on one core;
#: a 200,000-item IN list (1.5 MB) still fits. Override with ``max_chars=``.
MAX_CHARS = 2_000_000
#: Deeper parenthesis nesting than this is refused up front instead of exhausting the stack.
MAX_DEPTH = 1000

#: The byte order mark some editors put at the start of UTF-8 files; dropped wherever input is read.
BOM = "\ufeff"

#: Tried in order when no dialect is given (after any dialect the text itself points at).
FALLBACK_DIALECTS: tuple[str | None, ...] = (None, "mysql", "postgres", "tsql", "sqlite")

# What a statement can start with. Input that fails to parse and starts with none of these is
# reported as "not SQL" rather than with a parser message about an unexpected token.
STATEMENT_WORDS = frozenset(
    """
    SELECT WITH INSERT UPDATE DELETE MERGE UPSERT REPLACE CREATE ALTER DROP TRUNCATE RENAME COMMENT
    VALUES TABLE FROM EXPLAIN SHOW DESCRIBE DESC SET USE GRANT REVOKE BEGIN START COMMIT ROLLBACK
    SAVEPOINT RELEASE CALL EXEC EXECUTE DECLARE COPY PRAGMA VACUUM ANALYZE ANALYSE ATTACH DETACH
    LOCK UNLOCK REFRESH OPTIMIZE REINDEX CLUSTER CACHE UNCACHE LOAD UNLOAD PREPARE DEALLOCATE DO
    IF WHILE PRINT RETURN GO SUMMARIZE PIVOT UNPIVOT KILL CHECKPOINT LISTEN NOTIFY DISCARD RESET
    SUMMARY
""".split()
)
_SHOW_WORDS = frozenset(
    """
    TABLES DATABASES SCHEMAS COLUMNS FIELDS INDEX INDEXES KEYS CREATE STATUS VARIABLES GRANTS PROCESSLIST
    FULL GLOBAL SESSION ENGINES ENGINE WARNINGS ERRORS TRIGGERS VIEWS FUNCTION PROCEDURE EVENTS PLUGINS
    PRIVILEGES PROFILES TABLE ALL SEARCH_PATH TRANSACTION TIME TIMEZONE USERS ROLES SEQUENCES TERSE
    OBJECTS PRIMARY IMPORTED UNIQUE WAREHOUSES MASTER SLAVE REPLICA BINARY CHARACTER COLLATION OPEN
""".split()
)
# Statements that say nothing without a body ("DROP" alone is unfinished, not a command).
_NEED_BODY = frozenset("SELECT INSERT UPDATE DELETE MERGE CREATE ALTER DROP TRUNCATE REPLACE".split())

_LEADING_JUNK = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/|#[^\n]*)*", re.S)


def _junk_end(text: str) -> int:
    """Where the leading whitespace and comments end (the pattern matches the empty string too)."""
    m = _LEADING_JUNK.match(text)
    return m.end() if m else 0


_FIRST_WORD = re.compile(r"[A-Za-z_]+")
_BRACKET_NAME = re.compile(r"(?<![\w\]\)\[])\[[A-Za-z_#@$][^\]\[\n']*\]")
_TOP = re.compile(r"\bSELECT\s+(?:DISTINCT\s+|ALL\s+)?TOP\b", re.I)
_TOKEN_REPR = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: \d+, col: \d+.*?>", re.S)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

T = TypeVar("T")


def check_text(sql: object, *, max_chars: int = MAX_CHARS) -> str:
    """Validate raw input and return it as a string, or raise :class:`InvalidInputError`.

    Kept cheap for ordinary input: a few C-speed scans; the slower checks run only when a cheap
    test says they might matter.
    """
    if isinstance(sql, (bytes, bytearray)):
        try:
            sql = bytes(sql).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError("The SQL is bytes that are not UTF-8 text; decode it first.") from None
    if not isinstance(sql, str):
        raise InvalidInputError(f"Expected the SQL as a string, got {type(sql).__name__}.")
    if sql[:1] == BOM:  # editors on Windows start UTF-8 files with one; it is not part of the SQL
        sql = sql[1:]
    if len(sql) > max_chars:
        raise InvalidInputError(
            f"The SQL is {len(sql):,} characters long, over the limit of {max_chars:,}; "
            "describe a shorter statement or raise the limit with max_chars= (CLI: --max-chars)."
        )
    if "\x00" in sql:
        pos = sql.index("\x00")
        line, col = line_col(sql, pos)
        raise InvalidInputError(
            f"The SQL contains a NUL byte at line {line}, column {col}; it looks like binary data, not SQL "
            "text. Remove the NUL characters (or check the file's encoding) and try again."
        )
    if not sql or sql.isspace() or not sql.strip().strip(";").strip():
        raise InvalidInputError("The SQL is empty; pass a statement such as 'SELECT name FROM users'.")
    if _starts_with_comment(sql) and _first_word(sql) is None and not _LEADING_JUNK.sub("", sql).strip(" \t\r\n;"):
        raise InvalidInputError("The SQL contains only comments; there is no statement to describe.")
    if sql.count("(") >= MAX_DEPTH:
        _check_depth(sql)
    if not sql.isascii():
        _check_surrogates(sql)
    return sql


#: Lone UTF-16 surrogates: what ``errors="surrogateescape"`` makes of undecodable bytes. Such a string
#: cannot be written as UTF-8, so the description could not be printed, sent or stored.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_surrogates(sql: str) -> None:
    m = _SURROGATE.search(sql)
    if m is None:
        return
    pos = m.start()
    line, col = sql.count("\n", 0, pos) + 1, pos - sql.rfind("\n", 0, pos)
    raise InvalidInputError(
        f"The SQL contains U+{ord(m.group()):04X} at line {line}, column {col}, a lone surrogate that is not text: "
        "the input was decoded with errors='surrogateescape' or from a wrong encoding. Read it as UTF-8 "
        "(or its real encoding) and try again."
    )


def _starts_with_comment(sql: str) -> bool:
    s = sql.lstrip()
    return s[:1] == "#" or s[:2] in ("--", "/*")


def line_col(text: str, pos: int) -> tuple[int, int]:
    """The 1-based line and column of offset ``pos`` in ``text``."""
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _check_depth(sql: str) -> None:
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
            f"The SQL nests parentheses {deepest:,} levels deep, more than the {MAX_DEPTH:,} sql2nl handles; "
            "simplify the statement (e.g. remove redundant parentheses or split it with CTEs)."
        )


def dialect_order(text: str, dialect: str | None = None) -> tuple[str | None, ...]:
    """The dialects :func:`parse` tries, in order, for ``text``."""
    if dialect:
        return (dialect,)
    first: str | None = None
    if "`" in text:
        first = "mysql"
    elif (
        ("[" in text and _BRACKET_NAME.search(text))
        or ("top" in text or "TOP" in text or "Top" in text)
        and _TOP.search(text)
    ):
        first = "tsql"
    if first is None:
        return FALLBACK_DIALECTS
    return (first,) + tuple(d for d in FALLBACK_DIALECTS if d != first)


_known_dialects: set[str] = set()


def check_dialect(dialect: str | None) -> str | None:
    """``dialect`` if sqlglot knows it, else :class:`InvalidInputError` with the closest names."""
    if dialect is None or dialect in _known_dialects:
        return dialect
    if not isinstance(dialect, str):
        raise InvalidInputError(f"dialect= must be a dialect name such as 'postgres', got {type(dialect).__name__}.")
    try:
        sqlglot.Dialect.get_or_raise(dialect)
    except ValueError as e:
        raise InvalidInputError(
            f"{e} Leave the dialect out for permissive parsing, or use a sqlglot "
            "dialect name such as mysql, postgres, sqlite, tsql, bigquery, snowflake."
        ) from None
    _known_dialects.add(dialect)
    return dialect


def parse(
    sql: object, dialect: str | None = None, *, max_chars: int = MAX_CHARS, max_dialects: int | None = None
) -> list[exp.Expression]:
    """Parse ``sql`` into one sqlglot tree per statement.

    With ``dialect=None`` a permissive chain is tried (see the module docstring) and the first
    dialect that parses the whole input wins; ``max_dialects`` tries only the first few of it
    (the server's chat finder bounds its work this way).

    Raises :class:`InvalidInputError` for input that is not SQL text and :class:`SQLParseError`
    (with line, column and snippet) for text that does not parse. Deeply nested input is parsed
    on a larger stack (see :func:`run_deep`) instead of failing.
    """
    text = check_text(sql, max_chars=max_chars)
    check_dialect(dialect)
    try:
        return parse_text(text, dialect, max_dialects)
    except RecursionError:
        return run_deep(parse_text, text, dialect, max_dialects)


def parse_text(text: str, dialect: str | None = None, max_dialects: int | None = None) -> list[exp.Expression]:
    """:func:`parse` for text that passed :func:`check_text`; lets ``RecursionError`` through."""
    text = go_to_semicolons(text, dialect)
    errors: list[Exception] = []
    for d in dialect_order(text, dialect)[:max_dialects]:
        try:
            trees = [t for t in _sqlglot_parse(text, d) if t is not None]
        except (ParseError, TokenError) as e:
            errors.append(e)
            continue
        except RecursionError:
            raise
        except Exception as e:  # sqlglot raises ValueError (and, on odd input, worse) for malformed text
            errors.append(e)
            continue
        if not trees:
            raise InvalidInputError("The SQL contains no statement to describe.")
        for t in trees:
            _check_statement(text, t, dialect)
        return trees
    raise _parse_error(text, errors, dialect)


_per_thread = threading.local()


def _sqlglot_parse(text: str, dialect: str | None) -> list[exp.Expression | None]:
    """``sqlglot.parse(text, read=dialect)``, with the dialect's tokenizer and parser built once per
    thread and reused: sqlglot builds both for every call (the tokenizer's tables cost about a
    seventh of parsing a typical query), and both reset their state at the start of each call."""
    tools = getattr(_per_thread, "tools", None)
    if tools is None:
        tools = _per_thread.tools = {}
    pair = tools.get(dialect)
    if pair is None:
        d = sqlglot.Dialect.get_or_raise(dialect)
        pair = tools[dialect] = (d.tokenizer(), d.parser())
    tokenizer, parser = pair
    return parser.parse(tokenizer.tokenize(text), text)


def _check_statement(text: str, tree: exp.Expression, dialect: str | None) -> None:
    # sqlglot falls back to exp.Command for unknown leading words ("Show me the users"), and a lone
    # word or value parses as an expression; neither is a statement worth describing.
    if isinstance(tree, exp.Command):
        word = tree.name.upper()
        if word not in STATEMENT_WORDS:
            raise _not_sql(text, dialect)
        if word == "SHOW" and _rest_word(tree) not in _SHOW_WORDS:  # "Show me the users"
            raise _not_sql(text, dialect)
        if word in _NEED_BODY and not tree.expression:
            raise SQLParseError(
                f"the {word} statement is unfinished", line=1, column=1, snippet=text.strip()[:40], dialect=dialect
            )
    elif isinstance(tree, exp.Select) and not tree.expressions:
        raise SQLParseError(
            "the SELECT does not say what to select", line=1, column=1, snippet=text.strip()[:40], dialect=dialect
        )
    elif isinstance(
        tree,
        (exp.Column, exp.Identifier, exp.Alias, exp.Literal, exp.Paren, exp.Tuple, exp.Boolean, exp.Null, exp.Star),
    ) or (isinstance(tree, exp.Condition) and not isinstance(tree, (exp.Query, exp.Values))):
        raise _not_sql(text, dialect)


def _rest_word(tree: exp.Command) -> str:
    rest = tree.expression
    m = _FIRST_WORD.match(str(rest.this if isinstance(rest, exp.Literal) else rest or "").lstrip())
    return m.group(0).upper() if m else ""


def _first_word(text: str) -> str | None:
    m = _FIRST_WORD.match(text, _junk_end(text))
    return m.group(0) if m else None


def _not_sql(text: str, dialect: str | None) -> SQLParseError:
    word = _first_word(text) or text.strip()[:20]
    start = _junk_end(text)
    line, col = line_col(text, start)
    return SQLParseError(
        f"this does not look like a SQL statement (it starts with {word!r})",
        line=line,
        column=col,
        snippet=text[start : start + 40].strip(),
        dialect=dialect,
        hint="sql2nl describes SQL statements such as SELECT, INSERT, UPDATE, DELETE or CREATE; "
        "pass the query itself, not a question about it.",
    )


def _error_position(err: Exception) -> tuple[int, int]:
    info = (getattr(err, "errors", None) or [{}])[0]
    return info.get("line") or 0, info.get("col") or 0


def _parse_error(text: str, errors: list[Exception], dialect: str | None) -> SQLParseError:
    word = _first_word(text)
    looks_sql = (word is not None and word.upper() in STATEMENT_WORDS) or text.lstrip().startswith("(")
    token_errors = [e for e in errors if isinstance(e, TokenError)]
    if token_errors and len(token_errors) == len(errors) and (looks_sql or word is None):
        where = unclosed_quote(text)
        if where is not None:
            pos, what = where
            line, col = line_col(text, pos)
            return SQLParseError(
                f"{what} is never closed",
                line=line,
                column=col,
                snippet=text[pos : pos + 30].split("\n")[0],
                dialect=dialect,
            )
        return SQLParseError(
            "the text could not be split into SQL tokens (an unclosed quote or comment?)",
            dialect=dialect,
            snippet=text.strip()[:40],
        )
    if not looks_sql:
        return _not_sql(text, dialect)
    # The dialect that got furthest understood the most; its complaint is the useful one.
    parse_errors: list[Any] = [e for e in errors if getattr(e, "errors", None)]  # sqlglot ParseErrors
    if not parse_errors:
        reason = _clean(str(errors[0]).split("\n")[0]) if errors else "unrecognised input"
        return SQLParseError(reason, dialect=dialect, snippet=text.strip()[:40])
    err = max(parse_errors, key=_error_position)
    info = err.errors[0]
    highlight = _ANSI.sub("", info.get("highlight") or "")
    line, col = info.get("line"), info.get("col")
    if col and highlight and "\n" not in highlight and len(highlight) <= col:
        col = col - len(highlight) + 1  # sqlglot reports where the bad token ends; people want its start
    reason = _clean(info.get("description") or str(err).split("\n")[0])
    paren = unbalanced_parenthesis(text)
    if paren is not None:
        pos, closes_nothing = paren
        pline, pcol = line_col(text, pos)
        what = (
            f"the ')' at line {pline}, column {pcol} closes nothing"
            if closes_nothing
            else f"the '(' at line {pline}, column {pcol} is never closed"
        )
        reason = what if reason.startswith("Expecting )") or closes_nothing else f"{reason} ({what})"
    return SQLParseError(reason, line=line, column=col, snippet=_snippet(text, line, col), dialect=dialect)


def _snippet(text: str, line: int | None, col: int | None) -> str:
    """Up to ~40 characters of the offending line around ``col``."""
    if not line or not col:
        return text.strip()[:40]
    lines = text.split("\n", line)
    if line > len(lines):
        return text.strip()[-40:]
    src = lines[line - 1]
    start = max(0, col - 26)
    return " ".join(src[start : col + 15].split())


def _clean(reason: str) -> str:
    def token(m: re.Match) -> str:
        return "the end of the input" if m.group(1) == "SENTINEL" else repr(m.group(2))

    reason = _TOKEN_REPR.sub(token, _ANSI.sub("", reason)).rstrip(".")
    m = _MISSING_ARG.search(reason)
    if m:  # sqlglot's "Required keyword: 'this' missing for <class '...Where'>"
        name = m.group(1)
        if name in _CLAUSES:
            return f"the {_CLAUSES[name]} clause is incomplete"
        if name in _OPERATORS:
            return "an operator is missing a value on one side"
        return f"something is missing in a {name.upper()} expression"
    if _CTE_WITHOUT_STATEMENT.search(reason):
        return "a WITH clause must be followed by the statement that uses it (SELECT, INSERT...)"
    return reason


_CLAUSES = {
    "Where": "WHERE",
    "Having": "HAVING",
    "Group": "GROUP BY",
    "Order": "ORDER BY",
    "Limit": "LIMIT",
    "Offset": "OFFSET",
    "From": "FROM",
    "Join": "JOIN",
    "With": "WITH",
    "Qualify": "QUALIFY",
    "Window": "WINDOW",
    "Fetch": "FETCH",
}
_OPERATORS = set(
    "EQ NEQ GT GTE LT LTE Add Sub Mul Div Mod And Or Like ILike In Between Is DPipe Xor "
    "BitwiseAnd BitwiseOr BitwiseXor IntDiv NullSafeEQ NullSafeNEQ Glob SimilarTo".split()
)
_CTE_WITHOUT_STATEMENT = re.compile(r"\w+ does not support CTE")


_MISSING_ARG = re.compile(r"Required keyword: '\w+' missing for <class '(?:[\w.]+\.)?(\w+)'>")
# -- statements sqlglot reads but cannot write ----------------------------------------------------


def unsupported_sql(text: str, trees: list[exp.Expression], dialect: str | None = None) -> SQLParseError | None:
    """The error to report when sqlglot parsed ``text`` into ``trees`` but cannot write a part of
    them back as SQL (its generator raises, as on ``X''``); ``None`` when every tree generates.

    Describers, redaction and prompts all generate SQL from the trees, so such a statement fails
    wherever it goes; this names the part and where it is instead of blaming the backend. Only
    called after something failed: it generates each tree once more, and then its parts.
    """
    for tree in trees:
        try:
            _generate(tree, dialect)
            continue
        except RecursionError:
            raise
        except Exception as e:
            error = e
        node = _deepest_failing(tree, dialect)
        start = _start_of(node)
        line, col = line_col(text, start) if start is not None else (None, None)
        snippet = text[start : start + 30].split("\n")[0] if start is not None else text.strip()[:40]
        what = type(node).__name__
        return SQLParseError(
            f"sqlglot cannot handle this {what} ({type(error).__name__}: {error})",
            line=line,
            column=col,
            snippet=snippet,
            dialect=dialect,
            hint="Rewrite that part of the statement (an empty X'' or an unusual literal, say), or pass "
            "another dialect=... (CLI: -d); please report it if the SQL is valid for your database.",
        )
    return None


def _generate(node: exp.Expression, dialect: str | None) -> None:
    node.sql(dialect=dialect)
    if dialect is not None:  # describers also generate in the default dialect
        node.sql()


def _deepest_failing(tree: exp.Expression, dialect: str | None) -> exp.Expression:
    node = tree
    while True:  # walk down while a child fails too: the deepest one is the part to name
        for child in node.iter_expressions():
            try:
                _generate(child, dialect)
            except RecursionError:
                raise
            except Exception:
                node = child
                break
        else:
            return node


def _start_of(node: exp.Expression | None) -> int | None:
    # Tokens leave their offset in .meta (reading ._meta does not create an empty dict on every node);
    # a part without any (a type name, say) is placed where the smallest part around it starts.
    while node is not None:
        starts = [n._meta["start"] for n in node.walk() if n._meta and "start" in n._meta]
        if starts:
            return min(starts)
        node = node.parent
    return None


# -- deep input ------------------------------------------------------------------------------------

#: The stack and recursion limit used for input nested too deeply for the default limit.
DEEP_STACK_BYTES = 512 * 1024 * 1024
DEEP_RECURSION_LIMIT = 60_000
_deep_lock = threading.Lock()
_deep = threading.local()


def run_deep(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` on a thread with a large stack and recursion limit (sqlglot parses recursively:
    about 20 frames per level of parentheses, so ~50 levels exhaust Python's default limit).

    Called only after a ``RecursionError``; if even this is not enough, the input is refused
    with :class:`InvalidInputError`.
    """
    too_deep = InvalidInputError(
        "The SQL is nested too deeply to describe; simplify the statement "
        "(e.g. remove redundant parentheses or split it with CTEs)."
    )
    if getattr(_deep, "active", False):  # already on the deep stack: nothing more to give
        raise too_deep
    box: dict[str, Any] = {}

    def target() -> None:
        _deep.active = True
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # handed back to the caller's thread below
            box["error"] = e

    with _deep_lock:
        old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
        try:
            threading.stack_size(DEEP_STACK_BYTES)
            sys.setrecursionlimit(max(old_limit, DEEP_RECURSION_LIMIT))
            worker = threading.Thread(target=target, name="sql2nl-deep", daemon=True)
            worker.start()
        finally:
            threading.stack_size(old_stack)
        try:
            worker.join()
        finally:
            sys.setrecursionlimit(old_limit)
    err = box.get("error")
    if isinstance(err, RecursionError):
        raise too_deep from None
    if err is not None:
        raise err
    return box["value"]
