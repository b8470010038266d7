"""Evaluation: sacreBLEU, ROUGE-L and the core's faithfulness, by SQL construct, against the rules baseline.

>>> from sql2nl_training.evaluation import evaluate          # doctest: +SKIP
>>> m = evaluate("runs/spider", "valid.jsonl")
>>> sorted(k for k in m if k in ("bleu", "rouge_l", "faithfulness"))
['bleu', 'faithfulness', 'rouge_l']

Generation goes through a describer backend (``sql2nl.describe_many``): the fine-tuned model through
the transformers backend, the baseline through the rules backend, so what is measured is what users
get. Pairs that share a SQL statement are scored once, against all their descriptions as references.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError
from sql2nl.rundir import atomic_write_json, atomic_write_text, is_run, update_manifest

from .data import Pair, load_pairs
from .figures import save_figure

CONSTRUCTS = ("joins", "grouping", "nesting", "set_operations", "simple")


def constructs_of(sql: str) -> list[str]:
    """Which constructs a statement uses (``simple`` when none of the others)."""
    from sql2nl.facts import extract

    facts = extract(sql)
    found = []
    if any(f.joins or len(f.tables) > 1 and "join" in f.sql.lower() for f in facts):
        found.append("joins")
    if any(f.group_by for f in facts):
        found.append("grouping")
    if any(f.subqueries for f in facts):
        found.append("nesting")
    if any(f.set_operations for f in facts):
        found.append("set_operations")
    return found or ["simple"]


def _key(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.strip().rstrip(";")).lower()


def group_references(pairs: Sequence[Pair]) -> tuple[list[str], list[list[str]], list[str]]:
    """Unique statements (first spelling), their references, and their language."""
    order: dict[str, int] = {}
    sqls: list[str] = []
    refs: list[list[str]] = []
    langs: list[str] = []
    for p in pairs:
        k = _key(p.sql)
        if k not in order:
            order[k] = len(sqls)
            sqls.append(p.sql)
            refs.append([])
            langs.append(p.language)
        if p.description not in refs[order[k]]:
            refs[order[k]].append(p.description)
    return sqls, refs, langs


def score(
    sqls: Sequence[str], hyps: Sequence[str], refs: Sequence[Sequence[str]], langs: Sequence[str]
) -> dict[str, Any]:
    """BLEU (corpus, multi-reference), BLEU with one reference per segment (``bleu_single``: each
    (statement, description) pair scored on its own, as in most SQL-to-text papers), ROUGE-L F (best
    reference) and faithfulness, all in [0, 100]."""
    import sacrebleu
    from rouge_score import rouge_scorer

    from sql2nl.facts import extract
    from sql2nl.faithfulness import check

    if not hyps:
        return {"n": 0, "bleu": 0.0, "bleu_single": 0.0, "rouge_l": 0.0, "faithfulness": 0.0}
    width = max(len(r) for r in refs)
    # sacrebleu takes None for a statement with fewer references than the widest (its typing says str)
    streams: list[Any] = [[r[i] if i < len(r) else None for r in refs] for i in range(width)]
    zh = any(lang == "zh" for lang in langs)
    bleu = sacrebleu.corpus_bleu(list(hyps), streams, tokenize="zh" if zh else "13a").score
    single = sacrebleu.corpus_bleu(
        [h for h, r in zip(hyps, refs) for _ in r], [[x for r in refs for x in r]], tokenize="zh" if zh else "13a"
    ).score
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=not zh)
    if zh:  # rouge-score splits on non-letters; score Chinese by character
        tok = lambda s: " ".join(ch for ch in s if not ch.isspace())  # noqa: E731
        rl = [scorer.score_multi([tok(x) for x in r], tok(h))["rougeL"].fmeasure for h, r in zip(hyps, refs)]
    else:
        rl = [scorer.score_multi(list(r), h)["rougeL"].fmeasure for h, r in zip(hyps, refs)]
    faith = [check(h, extract(s), language=lang).score for s, h, lang in zip(sqls, hyps, langs)]
    return {
        "n": len(hyps),
        "bleu": round(bleu, 2),
        "bleu_single": round(single, 2),
        "rouge_l": round(100 * sum(rl) / len(rl), 2),
        "faithfulness": round(100 * sum(faith) / len(faith), 2),
    }


def by_construct(sqls, hyps, refs, langs) -> dict[str, dict[str, Any]]:
    tags = [constructs_of(s) for s in sqls]
    out = {}
    for c in CONSTRUCTS:
        idx = [i for i, t in enumerate(tags) if c in t]
        if idx:
            out[c] = score(
                [sqls[i] for i in idx], [hyps[i] for i in idx], [refs[i] for i in idx], [langs[i] for i in idx]
            )
    return out


def generate(
    sqls: Sequence[str],
    langs: Sequence[str],
    *,
    backend: str,
    progress: bool = True,
    batch_size: int = 8,
    **options: Any,
) -> list[str]:
    """Descriptions of ``sqls`` from ``backend`` (one ``describe_many`` call per language)."""
    from sql2nl import describe_many

    out = [""] * len(sqls)
    for lang in sorted(set(langs)):
        idx = [i for i, x in enumerate(langs) if x == lang]
        ds = describe_many(
            [sqls[i] for i in idx],
            backend=backend,
            language=lang,
            on_error="keep",
            cache=False,
            progress=progress,
            batch_size=batch_size,
            **options,
        )
        for i, d in zip(idx, ds):
            out[i] = d.text
    return out


def evaluate(
    model: str | Path | None,
    data: str | Path | Sequence[Pair],
    *,
    out: str | Path | None = None,
    backend: str = "transformers",
    limit: int | None = None,
    baseline: bool = True,
    progress: bool = True,
    batch_size: int = 8,
    log: Callable[[str], None] | None = None,
    samples: int = 12,
    **backend_options: Any,
) -> dict[str, Any]:
    """Score ``model`` (a run directory or a model the backend accepts) on ``data``; write a report.

    Returns the metrics: ``bleu``, ``rouge_l``, ``faithfulness`` (0–100), ``n``, ``by_construct`` and,
    with ``baseline=True``, the same for the rules describer under ``baseline``. The report
    (``report.md``, ``report.html``, ``constructs.png``, ``samples.jsonl``) goes to ``out`` (default
    ``RUN/eval`` for a run, else ``sql2nl-eval``), with the first ``samples`` statements written out in
    ``report.md``; a run's manifest gets the metrics too.
    """
    pairs = list(data) if not isinstance(data, (str, Path)) else load_pairs(data).pairs
    if limit:
        pairs = pairs[:limit]
    if not pairs:
        raise InvalidInputError("No evaluation pairs.")
    sqls, refs, langs = group_references(pairs)
    if model is None and backend != "rules":
        raise InvalidInputError("Evaluation needs --model (a run directory or a model), or --backend rules.")
    opts = dict(backend_options)
    if backend != "rules":
        opts.setdefault("on_unfaithful", "warn")  # score the model's own text, never a fallback's
    if model is not None:
        opts["model"] = str(model)
    hyps = generate(sqls, langs, backend=backend, progress=progress, batch_size=batch_size, **opts)
    metrics: dict[str, Any] = {
        "model": str(model) if model is not None else backend,
        "backend": backend,
        **score(sqls, hyps, refs, langs),
        "by_construct": by_construct(sqls, hyps, refs, langs),
    }
    metrics["empty"] = sum(1 for h in hyps if not h.strip())
    base_hyps = None
    if baseline and backend != "rules":
        base_hyps = generate(sqls, langs, backend="rules", progress=False)
        metrics["baseline"] = {
            "backend": "rules",
            **score(sqls, base_hyps, refs, langs),
            "by_construct": by_construct(sqls, base_hyps, refs, langs),
        }
    run = Path(model) if model is not None and is_run(model) else None
    out_dir = Path(out) if out else (run / "eval" if run else Path("sql2nl-eval"))
    write_report(
        out_dir,
        metrics,
        sqls,
        refs,
        hyps,
        base_hyps,
        data_name=str(data) if isinstance(data, (str, Path)) else "pairs",
        samples=samples,
    )
    metrics["report"] = str(out_dir / "report.md")
    if run is not None:
        update_manifest(
            run,
            metrics={
                "eval": {k: metrics[k] for k in ("bleu", "bleu_single", "rouge_l", "faithfulness", "n")},
                **(
                    {
                        "baseline": {
                            k: metrics["baseline"][k] for k in ("bleu", "bleu_single", "rouge_l", "faithfulness")
                        }
                    }
                    if "baseline" in metrics
                    else {}
                ),
            },
        )
    return metrics


def _plot(metrics: dict[str, Any], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("model", metrics)] + ([("rules", metrics["baseline"])] if "baseline" in metrics else [])
    cons = [c for c in CONSTRUCTS if c in metrics["by_construct"]]
    if not cons:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), dpi=100)
    for ax, key, title in zip(axes, ("faithfulness", "rouge_l", "bleu"), ("faithfulness", "ROUGE-L", "BLEU")):
        w = 0.8 / len(rows)
        for j, (name, m) in enumerate(rows):
            vals = [m["by_construct"].get(c, {}).get(key, 0) for c in cons]
            ax.bar([i + j * w for i in range(len(cons))], vals, w, label=name)
        ax.set_xticks([i + w * (len(rows) - 1) / 2 for i in range(len(cons))], cons, rotation=20, fontsize=8)
        ax.set_title(title)
        ax.set_ylim(0, 100)
    axes[0].legend()
    return save_figure(fig, path)


def _table(metrics: dict[str, Any]) -> list[list[str]]:
    rows = [["describer", "construct", "n", "BLEU", "BLEU 1-ref", "ROUGE-L", "faithfulness"]]
    for name, m in [(metrics["model"], metrics)] + (
        [("rules (baseline)", metrics["baseline"])] if "baseline" in metrics else []
    ):
        for c, s in [("all", m)] + list(m["by_construct"].items()):
            rows.append(
                [
                    name,
                    c,
                    str(s["n"]),
                    f"{s['bleu']:.2f}",
                    f"{s.get('bleu_single', 0.0):.2f}",
                    f"{s['rouge_l']:.2f}",
                    f"{s['faithfulness']:.2f}",
                ]
            )
    return rows


def write_report(out: Path, metrics, sqls, refs, hyps, base_hyps, *, data_name: str = "", samples: int = 12) -> Path:
    """``report.md`` + ``report.html`` + ``constructs.png`` + ``samples.jsonl`` + ``metrics.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    plot = _plot(metrics, out / "constructs.png")
    rows = _table(metrics)
    md = [
        f"# Evaluation of `{metrics['model']}`",
        "",
        f"Data: `{data_name}`, {metrics['n']} distinct statements "
        f"({metrics.get('empty', 0)} empty generations). Scores are 0–100; faithfulness is the share of the "
        "statement's facts (tables, columns, values, aggregates, grouping, ordering, limit, negation) the text mentions; "
        "BLEU uses every description of a statement as a reference, BLEU 1-ref scores each (statement, description) pair alone.",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    md += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    if plot:
        md += ["", "![scores by construct](constructs.png)"]
    md += ["", "## Samples", ""]
    lines = []
    for i in range(min(samples, len(sqls))):
        md += [f"- `{sqls[i]}`", f"  - model: {hyps[i]}", f"  - reference: {refs[i][0]}"]
        if base_hyps:
            md.append(f"  - rules: {base_hyps[i]}")
    for i in range(len(sqls)):
        rec = {"sql": sqls[i], "references": refs[i], "model": hyps[i]}
        if base_hyps:
            rec["rules"] = base_hyps[i]
        lines.append(json.dumps(rec, ensure_ascii=False))
    atomic_write_text(out / "report.md", "\n".join(md) + "\n")
    table = "".join(
        "<tr>"
        + "".join(f"<{'th' if k == 0 else 'td'}>{html.escape(c)}</{'th' if k == 0 else 'td'}>" for c in r)
        + "</tr>"
        for k, r in enumerate(rows)
    )
    page = (
        f"<!doctype html><meta charset=utf-8><title>sql2nl evaluation</title>"
        f"<h1>Evaluation of {html.escape(metrics['model'])}</h1><table border=1 cellpadding=4>{table}</table>"
        + ("<p><img src='constructs.png' alt='scores by construct'>" if plot else "")
        + "<h2>Samples</h2><ul>"
        + "".join(
            f"<li><code>{html.escape(sqls[i])}</code><br>model: {html.escape(hyps[i])}<br>reference: "
            f"{html.escape(refs[i][0])}" + (f"<br>rules: {html.escape(base_hyps[i])}" if base_hyps else "") + "</li>"
            for i in range(min(samples, len(sqls)))
        )
        + "</ul>"
    )
    atomic_write_text(out / "report.html", page)
    atomic_write_text(out / "samples.jsonl", "\n".join(lines) + "\n")
    atomic_write_json(out / "metrics.json", metrics)
    return out / "report.md"
