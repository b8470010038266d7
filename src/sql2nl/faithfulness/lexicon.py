"""The words the checker reads meaning from, per language, as data.

Every direction word carries an **axis** and a **polarity** (+1 up, -1 down):

* ``mag``: any quantity ("more than", "highest", "descending"); the polarity is the SQL's.
* ``num``: the number itself ("maximum", "min", "largest", "最大"): like ``mag``, and also for a
  rank, where "the highest rank" is ambiguous (rank 1 is the highest) but "the largest rank" is not.
* ``time``: points in time ("after", "latest", "newest first"); up = a later value. It applies to
  dates and years, and to other numbers the way "after rank 5" does, but not to ages.
* ``age``: how old a thing is ("older than", "youngest"). On an age column up means a higher
  age; on a date or year column (a birth date, the year a film came out) an older thing has the
  *smaller* value, so the polarity turns over there. On other columns these words say nothing.

So "oldest" is right for ``max(age)`` and for ``min(birth_date)``, and "youngest" is wrong for
both; "latest" is right for ``max(release_date)``. No list holds a word of the opposite meaning.
Comparisons also carry **inclusiveness** (``True``: "at least", "or more"; ``False``: "more
than"; ``None``: the word does not say, as "since 2020" or Chinese "以上").

Phrases are written as a person would; :func:`index` turns them into the same token form as the
text (singular stems), so "starts with" also matches "start with".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .tokens import phrase_tokens, stem

UP, DOWN = 1, -1
# Statement kinds a verb is compatible with.
_SELECT = frozenset({"select", "values"})
_DELETE = frozenset({"delete", "truncate", "drop", "alter", "merge"})
_UPDATE = frozenset({"update", "merge", "alter", "insert"})
_INSERT = frozenset({"insert", "merge", "alter", "create"})
_CREATE = frozenset({"create", "insert"})
_DROP = frozenset({"drop", "alter", "delete", "truncate"})
_TRUNCATE = frozenset({"truncate", "delete"})
_ALTER = frozenset({"alter"})
_MERGE = frozenset({"merge", "insert", "update"})


_MOST_NUMBER = "largest number, highest number, most number, greatest number, biggest number, maximum number"
_LEAST_NUMBER = "smallest number, lowest number, least number, fewest number, minimum number"


def _w(text: str, value: Any) -> dict[str, Any]:
    return {p.strip(): value for p in text.split(",") if p.strip()}


EN: dict[str, dict[str, Any]] = {
    # comparison before its value: "more than 18", "older than 18", "after 2020"
    "cmp": {
        **_w(
            "more than, greater than, larger than, bigger than, higher than, above, over, exceeding, exceeds, "
            "exceed, exceeded, in excess of, upwards of, beyond, longer than, heavier than, taller than, "
            "wider than, deeper than, more expensive than, costlier than, pricier than, richer than, "
            "farther than, further than, hotter than, warmer than",
            ("mag", UP, False),
        ),
        **_w(
            "at least, no less than, not less than, no fewer than, not fewer than, a minimum of, minimum of, "
            "greater than or equal to, more than or equal to, larger than or equal to, higher than or equal to, "
            "bigger than or equal to, greater or equal to, equal to or greater than, equal to or more than, "
            "equal to or higher than, equal to or larger than, equal or greater than, at or above, on or above, "
            "on and above, or above, no lower than, not lower than, no smaller than, not smaller than, "
            "not below, not under, no shorter than, no cheaper than",
            ("mag", UP, True),
        ),
        **_w(
            "less than, fewer than, smaller than, lower than, below, under, beneath, shorter than, "
            "lighter than, cheaper than, less expensive than, narrower than, closer than, nearer than, "
            "colder than, cooler than, shallower than, poorer than",
            ("mag", DOWN, False),
        ),
        **_w(
            "at most, no more than, not more than, no greater than, not greater than, no higher than, "
            "not higher than, no larger than, not larger than, no bigger than, not above, not over, "
            "not exceeding, not exceed, up to, a maximum of, maximum of, less than or equal to, "
            "lower than or equal to, smaller than or equal to, fewer than or equal to, less or equal to, "
            "equal to or less than, equal to or lower than, equal to or smaller than, equal or less than, "
            "at or below, on or below, or below, no longer than, no more expensive than",
            ("mag", DOWN, True),
        ),
        **_w("after, later than, newer than, more recent than", ("time", UP, False)),
        **_w("since, starting from", ("time", UP, None)),
        **_w("on or after, no earlier than, not earlier than, not before, at or after", ("time", UP, True)),
        **_w("before, earlier than, prior to, sooner than", ("time", DOWN, False)),
        **_w("until, till, up until", ("time", DOWN, None)),
        **_w(
            "on or before, no later than, not later than, not after, at or before, by the end of", ("time", DOWN, True)
        ),
        **_w("as long as, as much as, as many as, as high as, as large as, as big as, as great as", ("mag", UP, None)),
        **_w("older than, elder than", ("age", UP, False)),
        **_w("younger than", ("age", DOWN, False)),
        **_w("no older than, not older than", ("age", DOWN, True)),
        **_w("no younger than, not younger than", ("age", UP, True)),
    },
    # a comparative whose "than" comes later: "more point values than 70"
    "cmp_bare": {
        **_w(
            "more, greater, larger, bigger, higher, longer, heavier, taller, wider, deeper, costlier, pricier, "
            "richer, hotter, warmer",
            ("mag", UP, False),
        ),
        **_w(
            "less, fewer, smaller, lower, shorter, lighter, cheaper, narrower, colder, cooler, poorer",
            ("mag", DOWN, False),
        ),
        **_w("later, newer", ("time", UP, False)),
        **_w("earlier", ("time", DOWN, False)),
        **_w("older, elder", ("age", UP, False)),
        **_w("younger", ("age", DOWN, False)),
    },
    # comparison after its value: "18 or more", "2001 or before", "32 or older"
    "cmp_after": {
        **_w(
            "or more, or greater, or higher, or above, or over, and above, and over, and up, and higher, "
            "and more, or larger, or bigger, or longer, plus, and beyond, at least, or up",
            ("mag", UP, True),
        ),
        **_w(
            "or less, or fewer, or lower, or below, or under, and below, and under, and less, and fewer, "
            "or smaller, or shorter, and lower, at most",
            ("mag", DOWN, True),
        ),
        **_w(
            "or later, and later, or after, onwards, onward, or newer, and after, on or after, or more recent",
            ("time", UP, True),
        ),
        **_w("or earlier, and earlier, or before, and before, or sooner", ("time", DOWN, True)),
        **_w("or older, and older", ("age", UP, True)),
        **_w("or younger, and younger", ("age", DOWN, True)),
    },
    # superlatives: what a min/max or a top-n ordering says ("first"/"last" only for aggregates)
    "sup": {
        **_w("maximum, max, maximal, maxium, maximun, maximum number, maximum value, largest, biggest", ("num", UP)),
        **_w(
            "minimum, min, minimal, minumum, mininum, minimun, minimum number, minimum value, smallest", ("num", DOWN)
        ),
        **_w(
            "highest, greatest, most, longest, tallest, heaviest, widest, "
            "deepest, priciest, costliest, richest, farthest, furthest, hottest, warmest, busiest, "
            "most expensive, most common, most popular, most frequent, most frequently, "
            "most often, top most, topmost, " + _MOST_NUMBER,
            ("mag", UP),
        ),
        **_w(
            "lowest, least, fewest, shortest, lightest, cheapest, narrowest, "
            "shallowest, nearest, closest, coldest, coolest, poorest, rarest, least expensive, least common, "
            "least popular, least frequent, least often, " + _LEAST_NUMBER,
            ("mag", DOWN),
        ),
        **_w("latest, newest, most recent, most recently, last", ("time", UP)),
        **_w("earliest, least recent, first", ("time", DOWN)),
        **_w("oldest, eldest", ("age", UP)),
        **_w("youngest", ("age", DOWN)),
    },
    # an ordering's direction
    "order": {
        **_w(
            "descending, decreasing, descend, desc, high to low, highest to lowest, largest to smallest, "
            "biggest to smallest, greatest to least, greatest to smallest, most to least, most to fewest, "
            "more to less, reverse alphabetical, reverse alphabetically, reverse alphabetic, z to a, "
            "longest to shortest, highest first, largest first, biggest first, most first, decreasingly, "
            "descendingly, big to small, large to small, high to the low, most to the least",
            ("mag", UP),
        ),
        **_w(
            "ascending, increasing, ascend, asc, low to high, lowest to highest, smallest to largest, "
            "smallest to biggest, least to most, fewest to most, less to more, alphabetical, alphabetically, "
            "alphabetic, a to z, shortest to longest, lowest first, smallest first, cheapest first, "
            "fewest first, least first, increasingly, ascendingly, small to big, small to large",
            ("mag", DOWN),
        ),
        **_w(
            "newest to oldest, latest to earliest, most recent to oldest, newest first, latest first, "
            "most recent first, recent first, most recent to least recent, later to earlier, new to old, "
            "reverse chronological, reverse chronologically",
            ("time", UP),
        ),
        **_w(
            "oldest to newest, earliest to latest, oldest to most recent, earliest first, "
            "chronological, chronologically, earlier to later, old to new",
            ("time", DOWN),
        ),
        **_w("oldest to youngest, oldest first, eldest first, old to young, older to younger", ("age", UP)),
        **_w("youngest to oldest, youngest first, young to old, younger to older", ("age", DOWN)),
    },
    "order_word": _w(
        "order, ordered, ordering, sort, sorted, sorting, arrange, arranged, rank, ranked, ranking, "
        "organized by, listed by",
        True,
    ),
    "neg": _w(
        "not, cannot, no, never, none, nobody, nothing, nowhere, without, neither, nor, except, excluding, "
        "exclude, "
        "excluded, excludes, other than, apart from, different from, different than, besides, non, lack, "
        "lacking, lacks, lacked, unless, but not, anything but, aside from, outside",
        True,
    ),
    # LIKE: the side a pattern fixes
    "like": {
        **_w(
            "start with, starting with, started with, begin with, beginning with, begun with, began with, "
            "prefix, prefixed with, start, begin, beginning, starting, start from, first letter, "
            "initial letter, initial, leading",
            "starts",
        ),
        **_w(
            "end with, ending with, ended with, ending in, end in, ended in, suffix, finish with, "
            "finishing with, end, ending, last letter, final letter, trailing",
            "ends",
        ),
        **_w(
            "contain, containing, contained, include, including, included, substring, inside, anywhere, "
            "part of, word, in it, somewhere in, within",
            "contains",
        ),
        **_w(
            "exactly, exact, precisely, literally, identical to, equal to, the same as, is equal to, named exactly",
            "exact",
        ),
    },
    # aggregates: which kinds a word can mean (count words also fit a sum: "how many points in total")
    "agg": {
        **_w("average, averaged, averaging, on average, mean, avg", frozenset({"avg"})),
        **_w("sum, summed, summing, add up, added up, adding up, sum up, summation", frozenset({"sum"})),
        **_w(
            "total, totals, totaled, totalled, combined, altogether, in total, in all, cumulative, all together",
            frozenset({"sum", "count"}),
        ),
        **_w("number of, how many, how much, count, counts, counted, counting, tally", frozenset({"count", "sum"})),
        **_w("number, many, " + _MOST_NUMBER + ", " + _LEAST_NUMBER, frozenset({"count", "sum"})),
    },
    "distinct": _w(
        "distinct, different, unique, no duplicate, without duplicate, without repetition, "
        "deduplicated, de duplicated, non duplicate, each only once, only once each, various, "
        "no repeat, without repeat, no repetition",
        True,
    ),
    "duplicates": _w(
        "including duplicate, with duplicate, keeping duplicate, keep duplicate, duplicate included, "
        "allowing duplicate, with repetition, all occurrence, duplicates kept, duplicates allowed, "
        "even duplicate, repeated value",
        True,
    ),
    "distinct_strong": _w(
        "distinct, no duplicate, without duplicate, deduplicated, de duplicated, without repetition, no repetition",
        True,
    ),
    "group": _w(
        "each, every, per, for all, grouped, group, grouping, respective, respectively, broken down by, "
        "for every, by each, individual, separately, different, various, their own, its own",
        True,
    ),
    "union": _w(
        "or, either, union, together with, as well as, along with, plus, combined with, in addition to, "
        "also, and, any of, combine, together, both, all",
        True,
    ),
    "union_strong": _w("either, or, union, any of", True),
    "intersect": _w(
        "both, and also, also, in common, intersect, intersection, at the same time, simultaneously, "
        "as well as, and, too, common, shared, share, in both, not only, but also",
        True,
    ),
    "intersect_strong": _w(
        "in common, intersect, intersection, at the same time, simultaneously, in both, common to", True
    ),
    "quantifier": _w("any, all, every, some, each, anyone, anything", True),
    "limit_lead": _w("top, first, limit, limited to, at most", True),
    "verb": {
        **_w(
            "show, list, find, get, display, return, give, tell, retrieve, fetch, select, count, compute, "
            "calculate, what, which, who, whom, whose, how, where, when, why, is, are, was, were, do, does, "
            "did, has, have, name, identify, report, provide, output, print, view, see, determine, sort, "
            "order, rank, search, query, obtain, extract, pull, enumerate, summarize, produce, locate, "
            "gather, collect, look, lookup, look up, add up, sum up, work out, figure out, describe, "
            "present, read, check, answer, tally, measure, compare, group, pick, choose",
            _SELECT,
        ),
        **_w(
            "delete, remove, erase, purge, wipe, eliminate, discard, get rid of, expunge, delete from, remove from",
            _DELETE,
        ),
        **_w(
            "update, set, change, modify, edit, increase, decrease, raise, reduce, increment, decrement, "
            "rename, mark, correct, adjust, overwrite, assign, multiply, double, replace, lower, bump",
            _UPDATE,
        ),
        **_w(
            "insert, add, record, register, store, append, enter, save, put, copy, load, populate, write, "
            "archive, duplicate into",
            _INSERT,
        ),
        **_w("create, make, build, define, establish, set up, declare", _CREATE),
        **_w("drop, destroy", _DROP),
        **_w("truncate, empty, clear", _TRUNCATE),
        **_w("alter", _ALTER),
        **_w("merge, upsert, sync, synchronize, synchronise", _MERGE),
    },
    # said before the main verb: "This query will delete ...", "Please list ..."
    "filler": _w(
        "please, kindly, can, could, would, will, shall, should, must, you, i, we, want, need, like, to, "
        "let, us, me, just, also, then, now, this, the, that, it, query, statement, sql, code, "
        "operation, command, here, so, and, simply, go, ahead, help, a, an, following, below, above, "
        "script, s, d, m, ll, ve, re",
        True,
    ),
    # words that look like direction words but are names or idioms
    "neutral": _w(
        "first name, last name, full name, middle name, given name, family name, first names, "
        "last names, at first, at last, first of all, last but not least, top level, best, worst, "
        "number one, not only, top, whether or not, or not, more or less, at all",
        True,
    ),
}

ZH: dict[str, dict[str, Any]] = {
    "cmp": {
        **_w("大于, 超过, 高于, 多于, 超出, 长于, 重于, 贵于, 胜过, 比大, 大过, 多过, 高过", ("mag", UP, False)),
        **_w("至少, 不少于, 不低于, 不小于, 大于等于, 大于或等于, 不下于, 起码, 最少, 最低", ("mag", UP, True)),
        **_w("小于, 低于, 少于, 不到, 不足, 未满, 短于, 轻于, 便宜于, 未达, 小过, 少过, 低过", ("mag", DOWN, False)),
        **_w(
            "至多, 不超过, 不多于, 不高于, 不大于, 小于等于, 小于或等于, 最多, 最高, 顶多, 不超出", ("mag", DOWN, True)
        ),
        **_w("晚于, 迟于, 在之后", ("time", UP, False)),
        **_w("不早于", ("time", UP, True)),
        **_w("早于, 先于, 在之前", ("time", DOWN, False)),
        **_w("不晚于, 不迟于", ("time", DOWN, True)),
        **_w("年长于, 老于", ("age", UP, False)),
        **_w("年轻于", ("age", DOWN, False)),
    },
    "cmp_after": {
        **_w("以上", ("mag", UP, None)),
        **_w("及以上, 或以上, 或更多, 或更高, 及更多, 或者更多, 或者以上", ("mag", UP, True)),
        **_w("以下, 以内, 之内", ("mag", DOWN, None)),
        **_w("及以下, 或以下, 或更少, 或更低, 或者更少, 或者以下", ("mag", DOWN, True)),
        **_w("之后, 以后, 后, 之后的, 以后的", ("time", UP, False)),
        **_w("以来, 起, 开始", ("time", UP, None)),
        **_w("及以后, 或以后, 或之后", ("time", UP, True)),
        **_w("之前, 以前, 前", ("time", DOWN, False)),
        **_w("及以前, 或以前, 或之前", ("time", DOWN, True)),
    },
    "sup": {
        **_w("最大, 最大值", ("num", UP)),
        **_w("最小, 最小值", ("num", DOWN)),
        **_w(
            "最高, 最多, 最长, 最贵, 最重, 最宽, 最深, 最远, 最热, 最常见, 最受欢迎, 最频繁, 最高值, 最富", ("mag", UP)
        ),
        **_w("最低, 最少, 最短, 最便宜, 最轻, 最窄, 最浅, 最近距离, 最冷, 最罕见, 最低值", ("mag", DOWN)),
        **_w("最晚, 最新, 最近, 最后, 最迟", ("time", UP)),
        **_w("最早, 最旧, 最先, 第一个", ("time", DOWN)),
        **_w("最老, 最年长, 年纪最大, 年龄最大", ("age", UP)),
        **_w("最年轻, 年纪最小, 年龄最小", ("age", DOWN)),
    },
    "order": {
        **_w(
            "降序, 倒序, 逆序, 从高到低, 由高到低, 从大到小, 由大到小, 从多到少, 由多到少, 递减, 从长到短", ("mag", UP)
        ),
        **_w(
            "升序, 正序, 从低到高, 由低到高, 从小到大, 由小到大, 从少到多, 由少到多, 递增, 字母顺序, 按字母, "
            "字母表顺序, 从短到长",
            ("mag", DOWN),
        ),
        **_w("从新到旧, 从晚到早, 从近到远, 由新到旧, 由晚到早, 最新的在前, 最近的在前", ("time", UP)),
        **_w("从旧到新, 从早到晚, 由旧到新, 由早到晚, 时间顺序, 最早的在前", ("time", DOWN)),
        **_w("从老到年轻, 从年长到年轻, 年龄从大到小", ("age", UP)),
        **_w("从年轻到年长, 从年轻到老, 年龄从小到大", ("age", DOWN)),
    },
    "order_word": _w("排序, 排列, 顺序, 排名, 依次", True),
    "neg": _w("不, 没有, 没, 非, 无, 未, 除了, 除, 排除, 以外, 并非, 不是, 不包括, 不含, 除外, 之外, 不在", True),
    "like": {
        **_w("开头, 开始, 打头, 起头, 前缀, 开头是, 首字母", "starts"),
        **_w("结尾, 结束, 收尾, 后缀, 结尾是, 末尾", "ends"),
        **_w("包含, 含有, 包括, 含, 带有, 中有, 里有, 出现", "contains"),
        **_w("恰好, 正好, 完全等于, 就是, 精确, 完全是", "exact"),
    },
    "agg": {
        **_w("平均, 均值, 平均值, 平均数", frozenset({"avg"})),
        **_w("总和, 之和, 求和, 相加, 加起来, 加总", frozenset({"sum"})),
        **_w("总, 合计, 总计, 一共, 共, 总共, 累计", frozenset({"sum", "count"})),
        **_w("数量, 数目, 个数, 多少, 计数, 总数, 几, 人数, 次数, 条数", frozenset({"count", "sum"})),
    },
    "distinct": _w("不同, 去重, 唯一, 不重复, 各不相同, 互不相同, 去除重复, 删除重复, 各种", True),
    "duplicates": _w("保留重复, 包括重复, 含重复, 包含重复, 允许重复, 重复的也", True),
    "distinct_strong": _w("去重, 不重复, 去除重复, 删除重复", True),
    "group": _w("每, 各, 按, 分组, 分别, 每个, 各个, 每一, 各自", True),
    "union": _w("或, 或者, 以及, 并集, 加上, 还有, 及, 和, 与, 或是, 要么, 合并, 都", True),
    "union_strong": _w("或, 或者, 并集, 要么, 或是", True),
    "intersect": _w("同时, 既, 并且, 又, 都, 交集, 也, 而且, 和, 且, 共同", True),
    "intersect_strong": _w("交集, 同时, 既, 共同", True),
    "quantifier": _w("任何, 所有, 任一, 任意, 某个, 某些, 每个, 全部", True),
    "limit_lead": _w("前, 只显示, 只取, 仅显示", True),
    "verb": {
        **_w(
            "查询, 列出, 显示, 找出, 找到, 查找, 给出, 返回, 获取, 统计, 计算, 求, 哪些, 哪个, 哪位, 哪, 什么, "
            "多少, 谁, 几, 是否, 列举, 展示, 检索, 选出, 查看, 告诉, 输出, 罗列, 搜索, 选择, 获得, 得到, 提供",
            _SELECT,
        ),
        **_w("删除, 移除, 清除, 删掉, 去掉, 去除, 剔除", _DELETE),
        **_w("更新, 修改, 更改, 设置, 设为, 改为, 改成, 调整, 提高, 降低, 替换, 置为, 设置为, 重命名", _UPDATE),
        **_w("插入, 添加, 新增, 加入, 录入, 增加, 写入, 追加, 存入, 复制到", _INSERT),
        **_w("创建, 新建, 建立", _CREATE),
        **_w("丢弃, 销毁", _DROP),
        **_w("清空, 截断", _TRUNCATE),
        **_w("合并, 同步", _MERGE),
    },
    "filler": {},
    "neutral": _w(
        "更新时间, 更新日期, 创建时间, 创建日期, 添加时间, 修改时间, 新增时间, 满足, 不同意, 无论, 非常, "
        "未来, 前者, 后者, 除以, 除法, 整除, 平均分成, 平均分为, 平均分配, 最后一个字母, 第一个字母, "
        "增加了, 不仅, 而不是",
        True,
    ),
}


def sign(axis: str, pol: int, kind: str, extreme: bool = False) -> int | None:
    """The direction a word gives a column of ``kind`` (None: the word says nothing about it).

    ``extreme``: the word picks a min/max or an ordering ("highest"), not a compared number;
    for a rank that is ambiguous (the highest rank is rank 1)."""
    if axis == "num":
        return pol
    if kind == "rank":
        return None if extreme else (pol if axis != "age" else None)
    if axis == "mag":
        return pol
    if axis == "time":
        return None if kind in ("age", "count") else pol
    if kind == "age":
        return pol
    return -pol if kind == "time" else None


LEXICONS = {"en": EN, "zh": ZH}
#: Categories whose phrases compete in one left-to-right pass (longest phrase wins), so "at least"
#: is a comparison and not the superlative "least", and "no more than" is not a negation.
SEGMENTED = (
    "cmp",
    "cmp_after",
    "cmp_bare",
    "sup",
    "order",
    "order_word",
    "neg",
    "like",
    "agg",
    "distinct",
    "duplicates",
    "group",
    "union",
    "intersect",
    "quantifier",
    "limit_lead",
    "verb",
    "neutral",
    "filler",
    "union_strong",
    "intersect_strong",
    "distinct_strong",
)


@lru_cache(maxsize=4)
def index(language: str) -> dict[str, list[tuple[int, dict[tuple[str, ...], dict[str, Any]]]]]:
    """``first token -> [(length, {phrase tokens: {category: value}})]``, longest phrases first."""
    lex = LEXICONS.get(language, EN)
    merged: dict[tuple[str, ...], dict[str, Any]] = {}
    for cat in SEGMENTED:
        entries = dict(lex.get(cat, {}))
        if cat == "cmp" and language != "zh":
            # "1500 or less than 500": the conjunction must not turn "less than" into "or less"
            entries.update({f"{c} {p}": v for p, v in lex["cmp"].items() for c in ("or", "and")})
        if cat == "order" and language != "zh":
            # "from the oldest to the youngest"
            entries.update({p.replace(" to ", " to the "): v for p, v in lex["order"].items() if " to " in p})
            entries.update({"the " + p.replace(" to ", " to the "): v for p, v in lex["order"].items() if " to " in p})
        for phrase, value in entries.items():
            toks = phrase_tokens(phrase, language)
            if not toks:
                continue
            forms = [toks]
            if language != "zh" and cat == "verb" and len(toks) == 1:
                forms = [(f,) for f in inflections(toks[0])]
            for form in forms:
                merged.setdefault(form, {})[cat] = value
    # first token -> [(length, {tokens: tags})], longest first: one dict look-up per length tried
    by_first: dict[str, dict[int, dict[tuple[str, ...], dict[str, Any]]]] = {}
    for toks, tags in merged.items():
        by_first.setdefault(toks[0], {}).setdefault(len(toks), {})[toks] = tags
    return {first: sorted(by_len.items(), reverse=True) for first, by_len in by_first.items()}


def inflections(verb: str) -> set[str]:
    """The forms of an English verb a text may use: "delete" -> deletes, deleted, deleting..."""
    forms = {verb, verb + "s", verb + "es", verb + "ed", verb + "d", verb + "ing"}
    if verb.endswith("e"):
        forms |= {verb[:-1] + "ing", verb + "d"}
    if verb.endswith("y"):
        forms |= {verb[:-1] + "ied", verb[:-1] + "ies"}
    if len(verb) > 2 and verb[-1] not in "aeiouwy" and verb[-2] in "aeiou" and verb[-3] not in "aeiou":
        forms |= {verb + verb[-1] + "ed", verb + verb[-1] + "ing"}
    return {stem(f) for f in forms}
