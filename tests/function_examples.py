"""Representative calls of every sqlglot function and operator class, for tests and benchmarks.

``example(cls)`` builds a node from ``cls.arg_types``: required arguments are columns named after
the argument (``passphrase``, ``ts_column``...) or a typed value where the argument needs one (a
unit, a data type, a format, a number). ``with_optional=True`` also fills every argument a phrase
template of that class reads, so each template line is exercised.
"""

from __future__ import annotations

from sqlglot import exp

from sql2nl.rules.functions import OPERATORS, _table

# Arguments that need a value of a particular kind to mean anything.
_VALUES = {
    "unit": lambda: exp.var("MONTH"),
    "format": lambda: exp.Literal.string("%Y-%m-%d"),
    "separator": lambda: exp.Literal.string(","),
    "delimiter": lambda: exp.Literal.string(","),
    "decimals": lambda: exp.Literal.number(2),
    "offset": lambda: exp.Literal.number(2),
    "default": lambda: exp.Literal.number(0),
    "times": lambda: exp.Literal.number(3),
    "length": lambda: exp.Literal.number(3),
    "start": lambda: exp.Literal.number(2),
    "end": lambda: exp.Literal.number(5),
    "step": lambda: exp.Literal.number(1),
    "count": lambda: exp.Literal.number(3),
    "quantile": lambda: exp.Literal.number(0.9),
    "percentile": lambda: exp.Literal.number(0.9),
    "part_index": lambda: exp.Literal.number(2),
    "elementcount": lambda: exp.Literal.number(10),
    "is_left": lambda: True,
    "ignore_nulls": lambda: True,
    "position": lambda: exp.Literal.number(2),
    "group": lambda: exp.Literal.number(1),
}
_CASTS = (exp.Cast, exp.TryCast, exp.JSONCast, exp.Convert)


def _column(name: str) -> exp.Column:
    return exp.column(name)


def arg_value(cls: type, name: str) -> object:
    """A representative value for argument ``name`` of ``cls``."""
    if name == "to" and issubclass(cls, _CASTS):
        return exp.DataType.build("INT")
    if name == "this" and cls is exp.Convert:
        return exp.DataType.build("VARCHAR")
    if name == "this" and cls is exp.Extract:
        return exp.var("YEAR")
    if name == "this" and cls in (exp.Ntile, exp.Randstr, exp.Space, exp.Elt):
        return exp.Literal.number(4)
    if name == "position" and cls is exp.Trim:
        return "LEADING"
    if name == "expression" and "JSON" in cls.__name__ and "Extract" in cls.__name__:
        return exp.JSONPath(expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this="email")])
    if name == "expressions":
        if cls is exp.ConcatWs:
            return [exp.Literal.string(", "), _column("y"), _column("z")]
        if cls is exp.Bracket:
            return [exp.Literal.number(1)]
        if cls is exp.Lambda:
            return [exp.to_identifier("x")]
        return [_column("y"), _column("z")]
    if name == "ifs":
        return [
            exp.If(this=exp.EQ(this=_column("x"), expression=exp.Literal.number(1)), true=exp.Literal.string("one"))
        ]
    if cls is exp.Lambda and name == "this":
        return exp.GT(this=exp.to_identifier("x"), expression=exp.Literal.number(1))
    if cls is exp.WithinGroup:
        return (
            exp.PercentileCont(this=exp.Literal.number(0.9))
            if name == "this"
            else exp.Order(expressions=[exp.Ordered(this=_column("salary"))])
        )
    if cls is exp.Interval and name == "this":
        return exp.Literal.string("7")
    if cls is exp.Dot and name == "expression":
        return exp.to_identifier("f")
    if name in _VALUES:
        return _VALUES[name]()
    if name == "this":
        return _column("x")
    if name == "expression":
        return _column("y")
    return _column(name)


def _template_args(cls: type) -> set[str]:
    """The arguments any template line of ``cls`` reads (fields and conditions)."""
    names: set[str] = set()
    for t in _table()["en"].get(cls.__name__, ()):
        names.update(f.partition(".")[0] for f in t.fields)
        names.update(arg for _, arg, _ in t.conditions if arg)
    return names - {"all"}


def example(cls: type, with_optional: bool = False) -> exp.Expression:
    """A representative node of sqlglot class ``cls``."""
    wanted = _template_args(cls) if with_optional else set()
    args = {}
    for name, required in cls.arg_types.items():
        if required or name in wanted:
            args[name] = arg_value(cls, name)
    if cls is exp.Interval:
        args.setdefault("unit", exp.var("DAY"))
    return cls(**args)


def classes() -> list[type]:
    """Every function class sqlglot knows and every operator node with a phrase, sorted by name."""
    found = set(exp.ALL_FUNCTIONS) | set(OPERATORS)
    return sorted(found, key=lambda c: c.__name__)
