"""English wording, in the style of a person explaining the query ("Find the names of ...")."""

from __future__ import annotations

from ..words import plural_phrase
from .base import Describer, SelectPlan


def _bare(phrase: str) -> str:
    return phrase[4:] if phrase.startswith("the ") else phrase


class EnglishDescriber(Describer):
    language = "en"

    W = {
        # names and values
        "set_order": ",{0}", "question": "?", "rows": "rows", "the": "the {0}", "rows_of": "the results of {0}", "database": "the database", "star": "all details",
        "star_of": "all details of each {0}", "qualified": "{table} {column}", "self_qualified": "{column} of {table} {alias}", "string": "\"{0}\"",
        "param": "a given value", "param_named": "the given {0}",
        "null": "null", "negative": "minus {0}", "paren": "({0})", "position": "column {0}",
        "desc_suffix": " (descending)", "tuple": "({0})", "interval": "{0} {1}", "sql": "`{0}`",
        "alias": "the {1} ({0})",
        # conditions
        "and": " and ", "or": " or ", "xor": " or else ",
        "not": "it is not the case that {0}",
        "eq": "{0} is {1}", "neq": "{0} is not {1}", "gt": "{0} is greater than {1}",
        "gte": "{0} is at least {1}", "lt": "{0} is less than {1}", "lte": "{0} is at most {1}",
        "not_gt": "{0} is not greater than {1}", "not_gte": "{0} is not at least {1}",
        "not_lt": "{0} is not less than {1}", "not_lte": "{0} is not at most {1}",
        "count_gt": "more than {n} {noun}", "count_gte": "at least {n} {noun}", "count_lt": "fewer than {n} {noun}",
        "count_lte": "at most {n} {noun}", "count_eq": "exactly {n} {noun}", "count_neq": "not exactly {n} {noun}",
        "in": "{0} is {1}", "not_in": "{0} is not {1}", "many_values": "one of {n} values such as {sample}",
        "in_query": "{0} is among {1}", "not_in_query": "{0} is not among {1}",
        "between": "{0} is between {1} and {2}", "not_between": "{0} is not between {1} and {2}",
        "starts": "{0} starts with {1}", "ends": "{0} ends with {1}", "contains": "{0} contains {1}",
        "not_starts": "{0} does not start with {1}", "not_ends": "{0} does not end with {1}",
        "not_contains": "{0} does not contain {1}", "like": "{0} matches the pattern {1}",
        "not_like": "{0} does not match the pattern {1}", "not_eq": "{0} is not {1}",
        "is_null": "{0} is null", "not_null": "{0} is not null",
        "exists": "there is {0}", "not_exists": "there is no {0}",
        # the same, as a filter on rows: "students with age greater than 18"
        "c:eq": "{0} {1}", "c:neq": "{0} other than {1}", "c:gt": "{0} greater than {1}", "c:gte": "{0} at least {1}",
        "c:lt": "{0} less than {1}", "c:lte": "{0} at most {1}", "c:not_gt": "{0} not greater than {1}",
        "c:not_gte": "{0} not at least {1}", "c:not_lt": "{0} not less than {1}", "c:not_lte": "{0} not at most {1}",
        "c:in": "{0} {1}", "c:not_in": "{0} not {1}", "c:in_query": "{0} among {1}", "c:not_in_query": "{0} not among {1}",
        "c:between": "{0} between {1} and {2}", "c:not_between": "{0} not between {1} and {2}",
        "c:starts": "{0} starting with {1}", "c:ends": "{0} ending with {1}", "c:contains": "{0} containing {1}",
        "c:not_starts": "{0} not starting with {1}", "c:not_ends": "{0} not ending with {1}",
        "c:not_contains": "{0} not containing {1}", "c:like": "{0} matching the pattern {1}",
        "c:not_like": "{0} not matching the pattern {1}", "c:not_eq": "{0} other than {1}",
        "c:appear": "that appear in {0}", "c:not_appear": "that do not appear in {0}",
        "c:is_null": "no {0}", "qualify": "keeping only rows where {0}", "join_lateral": "combined with {0}",
        "any": "any of {0}", "all": "all of {0}", "filter": "{0} (counting only rows where {1})",
        "insert_default": "Add a row of default values to {table}", "returning": ", returning {0}", "c:eq_column": "{0} matching the {1}", "c:not_null": "a non-null {0}",
        # expressions
        "count_star": "the number of {0}", "count": "the number of {0}", "count_distinct": "the number of different {0}",
        "sum": "the total {0}", "avg": "the average {0}", "min": "the minimum {0}", "max": "the maximum {0}",
        "sum_distinct": "the total of distinct {0}", "avg_distinct": "the average of distinct {0}",
        "min_distinct": "the minimum {0}", "max_distinct": "the maximum {0}", "distinct": "distinct {0}",
        "add": "{0} plus {1}", "sub": "{0} minus {1}", "mul": "{0} times {1}", "div": "{0} divided by {1}",
        "mod": "{0} modulo {1}", "concat": "{0} followed by {1}", "binary": "{0} {1} {2}",
        "case": "{0}", "case_when": "{then} if {cond}", "case_sep": ", ", "case_else": ", otherwise {0}",
        "cast": "{0} as {1}", "function": "the {0} of {1}", "function0": "the {0}",
        "window": "{func} ({over})", "window_partition": "within each {0}", "window_sep": ", ",
        "window_all": "over all rows", "window_frame": "frame {0}",
        # select pieces
        "with": "Using {0}, ", "with_recursive": "Using the recursive {0}, ", "cte": "{name} ({query})",
        "self_join": "pairing {0} with each other", "join_left": "keeping {subject} that have no matching {table}",
        "join_right": "keeping {table} that have no matching {subject}",
        "join_full": "keeping rows from both sides even without a match in {table}",
        "join_cross": "combined with every one of {table}", "join_semi": "that have matching {table}",
        "join_anti": "that have no matching {table}", "join_on": "matching {table} where {cond}",
        "join_using": "matching {table} on {cols}",
        "set_limit": ", showing only the first {0}", "offset": ", skipping the first {0}",
        "union": "{first}, together with {second}", "union_all": "{first}, together with {second} (keeping duplicates)",
        "intersect": "{first} that are also {second}", "except": "{first}, excluding {second}",
        "union_np": "{first} together with {second}", "intersect_np": "{first} that are also {second}",
        "except_np": "{first} excluding {second}", "values_rows": "the rows {0}",
        # DML / DDL
        "assign": "{0} to {1}", "field": "{0} {1}", "insert_one": "Add a new row to {table} with {rows}",
        "insert_rows": "Add {n} rows to {table}: {rows}", "row_sep": "; ", "more_rows": "; and {0} more",
        "insert_select": "Add to {table}{cols} {query}", "into_columns": " (as {0})",
        "upsert_update": "; if it already exists, update {0} instead", "upsert_nothing": "; skip rows that already exist",
        "update_where": "Set {sets} for {table}{cond}", "update_all": "Set {sets} for every row of {table}",
        "using_table": ", using {0}", "delete_where": "Delete the {table}{cond}",
        "delete_all": "Delete all rows from {table}",
        "merge": "Merge {source} into {target}, pairing rows where {on}: {actions}", "merge_sep": "; ",
        "merge_when": "{when}, {action}", "merge_matched": "when matched", "merge_not_matched": "when not matched",
        "merge_and": " and {0}", "merge_update": "update {0}", "merge_insert": "insert {0}", "merge_delete": "delete the row",
        "create": "Create the {kind} {name}{replace}", "create_as": "Create the {kind} {name}{replace} as {query}",
        "create_table_cols": "Create the {kind} {name}{replace} with columns {cols}", "column_def": "{0} ({1})",
        "create_index": "Create a {unique}index {name} on {table} ({cols})", "unique": "unique ",
        "if_not_exists": ", unless it already exists", "or_replace": " (replacing it if it exists)",
        "alter": "Change the {kind} {name}: {actions}", "alter_add": "add column {0} {1}",
        "alter_drop": "drop column {0}", "alter_rename": "rename it to {0}",
        "alter_rename_column": "rename column {0} to {1}",
        "drop": "Drop the {kind} {name}", "if_exists": ", if it exists", "cascade": ", with everything that depends on it",
        "truncate": "Remove all rows from {0}", "kind_table": "table", "kind_view": "view", "kind_index": "index",
        "fallback": "Run the {kind} statement on {tables}: {sql}",
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

    # -- sentence pieces ----------------------------------------------------------------------

    def where(self, p: SelectPlan) -> str:
        return self.filter_words(p.where) if p.where else ""

    def filter_words(self, cond: str) -> str:
        if cond.startswith("that "):
            return " " + cond
        lead = " where " if cond.startswith(("there ", "it is not", "(")) else " with "
        return lead + cond

    def tail(self, p: SelectPlan, with_order: bool = True) -> str:
        text = ""
        if p.extra_tables:
            text += f" (through {self.join_list(p.extra_tables)})"
        for note in p.join_notes:
            text += ", " + note
        if p.group:
            text += " for each " + self.join_list(p.group)
        if p.having:
            text += " with " + p.having
        if with_order and p.order:
            text += self.compose_order(p.order)
        if p.limit and not (with_order and p.order and p.limit):
            text += f", showing only {p.limit} rows"
        elif p.limit and with_order:
            text += f", showing only the first {p.limit}"
        if p.offset:
            text += self.W["offset"].format(p.offset)
        return text

    def compose_order(self, keys: list[tuple[str, bool, str]]) -> str:
        parts = []
        for phrase, desc, kind in keys:
            if kind == "count":
                phrase = f"the number of {phrase}"
            parts.append(f"in {'descending' if desc else 'ascending'} order of {phrase}")
        return " " + self.join_list(parts, ", then ")

    def superlative(self, key: tuple[str, bool, str]) -> str:
        phrase, desc, kind = key
        if kind == "count":
            return f"the {'most' if desc else 'fewest'} {phrase}"
        return f"the {'highest' if desc else 'lowest'} {_bare(phrase)}"

    def columns(self, p: SelectPlan) -> str:
        cols = self.join_list(p.columns)
        if p.distinct:
            cols = "the different " + _bare(cols) if cols.startswith("the ") else "different " + cols
        return cols

    def continue_sentence(self, text: str) -> str:
        return text[:1].lower() + text[1:]

    def many(self, words: str) -> str:
        return plural_phrase(words)

    def grouped_columns(self, p: SelectPlan) -> str:
        """"each city and the number of airports": the keys said once, with "each"."""
        aggs = [c for c, a in zip(p.columns, p.is_aggregate) if a]
        return self.join_list(["each " + self.join_list(p.group)] + aggs)

    def of_subject(self, p: SelectPlan, cols: str) -> str:
        return "" if not p.subject or p.subject in cols else f" of {p.subject}"

    def compose_select(self, p: SelectPlan) -> str:
        cols = self.columns(p)
        where = self.where(p)
        if p.no_from:
            return f"Compute {cols}{where}{self.tail(p)}."
        if p.count_only and not p.order and not p.limit:
            if where.startswith(" with "):
                return f"How many {p.counted} have{where[5:]}{self.tail(p)}?"
            if where.startswith(" that "):
                return f"How many {p.counted}{where.replace(' that ', ' ', 1)}{self.tail(p)}?"
            return f"How many {p.counted} are there{where}{self.tail(p)}?"
        if p.order and p.limit:
            return self.compose_top(p, cols, where)
        if p.aggregates_only and len(p.columns) == 1 and cols.startswith("the number of different "):
            return f"How many different {cols[24:]}{self.of_subject(p, cols)} are there{where}{self.tail(p)}?"
        if p.aggregates_only:
            verb = "What is" if len(p.columns) == 1 else "What are"
            return f"{verb} {cols} of {p.subject}{where}{self.tail(p)}?"
        if p.group and p.keys_selected:
            cols = self.grouped_columns(p)
            rest = self._rest(p, group=[])
            return f"Find {cols}{self.of_subject(p, cols)}{where}{self.tail(rest)}."
        if p.order:
            return f"List {cols} of {p.subject}{where}{self.tail(p)}."
        lead = "Find" if p.group else "What are"
        end = "." if lead == "Find" else "?"
        return f"{lead} {cols} of {p.subject}{where}{self.tail(p)}{end}"

    def _rest(self, p: SelectPlan, **changes) -> SelectPlan:
        rest = SelectPlan(subject=p.subject, subject_one=p.subject_one, group=p.group, having=p.having,
                          offset=p.offset, extra_tables=p.extra_tables, join_notes=p.join_notes, order=p.order,
                          limit=p.limit)
        for k, v in changes.items():
            setattr(rest, k, v)
        return rest

    def compose_top(self, p: SelectPlan, cols: str, where: str) -> str:
        key = p.order[0]
        rest = self._rest(p, order=[], limit=None)
        more = ", then" + self.compose_order(p.order[1:]) if len(p.order) > 1 else ""
        if p.limit == "1":
            verb = "What is" if len(p.columns) == 1 else "What are"
            return f"{verb} {self.top_one(p, cols, where, rest)}{more}?"
        if p.group:
            return (f"Find {cols}{self.of_subject(p, cols)}{where}{self.tail(rest)}, for the {p.limit} groups with "
                    f"{self.superlative(key)}{more}.")
        top = "top" if key[1] else "first"
        return (f"List {cols} of the {top} {p.limit} {p.subject}{where}{self.tail(rest)}, "
                f"{self.compose_order([key]).strip()}{more}.")

    def top_one(self, p: SelectPlan, cols: str, where: str, rest: SelectPlan) -> str:
        sup = self.superlative(p.order[0])
        if p.group:
            rest.group = []
            if p.keys_selected:
                of = "" if not p.subject or p.subject in cols + sup else f" of the {p.subject_one}"
                return f"{cols}{of} with {sup}{where}{self.tail(rest)}"
            if not p.subject_is_counted and p.subject_one:
                return f"{cols} of the {p.subject_one} with {sup}{where}{self.tail(rest)}"
            return (f"{cols}{self.of_subject(p, cols + sup)} for the {self.join_list(p.group)} with {sup}"
                    f"{where}{self.tail(rest)}")
        return f"{cols} of the {p.subject_one}{where} with {sup}{self.tail(rest)}"

    def compose_many(self, p: SelectPlan) -> str:
        return f"{p.subject}{self.where(p)}{self.tail(p)}"

    def compose_rows(self, p: SelectPlan, negated: bool = False) -> str:
        one = p.subject_one
        article = "" if negated else "an " if one[:1].lower() in "aeiou" else "a "
        return f"{article}{one}{self.where(p)}{self.tail(p)}"

    def compose_noun(self, p: SelectPlan) -> str:
        if p.no_from:
            return self.columns(p)
        cols = self.columns(p)
        where = self.where(p)
        if p.count_only and not p.order and not p.limit:
            return f"the number of {p.counted}{where}{self.tail(p)}"
        if p.order and p.limit == "1":
            return self.top_one(p, cols, where, self._rest(p, order=[], limit=None))
        if p.group and p.keys_selected and not p.order:
            cols = self.grouped_columns(p)
            return f"{cols}{self.of_subject(p, cols)}{where}{self.tail(self._rest(p, group=[]))}"
        return f"{cols} of {p.subject}{where}{self.tail(p)}"


DESCRIBER = EnglishDescriber
