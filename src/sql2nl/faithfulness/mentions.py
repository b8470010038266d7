"""Mentions: does the text name the tables, columns and values the statement uses?

People name things loosely, so a name counts as mentioned when the text has it humanized
(``born_state`` → "born state"), singular or plural, in the schema's words, or word by word:
"the prices of the products" names ``Product_Price`` (the table's own word may stand apart),
"the date the claim was made" names ``Date_Claim_Made``. A table that only links two others on
their keys ("students who have pets" through ``has_pet``) need not be named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from ..words import humanize, plural
from .lexicon import index
from .scan import Scan
from .tokens import phrase_tokens, root, stem

# Words that say nothing about which table or column is meant.
_GENERIC = frozenset(
    """info information data detail details record records list type types table tables item has
have in of and to for by on with the a an id ids code codes name names log map link ref rel xref tbl all at is
num no""".split()
)
_STOP = frozenset("of the and in to for by a an on is at with from as".split())
#: IN lists longer than this only need their first values and their size expressed.
MANY_VALUES = 8
# Codes people write out: 'M' is "male", 'Y' is "yes".
_VALUE_WORDS = {
    "m": ("male", "man", "men", "boy", "boys"),
    "f": ("female", "woman", "women", "girl", "girls", "false"),
    "y": ("yes",),
    "n": ("no",),
    "t": ("true", "yes"),
    "true": ("yes",),
    "false": ("no", "not"),
    "usa": ("us", "united states", "america"),
    "us": ("usa", "united states", "america"),
    "uk": ("united kingdom", "britain"),
}
# Words that name the same column: "How old" asks for an age; "gender" is a sex column.
_SAME_THING = {
    "age": ("old", "older", "oldest", "aged", "young", "younger", "youngest"),
    "sex": ("gender",),
    "gender": ("sex",),
}
_YES = frozenset({"yes", "y", "true", "t", "1"})
_NO = frozenset({"no", "n", "false", "f", "0"})


@lru_cache(maxsize=65536)
def name_forms(name: str) -> tuple[tuple[str, ...], ...]:
    """The token sequences that name ``name`` in full."""
    h = humanize(name)
    forms = {
        phrase_tokens(h),
        phrase_tokens(name),
        phrase_tokens(re.sub(r"(?<=[a-z])(?=[0-9])", " ", h)),
        phrase_tokens(plural(h) if len(h.rsplit(" ", 1)[-1]) > 2 else h + "s"),
    }  # "ts" for a table t
    return tuple(f for f in forms if f)


_SOFT = frozenset("id code no num key detail".split())  # "customer_id" is named by "customer"
# Words that tell a column from its sibling: "first name" is not "last name", "min salary" not "max salary".
_KEEP = frozenset(
    """first last middle min minimum max maximum start end home away old new previous next current
birth death male female low high total average mean avg sum""".split()
)
_COMPOUND_TAILS = ("name", "id", "date", "code", "number", "type", "count", "time", "year", "num")
_PERSON_NAME = frozenset("first last middle given family name fore sur forename surname".split())


@lru_cache(maxsize=65536)
def name_words(name: str, tables: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(core words, words that may be left out) for naming ``name`` word by word.

    The tables' own words and key suffixes ("id", "code") may be left out; glued words are split
    ("driverid" in a table "drivers", "firstname", "dname").
    """
    table_words = {w for t in tables for w in phrase_tokens(humanize(t))}
    words: list[str] = []
    for w in phrase_tokens(humanize(name)):
        for tw in table_words:
            if len(tw) > 2 and w != tw and w.startswith(tw) and len(w) - len(tw) >= 2:
                words += [tw, stem(w[len(tw) :])]
                break
        else:
            tail = next((t for t in _COMPOUND_TAILS if w.endswith(t) and len(w) > len(t)), None)
            words += [stem(w[: -len(tail)]), tail] if tail else [w]
    words = [w for w in words if w not in _STOP and len(w) > 1]
    core = tuple(w for w in words if w not in table_words and w not in _SOFT)
    optional = tuple(w for w in words if w in table_words or w in _SOFT)
    return core, optional


@lru_cache(maxsize=65536)
def local_names(name: str, language: str, kind: str = "column", table: str | None = None) -> tuple[str, ...]:
    """The describer's own words for an identifier in ``language``: for Chinese, the glossary's
    (``sql2nl.rules.glossary_zh``, the one glossary the Chinese describer names things with)."""
    if language != "zh":
        return ()
    try:
        from ..rules.glossary_zh import translate
    except ImportError:  # a describer without a glossary names things as written
        return ()
    forms = {translate(name, kind=kind, table=table), translate(name, kind=kind)}
    return tuple(f.text for f in forms if f.complete)


class Mentions:
    """Which names the text has, for one scan."""

    def __init__(self, scan: Scan):
        self.scan = scan
        self._roots: frozenset[str] | None = None

    @property
    def roots(self) -> frozenset[str]:
        if self._roots is None:
            self._roots = frozenset(root(s) for s in self.scan.stems)
        return self._roots

    def has_word(self, w: str) -> bool:
        return (
            w in self.scan.stemset
            or root(w) in self.roots
            or any(x in self.scan.stemset for x in _SAME_THING.get(w, ()))
        )

    def has_form(self, name: str, words: Iterable[str | None] = ()) -> bool:
        s = self.scan
        if any(s.has(f) for f in name_forms(name)) or (s.language == "zh" and name.lower() in s.raw):
            return True
        return any(w and (s.has(phrase_tokens(w)) or w.lower() in s.raw) for w in words)

    def column(
        self, name: str, tables: tuple[str, ...], words: Iterable[str | None] = (), table: str | None = None
    ) -> bool:
        """Named in full, or word by word: every core word, or the last one and half of the rest
        (never leaving out a word like "first" or "max" that tells it from a sibling column)."""
        if self.has_form(name, tuple(words) + local_names(name, self.scan.language, "column", table)):
            return True
        core, optional = name_words(name, tables)
        if not core:
            return any(self.has_word(w) for w in optional)
        present = [w for w in core if self.has_word(w)]
        if len(present) == len(core):
            return True
        if set(core) <= _PERSON_NAME and "name" in core and self.scan.has(("full", "name")):
            return True  # "full name" for first_name and last_name
        return core[-1] in present and 2 * len(present) >= len(core) and all(w in present for w in core if w in _KEEP)

    def table(self, name: str, words: Iterable[str | None] = ()) -> bool:
        if self.has_form(name, tuple(words) + local_names(name, self.scan.language, "table")):
            return True
        sig = [w for w in phrase_tokens(humanize(name)) if len(w) > 2 and w not in _GENERIC]
        return any(self.has_word(w) for w in sig)

    def value(self, value: str) -> bool:
        s = self.scan
        v = value.strip().strip("%").lower()
        if not v:
            return True
        loose = re.sub(r"[\W_]+", " ", v).strip()
        if loose and f" {loose} " in self._loose_raw:
            return True
        if v in s.raw:
            if not re.fullmatch(r"[\w.\-]+", v):
                return True
            # "18" must not be found inside "180": require a boundary around word-like values.
            if re.search(r"(?<![\w.])" + re.escape(v) + r"(?![\w])", s.raw) or re.search(
                r"(?<![a-z0-9])" + re.escape(v) + r"(?![a-z0-9])", s.raw
            ):
                return True
        toks = phrase_tokens(v, s.language)
        if toks and s.has(toks):
            return True
        if (
            len(toks) == 1
            and len(toks[0]) >= 4
            and not toks[0][0].isdigit()
            and any(t.startswith(toks[0]) and len(t) - len(toks[0]) <= 3 for t in s.stemset)
        ):
            return True  # "Australian" for 'Australia'
        return any(s.has(phrase_tokens(w)) for w in _VALUE_WORDS.get(v, ()))

    @property
    def _loose_raw(self) -> str:
        cached = self.__dict__.get("_loose")
        if cached is None:
            cached = self.__dict__["_loose"] = " " + re.sub(r"[\W_]+", " ", self.scan.raw) + " "
        return cached

    def flag(self, value: str, column: str, tables: tuple[str, ...], negated: bool) -> bool:
        """A yes/no column said by its name: 'Yes' for ``temporary_acting`` is "who are acting";
        'N' or 0 needs a "not" too, or the word without its "un-" (``unavailable = 0``: "available")."""
        v = value.strip().lower()
        yes, no = v in _YES, v in _NO
        if not (yes or no) or not self.column(column, tables):
            return False
        if yes != negated:
            return True
        core, _ = name_words(column, tables)
        if any(w.startswith(("un", "non", "in")) and self.has_word(w[2:] if w[:2] != "no" else w[3:]) for w in core):
            return True
        return self.scan.has(("not",)) or self.scan.has(("no",)) or self.scan.has(("without",))

    def value_positions(self, value: str) -> list[tuple[int, int]]:
        """Token spans where ``value`` stands (its written-out code too: 'M' -> "male")."""
        s = self.scan
        v = value.strip().strip("%").lower()
        out = []
        for form in [phrase_tokens(v, s.language)] + [phrase_tokens(w) for w in _VALUE_WORDS.get(v, ())]:
            if form:
                out += [(i, i + len(form)) for i in s.find(form)]
        return out


def mention_checks(plan: Any, m: Mentions, schema: Any) -> list[tuple[str, str]]:
    """Verdicts ``(label, "ok" | "missing")`` for tables, selected columns and values."""
    f = plan.facts
    out: list[tuple[str, str]] = []
    tables = tuple(f.tables)
    returned: dict[str, list[Any]] = {}
    for sel in f.selected:
        if sel.column and sel.table:
            returned.setdefault(sel.table.lower(), []).append(sel)
    for t in {t.lower(): t for t in reversed(plan.required_tables)}.values():
        words = schema.table_words(t) if schema is not None else None
        # a joined table is named by the columns it gives ("the cities of employees": locations.city)
        # (not by a generic one: "each name" does not say whose)
        ok = m.table(t, (words,)) or (
            t.lower() not in plan.subjects
            and any(
                m.column(c.column, tables, (), c.table)
                for c in returned.get(t.lower(), ())
                if any(w not in _GENERIC for w in name_words(c.column, tables)[0])
            )
        )
        out.append((f"table {t}", "ok" if ok else "missing"))
    seen = set()
    for sel in f.selected:
        if sel.column and not sel.star and sel.column.lower() not in seen:
            seen.add(sel.column.lower())
            words = schema.column_words(sel.table, sel.column) if schema is not None else None
            ok = m.column(sel.column, tables, (words,), sel.table)
            out.append((f"column {sel.column}", "ok" if ok else "missing"))
    for flt in list(f.filters) + list(f.having):
        values = [v for v in flt.values if v.lower() != "null" and not _parameter(v)]
        if id(flt) in plan.like_cores:  # a LIKE pattern: its literal part, "%ROY%" -> "ROY"
            values = [plan.like_cores[id(flt)]] if plan.like_cores[id(flt)] else []
        if len(values) > MANY_VALUES:
            n = len(flt.values)
            out.append((f"{n:,} values", "ok" if m.value(f"{n:,}") or m.value(str(n)) else "missing"))
            values = values[:3]
        for v in values:
            ok = m.value(v) or (flt.op == "=" and flt.column and m.flag(v, flt.column, tables, flt.negated))
            out.append((f"value {v}", "ok" if ok else "missing"))
    values = f.values[:3] if len(f.values) > MANY_VALUES else f.values
    for v in values:
        if v.lower() != "null" and not _parameter(v):
            out.append((f"value {v}", "ok" if m.value(v) else "missing"))
    return out


def _parameter(v: str) -> bool:
    from ..facts import is_parameter

    return is_parameter(v)


def name_spans(plans: Iterable[Any], language: str) -> list[tuple[tuple[str, ...], str, bool]]:
    """Every table and column name of the statements as ``(form, key, mask)`` for :meth:`Scan.mark_names`.

    A one-word name that is also a lexicon word ("count", "total") is not masked: the text may
    use the word for its meaning too.
    """
    out = []
    seen = set()
    for p in plans:
        cached = p.name_spans.get(language)
        if cached is None:
            cached = p.name_spans[language] = _plan_name_spans(p, language)
        for item in cached:
            if item not in seen:
                seen.add(item)
                out.append(item)
    return out


def _plan_name_spans(p: Any, language: str) -> list[tuple[tuple[str, ...], str, bool]]:
    idx = index(language)
    out = []
    seen = set()
    tables = set(p.facts.tables)
    for n in sorted(set(p.all_columns) | tables):
        local = local_names(n, language, "table" if n in tables else "column")
        for form in name_forms(n) + tuple(phrase_tokens(x, language) for x in local):
            key = (form, n.lower())
            if key in seen:
                continue
            seen.add(key)
            lexical = len(form) == 1 and any(form in table for _, table in idx.get(form[0], ()))
            out.append((form, n.lower(), not lexical))
    return out
