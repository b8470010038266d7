"""Statements that change data or schema: INSERT, UPDATE, DELETE, MERGE, CREATE, ALTER, DROP,
TRUNCATE — one ``<node>_sentence`` method each. Like the rest of the walk they only decide *what*
to say and take every word from the language's ``PHRASES``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from ..words import humanize
from .conditions import Junction

if TYPE_CHECKING:
    from .base import Describer

#: INSERT rows listed in full before the rest are counted ("; and 997 more").
LISTED_ROWS = 5


class ChangesMixin:
    """The DML/DDL part of the shared walk."""

    def target_name(self: "Describer", node: exp.Expression | None) -> str:
        if isinstance(node, exp.Schema):
            node = node.this
        if isinstance(node, exp.Table):
            return self.table_name(node.name)
        return self.text(node) if node is not None else self.PHRASES["database"]

    def target_rows(self: "Describer", node: exp.Expression | None) -> str:
        """The target's rows as a noun ("users")."""
        if isinstance(node, exp.Table):
            return self.noun(node.name)
        return self.text(node) if node is not None else self.PHRASES["rows"]

    def assignments(self: "Describer", items: list[exp.Expression]) -> str:
        parts = []
        for e in items:
            if isinstance(e, exp.EQ):
                parts.append(self.PHRASES["assign"].format(self.text(e.this), self.operand(e.expression)))
            else:
                parts.append(self.text(e))
        return self.join_list(self.clip_list(parts, "columns"))

    def returning_words(self: "Describer", node: exp.Expression) -> str:
        returning = node.args.get("returning")
        if returning is None:
            return ""
        return self.PHRASES["returning"].format(self.join_list([self.text(e) for e in returning.expressions]))

    # -- INSERT ----------------------------------------------------------------------------------

    def insert_sentence(self: "Describer", node: exp.Insert) -> str:
        target = node.this
        cols = [self.name(c.name) for c in target.expressions] if isinstance(target, exp.Schema) else []
        table = self.target_name(target)
        src = node.expression
        tail = self.conflict_words(node) + self.returning_words(node)
        replace = (node.args.get("alternative") or "").upper() == "REPLACE"
        if isinstance(src, exp.Values):
            rows = src.expressions
            shown = rows if len(rows) <= LISTED_ROWS else rows[:3]
            if self.options.compact >= 2:
                shown = rows[:1]
            row_texts = []
            for r in shown:
                items = r.expressions if isinstance(r, exp.Tuple) else [r]
                vals = [self.operand(v) for v in items]
                if cols and len(cols) == len(vals):
                    fields = [self.PHRASES["field"].format(c, v) for c, v in zip(cols, vals)]
                    row_texts.append(self.join_list(self.clip_list(fields, "columns")))
                else:
                    row_texts.append(self.join_list(self.clip_list(vals, "values")))
            more = self.PHRASES["more_rows"].format(f"{len(rows) - len(shown):,}") if len(rows) > len(shown) else ""
            key = (
                ("replace_one" if replace else "insert_one")
                if len(rows) == 1
                else ("replace_rows" if replace else "insert_rows")
            )
            return (
                self.PHRASES[key].format(
                    table=table, n=f"{len(rows):,}", rows=self.PHRASES["row_sep"].join(row_texts) + more
                )
                + tail
            )
        if src is None:
            return self.PHRASES["insert_default"].format(table=table) + tail
        query = self.noun_phrase(src)
        into = self.PHRASES["into_columns"].format(self.join_list(cols)) if cols else ""
        return self.PHRASES["insert_select"].format(table=table, query=query, cols=into) + tail

    def conflict_words(self: "Describer", node: exp.Insert) -> str:
        """``ON CONFLICT (sku) DO UPDATE SET ...`` / ``ON DUPLICATE KEY UPDATE ...`` / ``DO NOTHING``."""
        conflict = node.args.get("conflict")
        if conflict is None:
            return ""
        keys = conflict.args.get("conflict_keys") or []
        if keys:
            clash = self.PHRASES["clash_keys"].format(self.join_list([self.name(k.name) for k in keys]))
        else:
            clash = self.PHRASES["clash_unique" if conflict.args.get("duplicate") else "clash"]
        updates = conflict.args.get("expressions")
        if updates:
            return self.PHRASES["upsert_update"].format(clash=clash, sets=self.assignments(updates))
        action = conflict.args.get("action")
        if action is not None and "NOTHING" in action.sql().upper():
            return self.PHRASES["upsert_nothing"].format(clash=clash)
        self.warnings.append("no wording for this ON CONFLICT action; quoted as SQL")
        return self.PHRASES["upsert_other"].format(clash=clash, sql=conflict.sql(dialect=self.dialect))

    def upsert_column_words(self: "Describer", col: exp.Column) -> str | None:
        """Inside an upsert's SET: ``EXCLUDED.qty`` is "the new quantity", the target's ``qty`` "the existing quantity"."""
        tree = self.facts.tree
        if not isinstance(tree, exp.Insert) or tree.args.get("conflict") is None:
            return None
        assignment = col.find_ancestor(exp.EQ, exp.OnConflict)
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.parent, exp.OnConflict):
            return None
        words = self.name(col.name)
        if col.table.lower() == "excluded":
            return self.PHRASES["new_value"].format(words)
        if col is assignment.this:
            return None
        return self.PHRASES["existing_value"].format(words)

    def values_in_upsert(self: "Describer", node: exp.Anonymous) -> str | None:
        """MySQL's ``VALUES(qty)`` in ``ON DUPLICATE KEY UPDATE``: the value the row would have had."""
        if node.name.upper() != "VALUES" or node.find_ancestor(exp.OnConflict) is None or not node.expressions:
            return None
        arg = node.expressions[0]
        return (
            self.PHRASES["new_value"].format(self.name(arg.name))
            if isinstance(arg, (exp.Column, exp.Identifier))
            else None
        )

    # -- UPDATE, DELETE, MERGE -------------------------------------------------------------------

    def update_sentence(self: "Describer", node: exp.Update) -> str:
        sets = self.assignments(node.expressions)
        frm = node.args.get("from_") or node.args.get("from")
        cond, extra = self.changed_rows(node, node.this, [frm.this] if frm is not None else [])
        tail = extra + self.returning_words(node)
        if cond:
            return self.PHRASES["update_where"].format(sets=sets, table=self.target_rows(node.this), cond=cond) + tail
        return self.PHRASES["update_all"].format(sets=sets, table=self.target_name(node.this)) + tail

    def delete_sentence(self: "Describer", node: exp.Delete) -> str:
        t = node.this if isinstance(node.this, exp.Expression) else (node.args.get("tables") or [None])[0]
        others = list(node.args.get("using") or ())
        if isinstance(t, exp.Table):
            others += [j.this for j in t.args.get("joins") or ()]
        cond, extra = self.changed_rows(node, t, others)
        tail = extra + self.returning_words(node)
        if cond:
            return self.PHRASES["delete_where"].format(table=self.target_rows(t), cond=cond) + tail
        return self.PHRASES["delete_all"].format(table=self.target_name(t)) + tail

    def changed_rows(
        self: "Describer", node: exp.Expression, target: exp.Expression | None, others: list[exp.Expression]
    ) -> tuple[str, str]:
        """``(condition, extra)`` for the rows an UPDATE/DELETE changes. With other tables
        (``UPDATE ... FROM``, ``DELETE ... USING``, MySQL's ``DELETE t FROM t JOIN u``) the key
        equalities join them ("orders that have a matching customer with tier "gold"") rather
        than read as filters; a table joined by nothing is named with "using"."""
        where = node.args.get("where")
        terms = self.and_terms(where.this) if where is not None else []
        on = (
            [j.args["on"] for j in (target.args.get("joins") or []) if j.args.get("on") is not None]
            if isinstance(target, exp.Table)
            else []
        )
        joins = [t for c in on for t in self.and_terms(c)]
        me = (target.alias_or_name or "").lower() if isinstance(target, exp.Table) else None
        relations: list[str] = []
        extra: list[str] = []
        done: set[int] = set()
        for other in others:
            alias = (other.alias_or_name or "").lower()
            ties = [t for t in terms + joins if self.ties(t, me, alias)]
            if not ties or not isinstance(other, exp.Table):
                extra.append(self.noun_phrase(other))
                continue
            mine = [t for t in terms if t not in ties and self.tests_only(t, alias)]
            done.update(map(id, ties + mine))
            for term in mine:
                for col in term.find_all(exp.Column):
                    self.said_on(col, alias)
            words = self.singular_noun(other.name)
            if mine:
                words = self.rows_with(
                    words, self.cond(mine[0]) if len(mine) == 1 else Junction("and", tuple(self.cond(t) for t in mine))
                )
            relations.append(self.PHRASES["has_match"].format(words))
        rest = [t for t in terms if id(t) not in done]
        cond = ""
        if rest:
            lead, words = self.filter_words(
                self.cond(rest[0]) if len(rest) == 1 else Junction("and", tuple(self.cond(t) for t in rest))
            )
            cond = self.lead_words(lead, words)
        cond += "".join(self.relation_words(r) for r in relations)
        return cond, self.PHRASES["using_table"].format(self.join_list(extra)) if extra else ""

    def ties(self: "Describer", term: exp.Expression, a: str | None, b: str) -> bool:
        """``a.x = b.y``: a term that joins two sources."""
        if not (
            isinstance(term, exp.EQ) and isinstance(term.this, exp.Column) and isinstance(term.expression, exp.Column)
        ):
            return False
        return {self.scopes.source_of(term.this), self.scopes.source_of(term.expression)} == {a, b}

    def merge_sentence(self: "Describer", node: exp.Merge) -> str:
        target = self.target_name(node.this)
        using = node.args.get("using")
        source = self.noun(using.name) if isinstance(using, exp.Table) else self.noun_phrase(using)
        on = node.args.get("on")
        parts = []
        whens = node.args.get("whens")
        for w in whens.expressions if whens is not None else ():
            matched = bool(w.args.get("matched"))
            then = w.args.get("then")
            if isinstance(then, exp.Update):
                action = self.PHRASES["merge_update"].format(self.assignments(then.expressions))
            elif isinstance(then, exp.Insert):
                vals = then.expression
                cols = then.this
                names = [self.name(c.name) for c in cols.expressions] if isinstance(cols, exp.Tuple) else []
                row = vals.expressions[0] if isinstance(vals, exp.Values) and vals.expressions else vals
                values = [self.operand(v) for v in (row.expressions if isinstance(row, exp.Tuple) else [])]
                if names and len(names) == len(values):
                    action = self.PHRASES["merge_insert"].format(
                        self.join_list([self.PHRASES["field"].format(c, v) for c, v in zip(names, values)])
                    )
                else:
                    action = self.PHRASES["merge_insert"].format(self.text(vals) if vals is not None else "")
            elif then is not None and "DELETE" in then.sql().upper():
                action = self.PHRASES["merge_delete"]
            else:
                action = self.PHRASES["sql"].format(then.sql(dialect=self.dialect)) if then is not None else ""
            cond = w.args.get("condition")
            when = self.PHRASES["merge_matched" if matched else "merge_not_matched"]
            if cond is not None:
                when += self.PHRASES["merge_and"].format(self.clause_words(self.cond(cond)))
            parts.append(self.PHRASES["merge_when"].format(when=when, action=action))
        on_words = self.clause_words(self.cond(on)) if on is not None else ""
        return self.PHRASES["merge"].format(
            target=target, source=source, on=on_words, actions=self.PHRASES["merge_sep"].join(parts)
        )

    # -- DDL -------------------------------------------------------------------------------------

    def kind_words(self: "Describer", kind: str) -> str:
        return self.PHRASES.get("kind_" + kind.lower(), kind.lower())

    def create_sentence(self: "Describer", node: exp.Create) -> str:
        kind = (node.args.get("kind") or "TABLE").upper()
        target = node.this
        exists = self.PHRASES["if_not_exists"] if node.args.get("exists") else ""
        replace = self.PHRASES["or_replace"] if node.args.get("replace") else ""
        query = node.expression
        if kind == "INDEX":
            idx = target
            table = idx.args.get("table") if isinstance(idx, exp.Index) else None
            params = idx.args.get("params") if isinstance(idx, exp.Index) else None
            cols = [self.text(c) for c in (params.args.get("columns") or [])] if params is not None else []
            key = "create_unique_index" if node.args.get("unique") else "create_index"
            return (
                self.PHRASES[key].format(
                    name=humanize(idx.name),
                    cols=self.join_list(cols),
                    table=self.table_name(table.name) if table is not None else "",
                )
                + exists
            )
        name = self.target_name(target)
        if isinstance(target, exp.Schema) and target.expressions:
            cols = []
            for c in target.expressions:
                if isinstance(c, exp.ColumnDef):
                    kind_sql = c.args.get("kind")
                    cons = [x.sql(dialect=self.dialect).lower() for x in c.args.get("constraints") or ()]
                    extra = " ".join(
                        ([kind_sql.sql(dialect=self.dialect).lower()] if kind_sql is not None else []) + cons
                    )
                    cols.append(
                        self.PHRASES["column_def"].format(self.name(c.name), extra) if extra else self.name(c.name)
                    )
                else:
                    cols.append(c.sql(dialect=self.dialect).lower())
            return (
                self.PHRASES["create_table_cols"].format(
                    kind=self.kind_words(kind),
                    name=name,
                    replace=replace,
                    cols=self.join_list(self.clip_list(cols, "columns")),
                )
                + exists
            )
        if query is not None:
            return (
                self.PHRASES["create_as"].format(
                    kind=self.kind_words(kind), name=name, query=self.noun_phrase(query), replace=replace
                )
                + exists
            )
        return self.PHRASES["create"].format(kind=self.kind_words(kind), name=name, replace=replace) + exists

    def alter_sentence(self: "Describer", node: exp.Alter) -> str:
        name = self.target_name(node.this)
        actions = []
        for a in node.args.get("actions") or ():
            if isinstance(a, exp.ColumnDef):
                kind = a.args.get("kind")
                actions.append(
                    self.PHRASES["alter_add"].format(self.name(a.name), self.text(kind) if kind is not None else "")
                )
            elif isinstance(a, exp.Drop):
                cols = ([a.this] if a.this is not None else []) + list(a.args.get("tables") or ())
                actions.append(self.PHRASES["alter_drop"].format(self.join_list([self.name(c.name) for c in cols])))
            elif isinstance(a, exp.AlterRename):
                actions.append(self.PHRASES["alter_rename"].format(self.target_name(a.this)))
            elif isinstance(a, exp.RenameColumn):
                actions.append(
                    self.PHRASES["alter_rename_column"].format(self.text(a.this), self.text(a.args.get("to")))
                )
            elif isinstance(a, exp.AlterColumn) and a.args.get("dtype") is not None:
                actions.append(self.PHRASES["alter_type"].format(self.name(a.name), self.text(a.args["dtype"])))
            else:
                self.warnings.append(f"no wording for the ALTER action {type(a).__name__}; quoted as SQL")
                actions.append(self.PHRASES["sql"].format(a.sql(dialect=self.dialect)))
        kind = (node.args.get("kind") or "TABLE").lower()
        return self.PHRASES["alter"].format(kind=self.kind_words(kind), name=name, actions=self.join_list(actions))

    def drop_sentence(self: "Describer", node: exp.Drop) -> str:
        kind = (node.args.get("kind") or "TABLE").lower()
        targets = ([node.this] if node.this is not None else []) + list(node.args.get("tables") or ())
        names = [
            humanize(t.name) if kind == "index" and isinstance(t, exp.Table) else self.target_name(t) for t in targets
        ] or [self.PHRASES["database"]]
        text = self.PHRASES["drop"].format(kind=self.kind_words(kind), name=self.join_list(names))
        if node.args.get("exists"):
            text += self.PHRASES["if_exists"]
        if node.args.get("cascade"):
            text += self.PHRASES["cascade"]
        return text

    def truncatetable_sentence(self: "Describer", node: exp.TruncateTable) -> str:
        return self.PHRASES["truncate"].format(self.join_list([self.target_name(t) for t in node.expressions]))
