"""The parts of a chat conversation (OpenAI or Ollama shaped) the server reads, and its fixed replies.

The user's last message holds the SQL (found by :mod:`sql2nl.server.finder`), the system prompt
may name the language and the database (DBeaver's does), and some answers are fixed sentences:
no SQL found, a statement that does not parse, a search cut short by its caps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .finder import MAX_CHARS, MAX_STATEMENTS, dialect_named, find_sql, find_statements, is_statement

__all__ = [
    "content_text",
    "last_user_text",
    "system_text",
    "detect_language",
    "dialect_hint",
    "find_sql",
    "find_statements",
    "is_statement",
    "NO_SQL",
    "CANNOT_DESCRIBE",
    "CAPPED",
]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# DBeaver's system prompt says "Use <Language> language in your responses" when a language is set.
_USE_LANGUAGE = re.compile(r"\buse\s+((?:[A-Za-z\u4e00-\u9fff()]+\s+){1,3}?)language\b", re.I)
_LANGUAGE_NAMES = {"chinese": "zh", "中文": "zh", "简体中文": "zh", "mandarin": "zh", "english": "en"}


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
    return "\n".join(
        content_text(m.get("content"))
        for m in messages
        if isinstance(m, dict) and m.get("role") in ("system", "developer")
    )


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


def dialect_hint(system: str) -> str | None:
    """The sqlglot dialect named in a DBeaver-style system prompt, if any (unknown names: ``None``)."""
    m = _DIALECT_LINE.search(system)
    return dialect_named(m.group(1)) if m else None


NO_SQL = {
    "en": (
        "I can only explain SQL, and I found no SQL statement in your message. Paste the query "
        "(for example in a ```sql code block) and I will describe what it does in plain language."
    ),
    "zh": "我只能解释SQL，但在您的消息中没有找到SQL语句。请粘贴查询（例如放在 ```sql 代码块中），我会用通俗的语言说明它的作用。",
}
CANNOT_DESCRIBE = {
    "en": "I could not describe this SQL: {error}",
    "zh": "无法描述这条SQL：{error}",
}
#: Said after the answer when the search for SQL stopped at one of its caps (see :mod:`.finder`).
CAPPED = {
    "en": {
        "chars": f"(Your message is longer than {MAX_CHARS:,} characters; only its beginning was searched "
        "for SQL. Send long scripts in several messages.)",
        "statements": f"(I describe at most {MAX_STATEMENTS} statements per message; send the rest in "
        "another message.)",
        "work": "(Your message has more SQL-like text than I look through in one answer; only its "
        "beginning was searched. Send the statements in shorter messages.)",
    },
    "zh": {
        "chars": f"（您的消息超过 {MAX_CHARS:,} 个字符，只在开头部分查找了SQL。请把长脚本分成几条消息发送。）",
        "statements": f"（每条消息最多描述 {MAX_STATEMENTS} 条语句，其余的请在另一条消息中发送。）",
        "work": "（您的消息中类似SQL的文本太多，只查找了开头部分。请用较短的消息发送这些语句。）",
    },
}
