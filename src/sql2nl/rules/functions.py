"""Words for SQL functions and operators: one phrase table keyed by sqlglot class, per language.

sqlglot reads a few hundred functions and operators in its dialects and normalises each into one
expression class (``DATEDIFF(day, a, b)`` in T-SQL, ``DATEDIFF(b, a)`` in MySQL and
``DATE_DIFF(b, a, DAY)`` in BigQuery all become ``DateDiff(this=b, expression=a, unit=DAY)``).
The templates in ``data/functions.txt`` read those arguments by their sqlglot names, so argument
order per dialect is sqlglot's business and the wording is written once.

How a describer uses it::

    p = phrase(node, render, language, dialect=dialect)
    if p is not None:
        text = p.text                    # "the email field of data", "tags contain "vip""
        if p.warning:                    # only the generic fallback warns
            warnings.append(p.warning)

``phrase`` answers for every ``exp.Func`` and for the operator nodes in :data:`OPERATORS`, and
returns ``None`` for anything else. ``render(child) -> str`` is the describer's own wording of a
sub-expression (a column, a comparison, an aggregate...), so nesting works ("the month of the
maximum order date"). What has no template reads "the result of NAME(x, y)" with NAME as SQL
spells it (never a Python class name) and comes with a warning.

Template syntax (``classes | when | en | zh`` per line; the first line whose conditions hold and
whose fields are all present wins): ``{arg}`` renders an argument (a list is joined with "and");
``{arg:spec}`` formats it (see ``_Ctx.spec_*``); ``{expressions.0}`` and ``{expressions.1+}`` pick
from a list; ``{all}`` is ``this`` followed by ``expressions``; ``fn:NAME`` rows phrase functions
sqlglot does not know, by name, with positional fields ``{0}``, ``{1}``, ``{*}``. Conditions
(comma-separated): ``arg`` (present), ``!arg`` (absent), ``arg=A|B`` (value, units normalised),
``arg<0`` (a negative number), ``arg#N`` (a list of N items), ``arg~Class`` (node type),
``^func`` (inside another function call).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from ..words import plural_phrase
from .function_words import FORMAT_TOKENS, SEPARATORS, UNITS, WORDS, number_suffix, ordinal, type_words
from .sqlglot_names import CAMEL_HUMPS

__all__ = ["Phrase", "phrase", "OPERATORS", "has_phrase", "sql_name"]


@dataclass(frozen=True)
class Phrase:
    """Words for one function call or operator; ``warning`` is set only for the generic fallback."""

    text: str
    warning: str | None = None


#: Operator-like nodes (not ``exp.Func``) that have phrases here; the describer routes them to
#: :func:`phrase` as it does function calls.
OPERATORS: frozenset[type] = frozenset(
    {
        exp.Interval,
        exp.AtTimeZone,
        exp.WithinGroup,
        exp.Bracket,
        exp.Dot,
        exp.Kwarg,
        exp.PropertyEQ,
        exp.Lambda,
        exp.JSONKeyValue,
        exp.BitwiseAnd,
        exp.BitwiseOr,
        exp.BitwiseXor,
        exp.BitwiseNot,
        exp.BitwiseLeftShift,
        exp.BitwiseRightShift,
        exp.Glob,
        exp.SimilarTo,
        exp.Overlaps,
        exp.Distance,
        exp.Adjacent,
        exp.ExtendsLeft,
        exp.ExtendsRight,
        exp.Slice,
        exp.IgnoreNulls,
        exp.RespectNulls,
    }
)


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    conditions: tuple[tuple[str, str, str], ...]  # (kind, arg, value)
    pieces: tuple[tuple[str, str | None, str], ...]  # (literal, field or None, spec)

    @property
    def fields(self) -> list[str]:
        return [f for _, f, _ in self.pieces if f is not None]


_FIELD = re.compile(r"^(\w+|\*)(?:\.(\d+)(\+?))?$")
_COND = re.compile(r"^(\^func|!?\w+|\w+=[^,]*|\w+<0|\w+#\d+|\w+~\w+)$")


def _compile(text: str) -> tuple[tuple[str, str | None, str], ...]:
    pieces = []
    for literal, field, spec, _ in string.Formatter().parse(text):
        if field is not None and not _FIELD.match(field):
            raise ValueError(f"bad field {{{field}}} in template {text!r}")
        pieces.append((literal, field, spec or ""))
    return tuple(pieces)


def _conditions(text: str) -> tuple[tuple[str, str, str], ...]:
    out = []
    for c in filter(None, (c.strip() for c in text.split(","))):
        if not _COND.match(c):
            raise ValueError(f"bad condition {c!r}")
        if c == "^func":
            out.append(("parent", "", ""))
        elif c.startswith("!"):
            out.append(("absent", c[1:], ""))
        elif "=" in c:
            arg, value = c.split("=", 1)
            out.append(("eq", arg, value))
        elif c.endswith("<0"):
            out.append(("neg", c[:-2], ""))
        elif "#" in c:
            arg, n = c.split("#")
            out.append(("len", arg, n))
        elif "~" in c:
            arg, cls = c.split("~")
            out.append(("type", arg, cls))
        else:
            out.append(("present", c, ""))
    return tuple(out)


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, list[_Template]]]:
    """language -> key -> templates; keys are class names or ``fn:NAME`` (upper case)."""
    table: dict[str, dict[str, list[_Template]]] = {"en": {}, "zh": {}}
    text = resources.files("sql2nl.rules").joinpath("data/functions.txt").read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in re.split(r" \|(?= )", line + " ")]
        if len(parts) != 4:
            raise ValueError(f"data/functions.txt line {n}: expected 'classes | when | en | zh'")
        classes, when, en, zh = parts
        conds = _conditions(when)
        for key in classes.split():
            key = "fn:" + key[3:].upper() if key.startswith("fn:") else key
            if not key.startswith("fn:") and not isinstance(getattr(exp, key, None), type):
                raise ValueError(f"data/functions.txt line {n}: sqlglot has no class {key}")
            for lang, tmpl in (("en", en), ("zh", zh)):
                table[lang].setdefault(key, []).append(_Template(conds, _compile(tmpl)))
    return table


def has_phrase(cls: type, language: str = "en") -> bool:
    """Whether ``cls`` (a sqlglot class) has a real phrase, not the generic fallback."""
    return cls.__name__ in _table().get(language, {}) or cls in _HANDLERS


# -- phrasing --------------------------------------------------------------------------------


def phrase(
    node: exp.Expression, render: Callable[[exp.Expression], str], language: str = "en", dialect: str | None = None
) -> Phrase | None:
    """Words for a function call or operator node, or ``None`` if ``node`` is neither.

    ``render`` phrases sub-expressions (the describer's own walk); ``dialect`` resolves
    dialect-specific date-part abbreviations (T-SQL's ``m`` is a month, elsewhere a minute).
    """
    if not isinstance(node, exp.Func) and type(node) not in OPERATORS:
        return None
    lang = language if language in WORDS else "en"
    ctx = _Ctx(render, lang, dialect)
    handler = _HANDLERS.get(type(node))
    if handler is not None:
        text = handler(ctx, node)
        if text is not None:
            return Phrase(text)
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        key = "fn:" + str(node.name).upper()
        args: dict[str, Any] = {str(i): e for i, e in enumerate(node.expressions)}
        args["*"] = list(node.expressions)
    else:
        key = type(node).__name__
        args = dict(node.args)
        args["all"] = [node.this] + list(node.expressions) if node.args.get("this") is not None else None
    templates = _table()[lang].get(key)
    order_suffix = None
    if isinstance(args.get("this"), exp.Order) and isinstance(node, exp.AggFunc):
        # GROUP_CONCAT(x ORDER BY y), ARRAY_AGG(x ORDER BY y): the order is said after the phrase.
        order = args["this"]
        args["this"] = order.this
        order_suffix = ctx.join([render(o) for o in order.expressions])
    for t in templates or ():
        if ctx.applies(t, node, args):
            text = ctx.fill(t, node, args)
            if order_suffix:
                text = WORDS[lang]["ordered"].format(text, order_suffix)
            return Phrase(text)
    return _fallback(ctx, node)


def _fallback(ctx: "_Ctx", node: exp.Expression) -> Phrase:
    w = WORDS[ctx.lang]
    if isinstance(node, exp.Func):
        name = sql_name(node)
        args = [ctx.render(a) for a in node.iter_expressions()]
        text = w["fallback"].format(name=name, args=", ".join(args))
        return Phrase(text, f'no wording for the SQL function {name}; described as "{text}"')
    sql = "`" + node.sql() + "`"
    return Phrase(w["fallback_op"].format(sql=sql), f"no wording for the operator in {node.sql()}; quoted as SQL")


def sql_name(node: exp.Expression) -> str:
    """The SQL name of a function: as written for unknown functions, else sqlglot's SQL name."""
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        return str(node.name)
    names = type(node).sql_names() if isinstance(node, exp.Func) else []
    name = names[0] if names else ""
    if not name or re.search(r"(^|_)[A-Z]_[A-Z0-9](_|$)", name):  # J_S_O_N_ARRAY: sqlglot's fallback spelling
        name = CAMEL_HUMPS.sub("_", type(node).__name__.lstrip("_")).upper()
    return name


class _Ctx:
    """One phrasing: the describer's ``render``, the language and the dialect's date parts."""

    def __init__(self, render: Callable[[exp.Expression], str], lang: str, dialect: str | None):
        self.render_node = render
        self.lang = lang
        self.dialect = dialect
        self.w = WORDS[lang]

    # -- pieces ---------------------------------------------------------------------------------

    def render(self, value: object) -> str:
        if isinstance(value, list):
            return self.join([self.render(v) for v in value])
        if isinstance(value, exp.Kwarg):
            return self.render(value.expression)
        if isinstance(value, exp.Expression):
            return self.render_node(value) or ""
        return "" if value is None else str(value)

    def join(self, items: list[str], last: str | None = None) -> str:
        items = [i for i in items if i]
        if len(items) <= 1:
            return items[0] if items else ""
        return self.w["comma"].join(items[:-1]) + (last if last is not None else self.w["and"]) + items[-1]

    def unit_key(self, value: object) -> str:
        text = _plain(value).upper().strip()
        mapping = _date_parts(self.dialect)
        text = mapping.get(text, text)
        return text[:-1] if text.endswith("S") and text[:-1] in UNITS else text

    def unit_words(self, value: object) -> tuple[str, ...]:
        key = self.unit_key(value)
        if key in UNITS:
            return UNITS[key]
        low = _plain(value).lower()
        return (low, low + "s", low, low, low)

    # -- templates ------------------------------------------------------------------------------

    def applies(self, t: _Template, node: exp.Expression, args: dict) -> bool:
        for kind, arg, value in t.conditions:
            v = args.get(arg)
            if kind == "present" and not _present(v):
                return False
            if kind == "absent" and _present(v):
                return False
            if kind == "eq" and (not _present(v) or not self.matches(v, value)):
                return False
            if kind == "neg" and not _negative(v):
                return False
            if kind == "len" and not (isinstance(v, list) and len(v) == int(value)):
                return False
            if kind == "type" and type(v).__name__ != value:
                return False
            if kind == "parent" and not isinstance(node.parent, exp.Func):
                return False
        for f in t.fields:
            name, _, _ = f.partition(".")
            if not _present(args.get(name)):
                return False
            m = _FIELD.match(f)
            if m and m.group(2) is not None:
                seq = args.get(name)
                if not isinstance(seq, list) or len(seq) <= int(m.group(2)):
                    return False
        return True

    def matches(self, v: object, value: str) -> bool:
        text = _plain(v)
        for wanted in value.split("|"):
            if "%" in wanted:  # a time format: %M (minutes) is not %m (months)
                if text == wanted:
                    return True
            elif text.upper() == wanted.upper() or self.unit_key(v) == wanted.upper():
                return True
        return False

    def fill(self, t: _Template, node: exp.Expression, args: dict) -> str:
        out = []
        for literal, field, spec in t.pieces:
            out.append(literal)
            if field is None:
                continue
            m = _FIELD.match(field)
            assert m is not None
            value = args.get(m.group(1))
            if m.group(2) is not None:
                seq = value if isinstance(value, list) else [value]
                i = int(m.group(2))
                value = seq[i:] if m.group(3) else seq[i]
            out.append(getattr(self, "spec_" + (spec or "plain").replace("-", "neg_"))(value, node))
        return "".join(out)

    # -- specs: {arg:spec} ----------------------------------------------------------------------

    def spec_plain(self, v, node):
        return self.render(v)

    def spec_of(self, v, node):
        """ "the average price", but "the average of the length of name": a phrase gets an "of"."""
        text = self.render(v)
        return "of " + text if self.lang == "en" and text.startswith(("the ", "a ", "an ")) else text

    def spec_uncast(self, v, node):
        """T-SQL's LEN(s) reaches us as LENGTH(CAST(s AS TEXT)): the cast is sqlglot's, not the user's."""
        if isinstance(v, exp.Cast) and v.to.is_type(*exp.DataType.TEXT_TYPES):
            v = v.this
        return self.render(v)

    def spec_or(self, v, node):
        return self.join([self.render(x) for x in v], self.w["or"]) if isinstance(v, list) else self.render(v)

    def spec_many(self, v, node):
        """A column's words in the plural ("names joined with commas"); other phrases as they are."""
        text = self.render(v)
        return plural_phrase(text) if self.lang == "en" and isinstance(v, exp.Column) else text

    def spec_unit(self, v, node):
        en, _, zh, _, _ = self.unit_words(v)
        return en if self.lang == "en" else zh

    def spec_units(self, v, node):
        _, en, _, _, zh = self.unit_words(v)
        return en if self.lang == "en" else zh

    def spec_amount(self, v: exp.Expression, node: exp.Expression, negate: bool = False) -> str:
        """ "7 days" / "7天": a number of the node's ``unit`` (days when there is none)."""
        unit = node.args.get("unit") or "DAY"
        number = _plain(v)
        if negate:
            number = number[1:] if number.startswith("-") else number
        if not _is_number(number):
            number = self.render(v.this if negate and isinstance(v, exp.Neg) else v)
        one, many, _, counter, _ = self.unit_words(unit)
        if self.lang == "en":
            return f"{number} {one if number == '1' else many}"
        return f"{number}{counter}"

    def spec_neg_amount(self, v, node):
        return self.spec_amount(v, node, negate=True)

    def spec_abs(self, v, node):
        text = _plain(v)
        if _is_number(text):
            return text.lstrip("-")
        return self.render(v.this if isinstance(v, exp.Neg) else v)

    def spec_nth(self, v, node):
        text = _plain(v)
        if self.lang == "zh":
            return f"第{text}个" if _is_number(text) else f"第{self.render(v)}个"
        if text.isdigit():
            return ordinal(int(text))
        return f"number {self.render(v)}"

    def spec_pct(self, v, node):
        text = _plain(v)
        if _is_number(text):
            pct = float(text) * 100 if float(text) <= 1 else float(text)
            number = f"{pct:g}"
            if self.lang == "zh":
                return number
            return (
                ordinal(int(pct))
                if pct == int(pct) and pct >= 11
                else (number_suffix(number) if pct == int(pct) else number)
            )
        return self.render(v)

    def spec_type(self, v, node):
        return type_words(v, self.lang) if isinstance(v, exp.DataType) else self.render(v)

    def spec_raw(self, v, node):
        return _plain(v) if isinstance(v, (exp.Literal, exp.Identifier, exp.Var, str)) else self.render(v)

    def spec_sep(self, v, node):
        if isinstance(v, exp.Literal) and v.is_string and v.this in SEPARATORS:
            en, zh = SEPARATORS[v.this]
            return en if self.lang == "en" else zh
        return self.render(v)

    def spec_fmt(self, v, node):
        if isinstance(v, exp.Literal) and v.is_string:
            text = v.this
            if "%" in text:
                text = re.sub(r"%-?[A-Za-z%]", lambda m: FORMAT_TOKENS.get(m.group(0), m.group(0)), text)
            return f'"{text}"'
        return self.render(v)

    def spec_path(self, v, node):
        """A JSON path as words: "the email field", "the address.city field", "the first element"."""
        parts = _json_path(v)
        if parts is None:
            return self.w["field"].format(self.render(v))
        if len(parts) == 1 and isinstance(parts[0], int):
            return self.element_words(parts[0])
        text = ""
        for p in parts:
            text += f"[{p}]" if isinstance(p, int) else ("." if text else "") + p
        return self.w["field"].format(text)

    def element_words(self, index: int) -> str:
        # Paths and subscripts count from 0 in sqlglot's tree; people count from 1.
        if self.lang == "zh":
            return f"第{index + 1}个元素"
        return f"{ordinal(index + 1)} element"

    def spec_items(self, v: exp.Expression, node: exp.Expression, last: str | None = None) -> str:
        """The elements of an ARRAY[...] literal, as a list ("'a' and 'b'"); anything else as is."""
        if isinstance(v, (exp.Array, exp.Tuple)) and v.expressions:
            return self.join([self.render(e) for e in v.expressions], last)
        return self.render(v)

    def spec_items_or(self, v, node):
        return self.spec_items(v, node, self.w["or"])

    def spec_s(self, v, node):
        """English verb agreement: "tags contain" but "the list contains"."""
        if self.lang != "en":
            return ""
        last = self.render(v).rsplit(" ", 1)[-1].strip("\"'`")
        return "" if last.lower().endswith("s") and not last.lower().endswith("ss") else "s"


# -- helpers ---------------------------------------------------------------------------------


def _present(v: object) -> bool:
    return v is not None and v is not False and v != [] and v != ""


def _plain(v: object) -> str:
    """A node's text without quotes: literals, identifiers, vars, keywords; '' for the rest."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, exp.Neg) and isinstance(v.this, exp.Literal):
        return "-" + str(v.this.this)
    if isinstance(v, (exp.Literal, exp.Identifier, exp.Var)):
        return str(v.this)
    if isinstance(v, exp.Boolean):
        return "TRUE" if v.this else "FALSE"
    if isinstance(v, exp.Column) and not v.table:
        return v.name
    return ""


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text))


def _negative(v: object) -> bool:
    text = _plain(v)
    return _is_number(text) and text.startswith("-") and float(text) != 0


@lru_cache(maxsize=64)
def _date_parts(dialect: str | None) -> dict[str, str]:
    try:
        return Dialect.get_or_raise(dialect).DATE_PART_MAPPING
    except Exception:  # an unknown dialect name: the common mapping still reads "DD" as a day
        return Dialect.DATE_PART_MAPPING


def _json_path(v: object) -> list[str | int] | None:
    """The keys (str) and 0-based indexes (int) of a JSON path node or path string."""
    if isinstance(v, exp.JSONPath):
        out: list[str | int] = []
        for p in v.expressions:
            if isinstance(p, exp.JSONPathKey):
                out.append(str(p.this))
            elif isinstance(p, exp.JSONPathSubscript) and isinstance(p.this, int):
                out.append(p.this)
            elif isinstance(p, (exp.JSONPathWildcard, exp.JSONPathSubscript)):
                out.append("*")
            elif not isinstance(p, exp.JSONPathRoot):
                return None
        return out or None
    if isinstance(v, exp.Literal) and v.is_string:
        text = v.this.strip()
        if text.startswith("{") and text.endswith("}"):  # PostgreSQL #> '{a,b}'
            items = [x.strip().strip('"') for x in text[1:-1].split(",")]
        elif text.startswith("$"):
            items = [x for x in re.split(r"\.|\[|\]", text[1:]) if x]
        else:
            items = [text]
        return [int(x) if x.isdigit() else x.strip('"') for x in items] or None
    if isinstance(v, exp.Literal):
        return [int(v.this)] if str(v.this).isdigit() else None
    return None


# -- irregular constructs ---------------------------------------------------------------------


def _within_group(ctx: _Ctx, node: exp.WithinGroup) -> str | None:
    """PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY x): the ordered column is what is measured."""
    agg, order = node.this, node.expression
    keys = order.expressions if isinstance(order, exp.Order) else []
    key = ctx.render(keys[0].this) if len(keys) == 1 else ctx.join([ctx.render(k) for k in keys])
    w = ctx.w
    if isinstance(agg, (exp.PercentileCont, exp.PercentileDisc)):
        fraction = _plain(agg.this)
        text = (
            w["median"].format(key)
            if fraction in ("0.5", ".5", "0.50")
            else w["percentile"].format(ctx.spec_pct(agg.this, agg), key)
        )
        return text + (w["discrete"] if isinstance(agg, exp.PercentileDisc) else "")
    if isinstance(agg, exp.Mode) and agg.this is None:
        return w["mode"].format(key)
    inner = phrase(agg, ctx.render_node, ctx.lang, ctx.dialect)
    text = inner.text if inner is not None else ctx.render(agg)
    return w["ordered"].format(text, ctx.join([ctx.render(k) for k in keys]))


def _bracket(ctx: _Ctx, node: exp.Bracket) -> str | None:
    """arr[1], map['k'], arr[OFFSET(0)]: sqlglot stores 0-based indexes, people count from 1."""
    if len(node.expressions) != 1:
        return None
    idx = node.expressions[0]
    target = ctx.render(node.this)
    if isinstance(idx, exp.Slice):
        return ctx.w["slice"].format(ctx.render(idx.this), ctx.render(idx.expression), target)
    if isinstance(idx, exp.Literal) and idx.is_int:
        return ctx.w["element"].format(ctx.element_words(int(idx.this)), target)
    if isinstance(idx, exp.Literal):
        return ctx.w["entry"].format(ctx.render(idx), target)
    return ctx.w["element_any"].format(ctx.render(idx), target)


def _case(ctx: _Ctx, node: exp.Expression) -> str | None:
    """CASE [x] WHEN ... THEN ... ELSE ... END, and Oracle/Snowflake DECODE(x, v1, r1, ..., default)."""
    en = ctx.lang == "en"
    if isinstance(node, exp.DecodeCase):
        items = list(node.expressions)
        if len(items) < 3:
            return None
        subject, rest = items[0], items[1:]
        pairs = [(rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2)]
        default = rest[-1] if len(rest) % 2 else None
    else:
        subject = node.this
        pairs = [(w.this, w.args.get("true")) for w in node.args.get("ifs") or ()]
        default = node.args.get("default")
    parts = []
    for cond, then in pairs:
        if subject is not None:
            c = f"{ctx.render(subject)} is {ctx.render(cond)}" if en else f"{ctx.render(subject)}为{ctx.render(cond)}"
        else:
            c = ctx.render(cond)
        parts.append(f"{ctx.render(then)} when {c}" if en else f"当{c}时为{ctx.render(then)}")
    text = ", ".join(parts) if en else "，".join(parts)
    if default is not None:
        text += f", otherwise {ctx.render(default)}" if en else f"，否则为{ctx.render(default)}"
    else:
        text += ", otherwise null" if en else "，否则为空值"
    return text


def _interval(ctx: _Ctx, node: exp.Interval) -> str | None:
    """INTERVAL '7' DAY -> "7 days"; INTERVAL '1 day 2 hours' -> "1 day and 2 hours"."""
    unit = node.args.get("unit")
    value = node.this
    text = _plain(value)
    if unit is not None and not isinstance(unit, exp.IntervalSpan):
        return ctx.spec_amount(value, node)
    pairs = re.findall(r"(-?\d+(?:\.\d+)?)\s*([A-Za-z]+)", text)
    if pairs and re.fullmatch(r"(\s*-?\d+(?:\.\d+)?\s*[A-Za-z]+\s*)+", text):
        amounts = [ctx.spec_amount(exp.Literal.number(n), exp.Interval(unit=exp.var(u))) for n, u in pairs]
        return ctx.join(amounts) if ctx.lang == "en" else "".join(amounts)
    return None


def _make_interval(ctx: _Ctx, node: exp.MakeInterval) -> str | None:
    amounts = []
    for part in ("year", "month", "week", "day", "hour", "minute", "second"):
        v = node.args.get(part)
        if v is not None:
            v = v.expression if isinstance(v, exp.Kwarg) else v
            amounts.append(ctx.spec_amount(v, exp.Interval(unit=exp.var(part))))
    if not amounts:
        return None
    return ctx.join(amounts) if ctx.lang == "en" else "".join(amounts)


_HANDLERS: dict[type, Callable[[_Ctx, exp.Expression], str | None]] = {
    exp.WithinGroup: _within_group,
    exp.Bracket: _bracket,
    exp.Case: _case,
    exp.DecodeCase: _case,
    exp.Interval: _interval,
    exp.MakeInterval: _make_interval,
}
