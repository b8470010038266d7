"""Mend a description that leaves something out: append the rules describer's clause that says it.

People and small models drop a filter value, a limit, an ordering or a "not" from descriptions
that are otherwise good ("List the singers' names in alphabetical order" for ``WHERE age > 30
ORDER BY name``). The rules describer's text for the same statement says everything, in clauses
("with age greater than 30", "sorted by name"); appending the clauses that say what is missing
keeps the rest of the description's wording:

>>> from sql2nl.facts import extract
>>> sql = "SELECT name FROM singer WHERE age > 30 ORDER BY name"
>>> mend("List the singers' names in alphabetical order.", extract(sql), "List the names of singers with age greater than 30, sorted by name.", ["value 30"])
"List the singers' names in alphabetical order, with age greater than 30."

One source for the training subpackage (``sql2nl_training.targets.repair``: training targets) and
the guard (:mod:`sql2nl.guard`: a model's answer, before falling back to the rules describer).
English only: the clause split follows English clause words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

#: Words a clause of a rules description starts with ("with age greater than 18", "for each city").
CLAUSE_START = (
    "with",
    "where",
    "whose",
    "who",
    "which",
    "that",
    "having",
    "without",
    "except",
    "excluding",
    "sorted",
    "ordered",
    "grouped",
    "for",
)
_CLAUSE = re.compile(
    r"\s+(?=(?:" + "|".join(CLAUSE_START) + r"|in (?:ascending|descending|alphabetical|reverse) order)\b)",
    re.IGNORECASE,
)
_END = re.compile(r"[\s.?!。？！]+$")


def clauses(text: str) -> list[str]:
    """Every run of consecutive clauses within one comma-separated part of ``text``, shortest first.

    The sentence's head ("What are the names of students") and any part that starts a new sentence
    are not clauses: appended to another sentence they would not read as one.
    """
    out: set[str] = set()
    for k, part in enumerate(re.split(r"[,;，；]\s*", _END.sub("", text))):
        pieces = [p for p in _CLAUSE.split(part.strip()) if p]
        first = 1 if k == 0 or pieces and pieces[0][:1].isupper() else 0
        for i in range(first, len(pieces)):
            for j in range(i + 1, len(pieces) + 1):
                out.add(" ".join(pieces[i:j]))
    return sorted(out, key=lambda s: (len(s), s))


def mend(
    text: str,
    facts: Sequence[Any],
    teacher: str,
    missing: Sequence[str],
    *,
    language: str = "en",
    schema: Any = None,
) -> str | None:
    """``text`` with the shortest clauses of ``teacher`` (the rules text for the same SQL) that say
    the ``missing`` checker items appended; ``None`` when no clause says any of them or the
    language is not English. The caller checks the result (a clause can bring its own trouble)."""
    from . import check

    if language != "en" or not missing or not text.strip():
        return None
    options = clauses(teacher)
    said: dict[str, list[str]] = {}  # clause -> what the checker finds missing in it, checked once

    def leaves_out(c: str) -> list[str]:
        if c not in said:
            said[c] = check(c, facts, language=language, schema=schema).missing
        return said[c]

    chosen: list[str] = []
    for item in missing:
        clause = next((c for c in options if item not in leaves_out(c)), None)
        if clause is not None and not any(clause in c for c in chosen):
            chosen = [c for c in chosen if c not in clause] + [clause]
    if not chosen:
        return None
    body = _END.sub("", text)
    end = text[len(body) :].strip() or "."
    return f"{body}, {', '.join(chosen)}{end}"
