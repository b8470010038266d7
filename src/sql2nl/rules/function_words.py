"""The small words the function phrases are made of, per language: units, data types, time
formats, separators, ordinals (used by :mod:`sql2nl.rules.functions`)."""

from __future__ import annotations

from sqlglot import exp

from ..words import plural_phrase

WORDS = {
    "en": {
        "and": " and ",
        "comma": ", ",
        "or": " or ",
        "ordered": "{0} (in order of {1})",
        "fallback": "the result of {name}({args})",
        "fallback_op": "the result of {sql}",
        "element": "the {0} of {1}",
        "element_any": "element {0} of {1} (counting from 0)",
        "entry": "the {0} entry of {1}",
        "slice": "elements {0} to {1} of {2}",
        "field": "the {0} field",
        "median": "the median {0}",
        "percentile": "the {0} percentile of {1}",
        "discrete": " (an actual value)",
        "mode": "the most common {0}",
    },
    "zh": {
        "and": "和",
        "comma": "、",
        "or": "或",
        "ordered": "{0}（按{1}排序）",
        "fallback": "{name}({args})的结果",
        "fallback_op": "{sql}的结果",
        "element": "{1}的{0}",
        "element_any": "{1}中下标为{0}的元素（从0开始）",
        "entry": "{1}中{0}对应的值",
        "slice": "{2}中第{0}到第{1}个元素",
        "field": "{0}字段",
        "median": "{0}的中位数",
        "percentile": "{1}的第{0}百分位数",
        "discrete": "（取实际存在的值）",
        "mode": "{0}的众数",
    },
}

#: Canonical date part -> (en singular, en plural, zh noun, zh counter for amounts, zh count noun).
UNITS = {
    "YEAR": ("year", "years", "年份", "年", "年数"),
    "QUARTER": ("quarter", "quarters", "季度", "个季度", "季度数"),
    "MONTH": ("month", "months", "月份", "个月", "月数"),
    "WEEK": ("week", "weeks", "周", "周", "周数"),
    "WEEKISO": ("ISO week", "ISO weeks", "ISO周", "个ISO周", "ISO周数"),
    "DAY": ("day", "days", "日", "天", "天数"),
    "HOUR": ("hour", "hours", "小时", "小时", "小时数"),
    "MINUTE": ("minute", "minutes", "分钟", "分钟", "分钟数"),
    "SECOND": ("second", "seconds", "秒", "秒", "秒数"),
    "MILLISECOND": ("millisecond", "milliseconds", "毫秒", "毫秒", "毫秒数"),
    "MICROSECOND": ("microsecond", "microseconds", "微秒", "微秒", "微秒数"),
    "NANOSECOND": ("nanosecond", "nanoseconds", "纳秒", "纳秒", "纳秒数"),
    "DAYOFWEEK": ("day of the week", "days of the week", "星期几", "天", "天数"),
    "DAYOFWEEKISO": ("ISO day of the week", "ISO days of the week", "ISO星期几", "天", "天数"),
    "DAYOFYEAR": ("day of the year", "days of the year", "一年中的第几天", "天", "天数"),
    "DECADE": ("decade", "decades", "年代", "个十年", "十年数"),
    "CENTURY": ("century", "centuries", "世纪", "个世纪", "世纪数"),
    "MILLENNIUM": ("millennium", "millennia", "千年", "个千年", "千年数"),
    "EPOCH": ("seconds since 1970-01-01", "seconds since 1970-01-01", "距1970-01-01的秒数", "秒", "秒数"),
    "DATE": ("date", "dates", "日期", "天", "天数"),
    "TIME": ("time", "times", "时间", "", ""),
    "ISOYEAR": ("ISO year", "ISO years", "ISO年份", "年", "年数"),
    "TIMEZONE_HOUR": ("time zone hour", "time zone hours", "时区小时偏移", "小时", "小时数"),
    "TIMEZONE_MINUTE": ("time zone minute", "time zone minutes", "时区分钟偏移", "分钟", "分钟数"),
}

TYPES = {  # DType name -> (en, zh)
    **dict.fromkeys(
        (
            "TINYINT",
            "SMALLINT",
            "MEDIUMINT",
            "INT",
            "BIGINT",
            "INT128",
            "INT256",
            "UTINYINT",
            "USMALLINT",
            "UMEDIUMINT",
            "UINT",
            "UBIGINT",
            "UINT128",
            "UINT256",
            "SERIAL",
            "BIGSERIAL",
            "SMALLSERIAL",
            "BIT",
        ),
        ("a whole number", "整数"),
    ),
    **dict.fromkeys(
        (
            "DECIMAL",
            "DECIMAL32",
            "DECIMAL64",
            "DECIMAL128",
            "DECIMAL256",
            "BIGDECIMAL",
            "UDECIMAL",
            "DECFLOAT",
            "BIGNUM",
        ),
        ("a decimal number", "小数"),
    ),
    **dict.fromkeys(("FLOAT", "DOUBLE", "UDOUBLE"), ("a floating-point number", "浮点数")),
    **dict.fromkeys(("MONEY", "SMALLMONEY"), ("an amount of money", "金额")),
    **dict.fromkeys(
        (
            "CHAR",
            "VARCHAR",
            "NCHAR",
            "NVARCHAR",
            "TEXT",
            "TINYTEXT",
            "MEDIUMTEXT",
            "LONGTEXT",
            "BPCHAR",
            "FIXEDSTRING",
            "NAME",
        ),
        ("text", "文本"),
    ),
    **dict.fromkeys(("DATE", "DATE32"), ("a date", "日期")),
    **dict.fromkeys(
        (
            "DATETIME",
            "DATETIME2",
            "DATETIME64",
            "SMALLDATETIME",
            "TIMESTAMP",
            "TIMESTAMPTZ",
            "TIMESTAMPLTZ",
            "TIMESTAMPNTZ",
            "TIMESTAMP_S",
            "TIMESTAMP_MS",
            "TIMESTAMP_NS",
        ),
        ("a date and time", "日期时间"),
    ),
    **dict.fromkeys(("TIME", "TIMETZ", "TIME_NS"), ("a time of day", "时间")),
    "BOOLEAN": ("true or false", "布尔值"),
    "JSON": ("JSON", "JSON"),
    "JSONB": ("JSON", "JSON"),
    "UUID": ("a UUID", "UUID"),
    "INTERVAL": ("a time interval", "时间间隔"),
    "YEAR": ("a year", "年份"),
    **dict.fromkeys(
        ("BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "IMAGE", "ROWVERSION"),
        ("binary data", "二进制数据"),
    ),
    **dict.fromkeys(("ARRAY", "LIST"), ("a list", "数组")),
    "MAP": ("a map", "映射"),
    "STRUCT": ("a record", "结构体"),
    **dict.fromkeys(("VARIANT", "OBJECT", "SUPER", "DYNAMIC"), ("a semi-structured value", "半结构化值")),
    **dict.fromkeys(
        (
            "GEOGRAPHY",
            "GEOMETRY",
            "GEOGRAPHYPOINT",
            "POINT",
            "POLYGON",
            "MULTIPOLYGON",
            "LINESTRING",
            "MULTILINESTRING",
            "RING",
        ),
        ("a geographic shape", "地理数据"),
    ),
    **dict.fromkeys(("INET", "IPADDRESS", "IPV4", "IPV6"), ("an IP address", "IP地址")),
}

#: strftime tokens (sqlglot's normalised time format) -> how people write a date pattern.
FORMAT_TOKENS = {
    "%Y": "YYYY",
    "%y": "YY",
    "%m": "MM",
    "%-m": "M",
    "%d": "DD",
    "%-d": "D",
    "%H": "HH24",
    "%I": "HH12",
    "%M": "MI",
    "%S": "SS",
    "%f": "FFFFFF",
    "%B": "MONTH",
    "%b": "MON",
    "%A": "DAY",
    "%a": "DY",
    "%j": "DDD",
    "%p": "AM",
    "%W": "WW",
    "%U": "WW",
    "%V": "IW",
    "%u": "D",
    "%w": "D",
    "%z": "TZ",
    "%Z": "TZ",
    "%%": "%",
    "%h": "HH12",
    "%e": "D",
    "%T": "HH24:MI:SS",
    "%F": "YYYY-MM-DD",
    "%D": "MM/DD/YY",
}
ORDINALS_EN = {
    1: "first",
    2: "second",
    3: "third",
    4: "fourth",
    5: "fifth",
    6: "sixth",
    7: "seventh",
    8: "eighth",
    9: "ninth",
    10: "tenth",
}
SEPARATORS = {
    ",": ("commas", "逗号"),
    ", ": ("commas", "逗号"),
    ";": ("semicolons", "分号"),
    "; ": ("semicolons", "分号"),
    " ": ("spaces", "空格"),
    "": ("nothing in between", "空字符串"),
    "\n": ("line breaks", "换行符"),
    "\\n": ("line breaks", "换行符"),
    "-": ("hyphens", "连字符"),
    "/": ("slashes", "斜杠"),
    "\t": ("tabs", "制表符"),
    "\\t": ("tabs", "制表符"),
    "|": ("vertical bars", "竖线"),
    "_": ("underscores", "下划线"),
    ".": ("dots", "句点"),
    ":": ("colons", "冒号"),
}


def ordinal(n: int) -> str:
    """1 -> 'first', 12 -> '12th'."""
    return ORDINALS_EN.get(n) or number_suffix(str(n))


def number_suffix(number: str) -> str:
    """'21' -> '21st'."""
    n = int(number)
    end = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{number}{end}"


def type_words(dt: exp.DataType, language: str = "en") -> str:
    """A data type as words: INT -> "a whole number", VARCHAR(20) -> "text (at most 20 characters)"."""
    name = dt.this.name if hasattr(dt.this, "name") else str(dt.this)
    params = [
        p.this.this if isinstance(p, exp.DataTypeParam) and isinstance(p.this, exp.Literal) else None
        for p in dt.expressions
    ]
    words = TYPES.get(name)
    if words is None:
        sql = dt.sql().upper()
        return f"the type {sql}" if language == "en" else f"{sql}类型"
    en, zh = words
    if name in ("ARRAY", "LIST") and dt.expressions and isinstance(dt.expressions[0], exp.DataType):
        inner = type_words(dt.expressions[0], language)
        return f"a list of {_bare_type(inner)}" if language == "en" else f"{inner}数组"
    if en == "text" and params and params[0] is not None:
        return f"text (at most {params[0]} characters)" if language == "en" else f"文本（最多{params[0]}个字符）"
    if en == "a decimal number" and len(params) > 1 and params[1] is not None:
        return (
            f"a decimal number with {params[1]} decimal places" if language == "en" else f"保留{params[1]}位小数的数值"
        )
    return en if language == "en" else zh


def _bare_type(words: str) -> str:
    for article in ("a ", "an "):
        if words.startswith(article):
            return plural_phrase(words[len(article) :])
    return words
