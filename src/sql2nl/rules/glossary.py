"""Schema words in Chinese, behind one function (:func:`zh_words`).

A stand-in until the reviewed glossary (``sql2nl.rules.glossary_zh``) lands: a handful of
common words; anything else stays as the humanized identifier.
"""

from __future__ import annotations

from functools import lru_cache

from ..words import humanize, singular

_WORDS = {
    "name": "姓名", "age": "年龄", "user": "用户", "order": "订单", "price": "价格", "date": "日期", "city": "城市",
    "country": "国家", "student": "学生", "customer": "客户", "product": "产品", "employee": "员工",
    "salary": "薪水", "department": "部门", "email": "邮箱", "status": "状态", "amount": "金额", "total": "总额",
    "title": "标题", "year": "年份",
}


@lru_cache(maxsize=65536)
def zh_words(identifier: str) -> str:
    """The Chinese words for a table or column name, or the humanized identifier when unknown."""
    words = humanize(identifier)
    return _WORDS.get(words) or _WORDS.get(singular(words)) or words
