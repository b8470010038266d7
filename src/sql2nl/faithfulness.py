"""Does a description say everything its SQL does? A checker over the statement's facts.

Every table, selected column, filter value, aggregate, ordering direction, limit, grouping,
set operation and negation of the statement is an item the text must express. Names may appear
humanized (``born_state`` → "born state"), in plural or singular, and aggregates and orderings
through their usual words (count → "number of", max → "highest"...). The score is the share of
items found; ``missing`` names the others, so an LLM answer that drops a filter value, a "not" or
a table fails.

>>> from sql2nl.facts import extract
>>> r = check("List the names of users older than 18.", extract("SELECT name FROM users WHERE age > 18"))
>>> r.score, r.missing
(1.0, [])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

from .facts import StatementFacts, is_parameter
from .schema import Schema
from .words import humanize, singular

_SUPERLATIVES_EN = ["most", "highest", "largest", "greatest", "biggest", "maximum", "top", "best", "latest",
                    "newest", "oldest", "longest", "least", "lowest", "smallest", "fewest", "minimum", "earliest",
                    "youngest", "shortest", "cheapest", "first", "last", "single", "one"]

# Words that express an aggregate, an ordering, a grouping... per language.
SYNONYMS = {
    "en": {
        "count": ["number", "count", "how many", "many", "total", "amount"],
        "sum": ["total", "sum", "combined", "overall", "altogether"],
        "avg": ["average", "mean", "avg"],
        "min": ["minimum", "lowest", "smallest", "least", "earliest", "fewest", "min", "youngest", "shortest",
                "cheapest", "first", "oldest"],
        "max": ["maximum", "highest", "largest", "greatest", "most", "latest", "max", "oldest", "biggest",
                "longest", "top", "last", "newest", "youngest"],
        "desc": ["descending", "highest", "largest", "most", "greatest", "top", "latest", "newest", "biggest",
                 "decreasing", "oldest", "longest", "high to low", "reverse", "maximum", "best"],
        "asc": ["ascending", "lowest", "smallest", "least", "fewest", "earliest", "alphabetical", "increasing",
                "youngest", "shortest", "order", "sorted", "first", "low to high", "minimum", "cheapest"],
        "negation": ["not", "no", "without", "never", "except", "other than", "excluding", "n't", "none",
                     "neither", "nor", "different from", "exclude", "apart from", "unless", "non", "but"],
        "group": ["each", "every", "per", "by", "for all", "grouped", "group", "different", "respective"],
        "superlative": _SUPERLATIVES_EN,
        "limit1": ["the " + w for w in _SUPERLATIVES_EN] + ["1", "one", "a single", "first", "top"],
        "union": ["or", "together", "as well as", "also", "union", "either", "plus", "along with", "and"],
        "intersect": ["both", "also", "and", "as well as", "intersect", "common"],
        "distinct": ["distinct", "different", "unique", "all the"],
    },
    "zh": {
        "count": ["数量", "数目", "个数", "多少", "计数", "总数", "几"],
        "sum": ["总和", "总", "合计", "之和"],
        "avg": ["平均"],
        "min": ["最小", "最低", "最少", "最早", "最短", "最年轻"],
        "max": ["最大", "最高", "最多", "最晚", "最长", "最新"],
        "desc": ["降序", "从高到低", "从大到小", "最高", "最多", "最大", "前", "倒序"],
        "asc": ["升序", "从低到高", "从小到大", "最低", "最少", "最小", "排序", "顺序"],
        "negation": ["不", "没有", "非", "除", "无", "未", "排除"],
        "group": ["每", "各", "按", "分组"],
        "superlative": ["最"],
        "limit1": ["最", "一个", "1", "第一"],
        "union": ["或", "以及", "和", "并集", "加上"],
        "intersect": ["同时", "并且", "也", "交集", "都"],
        "distinct": ["不同", "去重", "唯一"],
    },
}
_NUMBER_WORDS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
                 "8": "eight", "9": "nine", "10": "ten", "3 ": "three"}
#: IN lists longer than this only need their first values and their size expressed.
MANY_VALUES = 8


@dataclass
class Faithfulness:
    """The checker's verdict: ``score`` in [0, 1] (found / checked) and the ``missing`` items."""

    score: float
    missing: list[str] = field(default_factory=list)
    checked: int = 0

    def __float__(self) -> float:
        return self.score


_TOKEN = re.compile(r"[a-z0-9]+|'t|[\u4e00-\u9fff]", re.I)
_CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=65536)
def _stem(token: str) -> str:
    return singular(token) if len(token) > 2 else token


def _tokens(text: str) -> str:
    """Lower-cased word tokens, each singularized, space-separated and padded (for phrase search)."""
    return " " + " ".join(_stem(t) for t in _TOKEN.findall(text.lower().replace("_", " "))) + " "


@lru_cache(maxsize=65536)
def _name_forms(name: str) -> tuple[str, ...]:
    forms = {_tokens(humanize(name)), _tokens(name), _tokens(re.sub(r"(?<=[a-z])(?=[0-9])", " ", humanize(name)))}
    return tuple(f for f in forms if f.strip())


@dataclass
class _Text:
    raw: str
    tokens: str

    def has_phrase(self, phrase: str) -> bool:
        if _CJK.search(phrase):
            return phrase.lower() in self.raw
        return _tokens(phrase) in self.tokens

    def has_any(self, phrases) -> bool:
        return any(self.has_phrase(p) for p in phrases)

    def has_name(self, name: str, *words: str | None) -> bool:
        """``name`` humanized, as written, or in any of the schema's ``words`` for it."""
        return (any(f in self.tokens for f in _name_forms(name)) or name.lower() in self.raw
                or any(w and self.has_phrase(w) for w in words))

    def has_value(self, value: str) -> bool:
        v = value.strip().strip("%").lower()
        if not v:
            return True
        if v in self.raw:
            if not re.fullmatch(r"[\w.\-]+", v):
                return True
            # "18" must not be found inside "180": require a boundary around word-like values.
            return re.search(r"(?<![\w.])" + re.escape(v) + r"(?![\w])", self.raw) is not None or \
                re.search(r"(?<![a-z0-9])" + re.escape(v) + r"(?![a-z0-9])", self.raw) is not None
        return False


def _local_names(name: str, language: str, kind: str = "column", table: str | None = None) -> tuple[str, ...]:
    """The describer's own words for an identifier in ``language`` (zh: the glossary's Chinese)."""
    if language != "zh":
        return ()
    from .rules.glossary_zh import translate  # the one glossary the Chinese describer names things with

    forms = {translate(name, kind=kind, table=table), translate(name, kind=kind)}
    return tuple(f.text for f in forms if f.complete)


def items_for(facts: StatementFacts, language: str = "en", schema: Schema | None = None) -> list[tuple[str, object]]:
    """What a faithful description must mention: ``(label, test)`` pairs; a test is a callable on the text.

    With ``schema``, a table or column may also be named by the schema's words for it.
    """
    syn = SYNONYMS.get(language, SYNONYMS["en"])
    items: list[tuple[str, object]] = []
    for t in facts.tables:
        words = schema.table_words(t) if schema is not None else None
        local = _local_names(t, language, kind="table")
        items.append((f"table {t}", lambda x, t=t, w=words, loc=local: x.has_name(t, w, *loc)))
    for s in facts.selected:
        if s.column and not s.star:
            words = schema.column_words(s.table, s.column) if schema is not None else None
            local = _local_names(s.column, language, table=s.table)
            items.append((f"column {s.column}", lambda x, c=s.column, w=words, loc=local: x.has_name(c, w, *loc)))
        if s.aggregate:
            items.append((f"aggregate {s.aggregate}", lambda x, a=s.aggregate: x.has_any(syn[a])))
    for flt in facts.filters + facts.having:
        # A bound parameter carries no value to mention (the describer says "a given value").
        values = [v for v in flt.values if v.lower() not in ("null",) and not is_parameter(v)]
        if len(values) > MANY_VALUES:
            values = values[:3]
            items.append((f"{len(flt.values):,} values", lambda x, n=len(flt.values): x.has_value(f"{n:,}")
                          or x.has_value(str(n))))
        for v in values:
            items.append((f"value {v}", lambda x, v=v: x.has_value(v)))
    values = facts.values[:3] if len(facts.values) > MANY_VALUES else facts.values
    for v in values:
        if v.lower() != "null" and not is_parameter(v):
            items.append((f"value {v}", lambda x, v=v: x.has_value(v)))
    if facts.group_by:
        words = syn["group"] + (syn["superlative"] if facts.limit == 1 and facts.order_by else [])
        items.append(("grouping", lambda x: x.has_any(words)))
    for o in facts.order_by:
        key = "desc" if o.descending else "asc"
        words = syn[key]
        if o.aggregate:
            words = words + syn[o.aggregate]
        items.append((f"ordering {'descending' if o.descending else 'ascending'}", lambda x, w=words: x.has_any(w)))
    if isinstance(facts.limit, int):
        n = str(facts.limit)
        words = [n, _NUMBER_WORDS.get(n, n)] + (syn["limit1"] if facts.limit == 1 else [])
        items.append((f"limit {facts.limit}", lambda x, w=words: x.has_any(w) or x.has_value(w[0])))
    if facts.offset is not None:
        items.append((f"offset {facts.offset}", lambda x, o=str(facts.offset): x.has_value(o)))
    if facts.negations:
        items.append(("negation", lambda x: x.has_any(syn["negation"])))
    for op in dict.fromkeys(facts.set_operations):
        if op in ("union", "union all"):
            items.append(("union", lambda x: x.has_any(syn["union"])))
        elif op == "intersect":
            items.append(("intersect", lambda x: x.has_any(syn["intersect"])))
    return items


def check(text: str, facts: Sequence[StatementFacts] | StatementFacts, *, language: str = "en",
          schema: Any = None) -> Faithfulness:
    """Score ``text`` against ``facts`` (one statement's or a script's).

    ``schema`` (any form ``describe`` accepts) lets the text name tables and columns in the
    schema's words ("full name" for ``nm``).
    """
    if isinstance(facts, StatementFacts):
        facts = [facts]
    schema = Schema.from_any(schema)
    x = _Text((text or "").lower(), _tokens(text or ""))
    missing: list[str] = []
    total = 0
    for f in facts:
        for label, test in items_for(f, language, schema):
            total += 1
            if not test(x):  # type: ignore[operator]
                missing.append(label)
    if total == 0:
        return Faithfulness(1.0 if text and text.strip() else 0.0, [], 0)
    return Faithfulness(round((total - len(missing)) / total, 4), missing, total)
