"""Finding sqlglot's internal names in a text ("datesub", "JSONExtract", "nullif of ..."): words
no description should contain. Used by the tests and benchmarks that guard the describer."""

from __future__ import annotations

import re
from functools import lru_cache

from sqlglot import exp

#: Where a CamelCase class name splits into words: DateSub -> Date|Sub, JSONExtract -> JSON|Extract.
CAMEL_HUMPS = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _all_subclasses(cls: type) -> set[type]:
    out: set[type] = set()
    stack = [cls]
    while stack:
        sub: type
        for sub in stack.pop().__subclasses__():
            if sub not in out:
                out.add(sub)
                stack.append(sub)
    return out


#: Single-word sqlglot class names that are SQL jargon, not English, in lower case.
_JARGON = frozenset(
    """acos acosh asin asinh atan atan2 atanh avg booland boolnot boolor cbrt chr coalesce corr
cosh coth csc csch dayname elt explode float64 getbit hll initcap int64 kwarg localtime localtimestamp minhash
monthname nanvl ntile nullif nvl2 opclass posexplode randn randstr rint sech seq1 seq2 seq4 seq8 sinh sqrt
stddev strtok systimestamp tanh typeof unhex unnest zipf""".split()
)


@lru_cache(maxsize=1)
def _leak_names() -> tuple[frozenset[str], frozenset[str]]:
    camel, lower = set(), set(_JARGON)
    for cls in _all_subclasses(exp.Expression):
        name = cls.__name__.lstrip("_")
        if len(CAMEL_HUMPS.split(name)) > 1:  # DateSub, JSONExtractScalar: never an English word
            camel.add(name)
            lower.add(name.lower())
    return frozenset(camel), frozenset(lower)


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def internal_names(text: str, allowed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The sqlglot class names in ``text`` ("datesub", "JSONExtract"): words no description should hold.

    ``allowed`` lists words that are legitimately there (the statement's own identifiers).
    """
    camel, lower = _leak_names()
    found = []
    for word in _WORD.findall(text):
        if word in allowed or word.lower() in allowed:
            continue
        if word in camel or (word.islower() and word in lower):
            found.append(word)
    return found
