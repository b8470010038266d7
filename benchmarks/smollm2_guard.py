"""What the smollm2 model's faithfulness guard buys and costs, on validation statements with references.

    python benchmarks/smollm2_guard.py --data DIR/data/spider-db/valid.jsonl --limit 200 --json guard.json

For each statement (distinct ones, spread evenly over the file; every description of it is a reference):

* ``rules``: the rules describer;
* ``guard off``: ``describe(sql, model="smollm2", on_unfaithful="warn", candidates=1)``, the greedy
  answer as it is;
* ``guarded``: ``describe(sql, model="smollm2")`` with the model's default guard (best of 3 when the
  greedy answer is not complete by the checker, one more try, then the rules describer).

Reported: BLEU (all references, and one reference per pair), ROUGE-L and faithfulness for each
(sql2nl_training.evaluation.score, the metrics of ``sql2nl eval``); how often the greedy answer was
already faithful, how often the guard sampled more, retried, or answered with the rules describer;
answers generated per statement and seconds per statement with and without the guard.
``--json`` writes ``{"guard": {...}}`` for ``build_adapter.py --metrics``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(
    os.environ.get("SQL2NL_SPIDER_DIR")
    or next(
        (p / "shared/data/spider_s2t" for p in ROOT.parents if (p / "shared/data/spider_s2t").is_dir()), "spider_s2t"
    )
)
GUARD_OFF = {"on_unfaithful": "warn", "candidates": 1}  # the greedy answer, as it is


def spread(items: list, limit: int) -> list:
    """``limit`` items spread evenly over ``items`` (all of them when there are fewer)."""
    step = max(1, len(items) // max(limit, 1))
    return items[::step][:limit]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=DATA / "valid.jsonl",
        help="validation pairs (the by-database split's valid.jsonl for unseen databases)",
    )
    ap.add_argument("--limit", type=int, default=200, help="distinct statements to describe")
    ap.add_argument("--json", type=Path, help="write {'guard': {...}} here (build_adapter.py --metrics)")
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from sql2nl import describe
    from sql2nl_training.data import load_pairs
    from sql2nl_training.evaluation import group_references, score

    sqls, refs, langs = group_references(load_pairs(args.data).pairs)
    keep = spread(list(range(len(sqls))), args.limit)
    sqls, refs, langs = [sqls[i] for i in keep], [refs[i] for i in keep], [langs[i] for i in keep]
    describe(sqls[0], model="smollm2", cache=False)  # load once, outside the timings
    texts: dict[str, list[str]] = {"rules": [], "guard_off": [], "guarded": []}
    seconds = {"guard_off": 0.0, "guarded": 0.0}
    guards = []
    for sql, lang in tqdm(list(zip(sqls, langs)), desc="rules, guard off, guarded", unit="stmt", file=sys.stderr):
        texts["rules"].append(describe(sql, language=lang, backend="rules").text)
        t = time.perf_counter()
        texts["guard_off"].append(describe(sql, language=lang, model="smollm2", cache=False, **GUARD_OFF).text)
        seconds["guard_off"] += time.perf_counter() - t
        t = time.perf_counter()
        d = describe(sql, language=lang, model="smollm2", cache=False)
        seconds["guarded"] += time.perf_counter() - t
        texts["guarded"].append(d.text)
        guards.append(d.guard or {})
    n = len(sqls)
    rows = {k: score(sqls, v, refs, langs) for k, v in texts.items()}
    report = {
        "guard": {
            **rows,
            "n": n,
            "data": str(args.data),
            "first_answer_faithful": round(sum(1 for g in guards if g.get("first_faithfulness", 0) >= 1.0) / n, 4),
            "sampled_more": round(sum(1 for g in guards if g.get("candidates", 1) > 1) / n, 4),
            "retried": round(sum(1 for g in guards if g.get("retries")) / n, 4),
            "mended": round(sum(1 for g in guards if g.get("mended")) / n, 4),
            "fell_back_to_rules": round(sum(1 for g in guards if g.get("fell_back")) / n, 4),
            "answers_per_statement": round(sum(g.get("candidates", 1) for g in guards) / n, 2),
            "seconds_per_statement": {k: round(v / n, 3) for k, v in seconds.items()},
            "bleu_single_vs_rules": round(rows["guarded"]["bleu_single"] / max(rows["rules"]["bleu_single"], 1e-9), 2),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "samples": [
                {"sql": s, "rules": r, "guard_off": o, "guarded": g}
                for s, r, o, g in list(zip(sqls, texts["rules"], texts["guard_off"], texts["guarded"]))[:8]
            ],
        }
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
