"""Chat messages of a given size, with and without SQL, for the chat benchmarks.

Each kind is what a user (or DBeaver) sends; ``message(kind, size, seed)`` grows it to about
``size`` characters, and ``seed`` varies names and numbers so no two messages are the same (the
server's cache cannot answer them). Used by bench_chat_finder.py and bench_server.py.

Kinds:
  prose       - English that uses SQL's words (select, update, from, create table...), no SQL
  valid       - "Explain the following SQL query:" and one long valid SELECT
  typo        - the same SELECT with WHERE misspelled near its start
  quote       - the same SELECT with a string quote never closed near its start
  paren       - the same SELECT with a parenthesis never closed near its start
  typo-lines  - a question, then one SELECT per line, each with a typo (AND AND)
  mixed       - prose, a ```sql block with two statements, more prose
"""

from __future__ import annotations

KINDS = ("prose", "valid", "typo", "quote", "paren", "typo-lines", "mixed")

_PROSE = (
    "Can you select the rows from orders where the total is above {n}, and then update the totals set by "
    "the finance team?",
    "We want to delete from the archive everything older than {n} days!",
    "Also, please create a table view of the results, or alter the index if it's slow.",
    "I'd like to drop the table of contents from report {n} and insert into it a summary instead.",
    "With that, replace the old numbers; truncate nothing until the audit for user_{n} is done.",
)


def _prose(size: int, seed: int) -> str:
    lines, total, i = [], 0, 0
    while total < size:
        line = _PROSE[i % len(_PROSE)].format(n=seed * 7 + i)
        lines.append(line)
        total += len(line) + 1
        i += 1
    return "\n".join(lines)


def _select(size: int, seed: int, flaw: str = "") -> str:
    where = {"typo": "WHER", "": "WHERE", "quote": "WHERE", "paren": "WHERE"}[flaw]
    head = f"SELECT c.name AS customer_{seed}, COUNT(o.id{'' if flaw == 'paren' else ')'} AS orders"
    note = "o.note = 'late" if flaw == "quote" else f"o.note = 'late {seed}'"
    body = [
        head,
        f"FROM customers_{seed} c",
        "JOIN orders o ON o.customer_id = c.id",
        f"{where} {note} AND o.total > {seed}",
    ]
    i = 0
    while sum(len(x) + 1 for x in body) < size - 40:
        body.append(f"  AND (o.region_{i} IN ('north', 'south') OR o.amount_{i} BETWEEN {i} AND {seed + i})")
        i += 1
    body += ["GROUP BY c.name", "ORDER BY orders DESC", f"LIMIT {seed % 50 + 1};"]
    return "\n".join(body)


def message(kind: str, size: int, seed: int = 0) -> str:
    """A ``kind`` message of about ``size`` characters (see the module docstring)."""
    intro = "Explain the following SQL query:\n"
    if kind == "prose":
        return _prose(size, seed)
    if kind in ("valid", "typo", "quote", "paren"):
        return intro + _select(size - len(intro), seed, "" if kind == "valid" else kind)
    if kind == "typo-lines":
        lines = ["Why do these fail?"]
        i = 0
        while sum(len(x) + 1 for x in lines) < size:
            lines.append(f"SELECT name, total FROM orders_{seed} WHERE total > {i} AND AND status = 'open'")
            i += 1
        return "\n".join(lines)
    if kind == "mixed":
        block = (
            f"```sql\nSELECT name FROM users_{seed} WHERE age > {seed % 90};\n"
            f"UPDATE users_{seed} SET active = 0 WHERE last_seen < '2024-01-01';\n```"
        )
        side = max(0, (size - len(block)) // 2)
        return f"{_prose(side, seed)}\nHere is what I run:\n{block}\n{_prose(side, seed + 1)}"
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
