"""What a statement says, extracted once with sqlglot.

The rules describer, the faithfulness checker, redaction, prompts and the integrations all read
these facts; nothing else walks the tree to find out what a query does.

>>> from sql2nl.facts import extract
>>> f = extract("SELECT name FROM users AS u WHERE u.age > 18")[0]
>>> f.kind, f.tables, [x.values for x in f.filters]
('select', ['users'], [['18']])

One concern per module: :mod:`.model` (the dataclasses), :mod:`.extract` (the walk),
:mod:`.scopes` (which table an alias or column means, through ``sqlglot.optimizer.scope``),
:mod:`.normalize` (Spider-style ``"strings"``, on a copy — the caller's tree is never changed),
:mod:`.nodes` and :mod:`.patterns` (small helpers over nodes and LIKE patterns).
"""

from .extract import extract, statement_facts
from .model import Aggregate, Filter, Join, Order, Selected, StatementFacts, Window
from .nodes import (
    AGGREGATES,
    COMPARISONS,
    KINDS,
    SET_OPERATIONS,
    and_terms,
    children,
    column_name,
    columns_in,
    count_value,
    first_column,
    is_count_star,
    is_parameter,
    is_parameter_node,
    is_value,
    literal_text,
    main_select,
    preorder,
    selected_at,
    structure,
    unparen,
)
from .patterns import LikePattern, like_pattern, pattern_of
from .scopes import Scopes

__all__ = [
    "AGGREGATES",
    "COMPARISONS",
    "KINDS",
    "SET_OPERATIONS",
    "Aggregate",
    "and_terms",
    "Filter",
    "Join",
    "LikePattern",
    "Order",
    "Scopes",
    "Selected",
    "StatementFacts",
    "Window",
    "children",
    "column_name",
    "columns_in",
    "count_value",
    "extract",
    "first_column",
    "is_count_star",
    "is_parameter",
    "is_parameter_node",
    "is_value",
    "like_pattern",
    "literal_text",
    "main_select",
    "pattern_of",
    "preorder",
    "selected_at",
    "statement_facts",
    "structure",
    "unparen",
]
