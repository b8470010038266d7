"""``%%explain_sql``: describe SQL in IPython and Jupyter.

    %load_ext sql2nl

    %%explain_sql -d postgres
    SELECT name FROM users WHERE age > {min_age}

    %explain_sql SELECT count(*) FROM orders
    %%explain_sql --json result <<
    SELECT 1

Options follow jupysql's conventions: ``-d/--dialect``, ``-l/--language``, ``-b/--backend``,
``-m/--model`` (passed to the backend), ``--detail summary|steps``, ``--style statement|question``,
``--json`` (show the result as JSON), and ``var <<`` to
store the result in ``var`` instead of showing it. ``{name}`` is replaced by the value of the
notebook variable ``name``; braces that do not name a variable are left alone.

The result renders as markdown/HTML (per statement: the description, its facts as a compact
table, warnings highlighted) and prints as plain text. A bad query shows a one-line error, not a
traceback; ``%tb`` still shows the full one.
"""

from __future__ import annotations

import argparse
import html
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..api import describe_many
from ..description import Description
from ..display import description_markdown, facts_table_html, warnings_html
from ..errors import InvalidInputError, Sql2NLError, SQLParseError
from ..parsing import parse

__all__ = [
    "Explanation",
    "ExplainSQLMagics",
    "interpolate",
    "split_statements",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_NAME = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
_TOKEN = re.compile(r"\s*(\S+)")
_STORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*<<(.*)\Z", re.S)
_VALUED = {"-d", "--dialect", "-l", "--language", "-b", "--backend", "-m", "--model", "--detail", "--style"}
_FLAGS = {"--json"}


def interpolate(sql: str, namespace: Mapping[str, Any]) -> str:
    """Replace ``{name}`` by ``str(namespace[name])`` for names the namespace has; leave other braces.

    ``{{name}}`` is left as it is, so templates meant for something else survive.

    >>> interpolate("SELECT * FROM t WHERE id = {k} AND j = '{x}'", {"k": 3})
    "SELECT * FROM t WHERE id = 3 AND j = '{x}'"
    """
    return _NAME.sub(lambda m: str(namespace[m.group(1)]) if m.group(1) in namespace else m.group(0), sql)


def split_statements(sql: str, dialect: str | None = None) -> list[str]:
    """Split ``sql`` at top-level ``;`` into the statements' own text (quotes and comments respected;
    :func:`sql2nl.script.split_script`). Text with no statement is returned whole, so that
    describing it reports what is wrong.
    """
    from ..script import split_script

    return [s.text for s in split_script(sql, dialect)] or [sql]


class Explanation:
    """What ``%%explain_sql`` returns: one :class:`~sql2nl.Description` per statement.

    ``str()`` is the plain text (one line per statement); notebooks render markdown or HTML.
    """

    def __init__(self, descriptions: list[Description]):
        self.descriptions = list(descriptions)

    @property
    def text(self) -> str:
        return "\n".join(d.text for d in self.descriptions)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<Explanation of {len(self)} statement{'s' if len(self) != 1 else ''}: {self.text!r}>"

    def __len__(self) -> int:
        return len(self.descriptions)

    def __iter__(self) -> Iterator[Description]:
        return iter(self.descriptions)

    def __getitem__(self, i: int) -> Description:
        return self.descriptions[i]

    def to_dict(self) -> dict[str, Any]:
        return {"statements": [d.to_dict() for d in self.descriptions]}

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython's text/plain
        p.text(self.text)

    def _repr_markdown_(self) -> str:
        parts = []
        for i, d in enumerate(self.descriptions):
            if len(self.descriptions) > 1:
                parts.append(f"**Statement {i + 1}**\n")
            parts.append(f"```sql\n{d.sql.strip()}\n```\n")
            parts.append(description_markdown(d))
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        out = []
        for i, d in enumerate(self.descriptions):
            head = f"<div style='color:#888;font-size:smaller'>statement {i + 1}</div>" if len(self) > 1 else ""
            meta = f"backend {html.escape(d.backend)}"
            if d.faithfulness is not None:
                meta += f" · faithfulness {d.faithfulness:.2f}"
            out.append(
                f"<div class='sql2nl-statement' style='margin-bottom:0.8em'>{head}"
                f"<pre style='margin:0 0 4px 0'><code>{html.escape(d.sql.strip())}</code></pre>"
                f"<p style='margin:2px 0;white-space:pre-line'><strong>{html.escape(d.text)}</strong></p>"
                f"{warnings_html(d.warnings)}{facts_table_html(d.facts)}"
                f"<small style='color:#888'>{meta}</small></div>"
            )
        return f"<div class='sql2nl-explanation'>{''.join(out)}</div>"


class JSONResult:
    """``--json`` output: JSON for frontends that render it, indented JSON text otherwise."""

    def __init__(self, data: Any):
        self.data = data

    def _repr_json_(self):
        return self.data, {"expanded": True}

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(json.dumps(self.data, ensure_ascii=False, indent=2))

    def __repr__(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, indent=2)


def _split_line(line: str) -> tuple[list[str], str]:
    """The leading options of a magic's line (as argv) and the rest of the line, untouched."""
    argv, pos = [], 0
    while True:
        m = _TOKEN.match(line, pos)
        if not m:
            break
        tok = m.group(1)
        name = tok.split("=", 1)[0]
        if tok in _FLAGS or (name in _VALUED and "=" in tok):
            argv.append(tok)
        elif tok in _VALUED:
            v = _TOKEN.match(line, m.end())
            if not v:
                argv.append(tok)  # argparse reports the missing value
                pos = m.end()
                break
            argv += [tok, v.group(1)]
            m = v
        elif re.fullmatch(r"-[A-Za-z]|--[A-Za-z][\w-]*(=.*)?", tok):
            argv.append(tok)  # unknown option: argparse says so
        else:
            break
        pos = m.end()
    return argv, line[pos:].strip()


def _short(e: BaseException) -> BaseException:
    """Make IPython show ``e`` as a few readable lines instead of a traceback wall."""
    lines = [f"{type(e).__name__}: {e}"]
    if isinstance(e, SQLParseError) and e.line and e.column and getattr(e, "_sql", None):
        src = e._sql.splitlines()  # type: ignore[attr-defined]
        if 0 < e.line <= len(src):
            lines += ["", "    " + src[e.line - 1], "    " + " " * max(0, e.column - 1) + "^"]
    if not isinstance(e, Sql2NLError):
        lines.append("(run %tb for the full traceback)")
    e._render_traceback_ = lambda: lines  # type: ignore[attr-defined]
    return e


@magics_class
class ExplainSQLMagics(Magics):
    """The ``%explain_sql`` line magic and ``%%explain_sql`` cell magic."""

    @magic_arguments()
    @argument("-d", "--dialect", default=None, help="SQL dialect (postgres, mysql, sqlite, tsql...)")
    @argument("-l", "--language", default="en", help="language of the description (default en)")
    @argument("-b", "--backend", default=None, help="describer backend (default $SQL2NL_BACKEND or rules)")
    @argument(
        "-m", "--model", default=None, help="model: a registered name (picks its backend) or a path for the backend"
    )
    @argument("--detail", default="summary", help="summary (one short paragraph) or steps (a numbered outline)")
    @argument("--style", default="statement", help="statement (List the names ...) or question (What are ...?)")
    @argument("--json", action="store_true", help="show the result as JSON")
    @argument("target", nargs="*", help="`var <<` stores the result in var; the line magic takes the SQL here")
    @no_var_expand  # IPython's own $name/{name} expansion would also rewrite {{...}} and $1 placeholders
    @line_cell_magic
    def explain_sql(self, line: str, cell: str | None = None) -> Any:
        """Describe SQL in plain language: ``%explain_sql SELECT ...`` or a ``%%explain_sql`` cell."""
        argv, rest = _split_line(line)
        args = parse_argstring(self.explain_sql, " ".join(argv))  # UsageError for bad options
        var = None
        m = _STORE.match(rest)
        if m:
            var, rest = m.group(1), m.group(2).strip()
        sql = "\n".join(p for p in (rest, cell or "") if p.strip())
        shell = self.shell
        if shell is None:  # magics registered by hand, outside an IPython shell
            raise InvalidInputError("%explain_sql runs inside IPython or Jupyter (%load_ext sql2nl).")
        try:
            result = self._explain(interpolate(sql, shell.user_ns), args)
        except Exception as e:
            raise _short(e) from None
        if var is not None:
            shell.user_ns[var] = result.data if isinstance(result, JSONResult) else result
            return None
        return result

    @staticmethod
    def _explain(sql: str, args: argparse.Namespace) -> Explanation | JSONResult:
        if not sql.strip():
            raise InvalidInputError(
                "There is no SQL to explain: put it after %explain_sql or in the %%explain_sql cell."
            )
        options = {"model": args.model} if args.model else {}
        statements = split_statements(sql, args.dialect)
        for piece in statements:  # a parse error points into the statement it is in
            try:
                parse(piece, args.dialect)
            except SQLParseError as e:
                e._sql = piece  # type: ignore[attr-defined]
                raise
        descriptions = describe_many(
            statements,
            backend=args.backend,
            language=args.language,
            dialect=args.dialect,
            detail=args.detail,
            style=args.style,
            **options,
        )
        result = Explanation(descriptions)
        return JSONResult(result.to_dict()) if args.json else result


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sql2nl`` (the package's own hook delegates here)."""
    ipython.register_magics(ExplainSQLMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext sql2nl``: remove the magics."""
    magics = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        magics[kind].pop("explain_sql", None)
