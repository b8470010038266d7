"""Quality of the rules describer on Spider: errors, the faithfulness checker, sacreBLEU (single- and
multi-reference), ROUGE-L, per construct and per language, and where the time goes.

    python benchmarks/rules_quality.py --split valid             # en + zh, each reference in its own style
    python benchmarks/rules_quality.py --split valid --style question   # every text a question
    python benchmarks/rules_quality.py --split valid --schema    # names and keys from tables.json
    python benchmarks/rules_quality.py --quick                   # the first 300 of valid
    python benchmarks/rules_quality.py --split valid --json out.json    # the numbers, for before/after tables
    python benchmarks/rules_quality.py --functions               # function calls per dialect (tests/fixtures)
    python benchmarks/rules_quality.py --speed                   # describe time vs sqlglot.parse_one
    python benchmarks/rules_quality.py --split valid --humans --constructs --checker-speed --no-rules

Goals (valid): 0 errors, mean faithfulness >= 0.99 by the checker, sacreBLEU (single reference)
>= 20. Spider's references are questions ("What are ...?") or instructions ("Find ..."); by
default each one is compared with the text in its own style (``--style matched``: a reference
ending in "?" against ``style="question"``, the others against ``style="statement"``).

* single-reference BLEU: every pair on its own (a SQL with two references counts twice);
* multi-reference BLEU: the pairs grouped by SQL, one text per distinct SQL against all its
  references (in the style of the first);
* ROUGE-L: mean F-measure (rouge-score, stemmed), single reference;
* faithfulness: ``sql2nl.faithfulness.check`` (the checker named in the output), per language;
* constructs: the same figures over the pairs whose SQL joins, groups, nests, orders/limits,
  combines sets, aggregates without grouping, or none of these ("simple");
* ``sqlglot_names``: texts holding a sqlglot class name; ``generic_functions``: texts with a
  function said only as "the result of F(...)".

Calibrating the checker: ``--humans`` scores Spider's own human descriptions with the faithfulness
checker (people paraphrase and leave things out: a checker that gives them 1.0 everywhere is too
lax, one that gives them < 0.8 on average too strict); ``--constructs`` breaks every checker score
down by SQL construct, with the most frequent missing / contradicted checks; ``--checker-speed``
times one check (plan built, and plan reused as the guard does); ``--no-rules`` skips the describer.

It runs against whatever ``sql2nl`` is importable, so the same command on an older checkout
(``PYTHONPATH=<old>/src``) gives the "before" figures; options the old describer lacks are left out.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

DATA = Path("/work/shared/data/spider_s2t")
FUNCTIONS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "functions_dialects.txt"
CONSTRUCTS = ("join", "grouping", "nesting", "order/limit", "set operation", "aggregate", "simple")


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

    from sql2nl.words import humanize

    try:
        from sql2nl.rules.sqlglot_names import internal_names
    except ImportError:  # an older checkout
        return []
    own = {
        w
        for f in d.facts
        if f.tree is not None
        for n in f.tree.walk()
        if isinstance(n, exp.Identifier)
        for w in [n.name, *humanize(n.name).split(), *n.name.split("_")]
    }
    return internal_names(d.text, own)


def constructs(facts: list) -> list[str]:
    """What a statement does, for the per-construct tables (a statement may count in several)."""
    out = []
    for name, test in (
        ("join", lambda f: f.joins or len(f.tables) > 1),
        ("grouping", lambda f: f.group_by),
        ("nesting", lambda f: f.subqueries),
        ("order/limit", lambda f: f.order_by or f.limit is not None),
        ("set operation", lambda f: f.set_operations),
        ("aggregate", lambda f: f.aggregates and not f.group_by),
    ):
        if any(test(f) for f in facts):
            out.append(name)
    return out or ["simple"]


def style_for(reference: str, style: str) -> str:
    if style != "matched":
        return style
    return "question" if reference.rstrip().endswith(("?", "？")) else "statement"


class Describer:
    """``describe()`` with the options this checkout has (an older one has no ``style=``)."""

    def __init__(self, schema_file: Path | None):
        from sql2nl import describe

        self.describe = describe
        self.has_style = "style" in inspect.signature(describe).parameters
        self.tables = json.loads(schema_file.read_text()) if schema_file else None
        self.schemas: dict[str, object] = {}

    def __call__(self, row: dict, language: str, style: str):
        kw = {"language": language, "dialect": row.get("dialect"), "cache": False}
        if self.has_style:
            kw["style"] = style
        if self.tables is not None and row.get("db_id"):
            if row["db_id"] not in self.schemas:
                from sql2nl.schema import Schema

                self.schemas[row["db_id"]] = Schema.from_spider_tables(self.tables, row["db_id"])
            kw["schema"] = self.schemas[row["db_id"]]
        return self.describe(row["sql"], **kw)

    def schema_for(self, row: dict):
        """The schema describe() was given for ``row`` (the checker must read the same names)."""
        return self.schemas.get(row.get("db_id") or "") if self.tables is not None else None


def run(rows: list[dict], language: str, style: str, describer: Describer, worst: int) -> dict:
    """Describe every row; the figures for one language."""
    from tqdm import tqdm

    from sql2nl.faithfulness import check

    res: dict = {
        "errors": [],
        "texts": [],
        "scores": [],
        "kinds": [],
        "warned": 0,
        "leaks": [],
        "generic": 0,
        "bad": [],
        "verdicts": [],
    }
    t0 = time.perf_counter()
    for r in tqdm(rows, desc=f"rules/{language}", unit="query", file=sys.stderr):
        try:
            d = describer(r, language, style_for(r["description"], style))
        except Exception as e:  # counted, not fatal: the point is to see them
            res["errors"].append((r["sql"], f"{type(e).__name__}: {e}"))
            res["texts"].append("")
            res["scores"].append(0.0)
            res["kinds"].append(["simple"])
            continue
        res["warned"] += bool(d.warnings)
        res["generic"] += any("no phrase" in w or "no wording for the SQL function" in w for w in d.warnings)
        names = leaked_names(d)
        if names:
            res["leaks"].append((r["sql"], d.text, names))
        schema = describer.schema_for(r)
        f = check(d.text, d.facts, language=language, **({"schema": schema} if schema is not None else {}))
        res["scores"].append(f.score)
        res["texts"].append(d.text)
        res["kinds"].append(constructs(d.facts))
        res["verdicts"].append((r["sql"], f))
        if f.score < 1:
            res["bad"].append((f.score, r["sql"], d.text, f.missing + [f"CONTRADICTED {c}" for c in _contradicted(f)]))
    res["ms_per_query"] = (time.perf_counter() - t0) / max(1, len(rows)) * 1e3
    return res


def bleu_figures(rows: list[dict], texts: list[str], describer: Describer, style: str) -> dict:
    """sacreBLEU single- and multi-reference, and ROUGE-L, overall and per construct."""
    import sacrebleu
    from rouge_score import rouge_scorer

    refs = [r["description"] for r in rows]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [scorer.score(ref, hyp)["rougeL"].fmeasure for ref, hyp in zip(refs, texts)]
    out = {"bleu_single": sacrebleu.corpus_bleu(texts, [refs]).score, "rouge_l": 100 * sum(rouge) / len(rouge)}
    # Multi-reference: one text per distinct SQL, against every reference it has.
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[r["sql"]].append(i)
    order = list(groups)
    width = max(len(v) for v in groups.values())
    hyps = [texts[groups[s][0]] for s in order]
    streams = [[refs[groups[s][k]] if k < len(groups[s]) else None for s in order] for k in range(width)]
    out["bleu_multi"] = sacrebleu.corpus_bleu(hyps, streams).score
    out["multi_sqls"], out["multi_refs"] = len(order), sum(len(v) for v in groups.values())
    return out


def per_construct(rows: list[dict], res: dict, with_bleu: bool) -> dict:
    import sacrebleu
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    table = {}
    for kind in CONSTRUCTS:
        idx = [i for i, k in enumerate(res["kinds"]) if kind in k]
        if not idx:
            continue
        row = {"n": len(idx), "faithfulness": sum(res["scores"][i] for i in idx) / len(idx)}
        if with_bleu:
            texts, refs = [res["texts"][i] for i in idx], [rows[i]["description"] for i in idx]
            row["bleu_single"] = sacrebleu.corpus_bleu(texts, [refs]).score
            row["rouge_l"] = 100 * sum(scorer.score(r, t)["rougeL"].fmeasure for r, t in zip(refs, texts)) / len(idx)
        table[kind] = row
    return table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="all", choices=["all", "train", "valid"])
    ap.add_argument("--quick", action="store_true", help="only the first 300 queries of valid")
    ap.add_argument("--languages", default="en,zh")
    ap.add_argument(
        "--style",
        default="matched",
        choices=["matched", "question", "statement"],
        help="matched: each reference against the text in its own style (default)",
    )
    ap.add_argument("--schema", action="store_true", help="give describe() each database's tables.json entry")
    ap.add_argument(
        "--functions",
        action="store_true",
        help=f"describe the function calls of {FUNCTIONS.name} (per dialect) instead of Spider",
    )
    ap.add_argument("--worst", type=int, default=5, help="how many lowest-scoring examples to print")
    ap.add_argument("--json", dest="json_out", default=None, help="also write the figures (and texts) here")
    ap.add_argument(
        "--speed",
        action="store_true",
        help="also time parse vs facts vs describer per query (min of 5 interleaved runs)",
    )
    ap.add_argument("--humans", action="store_true", help="also score Spider's human descriptions with the checker")
    ap.add_argument("--constructs", action="store_true", help="break the checker's verdicts down by SQL construct")
    ap.add_argument("--checker-speed", action="store_true", help="time the faithfulness checker (us per check)")
    ap.add_argument("--no-rules", action="store_true", help="skip describing with the rules describer")
    args = ap.parse_args(argv)

    import sql2nl.faithfulness as checker

    if args.functions:
        rows = load_functions()
        print(f"{len(rows)} queries from {FUNCTIONS}")
    else:
        rows = load("valid" if args.quick else args.split, 300 if args.quick else None)
        print(
            f"{len(rows)} queries from {DATA} ({'valid[:300]' if args.quick else args.split}), style={args.style}"
            f"{', schema from tables.json' if args.schema else ''}"
        )
    print(f"checker: sql2nl.faithfulness — {(checker.__doc__ or '').strip().splitlines()[0]}")
    describer = Describer(DATA / "tables.json" if args.schema else None)
    if args.speed:
        speed([r["sql"] for r in rows])
    described = [r for r in rows if r.get("description")]  # Spider pairs (the --functions corpus has none)
    if args.humans and described:
        humans(described, args.constructs, args.worst)
    if args.checker_speed and described:
        checker_speed(described)
    report: dict = {"style": args.style, "schema": args.schema, "split": args.split, "languages": {}}
    for lang in [] if args.no_rules else args.languages.split(","):
        res = run(rows, lang, args.style, describer, args.worst)
        mean = sum(res["scores"]) / len(res["scores"])
        fig = {
            "queries": len(rows),
            "errors": len(res["errors"]),
            "faithfulness": mean,
            "perfect": sum(s == 1 for s in res["scores"]),
            "with_warnings": res["warned"],
            "sqlglot_names": len(res["leaks"]),
            "generic_functions": res["generic"],
            "ms_per_query": res["ms_per_query"],
        }
        with_bleu = lang == "en" and not args.functions
        if with_bleu:
            fig.update(bleu_figures(rows, res["texts"], describer, args.style))
        fig["constructs"] = per_construct(rows, res, with_bleu)
        report["languages"][lang] = fig
        print(
            f"\n[{lang}] errors={fig['errors']} mean_faithfulness={mean:.4f} perfect={fig['perfect']}/{len(rows)} "
            f"with_warnings={fig['with_warnings']} sqlglot_names={fig['sqlglot_names']} "
            f"generic_functions={fig['generic_functions']} time={fig['ms_per_query']:.2f} ms/query"
        )
        if with_bleu:
            print(
                f"[{lang}] sacreBLEU single-reference {fig['bleu_single']:.2f}, multi-reference {fig['bleu_multi']:.2f} "
                f"({fig['multi_sqls']} SQLs, {fig['multi_refs']} references), ROUGE-L {fig['rouge_l']:.2f}"
            )
        print(
            f"[{lang}] by construct: "
            + "; ".join(
                f"{k} n={v['n']} faith={v['faithfulness']:.4f}"
                + (f" BLEU={v['bleu_single']:.2f} ROUGE-L={v['rouge_l']:.2f}" if with_bleu else "")
                for k, v in fig["constructs"].items()
            )
        )
        for sql, text, names in res["leaks"][: args.worst]:
            print(f"  NAMES {names}: {sql}\n       -> {text}")
        if args.constructs:
            by_construct(res["verdicts"], f"rules/{lang}")
        for sql, err in res["errors"][:5]:
            print("  ERROR", sql, "->", err)
        for score, sql, text, missing in sorted(res["bad"], key=lambda b: b[0])[: args.worst]:
            print(f"  {score:.2f} {sql}\n       -> {text}\n       missing: {missing}")
        fig["texts"] = res["texts"]
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def _contradicted(f) -> list[str]:
    return list(getattr(f, "contradicted", None) or [])  # an older checker has no such field


def checker_constructs(sql: str) -> list[str]:
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
        for c in ["all"] + checker_constructs(sql):
            groups[c].append(f)
    print(
        f"\n[{title}] by construct: n, mean, share at 1.0, statements with a contradiction, most missing / contradicted"
    )
    for c in sorted(groups, key=lambda k: (k != "all", -len(groups[k]))):
        fs = groups[c]
        miss = Counter(m.split(" ")[0] for f in fs for m in f.missing)
        con = Counter(x.split(" (")[0].split(" ")[0] for f in fs for x in _contradicted(f))
        print(
            f"  {c:14s} n={len(fs):5d} mean={sum(f.score for f in fs) / len(fs):.4f} "
            f"at1={sum(f.score == 1 for f in fs) / len(fs):6.1%} contra={sum(bool(_contradicted(f)) for f in fs):4d} "
            f"missing={dict(miss.most_common(3))} contradicted={dict(con.most_common(3))}"
        )


def humans(rows: list[dict], per_construct: bool, worst: int) -> None:
    """Spider's human descriptions scored by the checker against their own SQL."""
    from tqdm import tqdm

    from sql2nl.facts import extract
    from sql2nl.faithfulness import check

    verdicts = []
    for r in tqdm(rows, desc="humans", unit="pair", file=sys.stderr):
        verdicts.append((r["sql"], check(r["description"], extract(r["sql"]))))
    scores = [f.score for _, f in verdicts]
    print(
        f"\n[humans/en] mean_faithfulness={sum(scores) / len(scores):.4f} "
        f"at_1.0={sum(s == 1 for s in scores)}/{len(scores)} "
        f"with_contradiction={sum(bool(_contradicted(f)) for _, f in verdicts)}"
    )
    if per_construct:
        by_construct(verdicts, "humans/en")
    low = sorted(zip(rows, verdicts), key=lambda x: x[1][1].score)[:worst]
    for r, (sql, f) in low:
        print(
            f"  {f.score:.2f} {sql}\n       -> {r['description']}\n       missing: {f.missing} "
            f"contradicted: {_contradicted(f)}"
        )


def checker_speed(rows: list[dict]) -> None:
    """Microseconds per check of a human description: facts reused, the checker's own work only."""
    from time import perf_counter as pc
    from time import process_time as cpu

    from sql2nl.facts import extract
    from sql2nl.faithfulness import check

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
        print(
            f"\n[checker/{name}] {first / n * 1e6:.0f} us per check on new facts, {best / n * 1e6:.0f} us per "
            f"further check of the same statement (min of 3), over {n} human descriptions"
        )


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
            t = pc()
            sqlglot.parse_one(sql)
            best["parse_one"] = min(best["parse_one"], pc() - t)
            t = pc()
            describe(sql, cache=False)
            best["describe"] = min(best["describe"], pc() - t)
            trees = parse(sql)
            t = pc()
            facts = [statement_facts(x) for x in trees]
            best["facts"] = min(best["facts"], pc() - t)
            t = pc()
            for f in facts:
                EnglishDescriber(f).describe()
            best["describer"] = min(best["describer"], pc() - t)
        for k in total:
            total[k] += best[k]
    n = len(sqls)
    us = {k: v / n * 1e6 for k, v in total.items()}
    print("per query (us): " + ", ".join(f"{k} {v:.0f}" for k, v in us.items()))
    print(
        f"describe(cache=False) / parse_one = {total['describe'] / total['parse_one']:.2f} (target <= 2.0); "
        f"(facts + describer) / parse_one = {(total['facts'] + total['describer']) / total['parse_one']:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
