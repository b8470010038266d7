"""Quality of the rules describer on Spider: errors, faithfulness per language, BLEU, worst examples.

    python benchmarks/rules_quality.py            # train + valid, en and zh
    python benchmarks/rules_quality.py --quick    # the first 300 of valid
    python benchmarks/rules_quality.py --split valid --worst 20
    python benchmarks/rules_quality.py --functions   # function calls per dialect (tests/fixtures)

The rules describer must score >= 0.99 mean faithfulness with 0 errors in both languages; sacreBLEU
of the English text against Spider's human descriptions is reported (aim >= 20). ``sqlglot_names``
counts the texts that contain a sqlglot class name ("datesub", "JSONExtract"), which no description
should; ``generic_functions`` counts those with a function described only as "the result of F(...)".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DATA = Path("/work/shared/data/spider_s2t")
FUNCTIONS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "functions_dialects.txt"


def load(split: str, limit: int | None) -> list[dict]:
    rows = []
    for s in ("train", "valid") if split == "all" else (split,):
        with open(DATA / f"{s}.jsonl", encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh]
    return rows[:limit] if limit else rows


def load_functions() -> list[dict]:
    """Function calls as data engineers write them, one per line: ``dialect | SQL | ...``."""
    rows = []
    for line in FUNCTIONS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            dialect, sql = (part.strip() for part in line.split(" | ")[:2])
            rows.append({"sql": sql, "dialect": dialect, "description": ""})
    return rows


def leaked_names(d) -> list[str]:
    """sqlglot class names in a description, not counting the statement's own identifiers."""
    from sqlglot import exp

    from sql2nl.rules.sqlglot_names import internal_names
    from sql2nl.words import humanize

    own = {w for f in d.facts if f.tree is not None for n in f.tree.walk() if isinstance(n, exp.Identifier)
           for w in [n.name, *humanize(n.name).split(), *n.name.split("_")]}
    return internal_names(d.text, own)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="all", choices=["all", "train", "valid"])
    ap.add_argument("--quick", action="store_true", help="only the first 300 queries of valid")
    ap.add_argument("--languages", default="en,zh")
    ap.add_argument("--functions", action="store_true",
                    help=f"describe the function calls of {FUNCTIONS.name} (per dialect) instead of Spider")
    ap.add_argument("--worst", type=int, default=5, help="how many lowest-scoring examples to print")
    ap.add_argument("--speed", action="store_true",
                    help="also time parse vs facts vs describer per query (min of 5 interleaved runs)")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from sql2nl import describe
    from sql2nl.faithfulness import check

    if args.functions:
        rows = load_functions()
        print(f"{len(rows)} queries from {FUNCTIONS}")
    else:
        rows = load("valid" if args.quick else args.split, 300 if args.quick else None)
        print(f"{len(rows)} queries from {DATA} ({'valid[:300]' if args.quick else args.split})")
    if args.speed:
        speed([r["sql"] for r in rows])
    for lang in args.languages.split(","):
        scores, errors, texts, bad, warned, leaks, generic = [], [], [], [], 0, [], 0
        t0 = time.perf_counter()
        for r in tqdm(rows, desc=f"rules/{lang}", unit="query", file=sys.stderr):
            try:
                d = describe(r["sql"], language=lang, dialect=r.get("dialect"), cache=False)
            except Exception as e:  # counted, not fatal: the point is to see them
                errors.append((r["sql"], f"{type(e).__name__}: {e}"))
                texts.append("")
                scores.append(0.0)
                continue
            warned += bool(d.warnings)
            generic += any("no wording for the SQL function" in w for w in d.warnings)
            names = leaked_names(d)
            if names:
                leaks.append((r["sql"], d.text, names))
            f = check(d.text, d.facts, language=lang)
            scores.append(f.score)
            texts.append(d.text)
            if f.score < 1:
                bad.append((f.score, r["sql"], d.text, f.missing))
        dt = time.perf_counter() - t0
        mean = sum(scores) / len(scores)
        print(f"\n[{lang}] errors={len(errors)} mean_faithfulness={mean:.4f} "
              f"perfect={sum(s == 1 for s in scores)}/{len(scores)} with_warnings={warned} "
              f"sqlglot_names={len(leaks)} generic_functions={generic} time={dt / len(rows) * 1e3:.2f} ms/query")
        for sql, text, names in leaks[:args.worst]:
            print(f"  NAMES {names}: {sql}\n       -> {text}")
        if lang == "en" and not args.functions:
            import sacrebleu

            bleu = sacrebleu.corpus_bleu(texts, [[r["description"] for r in rows]])
            print(f"[{lang}] sacreBLEU vs human descriptions: {bleu.score:.2f} ({bleu})")
        for sql, err in errors[:5]:
            print("  ERROR", sql, "->", err)
        for score, sql, text, missing in sorted(bad, key=lambda b: b[0])[:args.worst]:
            print(f"  {score:.2f} {sql}\n       -> {text}\n       missing: {missing}")
    return 0


def speed(sqls: list[str]) -> None:
    """Where the time of ``describe(cache=False)`` goes, against ``sqlglot.parse_one`` (the floor)."""
    from time import perf_counter as pc

    import sqlglot

    from sql2nl import describe
    from sql2nl.facts import statement_facts
    from sql2nl.parsing import parse
    from sql2nl.rules.en import EnglishDescriber

    describe(sqls[0], cache=False)  # plugin loading is not per-query cost
    total = dict.fromkeys(("parse_one", "describe", "facts", "describer"), 0.0)
    for sql in sqls:
        best = dict.fromkeys(total, float("inf"))
        for _ in range(5):  # interleaved and min-of-5, so a noisy shared machine does not skew the ratio
            t = pc(); sqlglot.parse_one(sql); best["parse_one"] = min(best["parse_one"], pc() - t)
            t = pc(); describe(sql, cache=False); best["describe"] = min(best["describe"], pc() - t)
            trees = parse(sql)
            t = pc(); facts = [statement_facts(x) for x in trees]; best["facts"] = min(best["facts"], pc() - t)
            t = pc()
            for f in facts:
                EnglishDescriber(f).describe()
            best["describer"] = min(best["describer"], pc() - t)
        for k in total:
            total[k] += best[k]
    n = len(sqls)
    us = {k: v / n * 1e6 for k, v in total.items()}
    print("per query (us): " + ", ".join(f"{k} {v:.0f}" for k, v in us.items()))
    print(f"describe(cache=False) / parse_one = {total['describe'] / total['parse_one']:.2f} (target <= 2.0); "
          f"(facts + describer) / parse_one = {(total['facts'] + total['describer']) / total['parse_one']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
