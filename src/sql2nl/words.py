"""Turning identifiers into words: ``born_state`` → "born state", ``customerID`` → "customer id"."""

from __future__ import annotations

import re
from functools import lru_cache

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@lru_cache(maxsize=65536)
def humanize(name: str) -> str:
    """An identifier as words a person would say (lower case, no underscores or camel humps)."""
    if not name:
        return name
    name = name.strip('`"[]')
    name = name.split(".")[-1]
    if len(name) > 2 and name[-1] == "s" and name[:-1].isupper():
        name = name[:-1] + "S"  # "APPELLATIONs" is one word, not "APPELLATIO Ns"
    parts = re.split(r"[_\s\-]+", _CAMEL.sub(" ", name))
    words = [p.lower() for p in parts if p]
    return " ".join(ABBREVIATIONS.get(w, w) for w in words).strip()


#: Abbreviations common in schemas, spelled out the way people say them ("fname" → "first name").
ABBREVIATIONS = {
    "fname": "first name",
    "lname": "last name",
    "dob": "date of birth",
    "dept": "department",
    "num": "number",
    "qty": "quantity",
    "amt": "amount",
    "addr": "address",
    "emp": "employee",
    "cust": "customer",
    "mgr": "manager",
    "yr": "year",
    "crs": "course",
    "prof": "professor",
    "stuid": "student id",
    "stu": "student",
    "pct": "percent",
    "nbr": "number",
    "tel": "telephone",
    "info": "information",
    "desc": "description",
    "descr": "description",
    "cnt": "count",
}


@lru_cache(maxsize=65536)
def plural(noun: str) -> str:
    """A rough English plural of the last word (enough for table names like "student" → "students")."""
    if not noun:
        return noun
    head, _, last = noun.rpartition(" ")
    low = last.lower()
    if len(low) < 2 or low in ("people", "children", "men", "women", "data", "staff", "information", "equipment"):
        p = last
    elif low.endswith(("s", "x", "z", "ch", "sh")):
        p = last if low.endswith("s") else last + "es"
    elif low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        p = last[:-1] + "ies"
    elif low in ("person",):
        p = "people"
    elif low in ("child",):
        p = "children"
    else:
        p = last + "s"
    return f"{head} {p}" if head else p


#: Words that start a qualifier after a table's head noun: "documents to be destroyed", "member of
#: club", "products for hire", "sales by region". Not "in", "on", "out", "up": those end compounds.
_QUALIFIERS = frozenset({"of", "to", "for", "with", "by", "per", "from", "without"})


def _head_noun(noun: str) -> tuple[str, str]:
    """``noun`` cut after its head noun: ("documents", " to be destroyed"); ("first name", "") when
    nothing qualifies it. A participle before the word ("destroyed by employee") is no head noun."""
    words = noun.split(" ")
    for i in range(1, len(words) - 1):
        if words[i].lower() in _QUALIFIERS:
            before = words[i - 1].lower()
            if before.endswith("ed") and len(before) > 4:
                break
            return " ".join(words[:i]), " " + " ".join(words[i:])
    return noun, ""


@lru_cache(maxsize=65536)
def table_plural(name: str) -> str:
    """The plural of a table's name in words, inflecting its head noun: "member of club" →
    "members of club", "documents to be destroyed" stays as it is. (Only for table names: a
    column's words are often no noun phrase, "active from date".)"""
    head, qualifier = _head_noun(name)
    return plural(head) + qualifier


@lru_cache(maxsize=65536)
def table_singular(name: str) -> str:
    """The singular of a table's name in words (see :func:`table_plural`)."""
    head, qualifier = _head_noun(name)
    return singular(head) + qualifier


@lru_cache(maxsize=65536)
def singular(noun: str) -> str:
    """A rough English singular of the last word."""
    head, _, last = noun.rpartition(" ")
    low = last.lower()
    if low == "people":
        s = "person"
    elif low.endswith("ies") and len(low) > 3:
        s = last[:-3] + "y"
    elif low.endswith(("ches", "shes", "xes", "sses")) or (low.endswith("uses") and len(low) > 5):
        s = last[:-2]
    elif low.endswith("s") and not low.endswith(("ss", "us", "is")):
        s = last[:-1]
    else:
        s = last
    return f"{head} {s}" if head else s


@lru_cache(maxsize=65536)
def plural_phrase(words: str) -> str:
    """The plural of a noun phrase: "date of birth" → "dates of birth", "first name" → "first names".

    Phrases ending in a number or unit-like token ("meter 100") are left alone.
    """
    head, sep, tail = words.partition(" of ")
    if sep:
        return f"{plural_phrase(head)} of {tail}"
    last = words.rsplit(" ", 1)[-1]
    low = last.lower()
    if (
        not last
        or not last[-1].isalpha()
        or low in _UNCOUNTABLE
        or (len(low) < 3 and low != "id")
        or (low.endswith("ed") and len(low) > 4)
        or low in ("from", "into", "with", "for")
    ):
        return words
    return plural(words)


_UNCOUNTABLE = frozenset(
    """information info data staff equipment money music software hardware news
details status series species gender sex weather feedback stock revenue
made paid sent held built taken given done seen known born won lost sold bought shown found spent kept told
first last next previous own""".split()
)


#: Endings of a foreign-key column that name the key, not the thing it points at ("manager_id").
_KEY_ENDINGS = ("id", "key", "code", "no", "number", "num", "fk", "ref")


@lru_cache(maxsize=65536)
def key_role(column: str) -> str:
    """What a key column points at, in words: ``manager_id`` → "manager", ``dest_airport_code`` →
    "dest airport"; "" when nothing is left (``id``)."""
    words = humanize(column).split()
    while words and words[-1] in _KEY_ENDINGS:
        words.pop()
    if words and _glued_id(words[-1]):
        words[-1] = words[-1][:-2]  # "petid" → "pet"
    return " ".join(words)


_ID_WORDS = frozenset(
    """paid valid invalid liquid squid rapid avid acid hybrid pyramid android orchid druid
solid humid timid vivid said raid maid braid grid kid lid bid mid skid fluid rigid placid lucid""".split()
)


def _glued_id(word: str) -> bool:
    """ "petid", "dormid": a noun with "id" glued on (but not "paid", "valid"...)."""
    return len(word) > 4 and word.endswith("id") and word.isalpha() and word not in _ID_WORDS


@lru_cache(maxsize=65536)
def is_key_name(table: str, column: str) -> bool:
    """Whether ``column`` is, by its name, ``table``'s own key: ``id``, ``rowid``, or the table's
    singular name followed by a key word (``students.stuid``, ``countries.CountryId``)."""
    col = humanize(column)
    if col in ("id", "rowid", "pk", "key", "uuid", "oid", "code"):
        return True
    noun = singular(humanize(table))
    if _glued_id(col) and col[:-2] == noun.replace(" ", ""):
        return True
    words = col.split()
    if len(words) < 2 or words[-1] not in ("id", "key", "code", "no", "number"):
        return False
    subject = " ".join(words[:-1])
    return noun.replace(" ", "") == subject.replace(" ", "")
