"""Does a description say what its SQL says, and nothing opposite? The faithfulness checker.

It checks **meaning**, not only mentions. For each statement it asks:

* what kind of statement it is ("Show the user with id 5" is not a ``DELETE``);
* each comparison's direction and inclusiveness ("younger than 18" is not ``age > 18``,
  "at least 18" is not ``> 18``; "older than 18" is, and so is "born after 2000" for
  ``birth_year > 2000``), each LIKE pattern's side ("ends with A" is not ``LIKE 'A%'``);
* each aggregate's kind (an average is not a total) and each min/max's direction ("the youngest
  age" is not ``max(age)``, "the oldest" is ``max(age)`` and ``min(birth_date)``);
* each ordering's direction and key, the LIMIT, the set operation (union / intersect / except),
  DISTINCT, the grouping key, negation and what it applies to;
* that the tables, selected columns and values are named (loosely, as people name them).

Each item is found (``ok``), ``missing`` or ``contradicted``; the text also may not claim what
the SQL does not do ("average" with no AVG, "not" with no negation, "top 10" with no LIMIT).

>>> from sql2nl import check_faithfulness
>>> check_faithfulness("SELECT name FROM users WHERE age > 18", "Names of users older than 18.").score
1.0
>>> r = check_faithfulness("SELECT name FROM users WHERE age > 18", "Names of users younger than 18.")
>>> r.score < 1.0, r.contradicted
(True, ['comparison age > 18'])

The score is ``(found - contradicted) / checked`` (at least 0): a contradiction costs more than
an omission, and any contradiction keeps a text below 1.0. It is deterministic and needs no
model; a check takes well under a millisecond (``benchmarks/rules_quality.py --checker-speed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError
from ..facts import StatementFacts
from ..parsing import check_text
from ..schema import Schema
from .meaning import Reader, meaning_checks
from .mentions import MANY_VALUES, Mentions, mention_checks, name_spans
from .plan import Plan, build
from .scan import Scan

__all__ = ["Faithfulness", "check", "check_faithfulness", "MANY_VALUES"]


@dataclass
class Faithfulness:
    """The checker's verdict.

    ``score`` in [0, 1]: ``(found - contradicted) / checked``; ``missing``: items the text does
    not express; ``contradicted``: items it says the opposite of (or claims the SQL does not
    make, labelled "... (not in the SQL)"); ``checked``: how many items were judged.
    """

    score: float
    missing: list[str] = field(default_factory=list)
    contradicted: list[str] = field(default_factory=list)
    checked: int = 0

    def __float__(self) -> float:
        return self.score


def _plan(f: StatementFacts) -> Plan:
    # Built once per facts object: the guard scores several answers against the same facts.
    cached = f.__dict__.get("_faithfulness_plan")
    if cached is None:
        cached = build(f)
        f.__dict__["_faithfulness_plan"] = cached
    return cached


def check(
    text: str, facts: Sequence[StatementFacts] | StatementFacts, *, language: str = "en", schema: Any = None
) -> Faithfulness:
    """Score ``text`` against ``facts`` (one statement's or a script's).

    ``language`` is the text's ("en" or "zh"); ``schema`` (any form ``describe`` accepts) lets the
    text name tables and columns in the schema's words ("full name" for ``nm``).
    """
    if isinstance(facts, StatementFacts):
        facts = [facts]
    schema = Schema.from_any(schema)
    plans = [_plan(f) for f in facts]
    scan = Scan(text or "", language)
    scan.mark_names(name_spans(plans, scan.language))
    scan.segment()
    mentions = Mentions(scan)
    verdicts: list[tuple[str, str]] = []
    for p in plans:
        verdicts += mention_checks(p, mentions, schema)
    verdicts += meaning_checks(plans, Reader(scan, mentions, plans))
    if not (text and text.strip()):
        return Faithfulness(0.0, [label for label, _ in verdicts], [], len(verdicts))
    if not verdicts:
        return Faithfulness(1.0, [], [], 0)
    missing = [label for label, state in verdicts if state == "missing"]
    contradicted = [label for label, state in verdicts if state == "contradicted"]
    found = len(verdicts) - len(missing) - len(contradicted)
    score = max(0.0, (found - len(contradicted)) / len(verdicts))
    return Faithfulness(round(score, 4), missing, contradicted, len(verdicts))


def check_faithfulness(
    sql: str, text: str, *, dialect: str | None = None, language: str = "en", schema: Any = None
) -> Faithfulness:
    """Whether ``text`` faithfully describes ``sql``: the same checker the LLM guard uses.

    ``sql`` is parsed as :func:`sql2nl.describe` parses it (``dialect`` as there); bad SQL raises
    :class:`~sql2nl.SQLParseError`. ``language`` is the text's ("en" or "zh").

    >>> from sql2nl import check_faithfulness
    >>> r = check_faithfulness("DELETE FROM users WHERE id = 5", "Show the user with id 5.")
    >>> r.score < 1.0, r.contradicted
    (True, ['statement delete'])
    """
    from ..facts import extract

    # extract() also takes parsed trees; a public caller's bytes or list must not be taken for them.
    sql = check_text(sql)
    if not isinstance(text, str):
        raise InvalidInputError(f"Expected the description as a string, got {type(text).__name__}.")
    return check(text, extract(sql, dialect), language=language, schema=schema)
