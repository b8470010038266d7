"""Getting a server process ready to answer steadily: warm the describer up, then freeze the heap.

A server answers requests for hours, and two costs would otherwise land on its users again and again:

- first use: sqlglot builds a dialect's tables, and sql2nl compiles its patterns and imports its
  wording modules, on the first request that needs them;
- full garbage collections: Python walks every object it tracks, and the modules, tables and
  backend alive once the server is up stay alive until it exits. Walking them on every full
  collection only costs time (about 80,000 objects, a 25-30 ms pause each time on the chat
  benchmark's machine). ``gc.freeze()`` takes them out of the collector's view.

Only the server's own processes call :func:`steady` (``sql2nl serve``, and each process of
``serve --workers N``), never a program that imports sql2nl.
"""

from __future__ import annotations

import gc

# One statement of each common kind and a chat message with SQL in prose, a code block and a typo:
# what the first requests would otherwise pay for.
_STATEMENTS = (
    "SELECT c.name, COUNT(*) FROM customers AS c JOIN orders AS o ON o.customer_id = c.id "
    "WHERE o.total > 10 AND (o.region IN ('north', 'south') OR o.amount BETWEEN 1 AND 5) "
    "GROUP BY c.name HAVING COUNT(*) > 2 ORDER BY 2 DESC LIMIT 5",
    "WITH t AS (SELECT a FROM x) INSERT INTO y (a) SELECT a FROM t",
    "UPDATE accounts SET balance = balance - 10 WHERE id = 3",
)
_MESSAGE = (
    "Explain the following SQL query:\n```sql\nSELECT name FROM users WHERE age > 18;\n```\n"
    "And why does this fail?\nSELECT name FROM users WHER age > 18\n"
    "What does select count(*) from `t` do?"
)


def steady() -> None:
    """Describe a few statements with the rules describer (in each language) and search a chat
    message, so first-use costs are paid now; then collect and freeze what is alive."""
    from .. import api
    from ..errors import Sql2NLError
    from ..prompt import LANGUAGES
    from .finder import find_statements

    for language in LANGUAGES:
        for sql in _STATEMENTS:
            try:
                api.describe(sql, backend="rules", language=language, cache=False)
            except Sql2NLError:  # a warm-up must never keep a server from starting
                pass
    find_statements(_MESSAGE, None)
    gc.collect()
    gc.freeze()
