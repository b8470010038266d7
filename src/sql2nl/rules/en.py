"""English wording."""

from __future__ import annotations

from .base import Describer


class EnglishDescriber(Describer):
    language = "en"

    def select_text(self) -> str:
        f = self.facts
        cols = [("the number of rows" if s.aggregate == "count" and not s.column else
                 (f"the {s.aggregate} of " if s.aggregate else "") + self.name(s.column or s.sql, s.table))
                for s in f.selected if not s.star]
        what = " and ".join(cols) if cols else "all columns"
        text = f"List {what} from {', '.join(self.table_name(t) for t in f.tables) or 'the query'}"
        for flt in f.filters:
            neg = "not " if flt.negated else ""
            text += f" where {self.name(flt.column or '')} is {neg}{flt.op} {', '.join(flt.values)}"
        if f.group_by:
            text += " for each " + ", ".join(self.name(g) for g in f.group_by)
        for o in f.order_by:
            text += f", ordered by {self.name(o.column or o.sql)} {'descending' if o.descending else 'ascending'}"
        if f.limit is not None:
            text += f", top {f.limit}"
        return text + "."

    def fallback_text(self) -> str:
        return f"Run a {self.facts.kind} statement on {', '.join(self.facts.tables) or 'the database'}."


DESCRIBER = EnglishDescriber
