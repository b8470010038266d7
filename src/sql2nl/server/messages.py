"""Finding the SQL, and the wanted language, in a chat conversation (OpenAI or Ollama shaped).

IDE assistants send the statement in different ways: DBeaver's "explain" prompt puts it after a
line of instructions, chat users paste it in a fenced code block, some tools put it inline after a
colon. :func:`find_sql` tries the fences first, then the text from the first SQL keyword on, and
keeps only what sqlglot really parses as statements (prose such as "select the best option" is
rejected by :func:`sql2nl.parsing.parse`).

>>> find_sql("Explain this query:\\n```sql\\nSELECT name FROM users\\n```")
['SELECT name FROM users']
>>> find_sql("hello there") == []
True
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable

from ..errors import Sql2NLError
from ..parsing import parse

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.S)
# A statement starts with one of these words; `WITH` covers CTEs, `(` is left out on purpose
# (prose has parentheses far more often than SQL starts with one).
_START = re.compile(
    r"(?im)(?:^|(?<=[:：\s`\"'>]))(SELECT|WITH|INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE|REPLACE|UPSERT)\b")
_OBJECTS = r"\b(TABLE|VIEW|INDEX|DATABASE|SCHEMA|FUNCTION|PROCEDURE|SEQUENCE|TRIGGER|TYPE|USER|ROLE)\b"
# A statement found in running text must also have the clause its first word needs ("select the
# best option" parses as SQL but has no FROM): this keeps ordinary English out.
_NEEDS = {
    "SELECT": r"\bFROM\b", "WITH": r"\bAS\s*\(", "INSERT": r"\bINTO\b", "UPDATE": r"\bSET\b",
    "DELETE": r"\bFROM\b", "MERGE": r"\bUSING\b", "REPLACE": r"\bINTO\b", "UPSERT": r"\bINTO\b",
    "CREATE": _OBJECTS, "ALTER": _OBJECTS, "DROP": _OBJECTS, "TRUNCATE": r"\bTABLE\b|\w",
}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# DBeaver's system prompt says "Use <Language> language in your responses" when a language is set.
_USE_LANGUAGE = re.compile(r"\buse\s+((?:[A-Za-z\u4e00-\u9fff()]+\s+){1,3}?)language\b", re.I)
_LANGUAGE_NAMES = {"chinese": "zh", "中文": "zh", "简体中文": "zh", "mandarin": "zh", "english": "en"}
#: Longest user message the server looks into; beyond it, only the start is searched.
MAX_MESSAGE_CHARS = 200_000


def content_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or a list of parts (``{"type","text"}``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
        return "\n".join(out)
    return ""


def last_user_text(messages: Iterable[Any]) -> str:
    """The text of the last message whose role is ``user`` (or that has no role), else ``""``."""
    last = ""
    for m in messages:
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        # Responses API items without a role are messages only when typed so (tool outputs are not).
        if role == "user" or (role is None and "content" in m and m.get("type", "message") == "message"):
            last = content_text(m.get("content"))
    return last


def system_text(messages: Iterable[Any]) -> str:
    return "\n".join(content_text(m.get("content")) for m in messages
                     if isinstance(m, dict) and m.get("role") in ("system", "developer"))


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
    m = _START.match(text.lstrip())
    return bool(m and re.search(_NEEDS[m.group(1).upper()], text, re.I) and _parses(text))


def _candidates(lines: list[str]):
    """Longest first: all lines, fewer lines, then the last line with trailing words dropped."""
    for end in range(len(lines), 0, -1):
        head = "\n".join(lines[:end - 1])
        words = lines[end - 1].split(" ")
        for keep in range(len(words), max(0, len(words) - 10), -1):
            tail = " ".join(words[:keep])
            yield (head + "\n" + tail if head else tail), len(head) + 1 + len(tail)


def _from_keyword(text: str) -> list[str]:
    """Statements found from SQL keywords on; each candidate is shortened until it parses."""
    found: list[str] = []
    pos = 0
    while pos < len(text):
        m = _START.search(text, pos)
        if m is None:
            break
        lines = text[m.start():].split("\n")[:200]
        pos = m.end()
        # Prose after the statement ("Thanks!", "do?") makes the whole fail to parse: shorten it, a
        # bounded number of times, so a long message without SQL stays cheap.
        for tries, (candidate, used) in enumerate(_candidates(lines)):
            if tries >= 80:
                break
            candidate = candidate.strip().rstrip("`").strip()
            if not re.search(_NEEDS[m.group(1).upper()], candidate, re.I):
                break  # shortening cannot add the missing clause
            if _parses(candidate):
                found.append(candidate)
                pos = m.start() + used
                break
    return found


def find_sql(text: str) -> list[str]:
    """The SQL statements (as written) in ``text``: fenced blocks first, else from a SQL keyword on."""
    # Remember answers for ordinary messages only, so that huge ones cannot fill memory.
    return list(_find_sql_cached(text)) if len(text) <= 32_768 else _find_sql(text)


@functools.lru_cache(maxsize=1024)
def _find_sql_cached(text: str) -> tuple[str, ...]:
    return tuple(_find_sql(text))


def _find_sql(text: str) -> list[str]:
    text = text[:MAX_MESSAGE_CHARS]
    fenced = [body.strip() for lang, body in _FENCE.findall(text)
              if lang.lower() in ("", "sql", "mysql", "postgresql", "postgres", "psql", "plsql", "tsql", "sqlite")]
    found = [b for b in fenced if b and _parses(b)]
    if found:
        return found
    return _from_keyword(_FENCE.sub("", text) if fenced else text)


def detect_language(user_text: str, system: str = "", sql: Iterable[str] = (), default: str = "en") -> str:
    """``zh`` or ``en``: an explicit "Use X language" instruction wins, else the user's own words."""
    for m in _USE_LANGUAGE.finditer(system):
        for word in m.group(1).lower().split():
            lang = _LANGUAGE_NAMES.get(word.strip("()"))
            if lang:
                return lang
    prose = user_text
    for s in sql:
        prose = prose.replace(s, " ")
    return "zh" if _CJK.search(prose) else default


# DBeaver's system prompt names the connection's dialect ("- SQL dialect: PostgreSQL").
_DIALECT_LINE = re.compile(r"SQL dialect:\s*([^\n]+)", re.I)
_DIALECT_NAMES = {"postgresql": "postgres", "postgres": "postgres", "greenplum": "postgres", "mysql": "mysql",
                  "mariadb": "mysql", "sqlite": "sqlite", "oracle": "oracle", "sql server": "tsql",
                  "microsoft sql server": "tsql", "mssql": "tsql", "transact-sql": "tsql", "snowflake": "snowflake",
                  "bigquery": "bigquery", "clickhouse": "clickhouse", "duckdb": "duckdb", "redshift": "redshift",
                  "trino": "trino", "presto": "presto", "hive": "hive", "spark": "spark", "databricks": "databricks",
                  "teradata": "teradata", "exasol": "exasol", "starrocks": "starrocks", "doris": "doris"}


def dialect_hint(system: str) -> str | None:
    """The sqlglot dialect named in a DBeaver-style system prompt, if any (unknown names: ``None``)."""
    m = _DIALECT_LINE.search(system)
    if not m:
        return None
    name = m.group(1).strip().strip(".").lower()
    return _DIALECT_NAMES.get(name) or next((v for k, v in _DIALECT_NAMES.items() if name.startswith(k)), None)


NO_SQL = {
    "en": ("I can only explain SQL, and I found no SQL statement in your message. Paste the query "
           "(for example in a ```sql code block) and I will describe what it does in plain language."),
    "zh": "我只能解释SQL，但在您的消息中没有找到SQL语句。请粘贴查询（例如放在 ```sql 代码块中），我会用通俗的语言说明它的作用。",
}
CANNOT_DESCRIBE = {
    "en": "I could not describe this SQL: {error}",
    "zh": "无法描述这条SQL：{error}",
}
