"""Faithful training targets: find what a description leaves out, repair it, drop it, or add a teacher's.

People who write descriptions for a dataset leave things out — a filter value ("the singers' names
in alphabetical order" for ``WHERE age > 30 ORDER BY name``), a DISTINCT, a limit, a "not" — and
a model trained on their text learns to leave the same things out. Judged by sql2nl's
faithfulness checker (:func:`sql2nl.faithfulness.check`, the same judge as evaluation and the
backends' guard):

- :func:`omissions` — what a description leaves out that changes the result (values, limits,
  ordering, negation, aggregates, grouping, set operations, DISTINCT). Table and column names are
  not counted: people paraphrase them ("phone numbers" for ``customer_phone``) without changing
  the meaning. :func:`contradictions` — what it says the opposite of; :func:`is_faithful` — neither.
- :func:`repair` — append the clause of the rules describer's text for the same SQL that says
  what is missing ("…of five star hotels, with star rating code "5"?").
- :func:`teacher_pairs` — extra pairs whose target is the rules describer's text (``style="question"``
  where the describer has it), for a share of the statements, those people described
  unfaithfully first.
- ``--drop-unfaithful`` drops pairs that still leave something out or contradict the SQL.
- :func:`improve` — all three as ``sql2nl train`` applies them (``--repair-targets``,
  ``--drop-unfaithful``, ``--rules-teacher``) to the training pairs only; validation pairs stay as
  people wrote them.

>>> p = Pair("SELECT name FROM singer WHERE age > 30 ORDER BY name", "List the singers' names in alphabetical order.")
>>> omissions(p)
['value 30']
>>> repair(p).description
"List the singers' names in alphabetical order, with age greater than 30."
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from sql2nl.errors import Sql2NLError
from sql2nl.faithfulness.repair import mend

from .data import Pair

#: Checker items that name things; people may paraphrase them without changing what is meant.
NAME_ITEMS = ("table", "column")
SYNTHETIC_SOURCES = ("synthetic:", "rules-teacher")


@lru_cache(maxsize=65536)
def _facts(sql: str):
    from sql2nl.facts import extract

    return tuple(extract(sql))


def verdict(sql: str, text: str, language: str = "en"):
    """The checker's verdict on ``text`` as a description of ``sql``."""
    from sql2nl.faithfulness import check

    return check(text, _facts(sql), language=language)


def omissions(pair: Pair) -> list[str]:
    """The checker items ``pair.description`` leaves out, names (tables, columns) not counted."""
    return list(_judged(pair.sql, pair.description, pair.language)[0])


def contradictions(pair: Pair) -> list[str]:
    """The checker items ``pair.description`` says the opposite of (or claims without the SQL)."""
    return list(_judged(pair.sql, pair.description, pair.language)[1])


def is_faithful(pair: Pair) -> bool:
    """Nothing left out that changes the result, nothing contradicted."""
    return not any(_judged(pair.sql, pair.description, pair.language))


@lru_cache(maxsize=65536)
def _judged(sql: str, text: str, language: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        v = verdict(sql, text, language)
    except Sql2NLError:
        return (), ()
    missing = tuple(m for m in v.missing if m.split(" ", 1)[0] not in NAME_ITEMS)
    return missing, tuple(getattr(v, "contradicted", ()))


@lru_cache(maxsize=1)
def _rules_take_style() -> bool:
    """Whether the rules describer accepts ``style=`` (added with the question style; older cores do not)."""
    from sql2nl import describe
    from sql2nl.errors import InvalidInputError

    try:
        describe("SELECT 1", backend="rules", cache=False, style="question")
        return True
    except (InvalidInputError, TypeError):
        return False


def rules_text(sql: str, language: str = "en", style: str = "question") -> str:
    """The rules describer's text for ``sql`` (in ``style`` where the describer offers styles)."""
    from sql2nl import describe

    opts: dict[str, Any] = {"style": style} if style and _rules_take_style() else {}
    return describe(sql, backend="rules", language=language, cache=False, **opts).text


def repair(pair: Pair, *, teacher: str | None = None) -> Pair | None:
    """``pair`` with the clauses of the rules text that say what its description leaves out appended;
    ``None`` when nothing is left out or no clause of the rules text says it (English only).

    ``teacher`` is the rules text to take clauses from (default: :func:`rules_text` of the SQL).
    """
    if pair.language != "en":
        return None
    missing = omissions(pair)
    if not missing:
        return None
    teacher = teacher if teacher is not None else rules_text(pair.sql, pair.language)
    text = mend(pair.description, _facts(pair.sql), teacher, missing, language=pair.language)
    if text is None:
        return None
    fixed = Pair(pair.sql, text, pair.db_id, pair.language, pair.source + ":repaired")
    better = len(omissions(fixed)) < len(missing) and set(contradictions(fixed)) <= set(contradictions(pair))
    return fixed if better else None


def teacher_pairs(pairs: Iterable[Pair], share: float, *, seed: int = 0, style: str = "question") -> list[Pair]:
    """Rules-describer targets for about ``share`` of the distinct statements in ``pairs``.

    Statements some description of which leaves something out come first (in a seeded random
    order), then the others; a teacher text that itself leaves something out is not used.
    """
    by_sql: dict[str, list[Pair]] = {}
    for p in pairs:
        if not p.source.startswith(SYNTHETIC_SOURCES):
            by_sql.setdefault(p.sql, []).append(p)
    if share <= 0 or not by_sql:
        return []
    rng = random.Random(seed)
    keys = sorted(by_sql)
    rng.shuffle(keys)
    keys.sort(key=lambda k: all(is_faithful(p) for p in by_sql[k]))  # stable: unfaithful first
    out = []
    for k in keys[: max(1, round(share * len(keys)))]:
        first = by_sql[k][0]
        try:
            text = rules_text(k, first.language, style)
        except Sql2NLError:
            continue
        p = Pair(k, text, first.db_id, first.language, "rules-teacher")
        if text and is_faithful(p):
            out.append(p)
    return out


def improve(
    pairs: list[Pair],
    *,
    repair_targets: bool = False,
    drop_unfaithful: bool = False,
    rules_teacher: float = 0.0,
    seed: int = 0,
) -> tuple[list[Pair], dict[str, Any]]:
    """Repair, then drop, then add teacher pairs, as ``sql2nl train`` does; returns (pairs, summary).

    Synthetic pairs (written by the rules describer already) pass through untouched.
    """
    human = [p for p in pairs if not p.source.startswith(SYNTHETIC_SOURCES)]
    summary: dict[str, Any] = {
        "checked": len(human),
        "with_omissions": sum(1 for p in human if omissions(p)),
        "with_contradictions": sum(1 for p in human if contradictions(p)),
    }
    out: list[Pair] = []
    repaired = dropped = 0
    for p in pairs:
        if p.source.startswith(SYNTHETIC_SOURCES):
            out.append(p)
            continue
        if repair_targets:
            fixed = repair(p)
            if fixed is not None:
                p, repaired = fixed, repaired + 1
        if drop_unfaithful and not is_faithful(p):
            dropped += 1
            continue
        out.append(p)
    teacher = teacher_pairs(human, rules_teacher, seed=seed) if rules_teacher else []
    summary.update(
        repaired=repaired,
        dropped_unfaithful=dropped,
        rules_teacher=len(teacher),
        unfaithful_after=sum(1 for p in out if not p.source.startswith(SYNTHETIC_SOURCES) and not is_faithful(p)),
    )
    return out + teacher, summary
