"""Clause checks: ordering, LIMIT, grouping, set operations and DISTINCT, and the helpers they
share with the rest of :class:`~.meaning.Reader` (which inherits them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lexicon import UP, sign
from .scan import Hit

if TYPE_CHECKING:
    from .mentions import Mentions
    from .plan import Plan
    from .scan import Scan


class ClauseChecks:
    """Checks of a statement's clauses over one scanned text (``s``: the scan, ``m``: its mentions)."""

    s: "Scan"
    m: "Mentions"
    zh: bool
    used_neg: set[int]

    def has(self, cat: str) -> bool:
        return any(cat in h.tags for h in self.s.hits)

    def negs(self) -> list[Hit]:
        return [
            h
            for h in self.s.hits
            if "neg" in h.tags and h.start not in self.used_neg and not any(c in h.tags for c in ("cmp", "cmp_after"))
        ]

    # -- the checks -----------------------------------------------------------------------------

    def bound(self, h: Hit, keys: set[str], after: int = 3) -> str | None:
        return self.s.name_near(h.end - 1, keys, after=after, before=3 if self.zh else 0)

    def superlatives(self) -> list[Hit]:
        """Superlative hits (not the Chinese "最多 5" = at most 5, which is a comparison)."""
        st = self.s.stems
        out = []
        for h in self.s.hits:
            if "sup" not in h.tags:
                continue
            if "cmp" in h.tags and h.end < len(st) and st[h.end][0].isdigit():
                continue
            out.append(h)
        return out

    def order(self, p: Plan) -> list[tuple[str, str]]:
        """Each ordering key's direction, and that the ordering is of the right thing."""
        if not p.order:
            return []
        f = p.facts
        keys = {o.column.lower() for o in p.order if o.column}
        allcols = {c.lower() for c in p.all_columns}
        st = self.s.stems
        evidence: list[Hit] = [h for h in self.s.hits if "order" in h.tags]
        if f.limit is not None:
            evidence += [h for h in self.superlatives() if h.tags["sup"] != ("time", -UP) or st[h.start] != "first"]
        # columns other words of direction belong to: min/max arguments and the other ordering keys
        elsewhere = {a.column.lower() for a in p.aggregates if a.column and a.func in ("min", "max")} | keys
        out = []
        for o in p.order:
            col = o.column.lower() if o.column else None
            signs = []
            for h in evidence:
                b = self.s.name_near(h.end - 1, elsewhere, after=4, before=4)
                if b is not None and b != col:
                    continue  # "the highest vat number" qualifies another column
                if "order" in h.tags:
                    axis, pol = h.tags["order"]
                else:
                    if st[h.start] in ("first", "last") and h.end < len(st) and st[h.end][0].isdigit():
                        continue  # "the first 5" is a limit, not a direction
                    axis, pol = h.tags["sup"]
                sg = sign(axis, pol, o.kind, extreme=True)
                if sg is not None:
                    signs.append(sg)
            want = UP if o.descending else -UP
            if not signs and o.descending and f.limit is not None and "top" in self.s.stemset:
                signs.append(UP)  # "the top 5 by potential": the high end, unless a word says otherwise
            if want in signs:
                out.append((o.label, "ok"))
            elif signs:
                out.append((o.label, "contradicted"))
            elif not o.descending and (self.has("order_word") or (f.limit is not None and self._first())):
                out.append((o.label, "ok"))
            else:
                out.append((o.label, "missing"))
        # "sorted by name" when the SQL sorts by age: the name after "by"/"of" following an order word
        claimed: set[str] = set()
        for h in self.s.hits:
            if "order_word" in h.tags or "order" in h.tags:
                for j in range(h.end, min(len(st), h.end + 6)):
                    if self.s.is_punct(j):
                        break
                    if st[j] in ("by", "of", "on", "according"):
                        claimed |= self._names_at(j + 1, allcols, 4)
                        break
        if claimed and keys and not claimed & keys:
            out.append((f"ordering by {', '.join(o.column for o in p.order if o.column)}", "contradicted"))
        return out

    def _names_at(self, i: int, keys: set[str], span: int) -> set[str]:
        return {
            key
            for s, _, key in self.s.names
            if key in keys and i <= s < i + span and not any(self.s.is_punct(j) for j in range(i, s))
        }

    def _first(self) -> bool:
        return "first" in self.s.stemset or "前" in self.s.stemset or "top" in self.s.stemset

    def limit(self, p: Plan) -> list[tuple[str, str]]:
        f = p.facts
        out = []
        explained = set(p.filter_values) | {str(f.offset)} | p.limits
        if isinstance(f.limit, int):
            n = str(f.limit)
            ok = self.m.value(n) or (f.limit == 1 and (bool(self.superlatives()) or self._single()))
            said = self.limit_numbers()
            wrong = [x for x in said if x != n and x not in explained]
            if wrong and n not in said:
                out.append((f"limit {f.limit}", "contradicted"))
            else:
                out.append((f"limit {f.limit}", "ok" if ok else "missing"))
        elif f.limit is None and not any(q.facts.limit is not None for q in [p]):
            wrong = [x for x in self.limit_numbers() if x not in explained]
            if wrong:
                out.append(("limit (not in the SQL)", "contradicted"))
        if f.offset is not None:
            out.append((f"offset {f.offset}", "ok" if self.m.value(str(f.offset)) else "missing"))
        return out

    def _single(self) -> bool:
        return any(w in self.s.stemset for w in ("1", "single", "only", "a", "an", "一", "个"))

    def limit_numbers(self) -> list[str]:
        """Numbers the text gives as a row count: "top 5", "first 10", "the 3 oldest", "前5"."""
        st, out = self.s.stems, []
        for h in self.s.hits:
            if "limit_lead" in h.tags and h.end < len(st) and st[h.end][0].isdigit():
                if "cmp" in h.tags and st[h.start] != "top":
                    continue  # "at most 5" compares
                out.append(st[h.end])
            elif "sup" in h.tags and not self.zh:
                # "the 3 oldest", "the 3 employees with the highest salary"
                for j in range(h.start - 1, max(-1, h.start - 6), -1):
                    if self.s.is_punct(j):
                        break
                    if st[j][0].isdigit() and not self.s.masked[j]:
                        out.append(st[j])
                        break
        return out

    def grouping(self, p: Plan) -> list[tuple[str, str]]:
        """GROUP BY: its key named, and the grouping said ("for each", "per") or implied by a HAVING,
        a "most ..." ordering, or the key returned beside an aggregate ("names and their counts")."""
        f = p.facts
        if not f.group_by:
            return []
        tables = tuple(f.tables)
        keys = p.group_keys or [(k, None, ()) for k in f.group_by]
        named = any(
            self.m.column(k, tables)
            or (_identity(k) and (any(self.m.table(x) for x in ts) or self.m.column(k, tables + _IDENTITY_WORDS)))
            for k, _, ts in keys
        )
        selected = {s.column.lower() for s in f.selected if s.column and not s.aggregate}
        implied = (
            bool(f.having)
            or bool(f.order_by)
            or (any(k[0].lower() in selected for k in keys) and any(s.aggregate for s in f.selected))
        )
        if named and (self.has("group") or implied):
            return [("grouping", "ok")]
        if not named:  # "for each city" when the grouping is by country
            others = {c.lower() for c in p.all_columns} - {k[0].lower() for k in keys}
            if any("group" in h.tags and self._names_at(h.end, others, 2) for h in self.s.hits):
                return [("grouping", "contradicted")]
        return [("grouping", "missing")]

    def set_operations(self, p: Plan) -> list[tuple[str, str]]:
        out = []
        ops = dict.fromkeys(p.facts.set_operations)
        for op in ops:
            if op in ("union", "union all"):
                bad = self.has("intersect_strong") and not self.has("union_strong")
                out.append(("union", "contradicted" if bad else "ok" if self.has("union") else "missing"))
            elif op == "intersect":
                either = "either" in self.s.stemset or "要么" in self.s.stemset
                loose_or = (
                    self.has("union_strong")
                    and not p.has_or
                    and not self.has("intersect_strong")
                    and not ("both" in self.s.stemset or "既" in self.s.stemset)
                )
                if either or loose_or:
                    out.append(("intersect", "contradicted"))
                else:
                    out.append(("intersect", "ok" if self.has("intersect") else "missing"))
            elif op == "except":
                out.append(
                    ("except", "ok" if self.negs() else "contradicted" if self.has("intersect_strong") else "missing")
                )
        return out

    def distinct(self, p: Plan) -> list[tuple[str, str]]:
        f = p.facts
        wants = f.distinct or any(a.distinct for a in p.aggregates)
        if wants:
            if self.has("distinct"):
                return [("distinct", "ok")]
            return [("distinct", "contradicted" if self.has("duplicates") else "missing")]
        dedupes = bool(f.group_by) or any(op != "union all" for op in f.set_operations)
        if not dedupes and self.has("distinct_strong"):
            return [("distinct (not in the SQL)", "contradicted")]
        return []


_IDENTITY_WORDS = ("id", "name", "code", "number", "key", "num")


def _identity(column: str) -> bool:
    """A key that stands for its row's thing: grouping by ``employeeid`` is "for each nurse"."""
    low = column.lower()
    return low.endswith(("id", "name", "code", "no", "key", "num", "number")) or low in ("title",)
