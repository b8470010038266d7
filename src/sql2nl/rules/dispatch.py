"""Which describer method words a node: ``<node type>_<suffix>`` looked up along the node type's
class hierarchy, once per (describer class, node type) pair (sqlglot's Generator convention).

Its own module so that the mixins (conditions, queries...) and the :class:`~.base.Describer` that
combines them can both import it at module level without a cycle.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlglot import exp

from .functions import OPERATORS

_F = TypeVar("_F", bound=Callable[..., Any])


def _per_class(fn: _F) -> _F:
    """``functools.cache`` keeping ``fn``'s signature (typeshed's cache wrapper types every argument
    as ``Hashable``, which mypy does not grant the describer classes)."""
    return cast(_F, functools.cache(fn))


@_per_class
def method_for(cls: type, node_type: type, suffix: str) -> str | None:
    """The name of ``cls``'s ``<node>_<suffix>`` method for ``node_type``: the first match along the
    node type's class hierarchy (``exp.Anonymous`` finds ``func_text``), built once per pair."""
    for t in node_type.__mro__:
        if t is exp.Expression:  # sqlglot puts the base class early (``Upper(Expression, Func)``): skip it
            continue
        name = f"{t.__name__.lower()}_{suffix}"
        if hasattr(cls, name):
            return name
    return None


@_per_class
def text_method(cls: type, node_type: type) -> tuple[str, bool]:
    """``(method, is_predicate)`` for wording ``node_type`` as a value: its ``_text`` method, or
    its ``_cond`` method (a predicate used as a value is worded as a clause). A function that
    sqlglot also models as an operator (``data ->> 'email'``) is still a function call."""
    own = node_type.__name__.lower()
    if (
        (issubclass(node_type, exp.Func) or node_type in OPERATORS)
        and not hasattr(cls, f"{own}_text")
        and not hasattr(cls, f"{own}_cond")
    ):
        return "func_text", False
    for t in node_type.__mro__:
        if t is exp.Expression:
            continue
        low = t.__name__.lower()
        if hasattr(cls, f"{low}_text"):
            return f"{low}_text", False
        if hasattr(cls, f"{low}_cond"):
            return f"{low}_cond", True
    return "expression_text", False
