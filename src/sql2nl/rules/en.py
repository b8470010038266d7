"""English wording: a person explaining the query, as a statement ("List the names of ...") or,
with ``style="question"``, as a question ("What are the names of ...?")."""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlglot import exp

from ..words import humanize, plural, plural_phrase, singular
from .base import Describer
from .conditions import Test
from .en_phrases import AGGREGATE_WORDS, CLAUSES, FILTERS, PHRASES
from .queries import OrderKey, SelectPlan

# Link tables named for what they say: "has_pet" links students to the pets they have.
_LINK_VERBS = {
    "has": "have",
    "have": "have",
    "owns": "own",
    "own": "own",
    "takes": "take",
    "take": "take",
    "lives": "live",
    "live": "live",
    "visits": "visit",
    "visit": "visit",
    "works": "work",
    "work": "work",
    "plays": "play",
    "play": "play",
    "likes": "like",
    "like": "like",
    "attends": "attend",
    "attend": "attend",
    "teaches": "teach",
    "writes": "write",
    "belongs": "belong",
    "follows": "follow",
    "manages": "manage",
    "uses": "use",
    "buys": "buy",
    "participates": "participate",
    "appears": "appear",
    "enrolled": "are enrolled",
    "registered": "are registered",
    "assigned": "are assigned",
}


_PREPOSITIONS = frozenset("at on in by of for to from with".split())


def _bare(phrase: str) -> str:
    return phrase[4:] if phrase.startswith("the ") else phrase


def _says(text: str, words: str) -> bool:
    """Whether ``words`` occur in ``text`` as whole words (table "b" is not in "number")."""
    return words in text and _whole_words(words).search(text) is not None


@functools.lru_cache(maxsize=4096)
def _whole_words(words: str) -> re.Pattern:
    # Compiled once per phrase: there are more phrases than ``re``'s own cache keeps.
    return re.compile(rf"(?<!\w){re.escape(words)}(?!\w)")


def _article(words: str) -> str:
    return "an" if words[:1].lower() in "aeiou" else "a"


class EnglishDescriber(Describer):
    language = "en"

    PHRASES = PHRASES
    CLAUSES = CLAUSES
    FILTERS = FILTERS
    AGGREGATE_WORDS = AGGREGATE_WORDS

    def join_list(self, items: list[str], last: str | None = None) -> str:
        items = [i for i in items if i]
        if len(items) > 1 and last is None and all(i.startswith("the ") for i in items):
            # "the names and ages", not "the names and the ages"
            items = [items[0]] + [i[4:] for i in items[1:]]
        if len(items) <= 1:
            return items[0] if items else ""
        sep = last if last is not None else " and "
        return ", ".join(items[:-1]) + sep + items[-1]

    def many(self, words: str) -> str:
        return plural_phrase(words)

    def continue_sentence(self, text: str) -> str:
        return text[:1].lower() + text[1:]

    # -- nouns for joins --------------------------------------------------------------------------

    def grain_noun(self, table: str) -> str:
        """What a row of ``table`` is when counted: "has_pet" rows are pets (had by someone)."""
        words = self.table_name(table).split()
        if len(words) > 1 and words[0].lower() in ("has", "have", "owns"):
            return plural(" ".join(words[1:]))
        if words and words[-1].lower() in ("in", "of", "on", "at", "by", "to", "with", "for"):
            return f"{' '.join(words)} records"
        return self.noun(table)

    def link_words(self, link_table: str, far: str, rows: str) -> str:
        """ "that have pets" (has_pet), "that live in dorms" (lives_in), else "linked to courses through takes"."""
        words = humanize(self.table_name(link_table)).split()
        verb = _LINK_VERBS.get(words[0].lower()) if words else None
        if verb is None:
            return self.PHRASES["linked"].format(far=rows, link=self.table_name(link_table))
        rest = [w for w in words[1:] if singular(w) not in singular(far).split()]
        return " ".join(["that", verb, *rest, rows])

    # -- sentence pieces ----------------------------------------------------------------------------

    def own_column_words(self, words: str, table: str | None) -> str:
        if not table or (self.schema is not None and self.schema.column_words(table, words)):
            return words
        noun = singular(self.table_name(table)).lower()
        if words.lower().startswith(noun + " ") and len(words) > len(noun) + 1:
            rest = words[len(noun) + 1 :]
            # "customer id", "flight no" stay: a bare key word says less than the whole name.
            return words if rest in ("id", "ids", "no", "nos", "number", "numbers", "code", "codes", "key") else rest
        return words

    def reads_as_clause(self, test: Test) -> bool:
        # "created at at least 2020": a name ending in a preposition needs its verb ("where created at is ...").
        return bool(test.args) and test.args[0].rsplit(" ", 1)[-1] in _PREPOSITIONS

    def relation_words(self, relation: str) -> str:
        return " " + relation

    def lead_words(self, lead: str, words: str) -> str:
        return f" {lead} {words}"

    def where_words(self, p: SelectPlan) -> str:
        return self.lead_words(*self.filter_words(p.where)) if p.where is not None else ""

    def columns_words(self, p: SelectPlan) -> str:
        cols = self.join_list(self.clip_list(p.columns, "columns"))
        if p.distinct:
            cols = "the different " + _bare(cols) if cols.startswith("the ") else "different " + cols
        return cols

    def tail(self, p: SelectPlan, with_order: bool = True) -> str:
        text = "".join(" " + r for r in p.relations)
        for note in p.notes:
            text += ", " + note
        if p.group:
            text += " for each " + self.join_list(self.clip_list(p.group, "columns"))
            if p.grouping:
                text += ", " + p.grouping
        if p.having is not None:
            text += self.lead_words(*self.filter_words(p.having))
        if with_order and p.order:
            text += (", " if p.notes or p.relations or p.having is not None else " ") + self.order_words(p.order)
        if p.limit:
            if p.limit_given:
                text += ", showing only a given number of rows"
            else:
                text += (
                    f", showing only the first {p.limit}"
                    if with_order and p.order
                    else f", showing only {p.limit} rows"
                )
        if p.offset:
            text += ", skipping a given number of rows" if p.offset_given else self.PHRASES["offset"].format(p.offset)
        return text

    def order_words(self, keys: list[OrderKey]) -> str:
        parts = []
        for key in self.clip_list(keys, "columns") if len(keys) > 4 else keys:
            if isinstance(key, str):
                parts.append(key)
                continue
            phrase = f"the number of {key.phrase}" if key.kind == "count" else key.phrase
            parts.append(f"in {'descending' if key.descending else 'ascending'} order of {phrase}")
        return self.join_list(parts, ", then ")

    def superlative(self, key: OrderKey) -> str:
        if key.kind == "count":
            return f"the {'most' if key.descending else 'fewest'} {key.phrase}"
        return f"the {'highest' if key.descending else 'lowest'} {_bare(key.phrase)}"

    def of_subject(self, p: SelectPlan, cols: str) -> str:
        return "" if not p.subject or _says(cols, p.subject) else f" of {self.subject_words(p)}"

    def subject_words(self, p: SelectPlan) -> str:
        """The rows a sentence is about: "students", or "each student" when grouped by its own key."""
        return f"each {p.subject_one}" if p.per_subject and p.subject_one else p.subject

    def grouped_columns(self, p: SelectPlan) -> str:
        """ "each city and the number of airports": the keys said once, with "each"."""
        aggs = [c for c, a in zip(p.columns, p.is_aggregate) if a]
        keys = [_bare(k) for k in p.group]
        return self.join_list(["each " + self.join_list(keys)] + aggs)

    def rest(self, p: SelectPlan, **changes: Any) -> SelectPlan:
        """``p`` without the pieces a sentence already said (``group=[]``, ``order=[]``...)."""
        return p.but(**changes)

    # -- sentences -----------------------------------------------------------------------------------

    def compose_select(self, p: SelectPlan) -> str:
        question = self.options.style == "question"
        cols = self.columns_words(p)
        where = self.where_words(p)
        if p.no_from:
            return f"What is {cols}{where}{self.tail(p)}?" if question else f"Compute {cols}{where}{self.tail(p)}"
        if p.constants_only and not p.order:
            text = self.PHRASES["for_each_row"].format(cols, f"{p.subject}{where}{self.tail(p)}")
            return f"What is {text[7:]}?" if question else text
        if p.count_only and not p.order and not p.limit:
            if not question:
                return f"Count the {p.counted}{where}{self.tail(p)}"
            if where.startswith(" with "):
                return f"How many {p.counted} have{where[5:]}{self.tail(p)}?"
            if where.startswith(" that "):
                return f"How many {p.counted}{where[5:]}{self.tail(p)}?"
            return f"How many {p.counted} are there{where}{self.tail(p)}?"
        if p.order and p.limit:
            return self.compose_top(p, cols, where)
        verb = "What is" if len(p.columns) == 1 else "What are"
        if p.aggregates_only and len(p.columns) == 1 and cols.startswith("the number of different "):
            what = cols[len("the number of different ") :]
            if question:
                return f"How many different {what}{self.of_subject(p, cols)} are there{where}{self.tail(p)}?"
            return f"Count the different {what}{self.of_subject(p, cols)}{where}{self.tail(p)}"
        if p.aggregates_only:
            return (
                f"{verb} {cols} of {self.subject_words(p)}{where}{self.tail(p)}?"
                if question
                else f"Find {cols} of {self.subject_words(p)}{where}{self.tail(p)}"
            )
        if p.group and p.keys_selected:
            aggs = [c for c, a in zip(p.columns, p.is_aggregate) if a]
            rest = self.tail(self.rest(p, group=[]))
            keys = self.join_list(p.group)
            if question and aggs:
                agg_words = self.join_list(aggs)
                be = "is" if len(aggs) == 1 else "are"
                grouping = f", {p.grouping}" if p.grouping else ""
                return (
                    f"What {be} {agg_words}{self.of_subject(p, agg_words + ' ' + keys)}{where} for each {keys}"
                    f"{grouping}{rest}?"
                )
            cols = self.grouped_columns(p) if aggs else "the different " + _bare(self.join_list(p.columns))
            grouping = f", {p.grouping}" if p.grouping else ""
            lead = "What are" if question else "Find"
            return f"{lead} {cols}{self.of_subject(p, cols)}{where}{grouping}{rest}{'?' if question else ''}"
        if question:
            return (
                f"{'What are' if len(p.columns) > 1 or not p.limit_one else verb} {cols} of {self.subject_words(p)}"
                f"{where}{self.tail(p)}?"
            )
        return f"List {cols} of {self.subject_words(p)}{where}{self.tail(p)}"

    def compose_top(self, p: SelectPlan, cols: str, where: str) -> str:
        question = self.options.style == "question"
        key = p.order[0]
        rest = self.rest(p, order=[], limit=None, limit_given=False)
        more = ", then " + self.order_words(p.order[1:]) if len(p.order) > 1 else ""
        if p.limit_one:
            verb = "What is" if len(p.columns) == 1 else "What are"
            body = self.top_one(p, cols, where, rest)
            return f"{verb} {body}{more}?" if question else f"Find {body}{more}"
        order = self.order_words([key])
        if p.group:
            count = "a given number of" if p.limit_given else f"the {p.limit}"
            lead = "What are" if question else "Find"
            return (
                f"{lead} {cols}{self.of_subject(p, cols)}{where}{self.tail(rest)}, for {count} groups with "
                f"{self.superlative(key)}{more}{'?' if question else ''}"
            )
        lead = "What are" if question else "List"
        if p.offset:  # LIMIT n OFFSET m: a page further down the order
            rest = self.rest(rest, offset=None, offset_given=False)
            skipped = "a given number" if p.offset_given else f"the first {p.offset}"
            shown = "a given number" if p.limit_given else f"the next {p.limit}"
            return (
                f"{lead} {cols} of {self.subject_words(p)}{where}{self.tail(rest)}, {order}{more}, skipping {skipped} "
                f"and showing {shown}{'?' if question else ''}"
            )
        top = "top" if key.descending else "first"
        rows = (
            f"the {top} {p.subject} (a given number of them)" if p.limit_given else f"the {top} {p.limit} {p.subject}"
        )
        return f"{lead} {cols} of {rows}{where}{self.tail(rest)}, {order}{more}{'?' if question else ''}"

    def top_one(self, p: SelectPlan, cols: str, where: str, rest: SelectPlan) -> str:
        sup = self.superlative(p.order[0])
        if p.group:
            rest = self.rest(rest, group=[])
            if p.keys_selected:
                of = "" if not p.subject or _says(cols + " " + sup, p.subject) else f" of the {p.subject_one}"
                return f"{cols}{of} with {sup}{where}{self.tail(rest)}"
            if not p.subject_is_counted and p.subject_one:
                return f"{cols} of the {p.subject_one} with {sup}{where}{self.tail(rest)}"
            return (
                f"{cols}{self.of_subject(p, cols + ' ' + sup)} for the {self.join_list(p.group)} with {sup}"
                f"{where}{self.tail(rest)}"
            )
        return f"{cols} of the {p.subject_one}{where} with {sup}{self.tail(rest)}"

    def compose_set(self, node: exp.Expression, body: str) -> str:
        if self.options.style == "question":
            return f"What are {body}?"
        return f"List {body}"

    def compose_rows(self, p: SelectPlan) -> str:
        return f"{p.subject}{self.where_words(p)}{self.tail(p)}"

    def compose_row(self, p: SelectPlan) -> tuple[str, str]:
        """("an order with total over 100", "orders with total over 100") for "there is ..."/"there are no ..."."""
        rest = f"{self.where_words(p)}{self.tail(p)}"
        return f"{_article(p.subject_one)} {p.subject_one}{rest}", f"{p.subject}{rest}"

    def compose_noun(self, p: SelectPlan) -> str:
        if p.no_from:
            return self.columns_words(p)
        cols = self.columns_words(p)
        where = self.where_words(p)
        if p.count_only and not p.order and not p.limit:
            tail = self.tail(p)
            every = "" if where or tail else "all "  # (SELECT COUNT(*) FROM users): "the number of all users"
            return f"the number of {every}{p.counted}{where}{tail}"
        if p.order and p.limit_one:
            return self.top_one(p, cols, where, self.rest(p, order=[], limit=None))
        if p.group and p.keys_selected and not p.order:
            cols = self.grouped_columns(p)
            return f"{cols}{self.of_subject(p, cols)}{where}{self.tail(self.rest(p, group=[]))}"
        return f"{cols} of {self.subject_words(p)}{where}{self.tail(p)}"


DESCRIBER = EnglishDescriber
