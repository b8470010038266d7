"""Human evaluation: a rating sheet (HTML page + CSV) from a run, and ratings folded back into its report.

>>> from sql2nl_training.review import export_review, import_ratings       # doctest: +SKIP
>>> export_review("runs/x", n=100)              # runs/x/review/review.html, ratings.csv, items.jsonl
>>> import_ratings(["ana.csv", "ben.csv"])       # runs/x/report.md gains a "Human evaluation" section

The page is one self-contained file (inline CSS/JS, no network): a rater scores each model
description for *faithful?* and *fluent?* on 1–5, ratings live in the browser's localStorage (a
reload or a closed tab loses nothing) and a button downloads them as CSV. ``ratings.csv`` is the
same sheet for people who prefer a spreadsheet. Both CSVs import the same way.

Import computes, per question, the mean score, agreement between raters (Krippendorff's alpha,
ordinal, which allows any number of raters and unrated items) and the Spearman correlation of the
per-item mean human score with the automatic metrics (the checker's faithfulness, sentence BLEU).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sql2nl.errors import InvalidInputError
from sql2nl.rundir import atomic_write_text, read_manifest, update_manifest

QUESTIONS = ("faithful", "fluent")
CSV_FIELDS = [
    "review_id",
    "item_id",
    "rater",
    "faithful",
    "fluent",
    "comment",
    "sql",
    "model_description",
    "reference",
    "rules_description",
    "missing_facts",
    "run",
]
REPORT_BEGIN = "<!-- sql2nl:human-evaluation -->"
REPORT_END = "<!-- /sql2nl:human-evaluation -->"


# --- export ---------------------------------------------------------------------------------------


def _valid_pairs(run: Path, data: str | Path | None):
    from .data import load_pairs

    src = Path(data) if data else run / "data" / "valid.jsonl"
    if not src.is_file():
        raise InvalidInputError(f"No validation data at {src}; pass --data (pairs in any format `sql2nl train` reads).")
    return load_pairs(src).pairs


def build_items(
    run: str | Path,
    *,
    n: int = 100,
    data: str | Path | None = None,
    seed: int = 0,
    backend: str = "transformers",
    progress: bool = True,
    batch_size: int = 8,
    **backend_options: Any,
) -> list[dict[str, Any]]:
    """A random sample of ``n`` distinct validation statements, each with what a rater needs to see.

    Each item: ``item_id``, ``sql``, ``reference``, ``model`` (the run's description), ``rules``
    (the rules describer's), ``missing`` (facts the checker finds absent from the model's text) and
    the automatic per-item scores ``faithfulness`` (0–100) and ``bleu`` (sentence BLEU).
    """
    import sacrebleu

    from sql2nl.facts import extract
    from sql2nl.faithfulness import check

    from .evaluation import generate, group_references

    run = Path(run)
    read_manifest(run)  # a clear error when it is not a run
    sqls, refs, langs = group_references(_valid_pairs(run, data))
    if n < 1:
        raise InvalidInputError("--n must be at least 1.")
    idx = sorted(random.Random(seed).sample(range(len(sqls)), min(n, len(sqls))))
    sqls, refs, langs = [sqls[i] for i in idx], [refs[i] for i in idx], [langs[i] for i in idx]
    model = generate(
        sqls, langs, backend=backend, progress=progress, batch_size=batch_size, model=str(run), **backend_options
    )
    rules = generate(sqls, langs, backend="rules", progress=False)
    items = []
    for k, (sql, ref, lang, hyp, rule) in enumerate(zip(sqls, refs, langs, model, rules)):
        verdict = check(hyp, extract(sql), language=lang)
        bleu = sacrebleu.sentence_bleu(hyp, ref, tokenize="zh" if lang == "zh" else "13a").score
        items.append(
            {
                "item_id": f"i{k + 1:04d}",
                "sql": sql,
                "reference": ref[0],
                "references": ref,
                "language": lang,
                "model": hyp,
                "rules": rule,
                "missing": list(verdict.missing),
                "faithfulness": round(100 * verdict.score, 2),
                "bleu": round(bleu, 2),
            }
        )
    return items


def review_id(items: Sequence[dict[str, Any]]) -> str:
    """A short fingerprint of a sheet: ratings of another sheet are refused, and localStorage keys differ."""
    h = hashlib.sha256(json.dumps([[i["item_id"], i["sql"], i["model"]] for i in items]).encode("utf-8"))
    return h.hexdigest()[:12]


def render_html(items: Sequence[dict[str, Any]], *, rid: str, run_name: str, run_path: str) -> str:
    """The self-contained rating page: the template with the items embedded as JSON."""
    from .review_page import TEMPLATE as template

    shown = [{k: i[k] for k in ("item_id", "sql", "reference", "model", "rules", "missing")} for i in items]
    # "</" would close the <script> element that holds the data
    payload = json.dumps({"review_id": rid, "run": run_path, "items": shown}, ensure_ascii=False).replace("</", "<\\/")
    return template.replace("{{TITLE}}", html.escape(f"sql2nl review: {run_name}")).replace("{{DATA}}", payload)


def export_review(
    run: str | Path,
    *,
    n: int = 100,
    out: str | Path | None = None,
    data: str | Path | None = None,
    seed: int = 0,
    backend: str = "transformers",
    progress: bool = True,
    **backend_options: Any,
) -> Path:
    """Write ``review.html``, ``ratings.csv`` and ``items.jsonl`` for ``n`` validation items; return the folder.

    ``out`` defaults to ``RUN/review``. ``items.jsonl`` keeps the automatic scores for the import.
    """
    run = Path(run).resolve()
    items = build_items(run, n=n, data=data, seed=seed, backend=backend, progress=progress, **backend_options)
    rid = review_id(items)
    folder = Path(out) if out else run / "review"
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "review_id": rid,
        "run": str(run),
        "n": len(items),
        "seed": seed,
        "data": str(data) if data else str(run / "data" / "valid.jsonl"),
    }
    atomic_write_text(
        folder / "items.jsonl",
        json.dumps({"review": meta}) + "\n" + "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
    )
    atomic_write_text(folder / "review.html", render_html(items, rid=rid, run_name=run.name, run_path=str(run)))
    atomic_write_text(
        folder / "ratings.csv",
        _csv_text(
            {
                "review_id": rid,
                "item_id": i["item_id"],
                "rater": "",
                "faithful": "",
                "fluent": "",
                "comment": "",
                "sql": i["sql"],
                "model_description": i["model"],
                "reference": i["reference"],
                "rules_description": i["rules"],
                "missing_facts": "; ".join(i["missing"]),
                "run": str(run),
            }
            for i in items
        ),
    )
    return folder


def _csv_text(rows: Iterable[dict[str, Any]]) -> str:
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


# --- import ---------------------------------------------------------------------------------------


@dataclass
class Rating:
    """One rater's scores for one item (``None`` where the rater left a question blank)."""

    item_id: str
    rater: str
    faithful: int | None
    fluent: int | None
    comment: str = ""


def _score(value: str, where: str, question: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not (1 <= x <= 5 and x == int(x)):
        raise InvalidInputError(f"{where}: {question} must be a whole number from 1 to 5 (or blank), not {value!r}.")
    return int(x)


def read_ratings(path: str | Path) -> tuple[str | None, str | None, list[Rating]]:
    """(review_id, run, ratings) from one CSV (the sheet, or the page's download); blank rows skipped.

    The rater is the ``rater`` column, or the file's name where that is blank.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"Ratings file {path} does not exist.")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("item_id", "faithful", "fluent") if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInputError(
                f"{path} is not a ratings file: it lacks the column(s) {', '.join(missing)}. "
                "Use the ratings.csv written by `sql2nl review export` or the page's download."
            )
        rids, runs, out = set(), set(), []
        for line, row in enumerate(reader, start=2):
            where = f"{path}, line {line}"
            faithful = _score(row.get("faithful", ""), where, "faithful")
            fluent = _score(row.get("fluent", ""), where, "fluent")
            if row.get("review_id"):
                rids.add(row["review_id"].strip())
            if row.get("run"):
                runs.add(row["run"].strip())
            if faithful is None and fluent is None:
                continue
            rater = (row.get("rater") or "").strip() or path.stem
            out.append(Rating(row["item_id"].strip(), rater, faithful, fluent, (row.get("comment") or "").strip()))
    if len(rids) > 1 or len(runs) > 1:
        raise InvalidInputError(f"{path} mixes ratings of several review sheets; keep one sheet per file.")
    return next(iter(rids), None), next(iter(runs), None), out


def load_items(folder: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    p = folder / "items.jsonl"
    if not p.is_file():
        raise InvalidInputError(f"{folder} has no items.jsonl; run `sql2nl review export` first.")
    lines = [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
    return lines[0]["review"], {i["item_id"]: i for i in lines[1:]}


def agreement(matrix: list[list[float]]) -> float | None:
    """Krippendorff's alpha (ordinal) over raters × items (NaN = not rated); None when undefined."""
    import krippendorff
    import numpy as np

    data = np.array(matrix, dtype=float)
    if data.shape[0] < 2 or np.sum(np.sum(~np.isnan(data), axis=0) >= 2) < 1:
        return None  # needs two raters on at least one item
    if len(set(data[~np.isnan(data)].tolist())) < 2:
        return None  # everyone gave one value: alpha is 0/0
    alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5])
    return None if math.isnan(alpha) else round(float(alpha), 3)


def correlation(xs: Sequence[float], ys: Sequence[float]) -> dict[str, Any] | None:
    """Spearman's rho (and p) between two per-item series; None for fewer than 3 items or a constant series."""
    from scipy.stats import spearmanr

    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    r = spearmanr(xs, ys)
    return {"rho": round(float(r.statistic), 3), "p": round(float(r.pvalue), 4), "n": len(xs)}


def summarize(ratings: Sequence[Rating], items: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Means, inter-rater agreement and correlation with the automatic metrics, per question."""
    raters = sorted({r.rater for r in ratings})
    ids = sorted({r.item_id for r in ratings})
    out: dict[str, Any] = {"raters": len(raters), "items_rated": len(ids), "ratings": len(ratings)}
    for q in QUESTIONS:
        cell = {(r.rater, r.item_id): getattr(r, q) for r in ratings if getattr(r, q) is not None}
        if not cell:
            continue
        matrix = [[cell.get((who, i), math.nan) for i in ids] for who in raters]
        per_item = {}
        for i in ids:
            vals = [cell[(who, i)] for who in raters if (who, i) in cell]
            if vals:
                per_item[i] = sum(vals) / len(vals)
        keys = sorted(per_item)
        out[q] = {
            "mean": round(sum(cell.values()) / len(cell), 3),
            "n": len(cell),
            "krippendorff_alpha": agreement(matrix),
            "spearman_faithfulness": correlation([per_item[i] for i in keys], [items[i]["faithfulness"] for i in keys]),
            "spearman_bleu": correlation([per_item[i] for i in keys], [items[i]["bleu"] for i in keys]),
        }
    return out


def _fmt_corr(c: dict[str, Any] | None) -> str:
    return "n/a" if not c else f"{c['rho']:+.3f} (p={c['p']:.3g}, n={c['n']})"


def report_section(summary: dict[str, Any], files: Sequence[str]) -> str:
    """The markdown that goes into RUN/report.md (between markers, so a re-import replaces it)."""
    lines = [
        REPORT_BEGIN,
        "## Human evaluation",
        "",
        f"{summary['ratings']} ratings by {summary['raters']} rater(s) of {summary['items_rated']} items "
        f"(files: {', '.join(f'`{Path(f).name}`' for f in files)}). Scores are 1–5. Agreement is "
        "Krippendorff's alpha (ordinal; 1 = perfect, 0 = chance); correlations are Spearman's rho of the "
        "per-item mean human score with the checker's faithfulness and sentence BLEU.",
        "",
        "| question | mean | ratings | agreement (alpha) | vs faithfulness | vs BLEU |",
        "|---|---|---|---|---|---|",
    ]
    for q in QUESTIONS:
        s = summary.get(q)
        if s:
            alpha = (
                "n/a (needs 2 raters on an item)"
                if s["krippendorff_alpha"] is None
                else f"{s['krippendorff_alpha']:.3f}"
            )
            lines.append(
                f"| {q} | {s['mean']:.2f} | {s['n']} | {alpha} | {_fmt_corr(s['spearman_faithfulness'])} "
                f"| {_fmt_corr(s['spearman_bleu'])} |"
            )
    return "\n".join(lines + ["", REPORT_END, ""])


def import_ratings(files: Sequence[str | Path], *, run: str | Path | None = None) -> dict[str, Any]:
    """Fold rating CSVs into the run: ``RUN/report.md`` section, ``metrics.human`` in the manifest.

    The run comes from ``run`` or from the CSVs' ``run`` column; ratings of another review sheet
    (a different ``review_id``) or of unknown items are refused, naming the file.
    Also writes all ratings, merged, to ``RUN/review/ratings-merged.csv``. Returns the summary.
    """
    if not files:
        raise InvalidInputError("Give at least one ratings CSV.")
    parsed = [(Path(f), *read_ratings(f)) for f in files]
    runs = {r for _, _, r, _ in parsed if r}
    if run is None:
        if not runs:
            raise InvalidInputError("The ratings name no run; pass --run RUN.")
        if len(runs) > 1:
            raise InvalidInputError(
                f"The ratings come from several runs ({', '.join(sorted(runs))}); import each separately."
            )
        run = next(iter(runs))
    run = Path(run).resolve()
    read_manifest(run)
    meta, items = load_items(run / "review")
    merged: dict[tuple[str, str], Rating] = {}
    for path, rid, _, ratings in parsed:
        if rid and rid != meta["review_id"]:
            raise InvalidInputError(
                f"{path} rates review sheet {rid}, but {run} holds sheet {meta['review_id']} "
                "(was the review exported again?). Import it into the run it came from."
            )
        for r in ratings:
            if r.item_id not in items:
                raise InvalidInputError(f"{path}: item {r.item_id!r} is not in {run / 'review' / 'items.jsonl'}.")
            merged[(r.rater, r.item_id)] = r  # a later file wins for the same rater and item
    if not merged:
        raise InvalidInputError("The ratings files hold no scores yet (every faithful/fluent cell is blank).")
    ratings = list(merged.values())
    summary = summarize(ratings, items)
    summary["review_id"] = meta["review_id"]
    atomic_write_text(
        run / "review" / "ratings-merged.csv",
        _csv_text(
            {
                "review_id": meta["review_id"],
                "item_id": r.item_id,
                "rater": r.rater,
                "faithful": r.faithful or "",
                "fluent": r.fluent or "",
                "comment": r.comment,
                "sql": items[r.item_id]["sql"],
                "model_description": items[r.item_id]["model"],
                "reference": items[r.item_id]["reference"],
                "rules_description": items[r.item_id]["rules"],
                "missing_facts": "; ".join(items[r.item_id]["missing"]),
                "run": str(run),
            }
            for r in sorted(ratings, key=lambda r: (r.item_id, r.rater))
        ),
    )
    update_manifest(run, metrics={"human": summary})
    report = run / "report.md"
    text = report.read_text(encoding="utf-8") if report.is_file() else f"# Training run `{run.name}`\n"
    if REPORT_BEGIN in text and REPORT_END in text:
        head, rest = text.split(REPORT_BEGIN, 1)
        text = head + rest.split(REPORT_END, 1)[1].lstrip("\n")
    atomic_write_text(report, text.rstrip("\n") + "\n\n" + report_section(summary, [str(p) for p, *_ in parsed]))
    return summary
