"""Chinese wording (中文)."""

from __future__ import annotations

from .en import EnglishDescriber


class ChineseDescriber(EnglishDescriber):
    language = "zh"

    def select_text(self) -> str:
        f = self.facts
        cols = "、".join(self.name(s.column or s.sql, s.table) for s in f.selected if not s.star) or "所有列"
        text = f"查询{'、'.join(self.table_name(t) for t in f.tables)}的{cols}"
        for flt in f.filters:
            text += f"，条件为{self.name(flt.column or '')}{'不' if flt.negated else ''}{flt.op}{'、'.join(flt.values)}"
        return text + "。"

    def fallback_text(self) -> str:
        return f"对{'、'.join(self.facts.tables) or '数据库'}执行{self.facts.kind}语句。"


DESCRIBER = ChineseDescriber
