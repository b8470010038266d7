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

    PHRASES = {
        # names and values
        "rows": "rows",
        "row": "row",
        "the": "the {0}",
        "rows_of": "the results of {0}",
        "database": "the database",
        "star": "all details",
        "star_joined": "together with all details of {0}",
        "star_of": "all details of each {0}",
        "star_except": "except {0}",
        "star_replace": "with {0}",
        "star_replace_item": "{0} replaced by {1}",
        "star_rename": "with {0}",
        "star_rename_item": "{1} renamed to {0}",
        "constant": "the value {0}",
        "for_each_row": "Return {0} for each row of {1}",
        "qualified": "{table} {column}",
        "labelled": "{column} of {table} {alias}",
        "string": '"{0}"',
        "param": "a given value",
        "param_named": "the given {0}",
        "given_number": "a given number",
        "null": "null",
        "negative": "the negative of {0}",
        "paren": "({0})",
        "desc_suffix": " (descending)",
        "tuple": "({0})",
        "tuple_sep": ", ",
        "sql": "`{0}`",
        "outer_row": "outer row",
        "unnest_join": "one row for each element of {0}",
        "alias": "the {1} ({0})",
        "unnest": "the elements of {0}",
        "joined_rows": "combinations of {0}",
        "any_case": " (ignoring case)",
        "wildcards_%": " (% standing for any text)",
        "wildcards__": " (_ standing for any one character)",
        "wildcards_%_": " (% standing for any text and _ for any one character)",
        # connecting conditions
        "and_sep": ", ",
        "and_last": " and ",
        "or_sep": ", ",
        "or_last": " or ",
        "and_nested_sep": ", ",
        "and_nested_last": ", and ",
        "or_nested_sep": ", ",
        "or_nested_last": ", or ",
        "either_sep": ", ",
        "either_last": " or ",
        "either_frame": "either {0}",
        "both_sep": ", ",
        "both_last": " and ",
        "both_frame": "both {0}",
        "neither_sep": ", ",
        "neither_last": " nor ",
        "neither_frame": "neither {0}",
        "not_all_sep": ", ",
        "not_all_last": " and ",
        "not_all_frame": "not both {0}",
        "not": "it is not the case that {0}",
        "many_values": "one of {n} values such as {sample}",
        # expressions
        "count_star": "the number of {0}",
        "count": "the number of {0}",
        "count_distinct": "the number of different {0}",
        "different": "different {0}",
        "sum": "the total {0}",
        "avg": "the average {0}",
        "min": "the minimum {0}",
        "max": "the maximum {0}",
        "sum_of": "the total of {0}",
        "avg_of": "the average of {0}",
        "min_of": "the minimum of {0}",
        "max_of": "the maximum of {0}",
        "sum_again": "the sum of {0}",
        "avg_again": "the mean {0}",
        "min_again": "the smallest {0}",
        "max_again": "the largest {0}",
        "sum_distinct": "the total of the distinct {0}",
        "avg_distinct": "the average of the distinct {0}",
        "min_distinct": "the minimum {0}",
        "max_distinct": "the maximum {0}",
        "distinct": "distinct {0}",
        "add": "{0} plus {1}",
        "sub": "{0} minus {1}",
        "mul": "{0} times {1}",
        "div": "{0} divided by {1}",
        "mod": "the remainder of {0} divided by {1}",
        "intdiv": "{0} divided by {1} (rounded down)",
        "add_whole": "the total of {0} and {1}",
        "sub_whole": "the difference of {0} and {1}",
        "mul_whole": "the product of {0} and {1}",
        "div_whole": "the ratio of {0} to {1}",
        "mod_whole": "the remainder of {0} divided by {1}",
        "intdiv_whole": "the whole part of {0} divided by {1}",
        "running": "the running {0}",
        "count_filtered": "the number of {0}",
        "share_left": "the share of {0} left after {1}",
        "percentage": "{0} as a percentage of {1}",
        "concat": "{0} joined together",
        "case": "{0}",
        "case_when": "{then} if {cond}",
        "case_sep": ", ",
        "case_else": ", otherwise {0}",
        "cast": "{0} as {1}",
        "function": "the result of {0}({1})",
        "window": "{func} ({over})",
        "window_partition": "within each {0}",
        "window_sep": ", ",
        "window_all": "over all rows",
        "window_running": "running total up to each row",
        "frame": "over the {kind} from {start} to {end}",
        "frame_rows": "rows",
        "frame_range": "range",
        "frame_groups": "groups",
        "frame_first": "the first",
        "frame_current": "the current one",
        "frame_last": "the last",
        "frame_preceding": "{0} before",
        "frame_following": "{0} after",
        "any": "any of {0}",
        "all": "all of {0}",
        "any_values": "any of {0}",
        "all_values": "all of {0}",
        "filter": "{0} (counting only rows where {1})",
        # select pieces
        "with": "Using {0}, ",
        "with_recursive": "Using the recursive {0}, ",
        "cte": "{name} ({query})",
        "cte_names": ", using the intermediate results {0}",
        "self_join": "pairing {0} with each other",
        "join_left": "including {subject} with no {table}",
        "join_right": "including {table} with no {subject}",
        "join_full": "including {subject} with no {table} and {table} with no {subject}",
        "join_cross": "combined with every one of {0}",
        "join_semi": "that have matching {0}",
        "join_anti": "that have no matching {0}",
        "join_on": "matching {table} where {cond}",
        "join_lateral": "combined with {0}",
        "has_rows": "that have {0}",
        "has_no_rows": "that have no {0}",
        "has_match": "that have a matching {0}",
        "joined_with": "joined with {0}",
        "with_rows": "{0} with {1}",
        "named_rows": "{0} ({1})",
        "linked": "linked to {far} through {link}",
        "qualify": "keeping only rows where {0}",
        "distinct_on": "keeping only the first row for each distinct {0}",
        "with_ties": "including ties",
        "locks": "locking the rows it reads",
        "percent": "{0} percent of",
        "rollup": "with subtotals for each {0} and a grand total",
        "cube": "with subtotals for every combination and a grand total",
        "grouping_sets": "with totals {0}",
        "grouping_set": "by {0}",
        "overall": "overall",
        "set_order": ", {0}",
        "set_limit": ", showing only the first {0}",
        "offset": ", skipping the first {0}",
        "union": "{first}, together with {second}",
        "union_all": "{first}, together with {second} (keeping duplicates)",
        "intersect": "{first} that are also {second}",
        "except": "{first}, excluding {second}",
        "union_np": "{first} together with {second}",
        "intersect_np": "{first} that are also {second}",
        "except_np": "{first} excluding {second}",
        "values_rows": "the rows {0}",
        "values_sentence": "List {0}",
        # outline
        "step": "{n}. {label}: {text}",
        "step_builds": "{0}",
        "result": "Result",
        "subquery_label": "subquery {0}",
        "overview_select": "List {columns} from {tables}{conditions}",
        "overview_compute": "Compute {columns}{conditions}",
        "overview_conditions": ", under {0} conditions",
        "computed_value": "a computed value",
        "overview": "Run a {kind} statement on {tables}",
        "more_columns": "{0} more columns",
        "more_tables": "{0} more tables",
        "more_values": "{0} more values",
        "more_conditions": "{0} more conditions",
        # DML / DDL
        "assign": "{0} to {1}",
        "field": "{0} {1}",
        "returning": ", returning {0}",
        "insert_one": "Add a new row to {table} with {rows}",
        "insert_rows": "Add {n} rows to {table}: {rows}",
        "replace_one": "Add or replace a row in {table} with {rows}",
        "replace_rows": "Add or replace {n} rows in {table}: {rows}",
        "insert_default": "Add a row of default values to {table}",
        "row_sep": "; ",
        "more_rows": "; and {0} more",
        "insert_select": "Add to {table}{cols} {query}",
        "into_columns": " (as {0})",
        "clash": "the row already exists",
        "clash_unique": "a row with the same unique key already exists",
        "clash_keys": "a row with the same {0} already exists",
        "upsert_update": "; if {clash}, set {sets} instead",
        "upsert_nothing": "; skip it if {clash}",
        "upsert_other": "; if {clash}: {sql}",
        "new_value": "the new {0}",
        "existing_value": "the existing {0}",
        "update_where": "Set {sets} for {table}{cond}",
        "update_all": "Set {sets} for every row of {table}",
        "using_table": ", using {0}",
        "delete_where": "Delete the {table}{cond}",
        "delete_all": "Delete all rows from {table}",
        "merge": "Merge {source} into {target}, pairing rows where {on}: {actions}",
        "merge_sep": "; ",
        "merge_when": "{when}, {action}",
        "merge_matched": "when matched",
        "merge_not_matched": "when not matched",
        "merge_and": " and {0}",
        "merge_update": "set {0}",
        "merge_insert": "insert a row with {0}",
        "merge_delete": "delete the row",
        "create": "Create the {kind} {name}{replace}",
        "create_as": "Create the {kind} {name}{replace} as {query}",
        "create_table_cols": "Create the {kind} {name}{replace} with columns {cols}",
        "column_def": "{0} ({1})",
        "create_index": "Create an index {name} on {table} ({cols})",
        "create_unique_index": "Create a unique index {name} on {table} ({cols})",
        "if_not_exists": ", unless it already exists",
        "or_replace": " (replacing it if it exists)",
        "alter": "Change the {kind} {name}: {actions}",
        "alter_add": "add column {0} ({1})",
        "alter_drop": "drop column {0}",
        "alter_rename": "rename it to {0}",
        "alter_rename_column": "rename column {0} to {1}",
        "alter_type": "change the type of column {0} to {1}",
        "drop": "Drop the {kind} {name}",
        "if_exists": ", if it exists",
        "cascade": ", with everything that depends on it",
        "truncate": "Remove all rows from {0}",
        "kind_table": "table",
        "kind_view": "view",
        "kind_index": "index",
        "fallback": "Run the {kind} statement on {tables}: {sql}",
    }

    CLAUSES = {
        "eq": "{0} is {1}",
        "not_eq": "{0} is not {1}",
        "eq_column": "{0} is equal to {1}",
        "not_eq_column": "{0} is not equal to {1}",
        "neq": "{0} is not {1}",
        "not_neq": "{0} is {1}",
        "gt": "{0} is greater than {1}",
        "gte": "{0} is at least {1}",
        "lt": "{0} is less than {1}",
        "lte": "{0} is at most {1}",
        "not_gt": "{0} is not greater than {1}",
        "not_gte": "{0} is less than {1}",
        "not_lt": "{0} is at least {1}",
        "not_lte": "{0} is greater than {1}",
        "same": "{0} is {1} (a null matching a null)",
        "not_same": "{0} differs from {1} (a null counting as a value)",
        "differs": "{0} differs from {1} (a null counting as a value)",
        "not_differs": "{0} is {1} (a null matching a null)",
        "compare_null": "{0} is compared with null, which is never true",
        "count_gt": "there are more than {0} {1}",
        "count_gte": "there are at least {0} {1}",
        "count_lt": "there are fewer than {0} {1}",
        "count_lte": "there are at most {0} {1}",
        "count_eq": "there are exactly {0} {1}",
        "count_neq": "the number of {1} is not {0}",
        "in": "{0} is {1}",
        "not_in": "{0} is not {1}",
        "in_query": "{0} is among {1}",
        "not_in_query": "{0} is not among {1}",
        "appear": "they appear in {0}",
        "not_appear": "they do not appear in {0}",
        "between": "{0} is between {1} and {2}",
        "not_between": "{0} is not between {1} and {2}",
        "between_symmetric": "{0} is between {1} and {2} (in either order)",
        "not_between_symmetric": "{0} is not between {1} and {2} (in either order)",
        "is_null": "{0} is missing",
        "not_is_null": "{0} is not missing",
        "not_null": "{0} is not missing",
        "not_not_null": "{0} is missing",
        "is_true": "{0} is true",
        "not_is_true": "{0} is not true",
        "is_false": "{0} is false",
        "not_is_false": "{0} is not false",
        "always": "always",
        "never": "never",
        "starts": "{0} starts with {1}",
        "not_starts": "{0} does not start with {1}",
        "ends": "{0} ends with {1}",
        "not_ends": "{0} does not end with {1}",
        "contains": "{0} contains {1}",
        "not_contains": "{0} does not contain {1}",
        "starts_ends": "{0} starts with {1} and ends with {2}",
        "not_starts_ends": "{0} does not both start with {1} and end with {2}",
        "like": "{0} matches the pattern {1}",
        "not_like": "{0} does not match the pattern {1}",
        "glob": "{0} matches the pattern {1}",
        "not_glob": "{0} does not match the pattern {1}",
        "like_any": "{0} matches any of the patterns {1}",
        "not_like_any": "{0} matches none of the patterns {1}",
        "like_all": "{0} matches all of the patterns {1}",
        "regex": "{0} matches the regular expression {1}",
        "not_regex": "{0} does not match the regular expression {1}",
        "exists": "there is {0}",
        "not_exists": "there are no {1}",
        "has": "they have {0}",
        "not_has": "they have no {1}",
        "true": "{0} is true",
        "not_true": "{0} is false",
        "raw": "{0}",
        "not_raw": "it is not the case that {0}",
        "same_as_outer": "{0} is the same",
        "eq_outer": "{0} is equal to the {1}'s {2}",
    }

    FILTERS = {
        "eq": "{0} {1}",
        "not_eq": "{0} other than {1}",
        "eq_column": "{0} equal to {1}",
        "not_eq_column": "{0} not equal to {1}",
        "neq": "{0} other than {1}",
        "not_neq": "{0} {1}",
        "gt": "{0} greater than {1}",
        "gte": "{0} at least {1}",
        "lt": "{0} less than {1}",
        "lte": "{0} at most {1}",
        "not_gt": "{0} not greater than {1}",
        "not_gte": "{0} less than {1}",
        "not_lt": "{0} at least {1}",
        "not_lte": "{0} greater than {1}",
        "count_gt": "more than {0} {1}",
        "count_gte": "at least {0} {1}",
        "count_lt": "fewer than {0} {1}",
        "count_lte": "at most {0} {1}",
        "count_eq": "exactly {0} {1}",
        "in": "{0} {1}",
        "not_in": "{0} other than {1}",
        "in_query": "{0} among {1}",
        "not_in_query": "{0} not among {1}",
        "appear": "appear in {0}",
        "not_appear": "do not appear in {0}",
        "has": "have {0}",
        "not_has": "have no {1}",
        "between": "{0} between {1} and {2}",
        "not_between": "{0} not between {1} and {2}",
        "is_null": "no {0}",
        "not_is_null": "{0} not missing",
        "not_null": "{0} not missing",
        "not_not_null": "no {0}",
        "starts": "{0} starting with {1}",
        "not_starts": "{0} not starting with {1}",
        "ends": "{0} ending with {1}",
        "not_ends": "{0} not ending with {1}",
        "contains": "{0} containing {1}",
        "not_contains": "{0} not containing {1}",
        "starts_ends": "{0} starting with {1} and ending with {2}",
        "like": "{0} matching the pattern {1}",
        "not_like": "{0} not matching the pattern {1}",
        "glob": "{0} matching the pattern {1}",
        "not_glob": "{0} not matching the pattern {1}",
        "regex": "{0} matching the regular expression {1}",
        "not_regex": "{0} not matching the regular expression {1}",
        "same_as_outer": "the same {0}",
        "eq_outer": "{0} equal to the {1}'s {2}",
    }

    AGGREGATE_WORDS = {
        "sum": frozenset({"total", "sum"}),
        "avg": frozenset({"average", "avg", "mean"}),
        "min": frozenset({"minimum", "min", "lowest", "smallest"}),
        "max": frozenset({"maximum", "max", "highest", "largest"}),
    }

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
