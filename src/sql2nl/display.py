"""Rich renderings of descriptions (markdown and HTML) for notebooks, servers and editors."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .facts import StatementFacts


class Shown(Protocol):
    """What the renderings read from a :class:`~sql2nl.Description` (named here, not imported:
    ``Description`` renders itself with these functions)."""

    @property
    def text(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def facts(self) -> Sequence["StatementFacts"]: ...
    @property
    def warnings(self) -> Sequence[str]: ...
    @property
    def faithfulness(self) -> float | None: ...


def fact_rows(f: "StatementFacts") -> list[tuple[str, str]]:
    """The facts of one statement as (label, value) rows, leaving out what is empty."""
    rows = [("kind", f.kind)]
    if f.tables:
        rows.append(("tables", ", ".join(f.tables)))
    if f.selected:
        rows.append(("selects", ", ".join(s.alias or s.sql for s in f.selected)))
    if f.joins:
        rows.append(("joins", "; ".join(f"{j.kind} {j.table}" + (f" on {j.on}" if j.on else "") for j in f.joins)))
    flts = f.filters + f.having
    if flts:
        rows.append(("filters", "; ".join(x.sql or f"{x.column} {x.op} {x.values}" for x in flts)))
    if f.group_by:
        rows.append(("group by", ", ".join(f.group_by)))
    if f.order_by:
        rows.append(("order by", ", ".join(o.sql + (" desc" if o.descending else "") for o in f.order_by)))
    if f.limit is not None:
        rows.append(("limit", str(f.limit)))
    if f.offset is not None:
        rows.append(("offset", str(f.offset)))
    if f.set_operations:
        rows.append(("set operations", ", ".join(f.set_operations)))
    if f.ctes:
        rows.append(("ctes", ", ".join(f.ctes) + (" (recursive)" if f.recursive else "")))
    if f.target:
        rows.append(("target", f.target))
    return rows


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def description_markdown(d: Shown) -> str:
    parts = [d.text, ""]
    for i, f in enumerate(d.facts):
        if len(d.facts) > 1:
            parts.append(f"*Statement {i + 1}*")
        parts += ["| fact | value |", "|---|---|"]
        parts += [f"| {k} | `{_md_escape(v)}` |" for k, v in fact_rows(f)]
        parts.append("")
    for w in d.warnings:
        parts.append(f"> ⚠️ **warning:** {w}")
    if d.faithfulness is not None:
        parts.append(f"*faithfulness {d.faithfulness:.2f} · backend {d.backend}*")
    return "\n".join(parts).strip() + "\n"


def facts_table_html(facts: Iterable["StatementFacts"]) -> str:
    out = []
    for f in facts:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
            for k, v in fact_rows(f)
        )
        out.append(f"<table class='sql2nl-facts'>{rows}</table>")
    return "".join(out)


def warnings_html(warnings: Iterable[str]) -> str:
    return "".join(
        f"<div class='sql2nl-warning' style='background:#fff3cd;color:#664d03;padding:4px 8px;"
        f"border-left:4px solid #ffc107;margin:4px 0'>⚠ {html.escape(w)}</div>"
        for w in warnings
    )


def description_html(d: Shown) -> str:
    meta = f"backend {html.escape(d.backend)}"
    if d.faithfulness is not None:
        meta += f" · faithfulness {d.faithfulness:.2f}"
    return (
        f"<div class='sql2nl'><p><strong>{html.escape(d.text)}</strong></p>"
        f"{warnings_html(d.warnings)}<details><summary>facts</summary>{facts_table_html(d.facts)}</details>"
        f"<small style='color:#888'>{meta}</small></div>"
    )
