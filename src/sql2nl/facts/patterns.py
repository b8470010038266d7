"""What a LIKE (or GLOB) pattern means, with its escape character applied.

``LIKE '50\\%' ESCAPE '\\'`` means exactly "50%"; in MySQL, PostgreSQL and most engines the
backslash escapes a wildcard even without ESCAPE. Describers and the checker read patterns
through :func:`like_pattern` so they agree on what a pattern says.

>>> like_pattern("Jo%").shape, like_pattern("Jo%").text
('starts', 'Jo')
>>> like_pattern("50\\\\%").shape, like_pattern("50\\\\%").text
('exact', '50%')
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

#: Dialects whose LIKE treats a backslash as the escape character when no ESCAPE is given.
BACKSLASH_ESCAPE_DIALECTS = frozenset(
    {
        None,
        "",
        "mysql",
        "postgres",
        "redshift",
        "spark",
        "spark2",
        "databricks",
        "hive",
        "clickhouse",
        "bigquery",
        "doris",
        "starrocks",
        "materialize",
        "risingwave",
    }
)
ANY, ONE = object(), object()


@dataclass(frozen=True)
class LikePattern:
    """A decoded pattern: ``parts`` is a sequence of literal strings and the ``ANY``/``ONE`` wildcards.

    ``shape`` is ``exact`` (no wildcard), ``starts``, ``ends``, ``contains``, ``starts_ends``
    (``'A%B'``), ``anything`` (only ``%``) or ``pattern`` (anything else: ``_``, several ``%``).
    """

    parts: tuple
    raw: str

    @property
    def texts(self) -> list[str]:
        return [p for p in self.parts if isinstance(p, str)]

    @property
    def text(self) -> str:
        """The literal text of a one-text pattern (``exact``/``starts``/``ends``/``contains``)."""
        return "".join(self.texts)

    @property
    def shape(self) -> str:
        kinds = "".join("t" if isinstance(p, str) else "%" if p is ANY else "_" for p in self.parts)
        return {
            "": "exact",
            "t": "exact",
            "t%": "starts",
            "%t": "ends",
            "%t%": "contains",
            "t%t": "starts_ends",
            "%": "anything",
        }.get(kinds, "pattern")

    @property
    def wildcards(self) -> set[str]:
        return {"%" if p is ANY else "_" for p in self.parts if not isinstance(p, str)}


def like_pattern(
    pattern: str, escape: str | None = None, dialect: str | None = None, *, glob: bool = False
) -> LikePattern | None:
    """Decode ``pattern``; ``None`` when it uses syntax this does not read (T-SQL ``[a-z]`` classes, GLOB sets)."""
    if escape is None and dialect in BACKSLASH_ESCAPE_DIALECTS and not glob:
        escape = "\\"
    many, single = ("*", "?") if glob else ("%", "_")
    if (glob or dialect in ("tsql", "fabric")) and "[" in pattern:
        return None
    parts: list = []
    buf: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if escape and c == escape and i + 1 < len(pattern):
            buf.append(pattern[i + 1])
            i += 2
            continue
        if c in (many, single):
            if buf:
                parts.append("".join(buf))
                buf = []
            wild = ANY if c == many else ONE
            if not (wild is ANY and parts and parts[-1] is ANY):  # '%%' is one '%'
                parts.append(wild)
        else:
            buf.append(c)
        i += 1
    if buf:
        parts.append("".join(buf))
    return LikePattern(tuple(parts), pattern)


def pattern_of(node: exp.Expression, dialect: str | None = None) -> LikePattern | None:
    """The decoded pattern of a LIKE/ILIKE/GLOB node (or of the ESCAPE around one), if it is a string literal."""
    escape = None
    if isinstance(node, exp.Escape):
        esc = node.expression
        escape = esc.this if isinstance(esc, exp.Literal) and esc.is_string else None
        node = node.this
    pat = node.expression if isinstance(node, (exp.Like, exp.ILike, exp.Glob)) else None
    if not (isinstance(pat, exp.Literal) and pat.is_string):
        return None
    return like_pattern(pat.this, escape, dialect, glob=isinstance(node, exp.Glob))
