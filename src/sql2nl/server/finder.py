"""Finding the SQL statements in a chat message, in time linear in the message's length.

People paste SQL into a chat in three ways, looked for in this order (the first that holds SQL wins):

1. fenced code blocks: ```` ```sql ```` (or another SQL dialect's name, which then is the dialect
   it is read in), or ```` ``` ```` without a language when the block starts like a statement;
2. inline code (`` `SELECT ...` ``) that starts with a statement word;
3. bare SQL in the prose: DBeaver's "Explain the following SQL query:" and the query after it,
   "What does select count(*) from t do?".

Bare SQL starts at a statement word (SELECT, WITH, INSERT, UPDATE, DELETE, MERGE, CREATE, ALTER,
DROP, TRUNCATE, REPLACE, UPSERT) followed somewhere by the clause it needs (SELECT … FROM, UPDATE
… SET …), so that "select the best option" stays English. From there sqlglot's tokenizer reads
the message a line at a time, each line once, and the statement ends at a ``;`` outside
parentheses, a blank line, a line of prose, or a line that starts another statement (a SELECT
after ``INSERT INTO t (a, b)`` or ``UNION`` continues it). Each statement is then parsed once,
in at most two dialects (the client's, then the one its text points at); when prose follows it
on the same line ("… do?"), the parser's error position says where the SQL stops and up to
:data:`TAIL_CUTS` shorter cuts are tried. Each character is tokenized about once and parsed a
bounded number of times, and the work is capped besides (:data:`MAX_CHARS`, :data:`MAX_STATEMENTS`,
:data:`PARSE_CHARS_PER_CHAR`): :attr:`Search.capped` says which cap stopped the search.

A statement that does not parse comes back with its error, positioned in the message, when it
was meant as SQL: in a code block, or in the prose when written like SQL (upper-case statement
word, at the start of a line, operators...). Prose that merely uses the words is skipped.

>>> [f.sql for f in find_statements("Explain this query:\\n```sql\\nSELECT name FROM users\\n```").found]
['SELECT name FROM users']
>>> find_statements("hello there").found
()
>>> err = find_statements("Why does this fail?\\nSELECT name FROM users WHER age > 18").found[0].error
>>> err.line, err.column
(2, 29)
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.tokens import TokenType

from ..errors import InvalidInputError, Sql2NLError, SQLParseError
from ..lexical import unclosed_quote
from ..parsing import STATEMENT_WORDS, parse
from .sqltext import (
    CLOSE,
    LAST_WORD,
    NEEDS,
    OPEN,
    QUOTED,
    SENTENCE_BREAK,
    SQL_STRING,
    START,
    START_SET,
    LineTokens,
    is_prose,
    line_before,
    prose_tail,
)

#: Characters of a message searched for SQL; the rest is ignored (and the answer says so).
MAX_CHARS = 200_000
#: Statements (found, or reported as not parsing) per message; the answer says when there were more.
MAX_STATEMENTS = 20
#: Characters handed to the parser per message, over all attempts: at most this many per character
#: of the message (plus :data:`PARSE_CHARS_SLACK`), and never more than :data:`MAX_PARSE_CHARS`
#: (about 2 s of one core). Ordinary messages use one or two per character.
PARSE_CHARS_PER_CHAR = 4
PARSE_CHARS_SLACK = 20_000
MAX_PARSE_CHARS = 400_000
#: Shorter cuts tried when a statement in the prose fails where words of prose follow it.
TAIL_CUTS = 3
#: Dialects tried per cut: the client's (or the one the text points at), then one more.
DIALECT_TRIES = 2

# -- code blocks ------------------------------------------------------------------------------------
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^`\n]*)$", re.M)
# Single-line code: `x`, ``x`` or ```x``` (a run of backticks closed by one as long).
_INLINE = re.compile(r"(?<!`)(`{1,3})(?!`)([^`\n]+)\1(?!`)")
_SQL_FENCES = frozenset(
    {"sql", "psql", "pgsql", "plpgsql", "plsql", "tsql", "mssql", "sqlite3", "ddl", "dml", "sparksql", "hql"}
)

# Names people (and DBeaver's system prompt) give databases -> sqlglot dialects.
DIALECT_NAMES = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "psql": "postgres",
    "pgsql": "postgres",
    "plpgsql": "postgres",
    "greenplum": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "oracle": "oracle",
    "plsql": "oracle",
    "sql server": "tsql",
    "microsoft sql server": "tsql",
    "mssql": "tsql",
    "transact-sql": "tsql",
    "tsql": "tsql",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "clickhouse": "clickhouse",
    "duckdb": "duckdb",
    "redshift": "redshift",
    "trino": "trino",
    "presto": "presto",
    "hive": "hive",
    "hql": "hive",
    "spark": "spark",
    "sparksql": "spark",
    "databricks": "databricks",
    "teradata": "teradata",
    "exasol": "exasol",
    "starrocks": "starrocks",
    "doris": "doris",
}


def dialect_named(name: str) -> str | None:
    """The sqlglot dialect for a database name as people write it ("PostgreSQL 16", "MariaDB"), else ``None``."""
    name = name.strip().strip(".").lower()
    return DIALECT_NAMES.get(name) or next((v for k, v in DIALECT_NAMES.items() if name.startswith(k)), None)


# After these a statement word at the start of a line continues the statement (UNION / SELECT...).
_LEADS_ON = frozenset(
    {
        "UNION",
        "EXCEPT",
        "INTERSECT",
        "MINUS",
        "ALL",
        "DISTINCT",
        "AS",
        "THEN",
        "ON",
        "FOR",
        "OR",
        "ELSE",
        "BEGIN",
        "KEY",
        "DO",
        "(",
        ",",
    }
)
# Statements whose body is a query that may start on the next line (INSERT INTO t (a)\nSELECT ...).
_EMBEDS_QUERY = frozenset({"WITH", "INSERT", "REPLACE", "UPSERT"})
#: Statement words looked at in one stretch of prose before the search moves past it.
_STARTS_PER_SEGMENT = 16


# -- results --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    """A statement in a message: its text and where it starts; ``error`` when it does not parse.

    ``dialect`` is the dialect it parsed in when that was the client's (``None``: the permissive
    chain of :func:`sql2nl.parsing.parse`, which describing it again will follow the same way).
    The error's line and column count from the start of the message.
    """

    sql: str
    start: int
    dialect: str | None = None
    error: SQLParseError | None = None


@dataclass(frozen=True)
class Search:
    """What :func:`find_statements` found, in message order, and which cap stopped it early, if any:
    ``"chars"`` (the message is longer than :data:`MAX_CHARS`), ``"statements"`` (more than
    :data:`MAX_STATEMENTS`) or ``"work"`` (the parsing budget spent)."""

    found: tuple[Found, ...]
    capped: str | None = None

    @property
    def statements(self) -> list[str]:
        """The statements that parse."""
        return [f.sql for f in self.found if f.error is None]


class _Budget(Exception):
    """Raised inside the search when a cap is reached; carries which one."""

    def __init__(self, cap: str):
        super().__init__(cap)
        self.cap = cap


# -- the search -----------------------------------------------------------------------------------------
class _Finder:
    def __init__(self, text: str, hint: str | None):
        self.text = text
        self.hint = hint
        self.found: list[Found] = []
        self.lines: LineTokens | None = None  # the prose region being searched
        self.parsed_chars = 0
        self.parse_budget = min(MAX_PARSE_CHARS, PARSE_CHARS_PER_CHAR * len(text) + PARSE_CHARS_SLACK)
        self._line_starts: list[int] | None = None

    # positions ---------------------------------------------------------------------------------
    def line_col(self, pos: int) -> tuple[int, int]:
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        i = bisect.bisect_right(self._line_starts, pos) - 1
        return i + 1, pos - self._line_starts[i] + 1

    def _in_message(self, e: SQLParseError, start: int, sql: str) -> SQLParseError:
        """``e`` (positioned in ``sql``, which starts at ``start``) positioned in the whole message,
        the positions its reason names too ("the '(' at line 1, column 8 is never closed")."""
        line0, col0 = self.line_col(start)

        def shift(line: int, column: int) -> tuple[int, int]:
            return line0 + line - 1, (col0 + column - 1) if line == 1 else column

        line, column = shift(e.line, e.column or 1) if e.line else (line0, col0)
        reason = _POSITION.sub(
            lambda m: "at line {}, column {}".format(*shift(int(m.group(1)), int(m.group(2)))), e.reason
        )
        return SQLParseError(
            reason, line=line, column=column, snippet=e.snippet or sql[:40], dialect=e.dialect, hint=_CHAT_HINT
        )

    def _located(self, lines: LineTokens, e: SQLParseError, start: int, sql: str) -> SQLParseError:
        """The error to report for ``sql``: ``e`` in message terms, unless a quote left open on one of
        its lines explains it better than where the parser found the quotes stop pairing."""
        quote = lines.unclosed_in(start, start + len(sql))
        if quote is None or unclosed_quote(sql) is None:
            return self._in_message(e, start, sql)
        line, column = self.line_col(quote[0])
        return SQLParseError(
            f"{quote[1]} is never closed",
            line=line,
            column=column,
            snippet=self.text[quote[0] : quote[0] + 30].split("\n")[0],
            hint=_CHAT_HINT,
        )

    # parsing -----------------------------------------------------------------------------------
    def _parse(
        self, sql: str, dialect: str | None, tries: int = DIALECT_TRIES
    ) -> tuple[str | None, SQLParseError | None, bool]:
        """(dialect it parsed in, None, whether sqlglot only read it as an opaque command) or
        (None, the error, False); at most ``tries`` dialects: ``dialect``, then the permissive chain's."""
        chain: list[tuple[str | None, int | None]] = [(dialect, None)] if dialect else []
        if tries > len(chain):
            chain.append((None, tries - len(chain)))
        error: SQLParseError | None = None
        for d, dialects in chain:
            self.parsed_chars += len(sql) * (dialects or 1)
            if self.parsed_chars > self.parse_budget:
                raise _Budget("work")
            try:
                trees = parse(sql, d, max_dialects=dialects)
                return d, None, any(isinstance(t, exp.Command) for t in trees)
            except SQLParseError as e:
                if error is None or (e.line or 0, e.column or 0) > (error.line or 0, error.column or 0):
                    error = e
            except InvalidInputError as e:  # nested too deeply, NUL bytes: say so, positioned at the start
                error = SQLParseError(str(e).rstrip("."), line=1, column=1, snippet=sql[:40])
        return None, error, False

    def _add(self, found: Found) -> None:
        if len(self.found) >= MAX_STATEMENTS:
            raise _Budget("statements")
        self.found.append(found)

    # walking a statement ---------------------------------------------------------------------
    def walk(self, lines: LineTokens, start: int, prose: bool) -> tuple[int, bool]:
        """Where the statement starting at ``start`` ends (exclusive), and whether it has a token."""
        text, stop = self.text, lines.end
        depth, prev, first_word, seen_main = 0, "", "", False
        end, pos, first_line, any_token = start, start, True, False
        while pos < stop:
            eol = text.find("\n", pos, stop)
            eol = stop if eol < 0 else eol
            if not first_line:
                line = text[pos:eol]
                if not line.strip():
                    if prose:
                        break
                    pos = eol + 1
                    continue
                if prose and is_prose(line):
                    break
            toks, chunk_end = lines.tokens(pos, eol)
            if toks is None:  # an unclosed quote: the line belongs to the statement, raw
                end, any_token = chunk_end, True
                first_word = first_word or "?"
            else:
                for k, t in enumerate(toks):
                    word = t.text.upper() if t.token_type not in QUOTED else ""
                    if not first_word:
                        first_word = word or "?"
                    elif (
                        k == 0
                        and not first_line
                        and depth <= 0
                        and word in START_SET
                        and not self._continues(word, prev, first_word, seen_main)
                    ):
                        return end, any_token
                    any_token = True
                    if t.token_type in OPEN:
                        depth += 1
                    elif t.token_type in CLOSE:
                        depth -= 1
                        if depth < 0:  # closes a parenthesis opened before the statement: "(SELECT ...)"
                            return end, any_token
                    elif t.token_type == TokenType.SEMICOLON and depth == 0:
                        return t.end + 1, any_token
                    elif depth == 0 and (word == "VALUES" or (word in START_SET and word != first_word)):
                        seen_main = True  # the query an INSERT or a WITH list was waiting for
                    prev = word or "?"
                    end = t.end + 1
            first_line = False
            pos = chunk_end + 1
        return end, any_token

    @staticmethod
    def _continues(word: str, prev: str, first_word: str, seen_main: bool) -> bool:
        if prev in _LEADS_ON:
            return True
        if first_word in _EMBEDS_QUERY and not seen_main:
            return prev == ")" or word in ("SELECT", "WITH", "VALUES")
        return first_word == "ALTER" and word in ("DROP", "ALTER")

    # code blocks -------------------------------------------------------------------------------
    def code(self, start: int, end: int, dialect: str | None, labelled: bool) -> None:
        """Statements of a code block (``labelled``: it says it is SQL, so every error is reported)."""
        lines = LineTokens(self.text, end, dialect or ("mysql" if "`" in self.text[start:end] else None))
        pos = start
        while pos < end:
            m = _NON_SPACE.search(self.text, pos, end)
            if m is None:
                return
            stmt_end, has_token = self.walk(lines, m.start(), prose=False)
            stmt_end = max(stmt_end, m.start() + 1)
            sql = self.text[m.start() : stmt_end].strip()
            pos = stmt_end
            if not has_token or not sql.strip(";").strip():
                continue
            word = _always(_LEAD_WORD.match(_strip_comments(sql))).group(1).upper()
            if not labelled and word not in STATEMENT_WORDS:
                continue  # an unlabelled block's output table, prompt text...
            parsed_in, error, _ = self._parse(sql, dialect)
            self._add(
                Found(
                    sql,
                    m.start(),
                    parsed_in if error is None else None,
                    None if error is None else self._located(lines, error, m.start(), sql),
                )
            )

    # prose ---------------------------------------------------------------------------------------
    def prose(self, start: int, end: int) -> None:
        """Bare statements in running text between ``start`` and ``end``."""
        text = self.text
        region = text[start:end]
        lines = self.lines = LineTokens(text, end, self.hint or ("mysql" if "`" in region else None))
        needs: dict[str, list[int]] = {}

        def may_start(m: re.Match, until: int) -> bool:
            """Whether statement word ``m`` can start a statement ending by ``until``: the clause it needs
            follows, or it is written like SQL (capitals at a line's start: "SELECT b FRM u" has a typo)."""
            word = m.group(1).upper()
            if not m.group(1).isupper():  # "select the rows you need, then update the report?": a sentence
                eol = text.find("\n", m.end(), m.end() + 400)
                if is_prose(text[m.end() : eol if eol >= 0 else m.end() + 400]):
                    return False
            if word not in needs:
                needs[word] = [n.start() + start for n in NEEDS[word].finditer(region)]
            spots = needs[word]
            i = bisect.bisect_left(spots, m.end())
            if i < len(spots) and spots[i] < until:
                return True
            return m.group(1).isupper() and not line_before(text, m.start())

        pos = start
        while pos < end:
            m = next((m for m in START.finditer(text, pos, end) if may_start(m, end)), None)
            if m is None:
                return
            seg_end, _ = self.walk(lines, m.start(), prose=True)
            self._segment(m, seg_end, may_start)
            pos = max(seg_end, m.end())

    def _segment(self, m: re.Match, seg_end: int, may_start: Callable[[re.Match, int], bool]) -> None:
        """The statement in ``[m.start(), seg_end)``: from ``m``, else from a later statement word in it.

        At most three tries, of which one for text not written like SQL, among the first
        :data:`_STARTS_PER_SEGMENT` statement words (prose full of them costs little).
        """
        tries, plain_tried = 0, False
        s: re.Match | None = m
        for _ in range(_STARTS_PER_SEGMENT):
            if s is None or tries >= 3:
                return
            resume = s.end()
            if may_start(s, seg_end):
                sql = self.text[s.start() : seg_end].rstrip()
                meant = self._meant_as_sql(s, sql)
                if meant or not plain_tried:
                    tries += 1
                    plain_tried = plain_tried or not meant
                    cut = self._candidate(s, sql, meant)
                    if cut is not None:
                        if cut >= seg_end or not self.text[cut:seg_end].strip():
                            return
                        resume = cut  # prose was cut off after a statement: SQL may follow it
            s = START.search(self.text, resume, seg_end)

    def _candidate(self, s: re.Match, sql: str, meant: bool) -> int | None:
        """Parse the statement ``sql`` found at ``s`` (``meant``: written like SQL); returns where it
        ended when it was kept (found or reported)."""
        start = s.start()
        # Text not written like SQL gets one parse, in one dialect: kept only if all of it parses.
        parsed_in, error, command = self._parse(sql, self.hint, DIALECT_TRIES if meant else 1)
        if error is None:
            # sqlglot reads what it cannot parse as an opaque command ("create a table view of the
            # results"): in prose that is English unless it is written like SQL.
            if command and not meant:
                return None
            self._add(Found(sql, start, parsed_in))
            return start + len(sql)
        if not meant:
            return None
        word = s.group(1).upper()
        first_error = error
        # Words of prose after the statement on its line ("... do?"): cut them off, a few times.
        for cut in self._tail_cuts(sql, error):
            if not NEEDS[word].search(sql, 0, cut):
                break  # shortening cannot add the missing clause
            shorter = sql[:cut].rstrip()
            parsed_in, error, _ = self._parse(shorter, self.hint)
            if error is None:
                if not self._meant_as_sql(s, shorter):
                    break  # English around English ("select the names from users whose orders ...")
                self._add(Found(shorter, start, parsed_in))
                return start + cut
        assert self.lines is not None
        self._add(Found(sql, start, None, self._located(self.lines, first_error, start, sql)))
        return start + len(sql)

    def _tail_cuts(self, sql: str, error: SQLParseError) -> Iterator[int]:
        """Where to cut ``sql`` when words of prose follow it on its last line: at the last sentence
        break before the word the parser stopped at, a word before it, then just before it."""
        if not error.line or not error.column or error.line != sql.count("\n") + 1:
            return  # only prose on the statement's last line is cut
        line_start = sql.rfind("\n") + 1
        at = stopped = line_start + error.column - 1
        word = LAST_WORD.search(sql, line_start, at)  # "do?" stopped at "?": cut before "do"
        if word is not None and word.end() == at:
            at = word.start()
        word = LAST_WORD.search(sql, line_start, len(sql[:at].rstrip()))
        back = word.start() if word is not None else at  # the parser may have taken a word of prose as an alias
        if at <= line_start or not (prose_tail(sql[at:]) or prose_tail(sql[back:])):
            return
        # "... WHERE b = 'x'. I don't get it": the statement ends at the last full stop.
        cuts = [m.start() for m in SENTENCE_BREAK.finditer(sql, line_start, stopped + 1)][-1:]
        cuts += [back, at]  # the shorter first: a word of prose after a name reads as its alias
        seen: set[int] = set()
        for cut in cuts:
            if cut > line_start and cut not in seen and len(seen) < TAIL_CUTS:
                seen.add(cut)
                yield cut

    def _meant_as_sql(self, s: re.Match, sql: str) -> bool:
        """Whether a statement in prose was meant as SQL (so its error is worth reporting, or its
        shortened form worth describing) rather than English that uses the words ("select the best
        option from the list"): two of the signs below."""
        word = s.group(1)
        score = 0
        if word.isupper():
            needed = NEEDS[word.upper()].search(sql)
            score += 2 if needed and needed.group(0).isupper() else 1  # "SELECT ... FROM" in capitals
        before = line_before(self.text, s.start())
        if not before or before.endswith((":", "：")):
            score += 1
        if "\n" in sql or sql.endswith(";"):
            score += 1
        if re.search(r"[=<>*]", sql):
            score += 1
        if re.search(r"\w\(", sql) or SQL_STRING.search(sql):
            score += 1
        return score >= 2


_CHAT_HINT = "Line and column count from the start of your message; fix the statement and send it again."
_NON_SPACE = re.compile(r"\S")
_POSITION = re.compile(r"at line (\d+), column (\d+)")
_COMMENTS = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/|#[^\n]*)*", re.S)


_LEAD_WORD = re.compile(r"[(\s]*([A-Za-z_]*)")
_WORD = re.compile(r"[A-Za-z]*")


def _always(m: re.Match[str] | None) -> re.Match[str]:
    """The match of a pattern that matches the empty string, so it cannot fail."""
    assert m is not None
    return m


def _strip_comments(sql: str) -> str:
    return sql[_always(_COMMENTS.match(sql)).end() :]


def _fences(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, language)`` of each fenced code block's body; an unclosed block runs to the end."""
    pos = 0
    while True:
        m = _FENCE_OPEN.search(text, pos)
        if m is None:
            return
        body = min(m.end() + 1, len(text))
        close = text.find(m.group(1)[:3], body)  # the closing fence, or one typed at a line's end
        end = len(text) if close < 0 else close
        yield body, end, (m.group(2).split() or [""])[0].lower()
        pos = len(text) if close < 0 else close + len(m.group(1))
        nl = text.find("\n", pos)
        pos = len(text) if nl < 0 else nl + 1


def find_statements(text: str, dialect: str | None = None) -> Search:
    """The SQL statements in a chat message, in order, with an error for each one that does not parse.

    ``dialect`` is the client's (e.g. from DBeaver's system prompt); a fenced block's own language
    (```` ```mysql ````) wins for that block. Work is linear in ``len(text)`` and capped
    (see the module docstring).
    """
    key_ok = len(text) <= 32_768  # remember answers for ordinary messages only: huge ones would fill memory
    return _find_cached(text, dialect) if key_ok else _find(text, dialect)


@functools.lru_cache(maxsize=1024)
def _find_cached(text: str, dialect: str | None) -> Search:
    return _find(text, dialect)


def _find(text: str, dialect: str | None) -> Search:
    capped = "chars" if len(text) > MAX_CHARS else None
    text = text[:MAX_CHARS]
    finder = _Finder(text, dialect)
    try:
        blocks = list(_fences(text))
        for start, end, lang in blocks:
            labelled = lang in _SQL_FENCES or dialect_named(lang) is not None
            if labelled or lang == "":
                finder.code(start, end, dialect_named(lang) or dialect, labelled)
        if not finder.found:
            gaps = _gaps(text, blocks)
            for start, end in gaps:
                for m in _INLINE.finditer(text, start, end):
                    body = m.group(2).strip()
                    word = _always(_WORD.match(body)).group(0).upper()
                    if word in START_SET and NEEDS[word].search(body):
                        finder.code(m.start(2), m.end(2), dialect, labelled=True)
            if not finder.found:
                for start, end in gaps:
                    finder.prose(start, end)
    except _Budget as b:
        capped = capped or b.cap
    return Search(tuple(finder.found), capped)


def _gaps(text: str, blocks: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """The stretches of ``text`` outside the fenced blocks (fence lines included in neither)."""
    out, pos = [], 0
    for start, end, _ in blocks:
        opener = text.rfind("\n", 0, max(0, start - 1)) + 1
        if opener > pos:
            out.append((pos, opener))
        nl = text.find("\n", end)
        pos = len(text) if nl < 0 else nl + 1
    if pos < len(text):
        out.append((pos, len(text)))
    return out


def find_sql(text: str, dialect: str | None = None) -> list[str]:
    """The statements in ``text`` that parse, as written (see :func:`find_statements`).

    >>> find_sql("Explain this query:\\n```sql\\nSELECT name FROM users\\n```")
    ['SELECT name FROM users']
    >>> find_sql("hello there")
    []
    """
    return find_statements(text, dialect).statements


def _parses(candidate: str) -> bool:
    try:
        parse(candidate)
    except (Sql2NLError, RecursionError):
        return False
    return True


def is_statement(text: str) -> bool:
    """Whether ``text`` on its own is a SQL statement (not prose that happens to parse).

    >>> is_statement("SELECT name FROM users"), is_statement("select the best")
    (True, False)
    """
    m = START.match(text.lstrip())
    return bool(m and NEEDS[m.group(1).upper()].search(text) and _parses(text))
