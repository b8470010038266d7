"""Does a description say everything its SQL does? A checker over the statement's facts.

>>> from sql2nl.facts import extract
>>> r = check("List the names of users older than 18.", extract("SELECT name FROM users WHERE age > 18"))
>>> r.score, r.missing
(1.0, [])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .facts import StatementFacts
from .words import humanize, plural, singular

# Words that express an aggregate or an ordering, per language.
SYNONYMS = {
    "en": {
        "count": ["number", "count", "how many", "many", "total"],
        "sum": ["total", "sum", "combined", "overall"],
        "avg": ["average", "mean", "avg"],
        "min": ["minimum", "lowest", "smallest", "least", "earliest", "fewest", "min", "youngest", "shortest", "cheapest", "oldest"],
        "max": ["maximum", "highest", "largest", "greatest", "most", "latest", "max", "oldest", "biggest", "longest", "top"],
        "desc": ["descending", "highest", "largest", "most", "greatest", "top", "latest", "newest", "biggest", "decreasing", "oldest", "longest", "from high to low"],
        "asc": ["ascending", "lowest", "smallest", "least", "fewest", "earliest", "alphabetical", "increasing", "youngest", "shortest", "order", "sorted", "first"],
        "negation": ["not", "no ", "without", "never", "except", "other than", "excluding", "n't", "none", "neither", "nor", "different", "exclude", "apart from", "unless", "non-"],
        "group": ["each", "every", "per", "by", "for all", "grouped", "group"],
    },
    "zh": {
        "count": ["数量", "数目", "个数", "多少", "计数", "总数"],
        "sum": ["总和", "总", "合计", "之和"],
        "avg": ["平均"],
        "min": ["最小", "最低", "最少", "最早", "最短"],
        "max": ["最大", "最高", "最多", "最晚", "最长"],
        "desc": ["降序", "从高到低", "从大到小", "最高", "最多", "最大", "前"],
        "asc": ["升序", "从低到高", "从小到大", "最低", "最少", "最小", "排序"],
        "negation": ["不", "没有", "非", "除", "无", "未"],
        "group": ["每", "各", "按", "分组"],
    },
}


@dataclass
class Faithfulness:
    """The checker's verdict: ``score`` in [0, 1] (found / checked) and the ``missing`` items."""

    score: float
    missing: list[str] = field(default_factory=list)
    checked: int = 0

    def __float__(self) -> float:
        return self.score


def _norm(text: str) -> str:
    return " " + re.sub(r"[^\w\u4e00-\u9fff%.+\-']+", " ", text.lower()).strip() + " "


def _forms(name: str) -> set[str]:
    h = humanize(name)
    forms = {h, plural(h), singular(h), name.lower(), name.lower().replace("_", " ")}
    # Accept the last word of a multi-word name too ("student id" → "id" is too weak; keep heads).
    return {f for f in forms if f}


def _mentions(norm_text: str, raw_lower: str, forms: Iterable[str]) -> bool:
    for f in forms:
        f = f.lower()
        if not f:
            continue
        if re.search(r"[\u4e00-\u9fff]", f):
            if f in raw_lower:
                return True
        elif f" {_norm(f).strip()} " in norm_text or (len(f) > 3 and _norm(f).strip() in norm_text):
            return True
    return False


def items_for(facts: StatementFacts, language: str = "en") -> list[tuple[str, list[str]]]:
    """What a faithful description must mention: ``(label, acceptable forms)`` pairs."""
    syn = SYNONYMS.get(language, SYNONYMS["en"])
    items: list[tuple[str, list[str]]] = []
    for t in facts.tables:
        items.append((f"table {t}", sorted(_forms(t))))
    for s in facts.selected:
        if s.column:
            items.append((f"column {s.column}", sorted(_forms(s.column))))
        if s.aggregate:
            items.append((f"aggregate {s.aggregate}", syn[s.aggregate]))
    for flt in facts.filters + facts.having:
        for v in flt.values:
            if v.lower() in ("null",):
                continue
            items.append((f"value {v}", [v, v.strip("%")]))
    if facts.group_by:
        items.append(("grouping", syn["group"]))
    for o in facts.order_by:
        items.append((f"ordering {'descending' if o.descending else 'ascending'}",
                      syn["desc" if o.descending else "asc"] + ([str(facts.limit)] if facts.limit else [])))
    if isinstance(facts.limit, int):
        items.append((f"limit {facts.limit}", [str(facts.limit)] + (
            ["the most", "the highest", "the largest", "the lowest", "the smallest", "the least", "the fewest",
             "the greatest", "the top", "the best", "the earliest", "the latest", "the oldest", "the youngest",
             "最", "一个"] if facts.limit == 1 else [])))
    if facts.negations:
        items.append(("negation", syn["negation"]))
    return items


def check(text: str, facts: Sequence[StatementFacts] | StatementFacts, *, language: str = "en") -> Faithfulness:
    """Score ``text`` against ``facts`` (one statement's or a script's)."""
    if isinstance(facts, StatementFacts):
        facts = [facts]
    raw = (text or "").lower()
    norm = _norm(text or "")
    missing: list[str] = []
    total = 0
    for f in facts:
        for label, forms in items_for(f, language):
            total += 1
            if not _mentions(norm, raw, forms):
                missing.append(label)
    if total == 0:
        return Faithfulness(1.0 if text and text.strip() else 0.0, [], 0)
    return Faithfulness(round((total - len(missing)) / total, 4), missing, total)
