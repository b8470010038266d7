"""Quality of the rules describer on Spider: errors, faithfulness per language, BLEU, worst examples.

    python benchmarks/rules_quality.py            # train + valid, en and zh
    python benchmarks/rules_quality.py --quick    # the first 300 of valid
    python benchmarks/rules_quality.py --split valid --worst 20
    python benchmarks/rules_quality.py --split valid --humans --constructs --checker-speed
    python benchmarks/rules_quality.py --functions   # function calls per dialect (tests/fixtures)

The rules describer must score >= 0.99 mean faithfulness with 0 errors in both languages; sacreBLEU
of the English text against Spider's human descriptions is reported (aim >= 20). ``sqlglot_names``
counts the texts that contain a sqlglot class name ("datesub", "JSONExtract"), which no description
should; ``generic_functions`` counts those with a function described only as "the result of F(...)".

Calibrating the checker: ``--humans`` scores Spider's own human descriptions with the faithfulness
checker (people paraphrase and leave things out: a checker that gives them 1.0 everywhere is too
lax, one that gives them < 0.8 on average too strict); ``--constructs`` breaks every score down by
SQL construct; ``--checker-speed`` times one check (plan built, and plan reused as the guard does).
The script runs against whatever ``sql2nl`` is importable, so the same command measures an older
checker too (``PYTHONPATH=<old checkout>/src``).
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
    ap.add_argument("--humans", action="store_true", help="also score Spider's human descriptions with the checker")
    ap.add_argument("--constructs", action="store_true", help="break faithfulness down by SQL construct")
    ap.add_argument("--checker-speed", action="store_true", help="time the faithfulness checker (us per check)")
    ap.add_argument("--no-rules", action="store_true", help="skip describing with the rules describer")
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
    described = [r for r in rows if r.get("description")]  # Spider pairs (the --functions corpus has none)
    if args.humans and described:
        humans(described, args.constructs, args.worst)
    if args.checker_speed and described:
        checker_speed(described)
    for lang in ([] if args.no_rules else args.languages.split(",")):
        scores, errors, texts, bad, warned, leaks, generic, verdicts = [], [], [], [], 0, [], 0, []
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
            verdicts.append((r["sql"], f))
            if f.score < 1:
                bad.append((f.score, r["sql"], d.text, f.missing + [f"CONTRADICTED {c}" for c in _contradicted(f)]))
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
        if args.constructs:
            by_construct(verdicts, f"rules/{lang}")
        for sql, err in errors[:5]:
            print("  ERROR", sql, "->", err)
        for score, sql, text, missing in sorted(bad, key=lambda b: b[0])[:args.worst]:
            print(f"  {score:.2f} {sql}\n       -> {text}\n       missing: {missing}")
    return 0


def _contradicted(f) -> list[str]:
    return list(getattr(f, "contradicted", None) or [])  # an older checker has no such field


def constructs(sql: str) -> list[str]:
    """The constructs a statement uses, for per-construct figures (a statement may have several)."""
    from sqlglot import exp

    from sql2nl.facts import extract

    out = set()
    for f in extract(sql):
        t = f.tree
        if f.joins:
            out.add("join")
        if f.group_by:
            out.add("group by")
        if f.having:
            out.add("having")
        if f.order_by:
            out.add("order by")
        if f.limit is not None:
            out.add("limit")
        if f.subqueries:
            out.add("subquery")
        if f.set_operations:
            out.add("set operation")
        if f.distinct or t.find(exp.Distinct) is not None:
            out.add("distinct")
        if f.aggregates:
            out.add("aggregate")
        if any(x.op in (">", ">=", "<", "<=", "between") for x in f.filters + f.having):
            out.add("comparison")
        if any(x.op in ("like", "ilike") for x in f.filters):
            out.add("like")
        if f.negations:
            out.add("negation")
    return sorted(out) or ["simple"]


def by_construct(verdicts: list[tuple[str, object]], title: str) -> None:
    """Mean score, share at 1.0, and the most frequent missing / contradicted checks, per construct."""
    from collections import Counter, defaultdict

    groups: dict[str, list] = defaultdict(list)
    for sql, f in verdicts:
        for c in ["all"] + constructs(sql):
            groups[c].append(f)
    print(f"\n[{title}] by construct: n, mean, share at 1.0, statements with a contradiction, "
          "most missing / contradicted")
    for c in sorted(groups, key=lambda k: (k != "all", -len(groups[k]))):
        fs = groups[c]
        miss = Counter(m.split(" ")[0] for f in fs for m in f.missing)
        con = Counter(x.split(" (")[0].split(" ")[0] for f in fs for x in _contradicted(f))
        print(f"  {c:14s} n={len(fs):5d} mean={sum(f.score for f in fs) / len(fs):.4f} "
              f"at1={sum(f.score == 1 for f in fs) / len(fs):6.1%} contra={sum(bool(_contradicted(f)) for f in fs):4d} "
              f"missing={dict(miss.most_common(3))} contradicted={dict(con.most_common(3))}")


def humans(rows: list[dict], per_construct: bool, worst: int) -> None:
    """Spider's human descriptions scored by the checker against their own SQL."""
    from tqdm import tqdm

    from sql2nl.facts import extract
    from sql2nl.faithfulness import check

    verdicts = []
    for r in tqdm(rows, desc="humans", unit="pair", file=sys.stderr):
        verdicts.append((r["sql"], check(r["description"], extract(r["sql"]))))
    scores = [f.score for _, f in verdicts]
    print(f"\n[humans/en] mean_faithfulness={sum(scores) / len(scores):.4f} "
          f"at_1.0={sum(s == 1 for s in scores)}/{len(scores)} "
          f"with_contradiction={sum(bool(_contradicted(f)) for _, f in verdicts)}")
    if per_construct:
        by_construct(verdicts, "humans/en")
    low = sorted(zip(rows, verdicts), key=lambda x: x[1][1].score)[:worst]
    for r, (sql, f) in low:
        print(f"  {f.score:.2f} {sql}\n       -> {r['description']}\n       missing: {f.missing} "
              f"contradicted: {_contradicted(f)}")


def checker_speed(rows: list[dict]) -> None:
    """Microseconds per check of a human description: facts reused, the checker's own work only."""
    from time import perf_counter as pc

    from sql2nl.facts import extract
    from sql2nl.faithfulness import check

    from time import process_time as cpu

    check("x", extract("SELECT 1"))  # lexicon and caches built once per process, not per check
    n = len(rows)
    for clock, name in ((pc, "wall"), (cpu, "cpu")):  # cpu: this process's own time, whatever the load
        pairs = [(r["description"], extract(r["sql"])) for r in rows]
        t = clock()
        for text, facts in pairs:
            check(text, facts)
        first = clock() - t
        best = float("inf")
        for _ in range(3):  # again on the same facts: what the guard pays for each further answer
            t = clock()
            for text, facts in pairs:
                check(text, facts)
            best = min(best, clock() - t)
        print(f"\n[checker/{name}] {first / n * 1e6:.0f} us per check on new facts, {best / n * 1e6:.0f} us per "
              f"further check of the same statement (min of 3), over {n} human descriptions")


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
