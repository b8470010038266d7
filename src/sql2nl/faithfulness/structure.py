"""Structure: what a flat sentence loses, and what a count counts.

* Grouping that changes meaning must be said: ``a - (b - c)`` is not "a minus b minus c", and
  ``a OR b AND c`` needs "either ... or both ..."; ``NOT (a AND b)`` needs its "not" on the group.
* ``COUNT(*)`` over a join counts the joined rows: for ``customers JOIN orders ON o.customer_id =
  c.id`` those are orders, so "how many customers" says the wrong thing; grouped by a country, a
  count of car makers is not "the most countries".
* What a statement returns or leaves out beyond its columns: ``* EXCEPT (ssn)``, ``RETURNING``,
  ``ON CONFLICT ... EXCLUDED.qty`` (the new row's value, not the stored one), the roles of a
  self-join (``e.manager_id = m.id``: "manager"), and a LIMIT given as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from ..words import humanize, singular
from .tokens import phrase_tokens

_ARITH_GROUPING = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)


@dataclass
class Structure:
    """The structural facts of one statement that the sentence must carry."""

    arithmetic: list[str] = field(default_factory=list)  # labels of groupings that change meaning
    mixed_logic: bool = False  # AND inside OR (or the reverse)
    compound_not: list[tuple[str, list[str]]] = field(default_factory=list)  # (label, values under it)
    counted: set[str] | None = None  # tables a COUNT(*) may be said to count
    not_counted: set[str] = field(default_factory=set)  # ... and tables it cannot be said to count
    star_except: list[str] = field(default_factory=list)
    returning: list[str] = field(default_factory=list)
    conflict: bool = False
    excluded: bool = False  # ON CONFLICT refers to EXCLUDED.<col>
    roles: list[str] = field(default_factory=list)  # self-join role words
    parameter_limit: bool = False


def _bare(node: exp.Expression | None) -> exp.Expression | None:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def build(f: Any, nodes: list[exp.Expression]) -> Structure:
    s = Structure()
    for node in nodes:
        t = type(node)
        if t in (exp.Sub, exp.Div, exp.Mod):
            right = node.expression
            if isinstance(right, exp.Paren) and isinstance(_bare(right), _ARITH_GROUPING):
                s.arithmetic.append(f"grouping of {node.sql()}")
            elif (
                t is not exp.Sub
                and isinstance(node.this, exp.Paren)
                and isinstance(_bare(node.this), (exp.Add, exp.Sub))
            ):
                s.arithmetic.append(f"grouping of {node.sql()}")
        elif t is exp.Mul:
            if any(
                isinstance(x, exp.Paren) and isinstance(_bare(x), (exp.Add, exp.Sub))
                for x in (node.this, node.expression)
            ):
                s.arithmetic.append(f"grouping of {node.sql()}")
        elif t is exp.Or or t is exp.And:
            other = exp.And if t is exp.Or else exp.Or
            if any(isinstance(_bare(x), other) for x in (node.this, node.expression)):
                s.mixed_logic = True
        elif t is exp.Not and isinstance(_bare(node.this), (exp.And, exp.Or)):
            values = [str(v.this) for v in node.find_all(exp.Literal)]
            s.compound_not.append((f"negation of {node.sql()}", values))
        elif t is exp.Star and node.args.get("except_"):
            s.star_except = [c.name for c in node.args["except_"] if isinstance(c, exp.Column)]
        elif t is exp.Returning:
            s.returning = [
                c.name for e in node.expressions for c in ([e] if isinstance(e, exp.Column) else e.find_all(exp.Column))
            ]
        elif t is exp.OnConflict:
            s.conflict = True
            s.excluded = any(c.table.lower() == "excluded" for c in node.find_all(exp.Column))
        elif isinstance(node, exp.Join) and isinstance(node.this, exp.Table):
            _self_join_role(f, node, s)
    limit = f.limit if isinstance(f.limit, str) else ""
    s.parameter_limit = limit == "?" or limit.startswith(":")
    _counting(f, nodes, s)
    return s


def _self_join_role(f: Any, join: exp.Join, s: Structure) -> None:
    name = join.this.name.lower()
    sel = join.parent
    frm = (sel.args.get("from_") or sel.args.get("from")) if sel is not None else None
    sources = (([frm.this] if frm is not None else []) + [j.this for j in sel.args.get("joins") or ()]) if sel else []
    if sum(isinstance(t, exp.Table) and t.name.lower() == name for t in sources) < 2:
        return  # a table joined with itself, in the same FROM
    on = join.args.get("on")
    for eq in on.find_all(exp.EQ) if on is not None else ():
        for col in (eq.this, eq.expression):
            if isinstance(col, exp.Column):
                words = [w for w in humanize(col.name).split() if w not in ("id", "no", "code", "key", "name")]
                if words and col.name.lower() != "id" and not _identity(col.name, name):
                    s.roles.append(" ".join(words))


def _identity(column: str, table: str | None) -> bool:
    """Whether ``column`` identifies a row of ``table``: ``id``, ``customer_id`` in customers, ``stuid`` in student."""
    if not table:
        return False
    n = column.lower().replace("_", "")
    t = singular(humanize(table)).replace(" ", "")
    if n == "id" or n == t + "id":
        return True
    prefix = n[:-2]
    return n.endswith("id") and len(prefix) >= 2 and t.startswith(prefix) and len(t) - len(prefix) <= 4


def _counting(f: Any, nodes: list[exp.Expression], s: Structure) -> None:
    """Which tables a ``COUNT(*)`` over a join counts: the many side of each one-to-many join."""
    if len(f.tables) < 2 or f.scopes is None:
        return
    main = [
        n
        for n in nodes
        if isinstance(n, exp.Count)
        and not isinstance(n.this, exp.Distinct)
        and (n.this is None or isinstance(n.this, exp.Star))
    ]
    if not main:
        return
    table_of = f.scopes.table_of
    one: set[str] = set()  # referenced by another table's key: one row per many
    many: dict[str, set[str]] = {}  # table -> the tables its keys point to
    for eq in (n for n in nodes if isinstance(n, exp.EQ)):
        a, b = eq.this, eq.expression
        if not (isinstance(a, exp.Column) and isinstance(b, exp.Column)):
            continue
        ta, tb = table_of(a), table_of(b)
        if not ta or not tb or ta.lower() == tb.lower():
            continue
        ia, ib = _identity(a.name, ta), _identity(b.name, tb)
        if ia and not ib:
            one.add(ta.lower())
            many.setdefault(tb.lower(), set()).add(ta.lower())
        elif ib and not ia:
            one.add(tb.lower())
            many.setdefault(ta.lower(), set()).add(tb.lower())
    tables = {t.lower() for t in f.tables}
    identified: set[str] = set()
    group = next((n for n in nodes if isinstance(n, exp.Group)), None)
    if group is not None:
        for e in group.expressions:
            col = e if isinstance(e, exp.Column) else e.find(exp.Column)
            t = table_of(col) if col is not None else None
            if col is None or not t:
                return
            if _identity(col.name, t):
                identified.add(t.lower())
            # the table the key points to: T1.Country = T2.CountryId identifies countries
            for eq in (n for n in nodes if isinstance(n, exp.EQ)):
                for x, y in ((eq.this, eq.expression), (eq.expression, eq.this)):
                    if (
                        isinstance(x, exp.Column)
                        and isinstance(y, exp.Column)
                        and x.name.lower() == col.name.lower()
                        and (table_of(x) or "").lower() == t.lower()
                        and _identity(y.name, table_of(y))
                    ):
                        identified.add((table_of(y) or "").lower())
        counted = tables - identified
    else:
        if not one:
            return
        counted = tables - one
    # a link table's rows stand for the things it links ("pets owned" for has_pet rows)
    links = {t for t in counted if len(many.get(t, ())) >= 2}
    s.counted = counted | {x for t in links for x in many[t]}
    s.not_counted = (identified or one) - s.counted


_COUNT_LEAD_EN = {
    ("how", "many"),
    ("number", "of"),
    ("count", "of"),
    ("count",),
    ("most",),
    ("fewest",),
    ("least",),
    ("more", "than"),
    ("fewer", "than"),
    ("less", "than"),
    ("at", "least"),
    ("at", "most"),
    ("or", "more"),
    ("or", "fewer"),
}
_MARKERS_EN = (
    "(",
    "either",
    "both",
    "one of",
    "all of",
    "any of",
    "at the same time",
    "or else",
    "whichever",
    "case that",
    "as well as",
    "in addition",
    "difference",
    "sum",
    "total",
    "product",
    "quotient",
    "ratio",
    "share",
    "result of",
    "combined",
    "quantity",
    ";",
)
_MARKERS_ZH = (
    "（",
    "(",
    "之差",
    "之和",
    "的差",
    "的和",
    "乘积",
    "之商",
    "比率",
    "比例",
    "结果",
    "要么",
    "既",
    "同时",
    "或者",
    "并非",
    "并且",
    "；",
    "总和",
    "差值",
)


class StructureReader:
    """The structure checks over one scanned text."""

    def __init__(self, reader: Any):
        self.r = reader
        self.s = reader.s
        self.m = reader.m

    @property
    def grouped(self) -> bool:
        """Whether the text marks a grouping: parentheses, "either ... or", "the difference of" ..."""
        cached = self.__dict__.get("_grouped")
        if cached is None:
            markers = _MARKERS_ZH if self.s.language == "zh" else _MARKERS_EN
            cached = self.__dict__["_grouped"] = any(self._unmasked(x) for x in markers)
        return cached

    def _unmasked(self, marker: str) -> bool:
        # a marker inside a name ("products") or a quoted value is no marker
        if not marker.isalnum() and marker.isascii() and " " not in marker:
            return marker in self.s.raw  # "(", ";"
        toks = phrase_tokens(marker, self.s.language)
        masked = self.s.masked
        return any(not any(masked[i : i + len(toks)]) for i in self.s.find(toks)) if toks else marker in self.s.raw

    def check(self, plan: Any, st: Structure) -> list[tuple[str, str]]:
        out = []
        for label in st.arithmetic:
            out.append((label, "ok" if self.grouped else "missing"))
        if st.mixed_logic:
            out.append(("grouping of AND and OR", "ok" if self.grouped else "missing"))
        for label, values in st.compound_not:
            negs = self.r.negs()
            firsts = [a for v in values[:1] for a, _ in self.m.value_positions(v)]
            said = any(h.start < a and a - h.start <= 10 for h in negs for a in firsts) or (negs and not firsts)
            out.append((label, "ok" if said and self.grouped else "missing"))
        if st.counted is not None:
            out += self._counted(plan, st)
        if st.star_except:
            ok = all(self.m.column(c, tuple(plan.facts.tables)) for c in st.star_except) and bool(self.r.negs())
            out.append((f"columns left out: {', '.join(st.star_except)}", "ok" if ok else "missing"))
        if st.returning:
            said = any(
                self.s.has(phrase_tokens(w))
                for w in ("return", "returning", "give back", "output", "report", "返回", "输出")
            )
            ok = said and all(self.m.column(c, tuple(plan.facts.tables)) for c in st.returning)
            out.append((f"returning {', '.join(st.returning)}", "ok" if ok else "missing"))
        if st.conflict:
            at = [
                i
                for w in ("exist", "already", "conflict", "duplicate", "clash", "已存在", "冲突", "重复")
                for i in self._where(w)
            ]
            out.append(("on conflict", "ok" if at else "missing"))
            if st.excluded:  # after the conflict is said: "... add it; if it exists, add the new quantity"
                new = (
                    "new",
                    "incoming",
                    "inserted",
                    "proposed",
                    "excluded",
                    "attempted",
                    "supplied",
                    "given",
                    "新",
                    "插入的",
                    "传入",
                )
                said = at and any(i > min(at) for w in new for i in self._where(w))
                out.append(("the new row's values (EXCLUDED)", "ok" if said else "missing"))
        for role in dict.fromkeys(st.roles):
            out.append(
                (f"self-join role {role}", "ok" if all(self.m.has_word(w) for w in phrase_tokens(role)) else "missing")
            )
        if st.parameter_limit:
            leak = any(
                self.s.stems[i] == "?" and i + 1 < len(self.s.stems) and not self.s.is_punct(i + 1)
                for i in range(len(self.s.stems))
            )
            said = any(w in self.s.stemset for w in ("given", "parameter", "specified", "some", "给定", "指定"))
            out.append(("limit (a given number)", "ok" if said and not leak else "missing"))
        return out

    def _where(self, word: str) -> list[int]:
        """Token positions of ``word`` (a Chinese word: of its first character)."""
        toks = phrase_tokens(word, self.s.language)
        return self.s.find(toks) if toks else []

    def _counted(self, plan: Any, st: Structure) -> list[tuple[str, str]]:
        """The noun a count is said of must be among the rows it counts."""
        tables = {t.lower(): t for t in plan.facts.tables}
        nouns: set[str] = set()
        stems = self.s.stems
        for start, end, key in self.s.names:
            if key not in tables:
                continue
            if self.s.language == "zh":
                after = "".join(stems[end : end + 4])
                before = "".join(stems[max(0, start - 3) : start])
                if after.startswith(
                    ("数量", "个数", "数目", "有多少", "的数量", "的个数", "的数目")
                ) or before.endswith(("多少", "多少个", "几个", "多少位", "多少名", "最多的", "最少的")):
                    nouns.add(key)
                continue
            for k in range(1, 5):
                lead = tuple(x for x in stems[max(0, start - k) : start] if x not in ("the", "different", "distinct"))
                if any(lead[-len(p) :] == p for p in _COUNT_LEAD_EN if len(lead) >= len(p)) or (
                    lead and lead[-1][0].isdigit()
                ):
                    nouns.add(key)
                    break
        if not nouns:
            return []
        label = f"counting {', '.join(sorted(st.counted or ()))}"
        if not st.counted:
            return []
        if nouns & st.counted:
            return [(label, "ok")]
        return [(label, "contradicted")] if nouns & st.not_counted else []
