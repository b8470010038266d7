"""Chinese wording (中文). Names are the schema's words, else the glossary's Chinese for the
identifier (``glossary_zh``), else the identifier as written in 「」; every literal value is kept
verbatim."""

from __future__ import annotations

import functools

from sqlglot import exp

from ..facts import is_value
from .base import Describer, SelectPlan
from .glossary_zh import MARK, translate_identifier, value_unit


class ChineseDescriber(Describer):
    language = "zh"

    W = {
        "set_order": "{0}", "question": "？", "rows": "行", "rows_of": "{0}的结果", "database": "数据库", "star": "所有信息", "star_of": "所有信息",
        "the": "{0}", "qualified": "{table}的{column}", "self_qualified": "{table} {alias}的{column}", "string": "\"{0}\"", "param": "给定值", "param_named": "给定的{0}", "null": "空值", "negative": "负{0}",
        "paren": "（{0}）", "position": "第{0}列", "desc_suffix": "（降序）", "tuple": "（{0}）", "interval": "{0} {1}",
        "sql": "`{0}`", "alias": "{1}（{0}）",
        "and": "且", "or": "或", "xor": "异或", "not": "并非{0}",
        "eq": "{0}为{1}", "neq": "{0}不为{1}", "gt": "{0}大于{1}", "gte": "{0}大于或等于{1}", "lt": "{0}小于{1}",
        "lte": "{0}小于或等于{1}", "not_gt": "{0}不大于{1}", "not_gte": "{0}不大于或等于{1}",
        "not_lt": "{0}不小于{1}", "not_lte": "{0}不小于或等于{1}",
        "count_gt": "超过{n}个{noun}", "count_gte": "至少有{n}个{noun}", "count_lt": "少于{n}个{noun}",
        "count_lte": "至多{n}个{noun}", "count_eq": "恰好{n}个{noun}", "count_neq": "不是恰好{n}个{noun}",
        "in": "{0}为{1}", "not_in": "{0}不为{1}", "many_values": "{n}个值之一（例如{sample}）",
        "in_query": "{0}属于{1}", "qualify": "只保留满足{0}的行", "join_lateral": "与{0}组合",
        "any": "{0}中的任意一个", "all": "{0}中的所有值", "filter": "{0}（只统计满足{1}的行）",
        "insert_default": "向{table}添加一行默认值", "returning": "，并返回{0}", "c:appear": "出现在{0}中", "c:not_appear": "没有出现在{0}中", "not_in_query": "{0}不属于{1}",
        "between": "{0}在{1}到{2}之间", "not_between": "{0}不在{1}到{2}之间",
        "starts": "{0}以{1}开头", "ends": "{0}以{1}结尾", "contains": "{0}包含{1}",
        "not_starts": "{0}不以{1}开头", "not_ends": "{0}不以{1}结尾", "not_contains": "{0}不包含{1}",
        "like": "{0}匹配模式{1}", "not_like": "{0}不匹配模式{1}", "not_eq": "{0}不为{1}",
        "is_null": "{0}为空", "not_null": "{0}不为空", "exists": "存在{0}", "not_exists": "不存在{0}",
        "count_star": "{0}的数量", "count": "{0}的数量", "count_distinct": "去重后{0}的数量",
        "sum": "{0}的总和", "avg": "平均{0}", "min": "最小{0}", "max": "最大{0}", "sum_distinct": "去重后{0}的总和",
        "avg_distinct": "去重后{0}的平均值", "min_distinct": "最小{0}", "max_distinct": "最大{0}", "distinct": "去重的{0}",
        "add": "{0}加{1}", "sub": "{0}减{1}", "mul": "{0}乘以{1}", "div": "{0}除以{1}", "mod": "{0}除以{1}的余数",
        "concat": "{0}连接{1}", "binary": "{0} {1} {2}",
        "case": "{0}", "case_when": "当{cond}时为{then}", "case_sep": "，", "case_else": "，其余情况为{0}",
        "cast": "{0}（转换为{1}）", "function": "{1}的{0}", "function0": "{0}",
        "window": "{func}（{over}）", "window_partition": "在每个{0}内", "window_sep": "，", "window_all": "在所有行上",
        "window_frame": "窗口{0}",
        "with": "使用{0}：", "with_recursive": "使用递归查询{0}：", "cte": "{name}（{query}）",
        "self_join": "将{0}与自身配对", "join_left": "保留没有匹配{table}的{subject}",
        "join_right": "保留没有匹配{subject}的{table}", "join_full": "保留两边没有匹配的行（{table}）",
        "join_cross": "与每个{table}组合", "join_semi": "有匹配{table}的", "join_anti": "没有匹配{table}的",
        "join_on": "按{cond}匹配{table}", "join_using": "按{cols}匹配{table}",
        "set_limit": "，只显示前{0}个", "offset": "，跳过前{0}个",
        "union": "{first}，以及{second}", "union_all": "{first}，以及{second}（保留重复）",
        "intersect": "{first}，并且同时属于{second}", "except": "{first}，但不包括{second}",
        "union_np": "{first}以及{second}", "intersect_np": "{first}并且同时属于{second}",
        "except_np": "{first}但不包括{second}", "values_rows": "行{0}",
        "assign": "{0}设为{1}", "field": "{0}为{1}", "insert_one": "向{table}添加一行：{rows}", "insert_rows": "向{table}添加{n}行：{rows}",
        "row_sep": "；", "more_rows": "；以及另外{0}行", "insert_select": "将{query}添加到{table}{cols}",
        "into_columns": "（对应列{0}）", "upsert_update": "；如果已存在，则改为将{0}",
        "upsert_nothing": "；已存在的行不做处理",
        "update_where": "对于{cond}的{table}，将{sets}", "update_all": "将{table}所有行的{sets}",
        "using_table": "，使用{0}", "delete_where": "删除{cond}的{table}", "delete_all": "删除{table}中的所有行",
        "merge": "将{source}合并到{target}，匹配条件为{on}：{actions}", "merge_sep": "；",
        "merge_when": "{when}时{action}", "merge_matched": "匹配", "merge_not_matched": "不匹配",
        "merge_and": "且{0}", "merge_update": "将{0}", "merge_insert": "插入{0}", "merge_delete": "删除该行",
        "create": "创建{kind}{name}{replace}", "create_as": "创建{kind}{name}{replace}，内容为{query}",
        "create_table_cols": "创建{kind}{name}{replace}，包含列{cols}", "column_def": "{0}（{1}）",
        "create_index": "在{table}上创建{unique}索引{name}（{cols}）", "unique": "唯一",
        "if_not_exists": "（如果尚不存在）", "or_replace": "（如已存在则替换）",
        "alter": "修改{kind}{name}：{actions}", "alter_add": "添加列{0} {1}", "alter_drop": "删除列{0}",
        "alter_rename": "重命名为{0}", "alter_rename_column": "将列{0}重命名为{1}",
        "drop": "删除{kind}{name}", "if_exists": "（如果存在）", "cascade": "，连同依赖它的对象",
        "truncate": "清空{0}中的所有行", "kind_table": "表", "kind_view": "视图", "kind_index": "索引",
        "fallback": "对{tables}执行{kind}语句：{sql}",
    }

    def identifier_words(self, identifier: str, *, kind: str = "column", table: str | None = None) -> str:
        if kind == "cte" or (kind == "table" and identifier.lower() in self.query_names):
            return MARK.format(identifier)  # a name the query makes up ("WITH old AS ..."): shown as written
        if table is None and kind == "column" and len(self.facts.tables) == 1:
            table = self.facts.tables[0]  # INSERT INTO users (name): the statement's one table
        return translate_identifier(identifier, kind=kind, table=table)

    @functools.cached_property
    def query_names(self) -> frozenset[str]:
        """The CTE names of the statement: not schema words, so never translated."""
        return frozenset(c.lower() for c in self.facts.ctes)

    def comparison(self, node: exp.Expression, negated: bool = False) -> str:
        text = super().comparison(node, negated)
        left, right = node.this, node.expression
        if is_value(left) and not is_value(right):
            left, right = right, left
        if isinstance(left, exp.Column) and isinstance(right, exp.Literal) and not right.is_string \
                and text.endswith(right.this):
            # "年龄大于18岁": a person's age is counted in 岁.
            unit = value_unit(left.name, table=self.scopes.table_of(left))
            if unit:
                text += unit
        return text

    def noun(self, table: str | None, many: bool = True) -> str:
        return self.table_name(table) if table else self.W["rows"]

    def many(self, words: str) -> str:
        return words

    def finish(self, text: str) -> str:
        text = text.strip()
        return text if not text or text[-1] in "。？！.?!" else text + "。"

    def join_list(self, items: list[str], last: str | None = None) -> str:
        items = [i for i in items if i]
        if len(items) <= 1:
            return items[0] if items else ""
        return "、".join(items[:-1]) + (last if last is not None else "和") + items[-1]

    # -- sentence pieces ----------------------------------------------------------------------

    def where(self, p: SelectPlan) -> str:
        return f"{p.where}的" if p.where else ""

    def compose_order(self, keys: list[tuple[str, bool, str]]) -> str:
        parts = []
        for phrase, desc, kind in keys:
            if kind == "count":
                phrase = f"{phrase}的数量"
            parts.append(f"按{phrase}{'降序' if desc else '升序'}")
        return "，" + "，再".join(parts) + "排列"

    def superlative(self, key: tuple[str, bool, str]) -> str:
        phrase, desc, kind = key
        if kind == "count":
            return f"{phrase}数量{'最多' if desc else '最少'}"
        return f"{phrase}{'最高' if desc else '最低'}"

    def tail(self, p: SelectPlan, order: bool = True) -> str:
        text = ""
        if p.extra_tables:
            text += f"（通过{self.join_list(p.extra_tables)}关联）"
        for note in p.join_notes:
            text += "，" + note
        if p.having:
            text += f"，只保留{p.having}的组"
        if order and p.order:
            text += self.compose_order(p.order)
        if p.limit:
            text += f"，只显示前{p.limit}个" if order and p.order else f"，只显示{p.limit}行"
        if p.offset:
            text += self.W["offset"].format(p.offset)
        return text

    def head(self, p: SelectPlan) -> str:
        """"每个城市" / "按城市分组，" before the columns, for grouped queries."""
        return ""

    def columns(self, p: SelectPlan) -> str:
        cols = self.join_list(p.columns)
        return ("不同的" + cols) if p.distinct else cols

    def body(self, p: SelectPlan) -> str:
        """The noun phrase of a SELECT without its ordering: "年龄大于18的学生的名字"."""
        where = self.where(p)
        if p.count_only:
            return f"{where}{p.counted}的数量"
        if p.group and p.keys_selected:
            aggs = [c for c, a in zip(p.columns, p.is_aggregate) if a]
            keys = "每个" + self.join_list(p.group)
            if not aggs:
                return f"{where}{p.subject}中的{keys}"
            return f"{where}{p.subject}中{keys}的{self.join_list(aggs)}"
        group = f"按{self.join_list(p.group)}分组的" if p.group else ""
        return f"{where}{group}{p.subject}的{self.columns(p)}"

    def compose_top(self, p: SelectPlan) -> str:
        key = p.order[0]
        rest = SelectPlan(subject=p.subject, subject_one=p.subject_one, having=p.having, offset=p.offset,
                          extra_tables=p.extra_tables, join_notes=p.join_notes, order=p.order[1:])
        where = self.where(p)
        group = f"按{self.join_list(p.group)}分组后" if p.group else ""
        if p.limit == "1":
            if p.group and p.keys_selected:
                # "albums数量最多的label": the group key with the most rows.
                scope = "" if p.subject_is_counted and key[2] == "count" else f"{p.subject}中"
                return f"{where}{scope}{self.superlative(key)}的{self.columns(p)}{self.tail(rest)}"
            return f"{where}{group}{self.superlative(key)}的{p.subject}的{self.columns(p)}{self.tail(rest)}"
        return (f"{where}{group}{p.subject}中{self.compose_order([key]).lstrip('，')}的前{p.limit}个的"
                f"{self.columns(p)}{self.tail(rest)}")

    def compose_select(self, p: SelectPlan) -> str:
        if p.no_from:
            return f"计算{self.columns(p)}{self.tail(p)}"
        if p.order and p.limit:
            return "查询" + self.compose_top(p)
        if p.count_only and not p.order and not p.limit:
            return f"{self.where(p)}{p.counted}有多少个{self.tail(p)}？"
        return "查询" + self.body(p) + self.tail(p)

    def compose_rows(self, p: SelectPlan, negated: bool = False) -> str:
        return f"{self.where(p)}{p.subject}{self.tail(p)}"

    def compose_noun(self, p: SelectPlan) -> str:
        if p.no_from:
            return self.columns(p)
        if p.order and p.limit:
            return self.compose_top(p)
        return self.body(p) + self.tail(p)


DESCRIBER = ChineseDescriber
