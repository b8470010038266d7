"""Wording for statements that change data or schema: INSERT, UPDATE, DELETE, MERGE, CREATE, ALTER,
DROP, TRUNCATE. A mixin of :class:`sql2nl.rules.base.Describer`; like the rest of the walk it only
decides *what* to say and takes every word from the language's ``W`` table."""

from __future__ import annotations

from sqlglot import exp

from ..words import humanize


class ChangesMixin:
    """The DML/DDL part of the shared walk (needs the Describer's names, ``expr`` and ``W``)."""

    def filter_words(self, cond: str) -> str:
        """A WHERE condition as it follows the rows it filters; languages may add their lead word."""
        return cond

    def target_name(self, node: exp.Expression | None) -> str:
        if isinstance(node, exp.Schema):
            node = node.this
        if isinstance(node, exp.Table):
            return self.table_name(node.name)
        return self.expr(node) if node is not None else self.W["database"]

    def assignments(self, items) -> str:
        parts = []
        for e in items:
            if isinstance(e, exp.EQ):
                parts.append(self.W["assign"].format(self.expr(e.this), self.operand(e.expression)))
            else:
                parts.append(self.expr(e))
        return self.join_list(parts)

    def insert_text(self, node: exp.Insert) -> str:
        target = node.this
        cols = [self.name(c.name) for c in target.expressions] if isinstance(target, exp.Schema) else []
        table = self.target_name(target)
        src = node.expression
        tail = self.upsert_tail(node)
        if isinstance(src, exp.Values):
            rows = src.expressions
            shown = rows if len(rows) <= 5 else rows[:3]
            row_texts = []
            for r in shown:
                items = r.expressions if isinstance(r, exp.Tuple) else [r]
                vals = [self.operand(v) for v in items]
                if cols and len(cols) == len(vals):
                    row_texts.append(self.join_list([self.W["field"].format(c, v) for c, v in zip(cols, vals)]))
                else:
                    row_texts.append(self.join_list(vals))
            more = self.W["more_rows"].format(f"{len(rows) - len(shown):,}") if len(rows) > len(shown) else ""
            key = "insert_one" if len(rows) == 1 else "insert_rows"
            return self.W[key].format(table=table, n=f"{len(rows):,}", rows=self.W["row_sep"].join(row_texts) + more) + tail
        if src is None:
            return self.W["insert_default"].format(table=table) + tail
        query = self.noun_phrase(src)
        into = self.W["into_columns"].format(self.join_list(cols)) if cols else ""
        return self.W["insert_select"].format(table=table, query=query, cols=into) + tail

    def upsert_tail(self, node: exp.Insert) -> str:
        returning = node.args.get("returning")
        text = self.W["returning"].format(self.join_list([self.expr(e) for e in returning.expressions])) \
            if returning is not None else ""
        return self.conflict_tail(node) + text

    def conflict_tail(self, node: exp.Insert) -> str:
        conflict = node.args.get("conflict")
        if conflict is None:
            return ""
        action = conflict.args.get("action")
        updates = conflict.args.get("expressions")
        if updates:
            return self.W["upsert_update"].format(self.assignments(updates))
        if action is not None and "NOTHING" in action.sql().upper():
            return self.W["upsert_nothing"]
        return self.W["upsert_update"].format(conflict.sql())

    def update_text(self, node: exp.Update) -> str:
        table = self.target_name(node.this)
        self.subjects.append(node.this.name if isinstance(node.this, exp.Table) else None)
        try:
            sets = self.assignments(node.expressions)
            where = node.args.get("where")
            cond = self.condition(where.this, clause=True) if where is not None else None
        finally:
            self.subjects.pop()
        frm = node.args.get("from_") or node.args.get("from")
        extra = self.W["using_table"].format(self.noun_phrase(frm.this)) if frm is not None else ""
        if cond:
            return self.W["update_where"].format(sets=sets, table=self.noun(node.this.name) if isinstance(node.this, exp.Table) else table,
                                                cond=self.filter_words(cond)) + extra
        return self.W["update_all"].format(sets=sets, table=table) + extra

    def delete_text(self, node: exp.Delete) -> str:
        t = node.this
        self.subjects.append(t.name if isinstance(t, exp.Table) else None)
        try:
            where = node.args.get("where")
            cond = self.condition(where.this, clause=True) if where is not None else None
        finally:
            self.subjects.pop()
        if cond:
            return self.W["delete_where"].format(table=self.noun(t.name) if isinstance(t, exp.Table) else self.expr(t),
                                                 cond=self.filter_words(cond))
        return self.W["delete_all"].format(table=self.target_name(t))

    def merge_text(self, node: exp.Merge) -> str:
        target = self.target_name(node.this)
        using = node.args.get("using")
        source = self.noun(using.name) if isinstance(using, exp.Table) else self.noun_phrase(using)
        on = node.args.get("on")
        parts = []
        whens = node.args.get("whens")
        self.subjects.append(node.this.name if isinstance(node.this, exp.Table) else None)
        for w in (whens.expressions if whens is not None else ()):
            matched = bool(w.args.get("matched"))
            then = w.args.get("then")
            if isinstance(then, exp.Update):
                action = self.W["merge_update"].format(self.assignments(then.expressions))
            elif isinstance(then, exp.Insert):
                vals = then.expression
                action = self.W["merge_insert"].format(self.expr(vals) if vals is not None else "")
            elif then is not None and "DELETE" in then.sql().upper():
                action = self.W["merge_delete"]
            else:
                action = then.sql() if then is not None else ""
            cond = w.args.get("condition")
            when = self.W["merge_matched" if matched else "merge_not_matched"]
            if cond is not None:
                when += self.W["merge_and"].format(self.condition(cond))
            parts.append(self.W["merge_when"].format(when=when, action=action))
        on_words = self.condition(on) if on is not None else ""
        self.subjects.pop()
        return self.W["merge"].format(target=target, source=source,
                                      on=on_words,
                                      actions=self.W["merge_sep"].join(parts))

    def create_text(self, node: exp.Create) -> str:
        kind = (node.args.get("kind") or "TABLE").upper()
        target = node.this
        exists = self.W["if_not_exists"] if node.args.get("exists") else ""
        replace = self.W["or_replace"] if node.args.get("replace") else ""
        query = node.expression
        if kind == "INDEX":
            idx = target
            table = idx.args.get("table") if isinstance(idx, exp.Index) else None
            params = idx.args.get("params") if isinstance(idx, exp.Index) else None
            cols = [self.expr(c) for c in (params.args.get("columns") or [])] if params is not None else []
            unique = self.W["unique"] if node.args.get("unique") else ""
            return self.W["create_index"].format(unique=unique, name=humanize(idx.name),
                                                 table=self.table_name(table.name) if table is not None else "",
                                                 cols=self.join_list(cols)) + exists
        name = self.target_name(target)
        if isinstance(target, exp.Schema) and target.expressions:
            cols = []
            for c in target.expressions:
                if isinstance(c, exp.ColumnDef):
                    kind_sql = c.args.get("kind")
                    cons = [x.sql().lower() for x in c.args.get("constraints") or ()]
                    extra = " ".join(([kind_sql.sql().lower()] if kind_sql is not None else []) + cons)
                    cols.append(self.W["column_def"].format(self.name(c.name), extra) if extra else self.name(c.name))
                else:
                    cols.append(self.expr(c) if not isinstance(c, exp.Expression) or c.sql() == "" else c.sql().lower())
            return self.W["create_table_cols"].format(kind=self.W.get("kind_" + kind.lower(), kind.lower()),
                                                      name=name, cols=self.join_list(cols), replace=replace) + exists
        if query is not None:
            return self.W["create_as"].format(kind=self.W.get("kind_" + kind.lower(), kind.lower()), name=name,
                                              query=self.noun_phrase(query), replace=replace) + exists
        return self.W["create"].format(kind=self.W.get("kind_" + kind.lower(), kind.lower()), name=name,
                                       replace=replace) + exists

    def alter_text(self, node: exp.Alter) -> str:
        name = self.target_name(node.this)
        actions = []
        for a in node.args.get("actions") or ():
            if isinstance(a, exp.ColumnDef):
                kind = a.args.get("kind")
                actions.append(self.W["alter_add"].format(self.name(a.name), kind.sql().lower() if kind is not None else ""))
            elif isinstance(a, exp.Drop):
                cols = ([a.this] if a.this is not None else []) + list(a.args.get("tables") or ())
                actions.append(self.W["alter_drop"].format(self.join_list([self.name(c.name) for c in cols])))
            elif isinstance(a, exp.AlterRename) if hasattr(exp, "AlterRename") else False:
                actions.append(self.W["alter_rename"].format(self.target_name(a.this)))
            elif isinstance(a, exp.RenameColumn) if hasattr(exp, "RenameColumn") else False:
                actions.append(self.W["alter_rename_column"].format(self.expr(a.this), self.expr(a.args.get("to"))))
            else:
                actions.append(self.W["sql"].format(a.sql()))
        kind = (node.args.get("kind") or "TABLE").lower()
        return self.W["alter"].format(kind=self.W.get("kind_" + kind, kind), name=name,
                                      actions=self.join_list(actions))

    def drop_text(self, node: exp.Drop) -> str:
        kind = (node.args.get("kind") or "TABLE").lower()
        targets = ([node.this] if node.this is not None else []) + list(node.args.get("tables") or ())
        names = [self.target_name(t) for t in targets] or [self.W["database"]]
        text = self.W["drop"].format(kind=self.W.get("kind_" + kind, kind), name=self.join_list(names))
        if node.args.get("exists"):
            text += self.W["if_exists"]
        if node.args.get("cascade"):
            text += self.W["cascade"]
        return text

    def truncate_text(self, node: exp.TruncateTable) -> str:
        return self.W["truncate"].format(self.join_list([self.target_name(t) for t in node.expressions]))

