"""Meaning: does the text say what the statement does, or the opposite?

Each check gives verdicts ``(label, state)`` with state ``"ok"``, ``"missing"`` or
``"contradicted"``. Direction words are judged where they stand: a comparison phrase by the
value it introduces ("younger than 18" against ``age > 18``), a superlative by the column it
qualifies ("the lowest salary") or, unattached ("the youngest user"), against every min/max and
ordering it could mean; see :mod:`.lexicon` for how a word's axis meets a column's kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..words import humanize
from .clauses import ClauseChecks
from .lexicon import UP, sign
from .mentions import Mentions
from .plan import Plan, column_kind
from .scan import Hit, Scan
from .structure import StructureReader
from .tokens import phrase_tokens

_OP = {">": (UP, False), ">=": (UP, True), "<": (-UP, False), "<=": (-UP, True)}
_BOUNDARY_EN = frozenset("and or but who whose which that where while with when because".split())
_BOUNDARY_ZH = frozenset("且或并但")
_RANGE_LOW = frozenset({"between", "from", "介于", "在", "从"})
_RANGE_MID = frozenset({"and", "to", "到", "至", "和", "与", "-"})


class Reader(ClauseChecks):
    """The meaning checks over one scanned text (shared by the statements of a script)."""

    def __init__(self, scan: Scan, mentions: Mentions, plans: list[Plan]):
        self.s = scan
        _join_split_comparatives(scan)
        _drop_name_words(scan, plans)
        self.m = mentions
        self.zh = scan.language == "zh"
        self.boundary = _BOUNDARY_ZH if self.zh else _BOUNDARY_EN
        self.used_neg: set[int] = set()  # negation hits that belong to a comparison ("not more than")
        self.anchored: set[int] = set()  # cmp hits that introduce a value
        self.columns = {c.lower() for p in plans for c in p.all_columns}
        # a word that is itself a column's whole name ("amount", "total") names it; it is no aggregate
        # (a name said twice, "the total invoice total", leaves the first one its meaning)
        seen: dict[str, int] = {}
        for _, _, key in scan.names:
            seen[key] = seen.get(key, 0) + 1
        spans = {(s0, e0) for s0, e0, key in scan.names if key in self.columns and seen[key] == 1}
        scan.hits = [
            Hit(h.start, h.end, {k: v for k, v in h.tags.items() if k not in ("agg", "sup")})
            if (h.start, h.end) in spans
            else h
            for h in scan.hits
        ]
        self.by_start = {h.start: h for h in scan.hits}
        self.by_end = {h.end: h for h in scan.hits}
        for h in scan.hits:  # "not more than": the "not" belongs to the comparison
            if "cmp" in h.tags:
                neg = self._neg_before(h)
                if neg is not None:
                    self.used_neg.add(neg.start)

    # -- small helpers ------------------------------------------------------------------------
    def _clear(self, a: int, b: int) -> bool:
        """No clause boundary or number among tokens ``a:b``."""
        st = self.s.stems
        return not any(self.s.is_punct(j) or st[j] in self.boundary or st[j][0].isdigit() for j in range(a, b))

    def _own_gap(self, a: int, b: int, column: str | None) -> bool:
        own = column.lower() if column else None
        names = [(s0, key) for s0, _, key in self.s.names if a <= s0 < b and key in self.columns]
        if any(key != own for _, key in names):
            return False
        # "大于 employee id 为 163": a name and its copula between; the 163 is the name's own value
        return not (self.zh and names and any(self.s.stems[j] in ("为", "是") for j in range(names[0][0], b)))

    def _neg_before(self, h: Hit) -> Hit | None:
        prev = self.by_end.get(h.start)
        if prev is None and h.start >= 2 and self.s.stems[h.start - 1] in ("be", "is", "are", "was", "were", "been"):
            prev = self.by_end.get(h.start - 1)
        return prev if prev is not None and "neg" in prev.tags else None

    def cmp_value(self, h: Hit, cat: str) -> tuple[str, int, bool | None]:
        axis, pol, incl = h.tags[cat]
        neg = self._neg_before(h) if cat == "cmp" else None
        if neg is not None:
            return axis, -pol, (not incl) if incl is not None else None
        return axis, pol, incl

    def attached(self, start: int, end: int, column: str | None = None) -> list[tuple[str, int, bool | None]]:
        """Comparison phrases introducing the value at tokens ``start:end`` ("more than 18", "18 or more").

        A phrase is not the value's when another column is named between them ("大于 employee id 为
        163": the 163 is the id's)."""
        s, out = self.s, []
        gap = 3
        for b in range(start, max(-1, start - gap - 1), -1):
            h = self.by_end.get(b)
            if h is not None and "cmp" in h.tags and self._clear(b, start) and self._own_gap(b, start, column):
                if not (self.zh and h.tags.get("cmp", ("",))[0] == "mag" and "sup" in h.tags and b != start):
                    out.append(self.cmp_value(h, "cmp"))
                    self.anchored.add(h.start)
                break
        for a in range(end, min(len(s.stems), end + (3 if self.zh else 2)) + 1):
            h = self.by_start.get(a)
            if h is not None and "cmp_after" in h.tags and self._clear(end, a):
                out.append(self.cmp_value(h, "cmp_after"))
                break
        out += self._range(start, end)
        return out

    def _range(self, start: int, end: int) -> list[tuple[str, int, bool | None]]:
        # "between 10 and 20", "from 2000 to 2010", "在10到20之间"
        st = self.s.stems
        before = st[max(0, start - 3) : start]
        after = st[end : end + 4]
        if (
            any(w in _RANGE_LOW for w in before)
            and after
            and after[0] in _RANGE_MID
            and any(w[0].isdigit() for w in after[1:])
        ):
            return [("mag", UP, None)]
        if (
            start >= 2
            and st[start - 1] in _RANGE_MID
            and any(w[0].isdigit() for w in st[max(0, start - 4) : start - 1])
            and any(w in _RANGE_LOW for w in st[max(0, start - 8) : start - 1])
        ):
            return [("mag", -UP, None)]
        return []

    def neg_near(self, start: int, window: int) -> bool:
        """A negation word before ``start``, in the same clause ("not from Paris", not "not ... who ... Paris")."""
        st = self.s.stems
        for h in self.s.hits:
            if "neg" in h.tags and start - window <= h.start < start and h.start not in self.used_neg:
                if not any(
                    self.s.is_punct(j) or (st[j] in self.boundary and st[j] != "with") for j in range(h.end, start)
                ):
                    return True
        return False

    def statement(self, p: Plan) -> list[tuple[str, str]]:
        """The statement's kind: "Show the user with id 5" is not a DELETE."""
        kind = p.kind
        if kind not in (
            "select",
            "insert",
            "update",
            "delete",
            "merge",
            "create",
            "alter",
            "drop",
            "truncate",
            "values",
        ):
            return []
        s = self.s
        verbs = [h for h in s.hits if "verb" in h.tags and not self._object_is_duplicates(h)]
        main = verbs if self.zh else [h for h in verbs if self._sentence_initial(h.start)]
        label = f"statement {kind}"
        if any(kind in h.tags["verb"] for h in (main if kind in ("select", "values") else verbs)):
            return [(label, "ok")]
        if main:
            return [(label, "contradicted")]
        return [(label, "ok" if kind in ("select", "values") else "missing")]

    def _object_is_duplicates(self, h: Hit) -> bool:
        # "Remove duplicates ..." / "去除重复" describes DISTINCT, not a DELETE
        nxt = self.s.stems[h.end : h.end + 3]
        return any(w in ("duplicate", "重", "repeat", "repetition") for w in nxt)

    def _sentence_initial(self, i: int) -> bool:
        """Whether token ``i`` opens a sentence or a "then" clause, after fillers ("This query will ...")."""
        s, j = self.s, i - 1
        while j >= 0:
            if s.is_punct(j):
                return s.stems[j] in (".", "?", "!", ";", ":", "\u3002", "\uff1f", "\uff01", "\uff1b") or j == i - 1
            if s.stems[j] == "then":
                return True  # "Delete the old rows, then count the rest."
            h = self.by_end.get(j + 1)
            if h is not None and "filler" in h.tags:
                j = h.start - 1
                continue
            return False
        return True

    def comparisons(self, p: Plan) -> list[tuple[str, str]]:
        out = []
        shared: dict[str, int] = {}
        for c in p.comparisons:
            for v in c.values[:1]:
                shared[v.lower()] = shared.get(v.lower(), 0) + 1
        for c in p.comparisons:
            if c.op in ("between", "not between"):
                out += self._between(c)
                continue
            if not c.values:
                continue  # against a subquery or a column: judged with the unanchored phrases below
            if c.op == "=" and not c.values[0][:1].isdigit():
                continue
            spans = self.m.value_positions(c.values[0])
            if not spans:
                continue  # the value itself is missing; its own item says so
            if shared.get(c.values[0].lower(), 0) > 1 and c.column:
                # the same value in two comparisons: each occurrence belongs to the nearest column
                others = {o.column.lower() for o in p.comparisons if o.column and o.values[:1] == c.values[:1]}
                mine = [sp for sp in spans if self._nearest(sp[0], others) == c.column.lower()]
                spans = mine or spans
            evidence = [e for sp in spans for e in self.attached(*sp, c.column)]
            signs = [(sign(a, pol, c.kind), incl) for a, pol, incl in evidence]
            signs = [(sg, incl) for sg, incl in signs if sg is not None]
            if c.op == "=":
                # direction words attach to numbers and dates ("under the label of 'X'" is no comparison)
                if signs and c.values[0][:1].isdigit() and not any(self._plain(sp) for sp in spans):
                    out.append((c.label, "contradicted"))
                continue
            want, incl_want = _OP[c.op]
            if any(sg == want and (incl is None or incl == incl_want) for sg, incl in signs):
                out.append((c.label, "ok"))
            else:
                out.append((c.label, "contradicted" if signs else "missing"))
        return out

    def _nearest(self, i: int, keys: set[str]) -> str | None:
        best = None
        for s, e, key in self.s.names:
            if key in keys:
                d = s - i if s >= i else i - e + 1
                if d <= 8 and (best is None or d < best[0]):
                    best = (d, key)
        return best[1] if best else None

    def _plain(self, span: tuple[int, int]) -> bool:
        """Whether the value at ``span`` stands without a direction phrase."""
        return not [e for e in self.attached(*span) if e[1]]

    def _between(self, c: Any) -> list[tuple[str, str]]:
        lo, hi = c.values
        ev_lo = [sign(a, pol, c.kind) for sp in self.m.value_positions(lo) for a, pol, _ in self.attached(*sp)]
        ev_hi = [sign(a, pol, c.kind) for sp in self.m.value_positions(hi) for a, pol, _ in self.attached(*sp)]
        inside = (UP in ev_lo or not ev_lo) and (-UP in ev_hi or not ev_hi)
        outside = -UP in ev_lo and UP in ev_hi
        if c.op == "between":
            return [(c.label, "contradicted" if outside and not inside else "ok")]
        if outside or self.negs() or any(w in self.s.stemset for w in ("outside", "beyond", "之外", "以外")):
            return [(c.label, "ok")]
        return [(c.label, "contradicted" if (ev_lo or ev_hi) and inside else "missing")]

    def subquery_comparisons(self, p: Plan) -> list[tuple[str, str]]:
        """``age > (SELECT avg(age) ...)``: "older than the average", anywhere not before a value."""
        todo = [c for c in p.comparisons if not c.values and c.op in _OP]
        if not todo:
            return []
        free = [h for h in self.s.hits if "cmp" in h.tags and h.start not in self.anchored]
        out = []
        for c in todo:
            want, incl_want = _OP[c.op]
            signs = []
            for h in free:
                a, pol, incl = self.cmp_value(h, "cmp")
                sg = sign(a, pol, c.kind)
                if sg is not None:
                    signs.append((sg, incl))
            if any(sg == want and (incl is None or incl == incl_want) for sg, incl in signs):
                out.append((c.label, "ok"))
            else:
                out.append((c.label, "contradicted" if signs else "missing"))
        return out

    def patterns(self, p: Plan) -> list[tuple[str, str]]:
        """LIKE: "starts with", "ends with", "contains" must be the pattern's own side."""
        out = []
        for pat in p.patterns:
            if pat.side == "pattern":
                continue
            spans = self.m.value_positions(pat.core)
            if not spans:
                continue
            sides = set()
            for a, b in spans:
                for j in range(a, max(-1, a - 5), -1):
                    h = self.by_end.get(j)
                    if h is not None and "like" in h.tags and not any(self.s.is_punct(k) for k in range(j, a)):
                        sides.add(h.tags["like"])
                        break
                for j in range(b, min(len(self.s.stems), b + 4)):
                    h = self.by_start.get(j)
                    if h is not None and "like" in h.tags and not any(self.s.is_punct(k) for k in range(b, j)):
                        sides.add(h.tags["like"])
                        break
            if pat.side in sides:
                out.append((pat.label, "ok"))
            elif sides - ({"exact"} if pat.side == "contains" else set()):
                out.append((pat.label, "contradicted"))
            else:
                out.append((pat.label, "ok" if pat.side in ("contains", "exact") else "missing"))
        return out

    def negation(self, p: Plan) -> list[tuple[str, str]]:
        """A negation the SQL has must be said, and said of the right thing."""
        out = []
        negs = self.negs()
        if p.needs_negation:
            out.append(("negation", "ok" if negs else "missing"))
        if not negs:
            return out
        negated_values = {v.lower() for c in p.conditions if c.negated for v in c.values}
        for c in p.conditions:
            if not c.values or c.grouped:
                continue  # NOT (a AND b): the structure check wants its "not" on the group
            spans = [sp for v in c.values for sp in self.m.value_positions(v)]
            if not spans:
                continue
            if c.negated:
                if not any(self.neg_near(a, 6) for a, _ in spans):
                    out.append((c.label, "contradicted"))
            elif not c.negative_context and not any(v.lower() in negated_values for v in c.values):
                if all(self.neg_near(a, 3) for a, _ in spans):
                    out.append((c.label, "contradicted"))
        return out

    def aggregates(self, p: Plan) -> list[tuple[str, str]]:
        """count / sum / avg by their words; min / max by superlatives of the right direction."""
        out = []
        cols = {a.column.lower() for a in p.aggregates if a.column} | {o.column.lower() for o in p.order if o.column}
        agg_hits = [h for h in self.s.hits if "agg" in h.tags]
        sup_hits = self.superlatives()
        quant = self.has("quantifier") or self._at_least_one()
        funcs_of: dict[str, set[str]] = {}
        for a in p.aggregates:
            if a.column:
                funcs_of.setdefault(a.column.lower(), set()).add(a.func)
        for a in p.aggregates:
            col = a.column.lower() if a.column else None
            if a.func in ("min", "max"):
                want = UP if a.func == "max" else -UP
                signs = []
                for h in sup_hits:
                    b = self.bound(h, cols)
                    if b is not None and b != col and a.func not in funcs_of.get(b, ()):
                        continue  # "the highest price and age": "highest" also covers age
                    axis, pol = h.tags["sup"]
                    sg = sign(axis, pol, a.kind, extreme=True)
                    if sg is not None and (b == col or b is None or sg == want):
                        signs.append(sg)
                if want in signs:
                    out.append((a.label, "ok"))
                elif signs:
                    out.append((a.label, "contradicted"))
                else:
                    out.append((a.label, "ok" if a.compared and quant else "missing"))
                continue
            ok = wrong = False
            for h in agg_hits:
                b = self.bound(h, cols) if col is not None else None  # count(*): "how many people have age ..."
                if b is not None and b != col and a.func not in funcs_of.get(b, ()):
                    continue  # "the average price and score": "average" covers both
                if a.func in h.tags["agg"]:
                    ok = True
                elif b == col and col is not None:
                    wrong = True
            out.append((a.label, "ok" if ok else "contradicted" if wrong else "missing"))
        return out

    def _at_least_one(self) -> bool:
        st = self.s.stems
        return any("cmp" in h.tags and h.end < len(st) and st[h.end] == "1" for h in self.s.hits)

    def unsupported_aggregates(self, plans: list[Plan]) -> list[tuple[str, str]]:
        """ "average" or "sum" where no statement averages or sums."""
        kinds = set().union(*(p.agg_kinds for p in plans)) if plans else set()
        out = []
        for func in ("avg", "sum"):
            if func in kinds:
                continue
            if any(h.tags["agg"] == frozenset({func}) for h in self.s.hits if "agg" in h.tags):
                out.append((f"aggregate {func} (not in the SQL)", "contradicted"))
        return out

    def unsupported_negation(self, plans: Iterable[Plan]) -> list[tuple[str, str]]:
        if any(p.negates for p in plans):
            return []
        return [("negation (not in the SQL)", "contradicted")] if self.negs() else []


def _join_split_comparatives(scan: Scan) -> None:
    """ "more point values than 70": a comparative whose "than" comes a few words later."""
    st, out = scan.stems, []
    for h in scan.hits:
        if "cmp_bare" in h.tags and "cmp" not in h.tags:
            for j in range(h.end, min(len(st), h.end + 6)):
                if scan.is_punct(j):
                    break
                if st[j] == "than":
                    h = Hit(h.start, j + 1, {**h.tags, "cmp": h.tags["cmp_bare"]})
                    break
        out.append(h)
    scan.hits = out


def _drop_name_words(scan: Scan, plans: list[Plan]) -> None:
    """ "mean visibility" for ``mean_visibility_miles``: a meaning word that starts a column's name
    in the text is part of the name, not an average."""
    starts: set[tuple[str, str]] = set()
    for p in plans:
        for c in p.all_columns:
            toks = phrase_tokens(humanize(c))
            if len(toks) > 1:
                starts.add((toks[0], toks[1]))
    if not starts:
        return
    st = scan.stems
    scan.hits = [
        h
        for h in scan.hits
        if not (
            h.end - h.start == 1
            and h.end < len(st)
            and (st[h.start], st[h.end]) in starts
            and any(k in h.tags for k in ("agg", "sup", "cmp_bare", "order"))
        )
    ]


def meaning_checks(plans: list[Plan], reader: Reader) -> list[tuple[str, str]]:
    """Every meaning verdict for the statements of one text."""
    out: list[tuple[str, str]] = []
    for p in plans:
        out += reader.statement(p)
        out += reader.comparisons(p)
        out += reader.subquery_comparisons(p)
        out += reader.patterns(p)
        out += reader.aggregates(p)
        out += reader.order(p)
        out += reader.limit(p)
        out += reader.grouping(p)
        out += reader.set_operations(p)
        out += reader.distinct(p)
    structure = StructureReader(reader)
    for p in plans:
        out += reader.negation(p)  # after the comparisons: they claim "not more than"'s "not"
        out += structure.check(p, p.structure)
    out += reader.unsupported_negation(plans)
    out += reader.unsupported_aggregates(plans)
    return out


__all__ = ["Reader", "meaning_checks", "sign", "column_kind"]
