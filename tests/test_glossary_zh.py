"""Chinese names for schema identifiers (sql2nl.rules.glossary_zh) and their use by the zh describer."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from sql2nl import describe
from sql2nl.faithfulness import check
from sql2nl.rules.glossary_zh import MARK, translate, translate_identifier


@pytest.mark.parametrize(
    "name, table, words",
    [
        ("customer_id", None, "客户编号"),
        ("CustomerID", None, "客户编号"),
        ("name", "users", "姓名"),  # people have 姓名 ...
        ("name", "products", "名称"),  # ... things have 名称
        ("customer_name", "orders", "客户姓名"),
        ("product_name", "users", "产品名称"),
        ("created_at", None, "创建时间"),
        ("createdAt", None, "创建时间"),
        ("updated_by", None, "更新人"),
        ("is_active", None, "是否有效"),
        ("has_pets", None, "是否有宠物"),
        ("num_students", None, "学生数量"),
        ("number_of_rooms", None, "房间数量"),
        ("date_of_birth", None, "出生日期"),
        ("dob", None, "出生日期"),
        ("place_of_birth", None, "出生地"),
        ("Users", None, "用户"),
        ("order_items", None, "订单明细"),
        ("address_line1", None, "地址行1"),
        ("total_amount", None, "总金额"),
        ("total", None, "总计"),
        ("qty", None, "数量"),
        ("unit_price", None, "单价"),
        ("dept_name", None, "部门名称"),
        ("meter_100", None, "100米"),
        ("height", "people", "身高"),
        ("height", "buildings", "高度"),
        ('"firstName"', None, "名字"),
        ("名字", None, "名字"),
    ],
)
def test_identifiers_translate(name, table, words):
    t = translate(name, table=table)
    assert (t.text, t.complete) == (words, True)


@pytest.mark.parametrize("name", ["sku_xyz", "foo", "t", "x1", "lives_in"])
def test_unknown_identifiers_are_kept_as_written_and_marked(name):
    t = translate(name)
    assert (t.text, t.complete) == (MARK.format(name), False) == (f"「{name}」", False)
    assert translate_identifier(name) == f"「{name}」"


def test_seed_example_reads_as_chinese():
    d = describe("SELECT name, age FROM users WHERE age > 18", language="zh", cache=False)
    assert d.text == "查询年龄大于18岁的用户的姓名和年龄。"
    assert check(d.text, d.facts, language="zh").score == 1.0


def test_age_is_counted_in_years_only_for_people():
    assert "18岁" in describe("SELECT name FROM students WHERE age >= 18", language="zh", cache=False).text
    text = describe("SELECT name FROM buildings WHERE age > 18", language="zh", cache=False).text
    assert "18" in text and "岁" not in text


def test_schema_words_win_over_the_glossary():
    schema = {"users": {"description": "会员", "columns": {"name": "登录名"}}}
    d = describe("SELECT name FROM users", language="zh", schema=schema, cache=False)
    assert "登录名" in d.text and "会员" in d.text and "姓名" not in d.text and "用户" not in d.text


def test_query_made_up_names_are_not_translated():
    d = describe("WITH old AS (SELECT id FROM users) SELECT id FROM old", language="zh", cache=False)
    assert "「old」" in d.text and "旧" not in d.text


def test_checker_accepts_glossary_words_and_still_finds_what_is_missing():
    facts = describe("SELECT name, age FROM users", language="zh", cache=False).facts
    assert check("查询用户的姓名和年龄。", facts, language="zh").score == 1.0
    result = check("查询用户的年龄。", facts, language="zh")
    assert result.score < 1.0 and "column name" in result.missing


def test_glossary_file_is_well_formed():
    text = resources.files("sql2nl.rules").joinpath("data/glossary_zh.tsv").read_text(encoding="utf-8")
    entries = [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert len(entries) >= 1000
    keys = [e[0] for e in entries]
    assert len(keys) == len(set(keys))
    for e in entries:
        assert re.fullmatch(r"[a-z0-9]+( [a-z0-9]+)*", e[0]), e
        assert re.search(r"[\u4e00-\u9fff]", e[1]) or re.fullmatch(r"[A-Z0-9]+", e[1]), e
        for tag in e[2].split(",") if len(e) == 3 else []:
            assert tag in ("person", "measure") or tag.split("=")[0] in ("person", "alone", "unit"), e
