"""Chinese wording (中文): "查询年龄大于18岁的用户的姓名和年龄". Names are the schema's words, else
the glossary's Chinese for the identifier (:mod:`~sql2nl.rules.glossary_zh`), else the identifier
as written in 「」; every literal value is kept verbatim."""

from __future__ import annotations

import functools
import re

from sqlglot import exp

from ..words import humanize
from .base import Describer
from .conditions import Cond
from .glossary_zh import MARK, translate_identifier, value_unit
from .queries import OrderKey, SelectPlan

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+")


class ChineseDescriber(Describer):
    language = "zh"

    PHRASES = {
        "rows": "行",
        "row": "行",
        "the": "{0}",
        "rows_of": "{0}的结果",
        "database": "数据库",
        "star": "所有信息",
        "star_joined": "以及{0}的所有信息",
        "star_of": "所有信息",
        "star_except": "不包括{0}",
        "star_replace": "其中{0}",
        "star_replace_item": "{0}替换为{1}",
        "star_rename": "其中{0}",
        "star_rename_item": "{1}重命名为{0}",
        "constant": "值{0}",
        "for_each_row": "对{1}的每一行返回{0}",
        "qualified": "{table}的{column}",
        "labelled": "{table} {alias}的{column}",
        "string": '"{0}"',
        "param": "给定值",
        "param_named": "给定的{0}",
        "given_number": "给定数量",
        "null": "空值",
        "negative": "负{0}",
        "paren": "（{0}）",
        "desc_suffix": "（降序）",
        "tuple": "（{0}）",
        "tuple_sep": "，",
        "outer_row": "外层行",
        "unnest_join": "{0}中的每个元素各占一行",
        "running": "累计{0}",
        "count_filtered": "{0}的数量",
        "grouping_set": "按{0}",
        "sql": "`{0}`",
        "alias": "{1}（{0}）",
        "unnest": "{0}中的元素",
        "joined_rows": "{0}连接后的行",
        "any_case": "（忽略大小写）",
        "wildcards_%": "（%表示任意文本）",
        "wildcards__": "（_表示任意一个字符）",
        "wildcards_%_": "（%表示任意文本，_表示任意一个字符）",
        "and_sep": "、",
        "and_last": "且",
        "or_sep": "、",
        "or_last": "或",
        "and_nested_sep": "，",
        "and_nested_last": "，并且",
        "or_nested_sep": "，",
        "or_nested_last": "，或者",
        "either_sep": "、",
        "either_last": "或",
        "either_frame": "（{0}）",
        "both_sep": "、",
        "both_last": "且",
        "both_frame": "（{0}）",
        "neither_sep": "，也不满足",
        "neither_last": "，也不满足",
        "neither_frame": "既不满足{0}",
        "not_all_sep": "、",
        "not_all_last": "且",
        "not_all_frame": "并非同时满足{0}",
        "not": "并非{0}",
        "many_values": "{n}个值之一（例如{sample}）",
        "count_star": "{0}的数量",
        "count": "{0}的数量",
        "count_distinct": "不同{0}的数量",
        "different": "不同的{0}",
        "sum": "{0}的总和",
        "avg": "平均{0}",
        "min": "最小{0}",
        "max": "最大{0}",
        "sum_of": "{0}的总和",
        "avg_of": "{0}的平均值",
        "min_of": "{0}的最小值",
        "max_of": "{0}的最大值",
        "sum_again": "{0}之和",
        "avg_again": "{0}的平均值",
        "min_again": "{0}的最小值",
        "max_again": "{0}的最大值",
        "sum_distinct": "不同{0}的总和",
        "avg_distinct": "不同{0}的平均值",
        "min_distinct": "最小{0}",
        "max_distinct": "最大{0}",
        "distinct": "去重的{0}",
        "add": "{0}加{1}",
        "sub": "{0}减{1}",
        "mul": "{0}乘以{1}",
        "div": "{0}除以{1}",
        "mod": "{0}除以{1}的余数",
        "intdiv": "{0}整除{1}",
        "add_whole": "（{0}加{1}）",
        "sub_whole": "（{0}减{1}）",
        "mul_whole": "（{0}乘以{1}）",
        "div_whole": "（{0}除以{1}）",
        "mod_whole": "（{0}除以{1}的余数）",
        "intdiv_whole": "（{0}整除{1}）",
        "share_left": "{0}减去{1}后占{0}的比例",
        "percentage": "{0}占{1}的百分比",
        "concat": "{0}拼接起来",
        "case": "{0}",
        "case_when": "当{cond}时为{then}",
        "case_sep": "，",
        "case_else": "，否则为{0}",
        "cast": "{0}（转换为{1}）",
        "function": "{0}({1})的结果",
        "window": "{func}（{over}）",
        "window_bare": "{over}的{func}",  # inside 「别名」（…）: a modifier, not a second pair of brackets
        "window_partition": "在每个{0}内",
        "window_sep": "，",
        "window_all": "在所有行上",
        "window_running": "累计到当前行",
        "frame": "在从{start}到{end}的{kind}上",
        "frame_rows": "行",
        "frame_range": "范围",
        "frame_groups": "组",
        "frame_first": "第一行",
        "frame_current": "当前行",
        "frame_last": "最后一行",
        "frame_preceding": "前{0}行",
        "frame_following": "后{0}行",
        "any": "{0}中的任意一个",
        "all": "{0}中的所有值",
        "any_values": "{0}中的任意一个",
        "all_values": "{0}中的所有值",
        "filter": "{0}（只统计满足{1}的行）",
        "with": "使用{0}：",
        "with_recursive": "使用递归查询{0}：",
        "cte": "{name}（{query}）",
        "cte_names": "（使用中间结果{0}）",
        "self_join": "将{0}与自身配对",
        "join_left": "包括没有{table}的{subject}",
        "join_right": "包括没有{subject}的{table}",
        "join_full": "包括两边没有匹配的行",
        "join_cross": "与每个{0}组合",
        "join_semi": "有匹配{0}",
        "join_anti": "没有匹配{0}",
        "join_on": "按{cond}匹配{table}",
        "join_lateral": "与{0}组合",
        "has_rows": "有{0}",
        "has_no_rows": "没有{0}",
        "has_match": "有对应{0}",
        "joined_with": "与{0}连接",
        "with_rows": "{0}（有{1}）",
        "named_rows": "{0}（{1}）",
        "linked": "通过{link}关联{far}",
        "qualify": "只保留满足{0}的行",
        "distinct_on": "每个不同的{0}只保留排在最前的一行",
        "with_ties": "包括并列的行",
        "locks": "并锁定读取的行",
        "percent": "{0}%",
        "rollup": "并按{0}小计及总计",
        "cube": "并对所有组合小计及总计",
        "grouping_sets": "分别按{0}分组",
        "overall": "全部",
        "set_order": "，{0}",
        "set_limit": "，只显示前{0}个",
        "offset": "，跳过前{0}个",
        "union": "{first}，以及{second}",
        "union_all": "{first}，以及{second}（保留重复）",
        "intersect": "{first}，并且同时属于{second}",
        "except": "{first}，但不包括{second}",
        "union_np": "{first}以及{second}",
        "intersect_np": "{first}并且同时属于{second}",
        "except_np": "{first}但不包括{second}",
        "values_rows": "行{0}",
        "values_sentence": "列出{0}",
        "step": "{n}. {label}：{text}",
        "step_builds": "{0}",
        "result": "结果",
        "subquery_label": "子查询{0}",
        "overview_select": "从{tables}中查询{columns}{conditions}",
        "overview_compute": "计算{columns}{conditions}",
        "overview_conditions": "，共{0}个条件",
        "computed_value": "一个计算值",
        "overview": "对{tables}执行{kind}语句",
        "more_columns": "另外{0}列",
        "more_tables": "另外{0}个表",
        "more_values": "另外{0}个值",
        "more_conditions": "另外{0}个条件",
        "assign": "{0}设为{1}",
        "field": "{0}为{1}",
        "returning": "，并返回{0}",
        "insert_one": "向{table}添加一行：{rows}",
        "insert_rows": "向{table}添加{n}行：{rows}",
        "replace_one": "向{table}添加或替换一行：{rows}",
        "replace_rows": "向{table}添加或替换{n}行：{rows}",
        "insert_default": "向{table}添加一行默认值",
        "row_sep": "；",
        "more_rows": "；以及另外{0}行",
        "insert_select": "将{query}添加到{table}{cols}",
        "into_columns": "（对应列{0}）",
        "clash": "该行已存在",
        "clash_unique": "已存在唯一键相同的行",
        "clash_keys": "已存在{0}相同的行",
        "upsert_update": "；如果{clash}，则改为将{sets}",
        "upsert_nothing": "；如果{clash}，则跳过",
        "upsert_other": "；如果{clash}：{sql}",
        "new_value": "新的{0}",
        "existing_value": "原有的{0}",
        "update_where": "对于{cond}的{table}，将{sets}",
        "update_all": "将{table}所有行的{sets}",
        "using_table": "，使用{0}",
        "delete_where": "删除{cond}的{table}",
        "delete_all": "删除{table}中的所有行",
        "merge": "将{source}合并到{target}，匹配条件为{on}：{actions}",
        "merge_sep": "；",
        "merge_when": "{when}时{action}",
        "merge_matched": "匹配",
        "merge_not_matched": "不匹配",
        "merge_and": "且{0}",
        "merge_update": "将{0}",
        "merge_insert": "插入一行：{0}",
        "merge_delete": "删除该行",
        "create": "创建{kind}{name}{replace}",
        "create_as": "创建{kind}{name}{replace}，内容为{query}",
        "create_table_cols": "创建{kind}{name}{replace}，包含列{cols}",
        "column_def": "{0}（{1}）",
        "create_index": "在{table}上创建索引{name}（{cols}）",
        "create_unique_index": "在{table}上创建唯一索引{name}（{cols}）",
        "if_not_exists": "（如果尚不存在）",
        "or_replace": "（如已存在则替换）",
        "alter": "修改{kind}{name}：{actions}",
        "alter_add": "添加列{0}（{1}）",
        "alter_drop": "删除列{0}",
        "alter_rename": "重命名为{0}",
        "alter_rename_column": "将列{0}重命名为{1}",
        "alter_type": "将列{0}的类型改为{1}",
        "drop": "删除{kind}{name}",
        "if_exists": "（如果存在）",
        "cascade": "，连同依赖它的对象",
        "truncate": "清空{0}中的所有行",
        "kind_table": "表",
        "kind_view": "视图",
        "kind_index": "索引",
        "fallback": "对{tables}执行{kind}语句：{sql}",
    }

    CLAUSES = {
        "eq": "{0}为{1}",
        "not_eq": "{0}不为{1}",
        "eq_column": "{0}等于{1}",
        "not_eq_column": "{0}不等于{1}",
        "neq": "{0}不为{1}",
        "not_neq": "{0}为{1}",
        "gt": "{0}大于{1}",
        "gte": "{0}大于或等于{1}",
        "lt": "{0}小于{1}",
        "lte": "{0}小于或等于{1}",
        "not_gt": "{0}不大于{1}",
        "not_gte": "{0}小于{1}",
        "not_lt": "{0}大于或等于{1}",
        "not_lte": "{0}大于{1}",
        "same": "{0}为{1}（空值与空值视为相同）",
        "not_same": "{0}不为{1}（空值视为一个值）",
        "differs": "{0}不为{1}（空值视为一个值）",
        "not_differs": "{0}为{1}（空值与空值视为相同）",
        "compare_null": "{0}与空值比较（永远不成立）",
        "count_gt": "{1}的数量超过{0}",
        "count_gte": "{1}的数量至少为{0}",
        "count_lt": "{1}的数量少于{0}",
        "count_lte": "{1}的数量至多为{0}",
        "count_eq": "{1}的数量恰好为{0}",
        "count_neq": "{1}的数量不为{0}",
        "in": "{0}为{1}",
        "not_in": "{0}不为{1}",
        "in_query": "{0}属于{1}",
        "not_in_query": "{0}不属于{1}",
        "appear": "出现在{0}中",
        "not_appear": "没有出现在{0}中",
        "between": "{0}在{1}到{2}之间",
        "not_between": "{0}不在{1}到{2}之间",
        "between_symmetric": "{0}在{1}和{2}之间（不分先后）",
        "not_between_symmetric": "{0}不在{1}和{2}之间（不分先后）",
        "is_null": "{0}为空",
        "not_is_null": "{0}不为空",
        "not_null": "{0}不为空",
        "not_not_null": "{0}为空",
        "is_true": "{0}为真",
        "not_is_true": "{0}不为真",
        "is_false": "{0}为假",
        "not_is_false": "{0}不为假",
        "always": "总是成立",
        "never": "永不成立",
        "starts": "{0}以{1}开头",
        "not_starts": "{0}不以{1}开头",
        "ends": "{0}以{1}结尾",
        "not_ends": "{0}不以{1}结尾",
        "contains": "{0}包含{1}",
        "not_contains": "{0}不包含{1}",
        "starts_ends": "{0}以{1}开头并以{2}结尾",
        "not_starts_ends": "{0}并非以{1}开头并以{2}结尾",
        "like": "{0}匹配模式{1}",
        "not_like": "{0}不匹配模式{1}",
        "glob": "{0}匹配模式{1}",
        "not_glob": "{0}不匹配模式{1}",
        "like_any": "{0}匹配{1}中的任意一个模式",
        "not_like_any": "{0}不匹配{1}中的任何模式",
        "like_all": "{0}匹配{1}中的所有模式",
        "regex": "{0}匹配正则表达式{1}",
        "not_regex": "{0}不匹配正则表达式{1}",
        "exists": "存在{0}",
        "not_exists": "不存在{1}",
        "has": "有{0}",
        "not_has": "没有{1}",
        "true": "{0}为真",
        "not_true": "{0}为假",
        "raw": "{0}",
        "not_raw": "并非{0}",
        "same_as_outer": "{0}相同",
        "eq_outer": "{0}等于该{1}的{2}",
    }

    # -- names -----------------------------------------------------------------------------------

    def identifier_words(self, identifier: str, *, kind: str = "column", table: str | None = None) -> str:
        if kind == "cte" or (kind == "table" and identifier.lower() in self.query_names):
            return MARK.format(identifier)  # a name the query makes up ("WITH old AS ..."): shown as written
        kind = "column" if kind == "alias" else kind
        if table is None and kind == "column" and len(self.facts.tables) == 1:
            table = self.facts.tables[0]  # INSERT INTO users (name): the statement's one table
        return translate_identifier(identifier, kind=kind, table=table)

    @functools.cached_property
    def query_names(self) -> frozenset[str]:
        """The CTE names of the statement: not schema words, so never translated."""
        return frozenset(c.lower() for c in self.facts.ctes)

    def noun(self, table: str | None, many: bool = True) -> str:
        return self.table_name(table) if table else self.PHRASES["rows"]

    def many(self, words: str) -> str:
        return words

    def compared_value(self, left: exp.Expression, right: exp.Expression) -> str:
        # A number compared with a person's age reads with its unit: 年龄大于18岁.
        value = self.operand(right)
        if isinstance(left, exp.Column) and isinstance(right, exp.Literal) and not right.is_string:
            unit = value_unit(
                left.name,
                table=self.scopes.table_of(left) or (self.facts.tables[0] if len(self.facts.tables) == 1 else None),
            )
            if unit:
                return value + unit
        return value

    def grain_noun(self, table: str) -> str:
        # "has_pet" rows are pets (had by someone).
        words = humanize(table).split()
        if len(words) > 1 and words[0] in ("has", "have", "owns") and self.schema is None:
            return translate_identifier("_".join(words[1:]), kind="table")
        return self.noun(table)

    def link_words(self, link_table: str, far: str, rows: str) -> str:
        if humanize(link_table).split()[0] in ("has", "have", "owns"):  # has_pet: 有宠物
            return self.PHRASES["has_rows"].format(rows)
        return self.PHRASES["linked"].format(far=rows, link=self.table_name(link_table))

    def rows_with(self, noun: str, cond: Cond) -> str:
        return f"{self.filter_words(cond)[1]}的{noun}"

    def finish(self, text: str) -> str:
        text = text.strip()
        return text if not text or text[-1] in "。？！.?!" else text + "。"

    def size(self, text: str) -> int:
        """About two Chinese characters make a word; an identifier or number kept as written is one."""
        return len(_CJK.findall(text)) // 2 + len(_ASCII_WORD.findall(text))

    def join_list(self, items: list[str], last: str | None = None) -> str:
        items = [i for i in items if i]
        if len(items) <= 1:
            return items[0] if items else ""
        return "、".join(items[:-1]) + (last if last is not None else "和") + items[-1]

    # -- sentence pieces ----------------------------------------------------------------------------

    def relation_words(self, relation: str) -> str:
        return relation

    def lead_words(self, lead: str, words: str) -> str:
        return words

    def filter_words(self, cond: Cond) -> tuple[str, str]:
        return "where", self.condition_words(cond, filter_form=False, depth=0)

    def where_words(self, p: SelectPlan) -> str:
        return f"{self.filter_words(p.where)[1]}的" if p.where is not None else ""

    def order_words(self, keys: list[OrderKey]) -> str:
        parts = []
        for key in keys:
            phrase = f"{key.phrase}的数量" if key.kind == "count" else key.phrase
            parts.append(f"按{phrase}{'降序' if key.descending else '升序'}")
        return "，再".join(parts) + "排列"

    def superlative(self, key: OrderKey) -> str:
        if key.kind == "count":
            return f"{key.phrase}数量{'最多' if key.descending else '最少'}"
        return f"{key.phrase}{'最高' if key.descending else '最低'}"

    def tail(self, p: SelectPlan, order: bool = True) -> str:
        text = ""
        for note in p.notes:
            text += "，" + note
        if p.grouping:
            text += "，" + p.grouping
        if p.having is not None:
            text += f"，只保留{self.filter_words(p.having)[1]}的组"
        if order and p.order:
            text += "，" + self.order_words(p.order)
        if p.limit:
            if p.limit_given:
                text += "，只显示给定数量的行"
            else:
                text += f"，只显示前{p.limit}个" if order and p.order else f"，只显示{p.limit}行"
        if p.offset:
            text += "，跳过给定数量的行" if p.offset_given else self.PHRASES["offset"].format(p.offset)
        return text

    def subject_words(self, p: SelectPlan) -> str:
        """The rows with their relations: "有宠物的学生" (grouped by their own key: "每个学生")."""
        return "".join(r + "的" for r in p.relations) + ("每个" if p.per_subject else "") + p.subject

    def columns_words(self, p: SelectPlan) -> str:
        cols = self.join_list(self.clip_list(p.columns, "columns"))
        return ("不同的" + cols) if p.distinct else cols

    def body(self, p: SelectPlan) -> str:
        """The noun phrase of a SELECT without its ordering: "年龄大于18的学生的名字"."""
        where = self.where_words(p)
        subject = self.subject_words(p)
        if p.count_only:
            return f"{where}{p.counted}的数量"
        if p.group and p.keys_selected:
            aggs = [c for c, a in zip(p.columns, p.is_aggregate) if a]
            keys = ("不同的" if p.distinct else "") + "每个" + self.join_list(p.group)
            if not aggs:
                return f"{where}{subject}中的{keys}"
            return f"{where}{subject}中{keys}的{self.join_list(aggs)}"
        group = f"按{self.join_list(p.group)}分组的" if p.group else ""
        return f"{where}{group}{subject}的{self.columns_words(p)}"

    def compose_top(self, p: SelectPlan) -> str:
        key = p.order[0]
        rest = self.rest(p)
        where = self.where_words(p)
        subject = self.subject_words(p.but(per_subject=False))  # "the one with the most": not "each"
        group = f"按{self.join_list(p.group)}分组后" if p.group else ""
        if p.limit_one:
            if p.group and p.keys_selected:
                scope = "" if p.subject_is_counted and key.kind == "count" else f"{subject}中"
                return f"{where}{scope}{self.superlative(key)}的{self.columns_words(p)}{self.tail(rest)}"
            return f"{where}{group}{self.superlative(key)}的{subject}的{self.columns_words(p)}{self.tail(rest)}"
        count = "若干个（数量由参数给定）" if p.limit_given else f"{p.limit}个"
        if p.offset:  # LIMIT n OFFSET m: the rows after the first m
            rest = rest.but(offset=None, offset_given=False)
            skipped = "若干个" if p.offset_given else f"{p.offset}个"
            return (
                f"{where}{group}{subject}中{self.order_words([key])}、跳过前{skipped}之后的{count}的"
                f"{self.columns_words(p)}{self.tail(rest)}"
            )
        return (
            f"{where}{group}{subject}中{self.order_words([key])}的前{count}的{self.columns_words(p)}{self.tail(rest)}"
        )

    def rest(self, p: SelectPlan) -> SelectPlan:
        return p.but(order=p.order[1:], limit=None, limit_given=False, group=[])

    def compose_select(self, p: SelectPlan) -> str:
        question = self.options.style == "question"
        if p.no_from:
            return f"计算{self.columns_words(p)}{self.tail(p)}"
        if p.constants_only and not p.order:
            return self.PHRASES["for_each_row"].format(self.columns_words(p), self.where_words(p) + p.subject)
        if p.order and p.limit:
            return "查询" + self.compose_top(p)
        if p.count_only and not p.order and not p.limit:
            if question:
                return f"{self.where_words(p)}{self.subject_words_counted(p)}有多少个{self.tail(p)}？"
            return f"统计{self.where_words(p)}{self.subject_words_counted(p)}的数量{self.tail(p)}"
        text = "查询" + self.body(p) + self.tail(p)
        return text + "是什么？" if question else text

    def subject_words_counted(self, p: SelectPlan) -> str:
        return "".join(r + "的" for r in p.relations) + p.counted

    def compose_set(self, node: exp.Expression, body: str) -> str:
        return f"查询{body}" + ("是什么？" if self.options.style == "question" else "")

    def compose_rows(self, p: SelectPlan) -> str:
        return f"{self.where_words(p)}{self.subject_words(p)}{self.tail(p)}"

    def compose_row(self, p: SelectPlan) -> tuple[str, str]:
        rows = self.compose_rows(p)
        return rows, rows

    def compose_noun(self, p: SelectPlan) -> str:
        if p.no_from:
            return self.columns_words(p)
        if p.order and p.limit:
            return self.compose_top(p)
        return self.body(p) + self.tail(p)


DESCRIBER = ChineseDescriber
