"""Reading the describer's golden files: ``tests/fixtures/describe_<language>/*.txt``.

Each case is optional ``-- key: value`` lines (``dialect``, ``style``, ``detail``, ``warns``), the
SQL (one or more lines), then the expected text on lines starting with ``=> `` (several such lines
for a multi-line outline). ``#`` lines are comments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Case:
    file: str
    sql: str
    expected: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def kwargs(self) -> dict[str, str]:
        return {k: v for k, v in self.options.items() if k in ("dialect", "style", "detail")}

    def __str__(self) -> str:
        opts = " ".join(f"{k}={v}" for k, v in self.options.items())
        return f"[{self.file}{' ' + opts if opts else ''}] {self.sql}"


def cases(language: str) -> list[Case]:
    out = []
    for path in sorted((FIXTURES / f"describe_{language}").glob("*.txt")):
        options: dict[str, str] = {}
        sql: list[str] = []
        expected: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines() + [""]:
            if line.startswith("=> "):
                expected.append(line[3:])
                continue
            if expected:
                out.append(Case(path.stem, "\n".join(sql), "\n".join(expected), options))
                options, sql, expected = {}, [], []
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("-- ") and ":" in line and not sql:
                key, value = line[3:].split(":", 1)
                options[key.strip()] = value.strip()
            else:
                sql.append(line)
    return out
